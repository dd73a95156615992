//! One file per command. Each gathers, judges and returns a `Report`; the
//! caller renders it.

pub mod alert;
pub mod alert_test;
pub mod archive;
pub mod backup;
pub mod capacity;
pub mod clean;
pub mod config;
pub mod db;
pub mod db_check;
pub mod deps;
pub mod disk;
pub mod dr;
pub mod generate;
pub mod health;
pub mod incident;
pub mod logs;
pub mod outdated;
pub mod perf;
pub mod recover;
pub mod run;
pub mod snapshot;
pub mod vacuum;
pub mod window;
