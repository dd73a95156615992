//! The schedules' task catalogue: which tasks exist, what each is called in
//! the maintenance log, its job lock, its timeout, and which schedule runs
//! it. It sits below both the configuration (which refuses unknown task
//! names) and `run` (which maps each name to its command), so neither has to
//! import the other.

use std::time::Duration;

/// A task the schedules can name.
pub struct Task {
    pub name: &'static str,
    /// The maintenance log's name for it, in the guide's words.
    pub display: &'static str,
    /// The stand-alone command's job lock, so that a task and a manual run
    /// of the same command never overlap.
    pub lock: &'static str,
    pub timeout: Duration,
    /// Restores and rewrites: only inside a maintenance window, when any is
    /// configured.
    pub heavy: bool,
}

const MIN: u64 = 60;

/// The guide's schedules, each with only its own tasks: the timers and the
/// crontab start the three separately, so a Sunday does not repeat the
/// daily tasks.
pub const SCHEDULES: [(&str, &[&str]); 4] = [
    (
        "daily",
        &[
            "health",
            "disk",
            "logs",
            "backup-verify",
            "disk-clean",
            "deps-update-db",
            "db-check",
        ],
    ),
    (
        "weekly",
        &[
            "backup-verify-restore",
            "db-analyze",
            "vacuum",
            "deps-audit",
            "disk-forecast",
            "db-check-deep",
            "db-archive",
            "perf",
        ],
    ),
    ("monthly", &["dr-test", "capacity"]),
    // The guide's quarterly "comprehensive system review", on the first
    // Sunday of January, April, July and October after the monthly run:
    // each task a longer or deeper look than its weekly or monthly twin.
    (
        "quarterly",
        &[
            "db-analyze-exact",
            "perf-quarter",
            "capacity-year",
            "deps-review",
            "dr-test-fresh",
        ],
    ),
];

/// The tasks built into this binary. A new command joins the schedules with
/// one entry here and one arm in `commands::run`'s runner.
pub const TASKS: &[Task] = &[
    Task {
        name: "health",
        display: "Health Check",
        lock: "health",
        timeout: Duration::from_secs(2 * MIN),
        heavy: false,
    },
    Task {
        name: "disk",
        display: "Disk Usage",
        lock: "disk",
        timeout: Duration::from_secs(5 * MIN),
        heavy: false,
    },
    Task {
        name: "logs",
        display: "Log Review",
        lock: "logs",
        timeout: Duration::from_secs(15 * MIN),
        heavy: false,
    },
    Task {
        name: "backup-verify",
        display: "Backup Verification",
        lock: "backup-verify",
        timeout: Duration::from_secs(15 * MIN),
        heavy: false,
    },
    Task {
        name: "disk-clean",
        display: "Temporary File Cleanup",
        lock: "disk-clean",
        timeout: Duration::from_secs(15 * MIN),
        heavy: false,
    },
    Task {
        name: "backup-verify-restore",
        display: "Backup Restore Test",
        lock: "backup-verify",
        timeout: Duration::from_secs(3 * 60 * MIN),
        heavy: true,
    },
    Task {
        name: "db-analyze",
        display: "Database Analysis",
        lock: "db-analyze",
        timeout: Duration::from_secs(60 * MIN),
        heavy: false,
    },
    Task {
        name: "vacuum",
        display: "Database Vacuum",
        lock: "vacuum",
        timeout: Duration::from_secs(3 * 60 * MIN),
        heavy: false,
    },
    Task {
        name: "deps-update-db",
        display: "Security Signature Update",
        lock: "deps-update-db",
        timeout: Duration::from_secs(30 * MIN),
        heavy: false,
    },
    Task {
        name: "deps-audit",
        display: "Dependency Security Audit",
        lock: "deps-audit",
        timeout: Duration::from_secs(15 * MIN),
        heavy: false,
    },
    Task {
        name: "disk-forecast",
        display: "Capacity Planning",
        lock: "disk",
        timeout: Duration::from_secs(5 * MIN),
        heavy: false,
    },
    Task {
        name: "db-check",
        display: "Database Check",
        lock: "db-check",
        timeout: Duration::from_secs(5 * MIN),
        heavy: false,
    },
    Task {
        name: "db-check-deep",
        display: "Database Corruption Check",
        lock: "db-check",
        timeout: Duration::from_secs(3 * 60 * MIN),
        heavy: true,
    },
    Task {
        name: "perf",
        display: "Performance Review",
        lock: "perf",
        timeout: Duration::from_secs(30 * MIN),
        heavy: false,
    },
    Task {
        name: "capacity",
        display: "Capacity Planning Review",
        lock: "capacity",
        timeout: Duration::from_secs(10 * MIN),
        heavy: false,
    },
    Task {
        name: "db-analyze-exact",
        display: "Database Analysis (measured bloat)",
        lock: "db-analyze",
        timeout: Duration::from_secs(3 * 60 * MIN),
        // pgstattuple reads every table and index whole.
        heavy: true,
    },
    Task {
        name: "perf-quarter",
        display: "Performance Review (the quarter)",
        lock: "perf",
        // Three months of access logs instead of one week.
        timeout: Duration::from_secs(2 * 60 * MIN),
        heavy: false,
    },
    Task {
        name: "capacity-year",
        display: "Capacity Planning Review (a year's trend)",
        lock: "capacity",
        timeout: Duration::from_secs(10 * MIN),
        heavy: false,
    },
    Task {
        name: "deps-review",
        display: "Dependency Review (audit and outdated)",
        lock: "deps-audit",
        timeout: Duration::from_secs(30 * MIN),
        heavy: false,
    },
    Task {
        name: "dr-test-fresh",
        display: "Disaster Recovery Test (fresh dump)",
        lock: "dr-test",
        timeout: Duration::from_secs(6 * 60 * MIN),
        heavy: true,
    },
    Task {
        name: "dr-test",
        display: "Disaster Recovery Test",
        lock: "dr-test",
        timeout: Duration::from_secs(4 * 60 * MIN),
        heavy: true,
    },
    Task {
        name: "db-archive",
        display: "Data Archiving",
        lock: "db-archive",
        timeout: Duration::from_secs(3 * 60 * MIN),
        // Deletes and vacuums large tables: inside a window when any is set.
        heavy: true,
    },
];

pub fn task(name: &str) -> Option<&'static Task> {
    TASKS.iter().find(|t| t.name == name)
}

pub fn default_tasks(schedule: &str) -> Vec<String> {
    SCHEDULES
        .iter()
        .filter(|(s, _)| *s == schedule)
        .flat_map(|(_, list)| list.iter())
        .map(|n| n.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_is_defined_once_and_each_in_one_schedule() {
        for t in TASKS {
            assert_eq!(TASKS.iter().filter(|u| u.name == t.name).count(), 1);
            let listed = SCHEDULES
                .iter()
                .filter(|(_, list)| list.contains(&t.name))
                .count();
            assert_eq!(listed, 1, "{}", t.name);
        }
        for s in ["daily", "weekly", "monthly", "quarterly"] {
            assert!(default_tasks(s).iter().all(|n| task(n).is_some()));
        }
        assert!(default_tasks("daily").contains(&"health".to_string()));
        assert_eq!(default_tasks("monthly"), ["dr-test", "capacity"]);
        assert_eq!(
            default_tasks("quarterly"),
            [
                "db-analyze-exact",
                "perf-quarter",
                "capacity-year",
                "deps-review",
                "dr-test-fresh"
            ]
        );
    }
}
