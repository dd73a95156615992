//! Where a lookup of an environment variable goes: the process's environment,
//! or a map in tests. Below `config` and `pg`, which both read it.

use std::collections::BTreeMap;

/// Where a lookup of an environment variable goes; tests pass a map.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for BTreeMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.to_string())
    }
}
