//! One file per command. Each gathers, judges and returns a `Report`; the
//! caller renders it.

pub mod config;
pub mod generate;
pub mod health;
