//! One file per command. Each gathers, judges and returns a `Report`; the
//! caller renders it.

pub mod alert;
pub mod backup;
pub mod clean;
pub mod config;
pub mod db;
pub mod deps;
pub mod disk;
pub mod dr;
pub mod generate;
pub mod health;
pub mod incident;
pub mod logs;
pub mod run;
pub mod snapshot;
pub mod vacuum;
pub mod window;
