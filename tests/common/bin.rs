//! The binary under test: a clean command, a sandboxed home with its
//! config file, and what a finished run left (exit code, stdout, stderr).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin_path() -> &'static str {
    env!("CARGO_BIN_EXE_bbp-maint")
}

/// A bbp-maint command with a clean environment: nothing from the
/// developer's shell (PG*, DATABASE_URL, NO_COLOR) leaks in.
pub fn bbp(home: &Path) -> Command {
    let mut c = Command::new(bin_path());
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("BBP_MAINT_RUNTIME_DIR", home.join("run"))
        .stdin(Stdio::null());
    c
}

pub fn is_root() -> bool {
    // SAFETY-free check: /proc/self/status is always there on Linux.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("killed by a signal")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A home directory with a config file for bbp-maint, written from TOML text.
pub struct Sandbox {
    pub home: tempfile::TempDir,
}

impl Sandbox {
    pub fn new(config: &str) -> Sandbox {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("config.toml"), config).unwrap();
        Sandbox { home }
    }

    pub fn config_path(&self) -> PathBuf {
        self.home.path().join("config.toml")
    }

    /// `bbp-maint --config <sandbox config> ARGS…`
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = bbp(self.home.path());
        c.arg("--config").arg(self.config_path()).args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

/// Sends `signal` (`-TERM`, `-INT`) to a running bbp-maint, as an operator's
/// `kill` or systemd's stop would.
pub fn kill(child: &Child, signal: &str) {
    let st = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill {signal} {}", child.id());
}

/// Its exit, which must come within `bound`: a process that ignores a
/// signal fails the test instead of hanging it.
pub fn exit_within(child: &mut Child, bound: Duration) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            t0.elapsed() < bound,
            "no exit within {bound:?} after the signal"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
