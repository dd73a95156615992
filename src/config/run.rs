//! `[run]`.

use super::*;

/// `[run]`: the schedules of `run daily|weekly|monthly|quarterly`, its log and alerts.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Run {
    /// The maintenance log, one line per task; `""` writes none.
    pub log: PathBuf,
    /// Stop at the first task that fails (CRITICAL or UNKNOWN) instead of
    /// running the rest.
    pub fail_fast: bool,
    /// How long a task cut at its timeout may take to stop its children and
    /// drop its scratch database before it is abandoned.
    pub grace: Dur,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_webhook: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_command: Option<String>,
    pub alert_timeout: Dur,
    /// Per-task timeouts replacing the built-in ones, by task name.
    pub timeouts: BTreeMap<String, Dur>,
    pub daily: Schedule,
    pub weekly: Schedule,
    pub monthly: Schedule,
    pub quarterly: Schedule,
}

impl Default for Run {
    fn default() -> Self {
        use crate::schedule::default_tasks;
        Run {
            log: PathBuf::from("/var/log/bailbondpro/maintenance.log"),
            fail_fast: false,
            grace: Dur::secs(30),
            alert_webhook: None,
            alert_command: None,
            alert_timeout: Dur::secs(10),
            timeouts: BTreeMap::new(),
            daily: Schedule {
                tasks: default_tasks("daily"),
            },
            weekly: Schedule {
                tasks: default_tasks("weekly"),
            },
            monthly: Schedule {
                tasks: default_tasks("monthly"),
            },
            quarterly: Schedule {
                tasks: default_tasks("quarterly"),
            },
        }
    }
}
