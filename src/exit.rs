//! The process exit codes of the contract, in one place.
//!
//! Shaped after fd's `exit_codes.rs`: a small closed type, so that no path can
//! invent a code the README does not document.

use crate::report::Status;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    Ok,
    Warning,
    Critical,
    Unknown,
    /// The command line is wrong. Clap's own 2 would read as CRITICAL to Nagios.
    Usage,
    /// Another run of the same job holds its lock; nothing was done.
    Locked,
    /// The configuration file or an environment value is invalid.
    Config,
    /// SIGINT or SIGTERM arrived; cleanup ran before exiting.
    Interrupted,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Ok => 0,
            ExitCode::Warning => 1,
            ExitCode::Critical => 2,
            ExitCode::Unknown => 3,
            ExitCode::Usage => 64,
            ExitCode::Locked => 75,
            ExitCode::Config => 78,
            ExitCode::Interrupted => 130,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        match status {
            Status::Ok => ExitCode::Ok,
            Status::Warning => ExitCode::Warning,
            Status::Critical => ExitCode::Critical,
            Status::Unknown => ExitCode::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_contract() {
        let table = [
            (ExitCode::Ok, 0),
            (ExitCode::Warning, 1),
            (ExitCode::Critical, 2),
            (ExitCode::Unknown, 3),
            (ExitCode::Usage, 64),
            (ExitCode::Locked, 75),
            (ExitCode::Config, 78),
            (ExitCode::Interrupted, 130),
        ];
        for (code, n) in table {
            assert_eq!(code.code(), n, "{code:?}");
        }
    }

    #[test]
    fn status_maps_to_its_nagios_code() {
        assert_eq!(ExitCode::from(Status::Ok).code(), 0);
        assert_eq!(ExitCode::from(Status::Warning).code(), 1);
        assert_eq!(ExitCode::from(Status::Critical).code(), 2);
        assert_eq!(ExitCode::from(Status::Unknown).code(), 3);
        for s in [
            Status::Ok,
            Status::Warning,
            Status::Critical,
            Status::Unknown,
        ] {
            assert_eq!(ExitCode::from(s).code(), s.code(), "{s:?}");
        }
    }
}
