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

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub tasks: Vec<String>,
}

impl Run {
    /// Task names must exist: a schedule naming a task that would not run is
    /// refused before anything runs.
    pub(super) fn validate(&self, v: &Rules) -> Result<(), ConfigError> {
        use crate::schedule::{TASKS, task};
        let r = self;
        let known = |key: String, name: &str| {
            if task(name).is_some() {
                Ok(())
            } else {
                let names: Vec<&str> = TASKS.iter().map(|t| t.name).collect();
                v.err(
                    key,
                    format!("unknown task {name:?}; the tasks are {}", names.join(", ")),
                )
            }
        };
        for (sched, list) in [
            ("daily", &r.daily.tasks),
            ("weekly", &r.weekly.tasks),
            ("monthly", &r.monthly.tasks),
            ("quarterly", &r.quarterly.tasks),
        ] {
            for (i, name) in list.iter().enumerate() {
                let key = format!("run.{sched}.tasks[{i}]");
                known(key.clone(), name)?;
                if list[..i].contains(name) {
                    return v.err(key, format!("task '{name}' is listed twice"));
                }
            }
        }
        for (name, d) in &r.timeouts {
            known(format!("run.timeouts.{name}"), name)?;
            if d.0.is_zero() {
                return v.err(
                    format!("run.timeouts.{name}"),
                    "a timeout of 0 would cut the task before it starts",
                );
            }
        }
        if let Some(u) = &r.alert_webhook {
            check_http_url(u).or_else(|p| v.err("run.alert_webhook", p))?;
        }
        if r.alert_timeout.0.is_zero() {
            return v.err("run.alert_timeout", "must be above 0");
        }
        Ok(())
    }
}
