//! The judges of `db check`, from facts built by hand: a healthy primary,
//! each test changing only what it is about.

use super::gather::{Facts, Failed};
use super::sql::*;
use super::{amcheck, judge, server, wal};
use crate::config::{DbCheck, Dur};
use crate::report::Status;

fn healthy() -> Facts {
    Facts {
        server: Server {
            version: "15.10".into(),
            version_num: 150010,
            database: "app".into(),
            in_recovery: false,
            uptime_secs: 10.0 * 86400.0,
            started_at: "2026-11-20T02:00:00Z".into(),
            checksums_on: true,
            archive_mode: "on".into(),
            archive_timeout_secs: 300.0,
            pending_restart: vec![],
            data_directory: None,
        },
        archiver: Ok(Archiver {
            archived_count: 40,
            last_archived_wal: Some("000000010000000000000028".into()),
            last_archived_age_secs: Some(60.0),
            ..Default::default()
        }),
        ready: Ok(Ready::default()),
        slots: Ok(vec![]),
        wal_space: None,
        standbys: Ok(vec![]),
        recovery: None,
        transactions: Ok(vec![]),
        prepared: Ok(vec![]),
        invalid_indexes: Ok(vec![]),
        sequences: Ok(vec![]),
        checksum_failures: Ok(vec![]),
        temp_files: Ok(vec![]),
        extensions: Ok(vec![]),
        took: vec![],
    }
}

fn status_of(f: &Facts, name: &str) -> (Status, String) {
    judge(&DbCheck::default(), 10, f)
        .into_iter()
        .map(|(c, _)| c)
        .find(|c| c.name == name)
        .map(|c| (c.status, c.message))
        .unwrap()
}

#[test]
fn a_healthy_primary_is_ok_on_every_check_in_order() {
    let checks = judge(&DbCheck::default(), 10, &healthy());
    let names: Vec<&str> = checks.iter().map(|(c, _)| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "archiving",
            "replication_slots",
            "replication",
            "xmin_horizon",
            "invalid_indexes",
            "sequences",
            "checksums",
            "temp_files",
            "server"
        ]
    );
    for (c, _) in &checks {
        assert_eq!(c.status, Status::Ok, "{}: {}", c.name, c.message);
    }
}

#[test]
fn failing_archiving_is_critical_and_off_is_named() {
    let mut f = healthy();
    f.archiver = Ok(Archiver {
        failed_count: 7,
        last_failed_wal: Some("000000010000000000000029".into()),
        last_failed_age_secs: Some(5.0),
        failing: true,
        ..f.archiver.unwrap()
    });
    let (st, msg) = status_of(&f, "archiving");
    assert_eq!(st, Status::Critical);
    assert!(msg.contains("archive_command is failing"), "{msg}");
    assert!(msg.contains("7 failures"), "{msg}");

    let mut f = healthy();
    f.server.archive_mode = "off".into();
    let (st, msg) = status_of(&f, "archiving");
    assert_eq!(st, Status::Ok);
    assert!(msg.contains("archiving is off"), "{msg}");
}

#[test]
fn an_old_last_segment_warns_against_twice_archive_timeout() {
    let mut f = healthy();
    if let Ok(a) = &mut f.archiver {
        a.last_archived_age_secs = Some(601.0);
    }
    assert_eq!(status_of(&f, "archiving").0, Status::Warning);
    f.server.archive_timeout_secs = 0.0;
    assert_eq!(status_of(&f, "archiving").0, Status::Ok);
    let cfg = DbCheck {
        archive_max_age: Some(Dur::parse("5m").unwrap()),
        ..DbCheck::default()
    };
    let (c, _) = wal::archiving(&cfg, &f);
    assert_eq!(c.status, Status::Warning, "{}", c.message);
}

#[test]
fn ready_files_count_where_readable_and_are_skipped_where_not() {
    let mut f = healthy();
    f.ready = Ok(Ready {
        count: 150,
        oldest_age_secs: Some(3600.0),
    });
    let (st, msg) = status_of(&f, "archiving");
    assert_eq!(st, Status::Critical);
    assert!(msg.contains("150 segments waiting"), "{msg}");
    f.ready = Err(Failed::denied(
        "permission denied for function pg_ls_archive_statusdir",
    ));
    assert_eq!(status_of(&f, "archiving").0, Status::Ok);
}

#[test]
fn slots_lost_inactive_and_large_are_named() {
    let mut f = healthy();
    let slot = |name: &str, active: bool, status: &str, bytes: i64| Slot {
        name: name.into(),
        kind: "physical".into(),
        active,
        wal_status: Some(status.into()),
        retained_bytes: Some(bytes),
        ..Default::default()
    };
    f.slots = Ok(vec![slot("standby1", true, "reserved", 1 << 20)]);
    assert_eq!(status_of(&f, "replication_slots").0, Status::Ok);
    f.slots = Ok(vec![slot("old", false, "reserved", 64 << 20)]);
    let (st, msg) = status_of(&f, "replication_slots");
    assert_eq!(st, Status::Warning);
    assert!(
        msg.contains("physical slot old: inactive, holds 64.0 MiB"),
        "{msg}"
    );
    f.slots = Ok(vec![slot("gone", false, "lost", 0)]);
    assert_eq!(status_of(&f, "replication_slots").0, Status::Critical);
    f.slots = Ok(vec![slot("big", true, "extended", 20 << 30)]);
    assert_eq!(status_of(&f, "replication_slots").0, Status::Critical);
    // The share of the free space, where the filesystem is known.
    f.slots = Ok(vec![slot("share", true, "reserved", 400 << 20)]);
    f.wal_space = Some(super::gather::Space {
        free: 1 << 30,
        total: 10 << 30,
    });
    let (st, msg) = status_of(&f, "replication_slots");
    assert_eq!(st, Status::Warning, "{msg}");
    assert!(msg.contains("39.1% of the free space"), "{msg}");
}

#[test]
fn a_missing_expected_standby_is_critical() {
    let mut f = healthy();
    let cfg = DbCheck {
        expected_standbys: vec!["replica1".into()],
        ..DbCheck::default()
    };
    let (c, _) = wal::replication(&cfg, &f);
    assert_eq!(c.status, Status::Critical);
    assert!(
        c.message
            .contains("expected standby replica1 is not connected")
    );
    f.standbys = Ok(vec![Standby {
        name: "replica1".into(),
        client: "10.0.0.2".into(),
        state: "streaming".into(),
        sync_state: "async".into(),
        lag_bytes: Some(0),
        replay_lag_secs: Some(0.1),
        xmin_age: None,
    }]);
    let (c, _) = wal::replication(&cfg, &f);
    assert_eq!(c.status, Status::Ok, "{}", c.message);
    if let Ok(s) = &mut f.standbys {
        s[0].lag_bytes = Some(2 << 30);
    }
    assert_eq!(wal::replication(&cfg, &f).0.status, Status::Critical);
}

#[test]
fn a_standby_reports_its_receiver_and_a_paused_replay() {
    let mut f = healthy();
    f.server.in_recovery = true;
    f.recovery = Some(Ok(Recovery {
        replay_lag_bytes: Some(0),
        paused: false,
        last_replay_age_secs: Some(30.0),
        receiver: Some("streaming".into()),
    }));
    let (st, msg) = status_of(&f, "replication");
    assert_eq!(st, Status::Ok, "{msg}");
    assert!(msg.contains("last transaction replayed 30 s ago"), "{msg}");
    f.recovery = Some(Ok(Recovery {
        paused: true,
        receiver: None,
        ..Recovery::default()
    }));
    let (st, msg) = status_of(&f, "replication");
    assert_eq!(st, Status::Critical);
    assert!(msg.contains("replay is paused"), "{msg}");
    // A standby does not archive unless archive_mode = always.
    assert_eq!(status_of(&f, "archiving").0, Status::Ok);
}

#[test]
fn the_oldest_xmin_holder_is_named_and_an_orphaned_prepare_is_critical() {
    let mut f = healthy();
    f.transactions = Ok(vec![Transaction {
        pid: 42,
        user: "app".into(),
        database: "app".into(),
        xid_age: 12,
        age_secs: Some(7200.0),
        state: "idle in transaction".into(),
        query: "SELECT 1".into(),
        ..Default::default()
    }]);
    let (st, msg) = status_of(&f, "xmin_horizon");
    assert_eq!(st, Status::Warning);
    assert!(
        msg.starts_with("oldest xmin: transaction pid 42 app"),
        "{msg}"
    );
    f.prepared = Ok(vec![Prepared {
        gid: "tx-1".into(),
        owner: "app".into(),
        database: "app".into(),
        xid_age: 50,
        age_secs: 3600.0,
    }]);
    let (st, msg) = status_of(&f, "xmin_horizon");
    assert_eq!(st, Status::Critical);
    assert!(
        msg.contains("oldest xmin: prepared transaction \"tx-1\""),
        "{msg}"
    );
    assert!(msg.contains("orphaned?"), "{msg}");
    let holders = server::holders(&f);
    assert_eq!(holders[0].kind, "prepared transaction");
}

#[test]
fn invalid_indexes_say_what_rebuilds_them() {
    let mut f = healthy();
    f.invalid_indexes = Ok(vec![InvalidIndex {
        schema: "public".into(),
        name: "bonds_ref_key".into(),
        table: "bonds".into(),
        ready: true,
        unique: true,
        bytes: 8192,
    }]);
    let (st, msg) = status_of(&f, "invalid_indexes");
    assert_eq!(st, Status::Warning);
    assert!(msg.contains("vacuum --reindex does not rebuild"), "{msg}");
    assert!(msg.contains("failed CREATE INDEX CONCURRENTLY"), "{msg}");
}

#[test]
fn checksum_failures_are_critical_and_checksums_off_is_named() {
    let mut f = healthy();
    f.checksum_failures = Ok(vec![ChecksumFailures {
        database: "app".into(),
        failures: 1,
        last_failure: Some("2026-11-30T02:00:00Z".into()),
    }]);
    let (st, msg) = status_of(&f, "checksums");
    assert_eq!(st, Status::Critical);
    assert!(
        msg.contains("1 in app, the last at 2026-11-30T02:00:00Z"),
        "{msg}"
    );
    let mut f = healthy();
    f.server.checksums_on = false;
    let (st, msg) = status_of(&f, "checksums");
    assert_eq!(st, Status::Ok);
    assert!(msg.contains("data checksums are off"), "{msg}");
}

#[test]
fn temp_files_are_judged_per_day_with_a_day_at_least() {
    let mut f = healthy();
    f.temp_files = Ok(vec![TempFiles {
        database: "app".into(),
        files: 30,
        bytes: 3 << 30,
        days: 0.01,
    }]);
    let (st, msg) = status_of(&f, "temp_files");
    assert_eq!(st, Status::Warning, "{msg}");
    assert!(msg.contains("30 temporary files"), "{msg}");
    if let Ok(t) = &mut f.temp_files {
        t[0].days = 10.0;
    }
    assert_eq!(status_of(&f, "temp_files").0, Status::Ok);
}

#[test]
fn a_restart_pending_settings_and_old_extensions_warn() {
    let mut f = healthy();
    f.server.uptime_secs = 600.0;
    let (st, msg) = status_of(&f, "server");
    assert_eq!(st, Status::Warning);
    assert!(
        msg.contains("restarted at 2026-11-20T02:00:00Z (10 min ago)"),
        "{msg}"
    );
    let mut f = healthy();
    f.server.pending_restart = vec!["shared_buffers".into()];
    f.extensions = Ok(vec![Extension {
        name: "pg_stat_statements".into(),
        installed: "1.9".into(),
        available: "1.10".into(),
    }]);
    let (st, msg) = status_of(&f, "server");
    assert_eq!(st, Status::Warning);
    assert!(
        msg.contains("1 setting waiting for a restart: shared_buffers"),
        "{msg}"
    );
    assert!(msg.contains("pg_stat_statements 1.9 < 1.10"), "{msg}");
}

#[test]
fn a_denied_read_is_a_skip_and_a_failed_one_unknown() {
    let mut f = healthy();
    f.slots = Err(Failed::denied("permission denied"));
    assert_eq!(status_of(&f, "replication_slots").0, Status::Ok);
    f.slots = Err(Failed {
        message: "canceling statement due to statement timeout".into(),
        permission: false,
    });
    let (st, msg) = status_of(&f, "replication_slots");
    assert_eq!(st, Status::Unknown);
    assert!(msg.contains("statement timeout"), "{msg}");
}

#[test]
fn amcheck_names_the_relation_and_the_block() {
    let out = "heap table \"app.public.victim\":\n    ERROR:  invalid page in block 1 of relation base/5/16408\n\
               btree index \"app.public.bonds_pkey\":\n    ERROR:  item order invariant violated for index \"bonds_pkey\"\n\
               heap table \"app.public.t\", block 7, offset 3:\n    line pointer to page offset 9000 exceeds maximum page offset 8192\n";
    let f = amcheck::parse(out);
    assert_eq!(f.len(), 3);
    assert_eq!(f[0].relation, "app.public.victim");
    assert_eq!(f[0].block, Some(1));
    assert_eq!(f[1].kind, "btree index");
    assert_eq!(f[1].block, None);
    assert_eq!(f[2].block, Some(7));
    let (c, v) = amcheck::judge(false, false, out, "", std::time::Duration::ZERO);
    assert_eq!(c.status, Status::Critical);
    assert!(
        c.message.contains("heap table app.public.victim block 1"),
        "{}",
        c.message
    );
    assert_eq!(v["findings"][0]["block"], 1);
    let (c, _) = amcheck::judge(true, true, "", "", std::time::Duration::ZERO);
    assert_eq!(c.status, Status::Ok);
    assert!(c.message.contains("--heapallindexed"));
    let (c, _) = amcheck::judge(
        false,
        false,
        "",
        "pg_amcheck: warning: skipping database \"app\": amcheck is not installed\npg_amcheck: error: no relations to check",
        std::time::Duration::ZERO,
    );
    assert_eq!(c.status, Status::Unknown);
}
