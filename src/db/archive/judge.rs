//! Pure judgement of one rule's run: what was archived, deleted and freed.

use std::path::PathBuf;
use std::time::Duration;

use super::Skipped;
use crate::report::{Check, Metric, Status};

#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub table: String,
    pub cutoff: String,
    /// What stopped the rule before anything was deleted (or the delete
    /// itself failed): CRITICAL.
    pub failed: Option<String>,
    /// `--dry-run`: rows and bytes that would go.
    pub dry_run: Option<(u64, u64)>,
    /// The archive finished (resumed) or written in this run.
    pub archive: Option<ArchiveFacts>,
    pub delete: Option<DeleteFacts>,
    /// `Err`: VACUUM could not run (a lock, a timeout).
    pub vacuum: Option<Result<Duration, String>>,
    pub size_before: Option<u64>,
    pub size_after: Option<u64>,
}

#[derive(Clone, Debug, Default)]
pub struct ArchiveFacts {
    pub file: PathBuf,
    pub rows: u64,
    pub bytes: u64,
    /// Left by an earlier run and finished by this one.
    pub resumed: bool,
    /// Zero when resumed: the export was an earlier run's.
    pub export: Duration,
    /// Reading the file back, every run before any delete.
    pub verify: Duration,
}

#[derive(Clone, Debug, Default)]
pub struct DeleteFacts {
    pub rows: u64,
    /// Over every run of this archive.
    pub total: u64,
    pub batches: u64,
    pub skipped: Vec<Skipped>,
    pub longest_batch: Duration,
    /// The whole delete phase of this run.
    pub took: Duration,
    /// Batches rolled back and deleted key by key: their key range held
    /// old rows that are not in the archive (written since the export).
    pub by_keys: u64,
}

pub fn judge(f: &Facts) -> Vec<Check> {
    let name = |step: &str| format!("{step} {}", f.table);
    let mut out = Vec::new();
    if let Some((rows, bytes)) = f.dry_run {
        out.push(
            Check::new(
                name("archive"),
                Status::Ok,
                format!(
                    "dry run: {} ({}) older than {} would be archived; nothing written or deleted",
                    crate::units::count(rows, "row"),
                    crate::units::bytes(bytes),
                    f.cutoff
                ),
            )
            .with_metric(Metric::new("rows", rows as f64, "").with_min(0.0))
            .with_metric(Metric::new("bytes", bytes as f64, "B").with_min(0.0)),
        );
        return out;
    }
    match (&f.archive, &f.failed) {
        (None, Some(why)) => {
            out.push(Check::new(
                name("archive"),
                Status::Critical,
                format!("{why}; nothing deleted"),
            ));
            return out;
        }
        (None, None) => {
            out.push(Check::new(
                name("archive"),
                Status::Ok,
                format!("nothing older than {}", f.cutoff),
            ));
            return out;
        }
        (Some(a), _) => out.push(
            Check::new(
                name("archive"),
                Status::Ok,
                format!(
                    "{}{} older than {} in {} ({}), {}verified in {}",
                    if a.resumed { "resumed: " } else { "" },
                    crate::units::count(a.rows, "row"),
                    f.cutoff,
                    a.file.display(),
                    crate::units::bytes(a.bytes),
                    if a.resumed {
                        String::new()
                    } else {
                        format!("exported in {}, ", crate::units::duration(a.export))
                    },
                    crate::units::duration(a.verify)
                ),
            )
            .with_duration(a.export + a.verify)
            .with_metric(Metric::new("rows_archived", a.rows as f64, "").with_min(0.0))
            .with_metric(Metric::millis("export", a.export))
            .with_metric(Metric::millis("verify", a.verify)),
        ),
    }
    if let Some(d) = &f.delete {
        let status = if f.failed.is_some() {
            Status::Critical
        } else if d.skipped.is_empty() {
            Status::Ok
        } else {
            Status::Warning
        };
        let mut msg = format!(
            "{} deleted in {} (longest {}), {} of {} archived rows in all",
            crate::units::count(d.rows, "row"),
            crate::units::count_as(d.batches, "batch", "batches"),
            crate::units::duration(d.longest_batch),
            d.total,
            f.archive.as_ref().map_or(0, |a| a.rows),
        );
        if let Some(why) = &f.failed {
            msg = format!("{why}; {msg}");
        }
        let archived = f.archive.as_ref().map_or(0, |a| a.rows);
        if f.failed.is_none() && d.skipped.is_empty() && d.total < archived {
            msg.push_str(&format!(
                "; {} not deleted: no longer in the table, or no longer older than the cutoff",
                crate::units::count(archived - d.total, "archived row")
            ));
        }
        if d.by_keys > 0 {
            msg.push_str(&format!(
                "; {} deleted key by key: old rows not in the archive were in {} key range",
                crate::units::count_as(d.by_keys, "batch", "batches"),
                if d.by_keys == 1 { "its" } else { "their" }
            ));
        }
        if !d.skipped.is_empty() {
            let s = &d.skipped[0];
            msg.push_str(&format!(
                "; {} not deleted, retried next run: keys {}..{}: {}",
                crate::units::count_as(d.skipped.len(), "batch", "batches"),
                s.first,
                s.last,
                s.why
            ));
            if d.skipped.len() > 1 {
                msg.push_str(&format!(" (and {} more)", d.skipped.len() - 1));
            }
        }
        out.push(
            Check::new(name("delete"), status, msg)
                .with_duration(d.took)
                .with_metric(Metric::new("rows_deleted", d.rows as f64, "").with_min(0.0))
                .with_metric(
                    Metric::new("batches_skipped", d.skipped.len() as f64, "").with_min(0.0),
                )
                .with_metric(Metric::millis("longest_batch", d.longest_batch)),
        );
    }
    match &f.vacuum {
        Some(Ok(took)) => {
            let (b, a) = (f.size_before.unwrap_or(0), f.size_after.unwrap_or(0));
            out.push(
                Check::new(
                    name("vacuum"),
                    Status::Ok,
                    format!(
                        "VACUUM (ANALYZE) in {}: {} before, {} after ({} freed)",
                        crate::units::duration(*took),
                        crate::units::bytes(b),
                        crate::units::bytes(a),
                        crate::units::bytes(b.saturating_sub(a))
                    ),
                )
                .with_duration(*took)
                .with_metric(Metric::new("size_before", b as f64, "B").with_min(0.0))
                .with_metric(Metric::new("size_after", a as f64, "B").with_min(0.0)),
            );
        }
        Some(Err(why)) => out.push(Check::new(
            name("vacuum"),
            Status::Warning,
            format!("VACUUM (ANALYZE) not run: {why}"),
        )),
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Facts {
        Facts {
            table: "public.audit_events".into(),
            cutoff: "2025-11-30T00:00:00Z".into(),
            ..Facts::default()
        }
    }

    #[test]
    fn a_failed_export_is_critical_and_says_nothing_was_deleted() {
        let f = Facts {
            failed: Some("cannot write the archive in /a: No space left on device".into()),
            ..base()
        };
        let c = judge(&f);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].status, Status::Critical);
        assert!(
            c[0].message.ends_with("nothing deleted"),
            "{}",
            c[0].message
        );
    }

    #[test]
    fn a_skipped_batch_warns_naming_why() {
        let f = Facts {
            archive: Some(ArchiveFacts {
                file: "/a/x.copy.gz".into(),
                rows: 10,
                bytes: 100,
                ..ArchiveFacts::default()
            }),
            delete: Some(DeleteFacts {
                rows: 5,
                total: 5,
                batches: 2,
                skipped: vec![Skipped {
                    first: 6,
                    last: 10,
                    why: "foreign key child_parent_fkey on child references these rows".into(),
                }],
                longest_batch: Duration::from_millis(3),
                ..DeleteFacts::default()
            }),
            vacuum: Some(Ok(Duration::from_millis(20))),
            size_before: Some(2000),
            size_after: Some(1000),
            ..base()
        };
        let c = judge(&f);
        let d = c
            .iter()
            .find(|c| c.name == "delete public.audit_events")
            .unwrap();
        assert_eq!(d.status, Status::Warning);
        assert!(d.message.contains("child_parent_fkey"), "{}", d.message);
        let v = c
            .iter()
            .find(|c| c.name == "vacuum public.audit_events")
            .unwrap();
        assert!(v.message.contains("freed"), "{}", v.message);
    }

    #[test]
    fn a_dry_run_counts_and_changes_nothing() {
        let c = judge(&Facts {
            dry_run: Some((3, 300)),
            ..base()
        });
        assert_eq!(c[0].status, Status::Ok);
        assert!(c[0].message.contains("3 rows"), "{}", c[0].message);
    }

    #[test]
    fn each_phase_carries_its_own_time() {
        let ms = Duration::from_millis;
        let f = Facts {
            archive: Some(ArchiveFacts {
                file: "/a/x.copy.gz".into(),
                rows: 10,
                bytes: 100,
                resumed: false,
                export: ms(1200),
                verify: ms(300),
            }),
            delete: Some(DeleteFacts {
                rows: 10,
                total: 10,
                batches: 1,
                took: ms(2500),
                ..DeleteFacts::default()
            }),
            vacuum: Some(Ok(ms(400))),
            ..base()
        };
        let c = judge(&f);
        let took = |n: &str| c.iter().find(|c| c.name == n).unwrap().duration;
        assert_eq!(took("archive public.audit_events"), ms(1500));
        assert_eq!(took("delete public.audit_events"), ms(2500));
        assert_eq!(took("vacuum public.audit_events"), ms(400));
        let a = &c[0];
        let metric = |n: &str| a.metrics.iter().find(|m| m.name == n).unwrap().value;
        assert_eq!((metric("export"), metric("verify")), (1200.0, 300.0));
        assert!(
            a.message
                .ends_with("exported in 1 s 200 ms, verified in 300 ms"),
            "{}",
            a.message
        );

        // A resumed archive was exported by an earlier run: only its read-back is this run's.
        let f = Facts {
            archive: Some(ArchiveFacts {
                resumed: true,
                export: Duration::ZERO,
                ..f.archive.clone().unwrap()
            }),
            ..f
        };
        let a = &judge(&f)[0];
        assert_eq!(a.duration, ms(300));
        assert!(a.message.ends_with("verified in 300 ms"), "{}", a.message);
        assert!(!a.message.contains("exported"), "{}", a.message);
    }

    #[test]
    fn archived_rows_left_in_place_and_key_by_key_batches_are_said() {
        let f = Facts {
            archive: Some(ArchiveFacts {
                rows: 60,
                ..ArchiveFacts::default()
            }),
            delete: Some(DeleteFacts {
                rows: 59,
                total: 59,
                batches: 3,
                by_keys: 1,
                ..DeleteFacts::default()
            }),
            ..base()
        };
        let c = judge(&f);
        let d = &c[1];
        assert_eq!(d.status, Status::Ok);
        assert!(
            d.message.contains("1 archived row not deleted")
                && d.message.contains("1 batch deleted key by key"),
            "{}",
            d.message
        );
        // All of them gone: nothing to say.
        let mut f = f;
        f.delete = Some(DeleteFacts {
            rows: 60,
            total: 60,
            batches: 3,
            ..DeleteFacts::default()
        });
        let m = &judge(&f)[1].message;
        assert!(
            !m.contains("not deleted") && !m.contains("key by key"),
            "{m}"
        );
    }
}
