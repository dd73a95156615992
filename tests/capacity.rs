//! `capacity`, the monthly capacity review, against a real cluster and a
//! real redis-server, with growth history written as fixtures: days to
//! capacity from a fitted trend, "too little history yet" where there is
//! not enough, and each run adding its sample.

mod common;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use common::*;

const DAY: i64 = 86_400;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// One sample: its time and (resource, used, usable) entries.
type Fixture<'a> = (i64, &'a [(&'a str, u64, u64)]);

fn write_history(path: &Path, samples: &[Fixture]) {
    let samples: Vec<serde_json::Value> = samples
        .iter()
        .map(|(t, entries)| {
            let mounts: serde_json::Map<String, serde_json::Value> = entries
                .iter()
                .map(|(k, used, usable)| {
                    (
                        k.to_string(),
                        serde_json::json!({ "used": used, "usable": usable }),
                    )
                })
                .collect();
            serde_json::json!({ "t": t, "mounts": mounts })
        })
        .collect();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        serde_json::json!({ "version": 1, "samples": samples }).to_string(),
    )
    .unwrap();
}

#[test]
fn mounts_from_disks_history_get_days_to_capacity_or_too_little_history() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let now = now();
    // /data grows 100 a day with 100 left: full in a day (CRITICAL);
    // /srv barely grows (OK); /new has two samples only.
    let s = |d: i64| now - d * DAY;
    write_history(
        &state.join("disk-history.json"),
        &[
            (s(3), &[("/data", 700, 1000), ("/srv", 100, 1_000_000)]),
            (s(2), &[("/data", 800, 1000), ("/srv", 101, 1_000_000)]),
            (
                s(1),
                &[
                    ("/data", 900, 1000),
                    ("/srv", 102, 1_000_000),
                    ("/new", 5, 10),
                ],
            ),
            (
                s(0) - 60,
                &[
                    ("/data", 900, 1000),
                    ("/srv", 102, 1_000_000),
                    ("/new", 9, 10),
                ],
            ),
        ],
    );
    let sb = Sandbox::new(&format!(
        "[capacity]\nsources = [\"mounts\"]\n[disk]\nstate_dir = \"{}\"\n",
        state.display()
    ));
    let out = sb.run(&["--json", "capacity"]);
    let doc = json(&out);
    assert_eq!(doc["command"], "capacity");
    let data = check(&doc, "mount /data");
    assert_eq!(data["status"], "critical", "{data:#}");
    let days = data["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "days_to_capacity")
        .unwrap()["value"]
        .as_f64()
        .unwrap();
    assert!(days < 7.0, "{data:#}");
    assert_eq!(check(&doc, "mount /srv")["status"], "ok");
    let new = check(&doc, "mount /new");
    assert_eq!(new["status"], "ok");
    assert!(
        new["message"]
            .as_str()
            .unwrap()
            .contains("too little history yet (2 samples so far"),
        "{new:#}"
    );
    assert_eq!(code(&out), 2);
}

#[test]
fn database_connections_and_redis_memory_are_sampled_and_forecast() {
    let pg = Pg::start();
    pg.psql(
        "postgres",
        "CREATE TABLE bonds AS SELECT g AS id, repeat('x', 200) AS note FROM generate_series(1, 20000) g",
    );
    let r = Redis::start(None);
    let client = redis::Client::open(r.url()).unwrap();
    let mut con = client.get_connection().unwrap();
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("4mb")
        .query::<()>(&mut con)
        .unwrap();
    let info: String = redis::cmd("INFO").arg("memory").query(&mut con).unwrap();
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let now = now();
    // Redis memory grew 300 KiB a day to today's use: ~3 MiB left of 4 MiB
    // is about 10 days, under the guide's 30.
    let step = 300 << 10;
    let max = 4u64 << 20;
    write_history(
        &state.join("capacity-history.json"),
        &[
            (now - 3 * DAY, &[("redis_memory", used - 3 * step, max)]),
            (now - 2 * DAY, &[("redis_memory", used - 2 * step, max)]),
            (now - DAY, &[("redis_memory", used - step, max)]),
        ],
    );
    let sb = Sandbox::new(&format!(
        "[database]\nurl = \"{}\"\n[redis]\nurl = \"{}\"\n[capacity]\nsources = [\"database\", \"redis\"]\n[disk]\nstate_dir = \"{}\"\n",
        pg.url(),
        r.url(),
        state.display()
    ));
    let out = sb.run(&["--json", "capacity"]);
    let doc = json(&out);
    let mem = check(&doc, "redis_memory");
    assert_eq!(mem["status"], "warning", "{doc:#}");
    let msg = mem["message"].as_str().unwrap();
    assert!(msg.contains("of 4.0 MiB"), "{msg}");
    assert!(msg.contains("at capacity in"), "{msg}");

    // The database: sampled for the first time, so no trend is claimed.
    let db = check(&doc, "database");
    assert_eq!(db["status"], "ok", "{db:#}");
    let msg = db["message"].as_str().unwrap();
    assert!(msg.starts_with("postgres: "), "{msg}");
    assert!(
        msg.contains("too little history yet (1 sample so far"),
        "{msg}"
    );
    // A superuser may read data_directory: the limit is its filesystem's free space.
    assert!(msg.contains("the limit: the free space of /"), "{msg}");
    let d = &doc["data"]["database"];
    assert_eq!(
        d["data_directory"].as_str().unwrap(),
        pg.dir.path().join("data").to_str().unwrap()
    );
    assert_eq!(d["tables"][0]["table"], "public.bonds", "{d:#}");
    assert!(d["tables"][0]["bytes"].as_u64().unwrap() > 4 << 20);
    assert_eq!(d["max_connections"], 20);
    let conn = check(&doc, "connections");
    assert_eq!(conn["status"], "ok", "{conn:#}");
    assert!(
        conn["message"].as_str().unwrap().contains(" of 20 "),
        "{conn:#}"
    );

    // Each run adds its sample (one per second: a second run within the
    // same second replaces it, as `disk`'s history does).
    assert_eq!(doc["data"]["samples"], 4);
    let first = self::now();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while self::now() == first {
        assert!(
            std::time::Instant::now() < deadline,
            "the clock stands still"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let doc = json(&sb.run(&["--json", "capacity"]));
    assert_eq!(doc["data"]["samples"], 5);
    assert!(
        check(&doc, "database")["message"]
            .as_str()
            .unwrap()
            .contains("(2 samples so far"),
        "{doc:#}"
    );
    drop(con);
}

#[test]
fn sequences_get_days_to_exhaustion_and_an_int4_past_75_pct_warns() {
    let pg = Pg::start();
    // Two int4 keys at 80 % of their range: orders has taken 20 million ids
    // a day for three days, invoices has never been sampled.
    let at = 1_717_986_918i64; // 80 % of 2^31 - 1
    pg.psql(
        "postgres",
        &format!(
            "CREATE TABLE orders (id serial PRIMARY KEY); \
             CREATE TABLE invoices (id serial PRIMARY KEY); \
             SELECT setval('orders_id_seq', {at}); SELECT setval('invoices_id_seq', {at});"
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let now = now();
    let used = (at - 1) as u64; // counted from the sequence's start, 1
    let range = i32::MAX as u64 - 1;
    let step = 20_000_000u64;
    write_history(
        &state.join("capacity-history.json"),
        &[
            (
                now - 3 * DAY,
                &[("seq:public.orders_id_seq", used - 3 * step, range)],
            ),
            (
                now - 2 * DAY,
                &[("seq:public.orders_id_seq", used - 2 * step, range)],
            ),
            (
                now - DAY,
                &[("seq:public.orders_id_seq", used - step, range)],
            ),
        ],
    );
    let sb = Sandbox::new(&format!(
        "[database]\nurl = \"{}\"\n[capacity]\nsources = [\"database\"]\n[disk]\nstate_dir = \"{}\"\n",
        pg.url(),
        state.display()
    ));
    let out = sb.run(&["--json", "capacity"]);
    let doc = json(&out);
    let seqs = check(&doc, "sequences");
    assert_eq!(seqs["status"], "warning", "{seqs:#}");
    // 429,496,729 ids left at 20 million a day: 21.5 days, under the guide's 30.
    let row = |name: &str| {
        doc["data"]["sequences"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["sequence"] == name)
            .unwrap_or_else(|| panic!("{name} in {doc:#}"))
            .clone()
    };
    let orders = row("public.orders_id_seq");
    assert_eq!(orders["remaining"], 429_496_729.0, "{orders:#}");
    assert_eq!(orders["days_to_exhaustion"], 21.5, "{orders:#}");
    assert_eq!(orders["samples"], 4);
    let msg = seqs["message"].as_str().unwrap();
    assert!(
        msg.starts_with("public.orders_id_seq at 80.0% of its integer range (public.orders.id)"),
        "{msg}"
    );
    assert!(msg.contains("runs out in 21 days"), "{msg}");
    // No history for invoices: no days claimed, yet an int4 past 75 % warns.
    let invoices = row("public.invoices_id_seq");
    assert!(invoices["days_to_exhaustion"].is_null(), "{invoices:#}");
    assert!(
        msg.contains(
            "public.invoices_id_seq at 80.0% of its integer range (public.invoices.id) \
             (429496729 left); too little history yet (1 sample so far"
        ),
        "{msg}"
    );
    assert!(msg.contains("int4 key past 75%"), "{msg}");
    assert_eq!(code(&out), 1);
    // This run's values were recorded for the next run's trend.
    let kept = std::fs::read_to_string(state.join("capacity-history.json")).unwrap();
    assert!(kept.contains("seq:public.invoices_id_seq"));
}

#[test]
fn a_corrupt_history_is_reported_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("capacity-history.json"), "not json").unwrap();
    let sb = Sandbox::new(&format!(
        "[capacity]\nsources = [\"mounts\"]\n[disk]\nstate_dir = \"{}\"\n",
        state.display()
    ));
    let doc = json(&sb.run(&["--json", "capacity"]));
    let h = check(&doc, "history");
    assert_eq!(h["status"], "warning");
    assert!(
        h["message"].as_str().unwrap().contains("was corrupt"),
        "{h:#}"
    );
    assert_eq!(
        std::fs::read_to_string(state.join("capacity-history.json.corrupt")).unwrap(),
        "not json"
    );
    let kept: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(state.join("capacity-history.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(kept["samples"].as_array().unwrap().len(), 1);
    // No disk history yet: said, with nothing made up.
    assert!(
        check(&doc, "mounts")["message"]
            .as_str()
            .unwrap()
            .starts_with("too little history yet")
    );
}
