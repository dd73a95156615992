//! `db analyze` and `vacuum` against real clusters, each test building the
//! relations that show the condition it asserts: heavy updates and deletes
//! with autovacuum off on that table (so nothing depends on timing), an
//! unused index, a large table without an index read by sequential scans, a
//! slow query, a transaction held open, a lock held by another session, a
//! role that may only read, a database without pg_stat_statements; and
//! check_postgres on the same database.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const APP: &str = "app";

/// Updates every row twice (moving the indexed column, so no HOT update)
/// and deletes the later half: dead tuples, a bloated heap whose tail
/// VACUUM can truncate, and bloated indexes. `churn_n_idx` is never scanned.
const CHURN: &str = "
CREATE TABLE churn (id int PRIMARY KEY, n int, v text) WITH (autovacuum_enabled = false);
CREATE INDEX churn_n_idx ON churn (n);
INSERT INTO churn SELECT g, g, repeat('x', 100) FROM generate_series(1, 20000) g;
UPDATE churn SET n = n + 1, v = repeat('y', 100);
UPDATE churn SET n = n + 1;
DELETE FROM churn WHERE id > 10000;
SELECT pg_stat_force_next_flush();
";

/// About 4 MiB and no index at all, read only by sequential scans.
const NO_INDEX: &str = "
CREATE TABLE big_noindex (id int, payload text) WITH (autovacuum_enabled = false);
INSERT INTO big_noindex SELECT g, repeat('z', 100) FROM generate_series(1, 30000) g;
";

fn app_url(pg: &Pg, user: &str, password: &str) -> String {
    format!("postgres://{user}:{password}@127.0.0.1:{}/{APP}", pg.port)
}

/// A cluster with database `app` and the statements in `setup` run in it.
fn cluster(setup: &str) -> Pg {
    let pg = Pg::start();
    pg.psql("postgres", &format!("CREATE DATABASE {APP}"));
    if !setup.is_empty() {
        pg.psql(APP, setup);
    }
    pg
}

/// A config for `app` as `user`, with the test's `[db]` keys over defaults
/// that judge small relations (the built-in minimums would ignore them).
fn config(url: &str, db: &[(&str, &str)]) -> String {
    let mut keys: BTreeMap<&str, String> = [
        ("bloat_min_size", "\"0\""),
        ("dead_tuples_min", "100"),
        ("unused_index_min_size", "\"0\""),
        ("unused_index_min_days", "0"),
        ("missing_index_min_size", "\"1MiB\""),
        ("missing_index_min_seq_scans", "5"),
        ("lock_timeout", "\"300ms\""),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect();
    for (k, v) in db {
        keys.insert(k, v.to_string());
    }
    let mut text = format!("[database]\nurl = \"{url}\"\ntimeout = \"5s\"\n\n[db]\n");
    for (k, v) in keys {
        text.push_str(&format!("{k} = {v}\n"));
    }
    text
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|x| x[key] == value)
}

fn run_json(sb: &Sandbox, args: &[&str]) -> (i32, Value, String) {
    let out = sb.run(args);
    (code(&out), json(&out), stderr(&out))
}

/// The statistics `vacuum --dry-run` must leave alone.
fn table_stats(pg: &Pg) -> String {
    pg.psql(
        APP,
        "SELECT relname, n_live_tup, n_dead_tup, vacuum_count, autovacuum_count, analyze_count, \
                autoanalyze_count, last_vacuum, last_analyze, pg_table_size(relid) \
           FROM pg_stat_user_tables ORDER BY relname",
    )
}

fn client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connect")
}

/// Polls `sql` (a boolean query) until true, within `limit`: waiting for a
/// condition, never for a time.
fn wait_until(pg: &Pg, sql: &str, limit: Duration, what: &str) {
    let t0 = Instant::now();
    while pg.psql(APP, sql) != "t" {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn analyze_finds_each_condition_the_cluster_was_built_with() {
    let pg = cluster(&format!("{CHURN}{NO_INDEX}"));
    pg.psql(APP, "CREATE EXTENSION pg_stat_statements");
    pg.psql(
        APP,
        "SELECT pg_sleep(0.3); \
         SELECT count(*) FROM big_noindex WHERE id = 1; SELECT count(*) FROM big_noindex WHERE id = 2; \
         SELECT count(*) FROM big_noindex WHERE id = 3; SELECT count(*) FROM big_noindex WHERE id = 4; \
         SELECT count(*) FROM big_noindex WHERE id = 5; SELECT pg_stat_force_next_flush();",
    );
    let sb = Sandbox::new(&config(
        &app_url(&pg, "postgres", PG_PASSWORD),
        &[
            ("slow_query_warn", "\"200ms\""),
            ("slow_query_crit", "\"1h\""),
        ],
    ));
    let (code, doc, err) = run_json(&sb, &["db", "analyze", "--json"]);
    assert_eq!(doc["command"], "db-analyze");
    assert_eq!(code, 2, "{doc:#}\n{err}");
    let data = &doc["data"];

    // ANALYZE ran on every table.
    assert_eq!(status(&doc, "analyze"), "ok");
    let analyzed = &data["analyze"]["analyzed"];
    assert!(find_str(analyzed, "public.churn") && find_str(analyzed, "public.big_noindex"));

    // Largest first.
    assert_eq!(
        data["sizes"][0]["table"], "public.churn",
        "{:#}",
        data["sizes"]
    );

    // Bloat of the churned heap and its indexes, above the default 60 %.
    assert_eq!(status(&doc, "table_bloat"), "critical", "{doc:#}");
    let t = find(&data["table_bloat"]["relations"], "table", "public.churn").unwrap();
    assert!(t["bloat_pct"].as_f64().unwrap() > 60.0, "{t}");
    let b = find(
        &data["table_bloat"]["relations"],
        "table",
        "public.big_noindex",
    )
    .unwrap();
    assert!(b["bloat_pct"].as_f64().unwrap() < 10.0, "{b}");
    let i = find(
        &data["index_bloat"]["relations"],
        "index",
        "public.churn_n_idx",
    )
    .unwrap();
    assert!(i["bloat_pct"].as_f64().unwrap() > 30.0, "{i}");

    // Dead tuples: 2 x 20,000 row versions updated away and 10,000 deleted.
    assert_eq!(status(&doc, "dead_tuples"), "critical");
    let d = find(&data["dead_tuples"], "table", "public.churn").unwrap();
    assert!(d["dead"].as_i64().unwrap() >= 40_000, "{d}");
    assert_eq!(d["autovacuum_disabled"], true);

    // Never vacuumed: reported, not ignored.
    let s = find(&data["vacuum_staleness"], "table", "public.churn").unwrap();
    assert_eq!(s["never_vacuumed"], true, "{s}");
    assert_eq!(status(&doc, "vacuum_staleness"), "warning");

    // The unused index, not the primary key.
    assert_eq!(status(&doc, "unused_indexes"), "warning");
    let unused = &data["unused_indexes"]["indexes"];
    assert!(
        find(unused, "index", "public.churn_n_idx").is_some(),
        "{unused:#}"
    );
    assert!(
        find(unused, "index", "public.churn_pkey").is_none(),
        "{unused:#}"
    );
    assert!(data["unused_indexes"]["stats_days"].as_f64().unwrap() >= 0.0);

    // The table with no index at all, read by sequential scans.
    assert_eq!(status(&doc, "missing_indexes"), "warning");
    let m = find(&data["missing_indexes"], "table", "public.big_noindex").unwrap();
    assert_eq!(m["has_index"], false);
    assert!(m["seq_scan"].as_i64().unwrap() >= 5, "{m}");
    assert!(find(&data["missing_indexes"], "table", "public.churn").is_none());

    // The slow query, with the column names of the installed version.
    assert_eq!(status(&doc, "slow_queries"), "warning", "{doc:#}");
    let q = &data["slow_queries"]["queries"];
    assert!(
        q.as_array()
            .unwrap()
            .iter()
            .any(|x| x["query"].as_str().unwrap().contains("pg_sleep")
                && x["mean_ms"].as_f64().unwrap() >= 300.0),
        "{q:#}"
    );

    // Wraparound and multixact, per database and per table.
    for name in [
        "wraparound",
        "multixact",
        "cache_hit",
        "long_running",
        "idle_in_transaction",
    ] {
        assert_eq!(status(&doc, name), "ok", "{name}: {doc:#}");
    }
    let w = &data["wraparound"];
    assert!(find(&w["databases"], "database", APP).is_some(), "{w:#}");
    assert!(
        find(&w["tables"], "table", "public.churn").is_some(),
        "{w:#}"
    );
    assert_eq!(w["autovacuum_freeze_max_age"], 200_000_000);
}

fn find_str(list: &Value, s: &str) -> bool {
    list.as_array().unwrap().iter().any(|x| x == s)
}

#[test]
fn vacuum_reduces_dead_tuples_and_bloat_and_measures_it() {
    let pg = cluster(&format!("{CHURN}{NO_INDEX}ANALYZE;"));
    let sb = Sandbox::new(&config(&app_url(&pg, "postgres", PG_PASSWORD), &[]));
    let (_, before, _) = run_json(&sb, &["db", "analyze", "--no-analyze", "--json"]);
    let bloat = |doc: &Value| {
        find(
            &doc["data"]["table_bloat"]["relations"],
            "table",
            "public.churn",
        )
        .unwrap()["bloat_pct"]
            .as_f64()
            .unwrap()
    };

    let (code, doc, err) = run_json(&sb, &["vacuum", "--json"]);
    assert_eq!(code, 0, "{doc:#}\n{err}");
    // The table over the dead-tuple thresholds, and the one that `db
    // analyze` calls stale (analyzed, never vacuumed); nothing else.
    let plan = &doc["data"]["plan"];
    assert_eq!(plan.as_array().unwrap().len(), 2, "{plan:#?}");
    let churn = find(plan, "relation", "public.churn").unwrap();
    assert_eq!(churn["sql"], "VACUUM (ANALYZE) \"public\".\"churn\"");
    assert!(
        churn["why"].as_str().unwrap().contains("dead tuples"),
        "{churn}"
    );
    let stale = find(plan, "relation", "public.big_noindex").unwrap();
    assert_eq!(stale["why"], "never vacuumed");
    let t = find(&doc["data"]["tables"], "relation", "public.churn").unwrap();
    assert_eq!(t["outcome"], "done");
    assert!(t["before"]["dead"].as_i64().unwrap() >= 40_000, "{t}");
    assert_eq!(t["after"]["dead"], 0, "{t}");
    // The deleted tail is truncated away.
    assert!(t["freed_bytes"].as_i64().unwrap() > 0, "{t}");
    assert!(
        t["after"]["table_bytes"].as_i64().unwrap() < t["before"]["table_bytes"].as_i64().unwrap()
    );
    // The total is the tables' sum (a first VACUUM of big_noindex adds its
    // visibility map: a few pages more, not fewer).
    let per_table: i64 = doc["data"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["freed_bytes"].as_i64().unwrap())
        .sum();
    assert_eq!(doc["data"]["freed_bytes"], per_table);
    assert_eq!(
        pg.psql(
            APP,
            "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'churn'"
        ),
        "1"
    );

    let (_, after, _) = run_json(&sb, &["db", "analyze", "--no-analyze", "--json"]);
    assert!(
        bloat(&after) < bloat(&before),
        "{} -> {}",
        bloat(&before),
        bloat(&after)
    );
    assert_eq!(status(&after, "dead_tuples"), "ok", "{after:#}");
}

#[test]
fn dry_run_changes_nothing() {
    let pg = cluster(&format!("{CHURN}ANALYZE;"));
    let sb = Sandbox::new(&config(&app_url(&pg, "postgres", PG_PASSWORD), &[]));
    let stats = table_stats(&pg);
    let (code, doc, _) = run_json(&sb, &["vacuum", "--dry-run", "--reindex", "--json"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["data"]["dry_run"], true);
    let sqls: Vec<&str> = doc["data"]["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sql"].as_str().unwrap())
        .collect();
    assert!(
        sqls.contains(&"VACUUM (ANALYZE) \"public\".\"churn\""),
        "{sqls:?}"
    );
    assert!(
        sqls.contains(&"REINDEX INDEX CONCURRENTLY \"public\".\"churn_n_idx\""),
        "{sqls:?}"
    );
    assert_eq!(table_stats(&pg), stats);
    let human = stdout(&sb.run(&["vacuum", "--dry-run"]));
    assert!(
        human.contains("would run: VACUUM (ANALYZE) \"public\".\"churn\""),
        "{human}"
    );
    assert_eq!(table_stats(&pg), stats);
}

#[test]
fn reindex_rebuilds_bloated_indexes_concurrently() {
    let pg = cluster(&format!("{CHURN}ANALYZE;"));
    let sb = Sandbox::new(&config(&app_url(&pg, "postgres", PG_PASSWORD), &[]));
    let size = || {
        pg.psql(APP, "SELECT pg_relation_size('churn_n_idx')")
            .parse::<i64>()
            .unwrap()
    };
    let before = size();
    let (code, doc, err) = run_json(&sb, &["vacuum", "--table", "churn", "--reindex", "--json"]);
    assert_eq!(code, 0, "{doc:#}\n{err}");
    assert_eq!(status(&doc, "reindex"), "ok");
    let r = find(&doc["data"]["tables"], "relation", "public.churn_n_idx").unwrap();
    assert_eq!(r["outcome"], "done", "{r}");
    assert!(size() < before / 2, "{before} -> {}", size());
    // No invalid copies left behind.
    assert_eq!(
        pg.psql(APP, "SELECT count(*) FROM pg_index WHERE NOT indisvalid"),
        "0"
    );
}

#[test]
fn a_locked_table_is_skipped_within_the_lock_timeout_naming_the_holder() {
    let pg = cluster(&format!("{CHURN}ANALYZE;"));
    let sb = Sandbox::new(&config(&app_url(&pg, "postgres", PG_PASSWORD), &[]));
    let mut holder = client(&app_url(&pg, "postgres", PG_PASSWORD));
    holder
        .batch_execute(
            "SET application_name = 'the-app'; BEGIN; LOCK TABLE churn IN ACCESS EXCLUSIVE MODE",
        )
        .unwrap();
    let pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);

    let t0 = Instant::now();
    let (code, doc, err) = run_json(&sb, &["vacuum", "--table", "churn", "--json"]);
    let took = t0.elapsed();
    assert_eq!(code, 1, "{doc:#}\n{err}");
    assert_eq!(status(&doc, "vacuum"), "warning");
    assert!(message(&doc, "vacuum").contains("locked"), "{doc:#}");
    let t = find(&doc["data"]["tables"], "relation", "public.churn").unwrap();
    assert_eq!(t["outcome"], "skipped_locked");
    assert!(err.contains("WARNING: public.churn skipped"), "{err}");
    assert!(
        err.contains(&format!(
            "pid {pid} postgres (the-app) holds AccessExclusiveLock"
        )),
        "{err}"
    );
    // Three waits of 300 ms at most (sizes, VACUUM, sizes again), not for ever.
    assert!(took < Duration::from_secs(10), "took {took:?}");

    // db analyze reads on: --exact's sizes from the catalogue instead of the
    // locked table's files, ANALYZE of the table skipped.
    let (code, doc, err) = run_json(&sb, &["db", "analyze", "--exact", "--json"]);
    assert_eq!(doc["data"]["sizes_from"], "catalog", "{doc:#}\n{err}");
    assert_eq!(status(&doc, "analyze"), "warning");
    assert_eq!(
        doc["data"]["analyze"]["skipped_locked"][0]["table"],
        "public.churn"
    );
    assert_ne!(code, 3, "{doc:#}");

    holder.batch_execute("COMMIT").unwrap();
    let (code, doc, _) = run_json(&sb, &["vacuum", "--table", "churn", "--json"]);
    assert_eq!(code, 0, "{doc:#}");
}

#[test]
fn sigint_cancels_the_running_statement_on_the_server() {
    let pg = cluster(&format!("{CHURN}ANALYZE;"));
    let sb = Sandbox::new(&config(
        &app_url(&pg, "postgres", PG_PASSWORD),
        &[("lock_timeout", "\"10min\"")],
    ));
    // EXCLUSIVE blocks VACUUM but not the size reads before it.
    let mut holder = client(&app_url(&pg, "postgres", PG_PASSWORD));
    holder
        .batch_execute("BEGIN; LOCK TABLE churn IN EXCLUSIVE MODE")
        .unwrap();
    let mut child = sb
        .cmd(&["vacuum", "--table", "churn", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(
        &pg,
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'bbp-maint vacuum' \
           AND wait_event_type = 'Lock')",
        Duration::from_secs(30),
        "the VACUUM to wait for the lock",
    );
    kill(&child, "-INT");
    let status = exit_within(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(130));
    // The server-side VACUUM is gone although the lock is still held: it
    // was cancelled, not left waiting on a closed connection.
    wait_until(
        &pg,
        "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'bbp-maint vacuum')",
        Duration::from_secs(5),
        "the server-side VACUUM to end",
    );
    assert_eq!(
        pg.psql(
            APP,
            "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'churn'"
        ),
        "0"
    );
    holder.batch_execute("ROLLBACK").unwrap();
}

/// SIGINT while REINDEX CONCURRENTLY waits for a writer: the server-side
/// statement is cancelled, and the invalid `_ccnew` copy it had already
/// made is dropped rather than left for every write to maintain. The
/// postmaster delivers a cancel as two SIGINTs, and on a busy host the
/// second can cancel the drop instead (CI once saw the copy left behind):
/// the test sends that stray cancel itself, while the drop waits.
#[test]
fn sigint_mid_reindex_leaves_no_invalid_index() {
    let pg = cluster(&format!("{CHURN}ANALYZE;"));
    let sb = Sandbox::new(&config(
        &app_url(&pg, "postgres", PG_PASSWORD),
        &[("lock_timeout", "\"10min\"")],
    ));
    // An open write transaction: REINDEX CONCURRENTLY makes its copy, then
    // waits for this writer before building it.
    let mut holder = client(&app_url(&pg, "postgres", PG_PASSWORD));
    holder
        .batch_execute("BEGIN; INSERT INTO churn (id, n) VALUES (100000, 1)")
        .unwrap();
    let child = sb
        .cmd(&["vacuum", "--table", "churn", "--reindex", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let waiting = |verb: &str| {
        format!(
            "SELECT pid, query_start FROM pg_stat_activity WHERE application_name = 'bbp-maint vacuum' \
               AND query ILIKE '{verb}%' AND state = 'active' AND wait_event_type = 'Lock'"
        )
    };
    wait_until(
        &pg,
        &format!(
            "SELECT EXISTS ({}) AND EXISTS (SELECT 1 FROM pg_class WHERE relname LIKE '%\\_ccnew%')",
            waiting("REINDEX")
        ),
        Duration::from_secs(60),
        "the REINDEX to wait for the writer with its copy made",
    );
    kill(&child, "-INT");
    // The REINDEX is cancelled while the writer still holds it back (so it
    // cannot have finished instead), and the drop of its copy waits for the
    // same writer.
    let drop = waiting("DROP INDEX CONCURRENTLY");
    wait_until(
        &pg,
        &format!("SELECT EXISTS ({drop})"),
        Duration::from_secs(10),
        "the drop of the copy to wait for the writer",
    );
    let first = pg.psql(APP, &drop);
    assert_eq!(
        pg.psql(
            APP,
            &format!("SELECT pg_cancel_backend(pid) FROM ({drop}) d")
        ),
        "t"
    );
    let (pid, started) = first.split_once('|').unwrap();
    wait_until(
        &pg,
        &format!("SELECT EXISTS ({drop} AND pid = {pid} AND query_start > '{started}')"),
        Duration::from_secs(10),
        "the cancelled drop to be tried again",
    );
    holder.batch_execute("ROLLBACK").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("dropped the invalid index public.churn_"),
        "{err}"
    );
    assert_eq!(
        pg.psql(APP, "SELECT count(*) FROM pg_index WHERE NOT indisvalid"),
        "0",
        "{err}"
    );
}

/// The database's owner may VACUUM the tables in it but not REINDEX them
/// (that wants the table's owner): such indexes are left out of the plan,
/// not failed every week.
#[test]
fn reindex_plans_only_tables_the_role_owns() {
    let pg = cluster(&format!("{CHURN}ANALYZE;"));
    pg.psql(
        "postgres",
        &format!(
            "CREATE ROLE dbowner LOGIN PASSWORD 'dbowner-pw'; ALTER DATABASE {APP} OWNER TO dbowner"
        ),
    );
    // SELECT shows it the statistics, so the bloat is estimated and the
    // index would be planned if ownership were not looked at.
    pg.psql(
        APP,
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO dbowner",
    );
    let sb = Sandbox::new(&config(&app_url(&pg, "dbowner", "dbowner-pw"), &[]));
    let (code, doc, err) = run_json(&sb, &["vacuum", "--table", "churn", "--reindex", "--json"]);
    assert_eq!(code, 0, "{doc:#}\n{err}");
    let kinds: Vec<&str> = doc["data"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["vacuum"], "{doc:#}");
    // The table's owner gets the rebuild.
    let sb = Sandbox::new(&config(&app_url(&pg, "postgres", PG_PASSWORD), &[]));
    let (code, doc, err) = run_json(&sb, &["vacuum", "--table", "churn", "--reindex", "--json"]);
    assert_eq!(code, 0, "{doc:#}\n{err}");
    assert!(
        doc["data"]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "reindex"),
        "{doc:#}"
    );
}

/// REINDEX CONCURRENTLY waits for every older transaction in the database,
/// even one that never touched the table: within lock_timeout it is skipped
/// naming that transaction, and leaves no invalid copy behind.
#[test]
fn reindex_held_up_by_an_old_transaction_names_it() {
    let pg = cluster(&format!("{CHURN}CREATE TABLE other (x int); ANALYZE;"));
    let sb = Sandbox::new(&config(
        &app_url(&pg, "postgres", PG_PASSWORD),
        &[("lock_timeout", "\"1s\"")],
    ));
    let mut holder = client(&app_url(&pg, "postgres", PG_PASSWORD));
    holder
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM other")
        .unwrap();
    let pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let (code, doc, err) = run_json(&sb, &["vacuum", "--table", "churn", "--reindex", "--json"]);
    assert_eq!(code, 1, "{doc:#}\n{err}");
    let r = find(&doc["data"]["tables"], "relation", "public.churn_n_idx").unwrap();
    assert_eq!(r["outcome"], "skipped_locked", "{r}");
    let note = r["note"].as_str().unwrap();
    assert!(note.contains(&format!("pid {pid} ")), "{note}");
    assert_eq!(
        pg.psql(APP, "SELECT count(*) FROM pg_index WHERE NOT indisvalid"),
        "0"
    );
    holder.batch_execute("ROLLBACK").unwrap();
}

#[test]
fn a_read_only_role_gets_skips_not_failures_and_no_extension_is_a_note() {
    let pg = cluster(&format!("{CHURN}ANALYZE;"));
    pg.psql(APP, "CREATE ROLE monitor LOGIN PASSWORD 'monitor-pw'");
    let sb = Sandbox::new(&config(&app_url(&pg, "monitor", "monitor-pw"), &[]));
    let (code, doc, err) = run_json(&sb, &["db", "analyze", "--json"]);
    for c in doc["checks"].as_array().unwrap() {
        assert_ne!(c["status"], "unknown", "{c}\n{err}");
    }
    assert_ne!(code, 3);
    assert_eq!(status(&doc, "analyze"), "ok");
    assert!(
        message(&doc, "analyze").contains("1 skipped (the role does not own them)"),
        "{doc:#}"
    );
    // pg_stats hides the columns this role may not read: no estimate, not nonsense.
    assert!(
        find_str(
            &doc["data"]["table_bloat"]["skipped_no_statistics"],
            "public.churn"
        ),
        "{doc:#}"
    );
    assert!(message(&doc, "table_bloat").contains("skipped: no statistics"));
    assert_eq!(status(&doc, "slow_queries"), "ok");
    assert!(
        message(&doc, "slow_queries")
            .starts_with("skipped: pg_stat_statements is not installed in app"),
        "{doc:#}"
    );
    assert!(doc["data"]["slow_queries"]["extension"].is_null());

    let stats = table_stats(&pg);
    let (code, doc, _) = run_json(&sb, &["vacuum", "--json"]);
    assert_eq!(code, 0, "{doc:#}");
    assert!(
        find_str(&doc["data"]["skipped_not_owner"], "public.churn"),
        "{doc:#}"
    );
    assert_eq!(table_stats(&pg), stats);
}

#[test]
fn an_old_transaction_and_xid_age_are_reported() {
    let pg = cluster(
        "CREATE TABLE ledger (id int PRIMARY KEY, note text); \
         INSERT INTO ledger SELECT g, 'n' FROM generate_series(1, 10) g; ANALYZE;",
    );
    // Transaction IDs consumed, one commit each.
    pg.psql(
        APP,
        "DO $$ BEGIN FOR i IN 1..300 LOOP PERFORM txid_current(); COMMIT; END LOOP; END $$",
    );
    let sb = Sandbox::new(&config(
        &app_url(&pg, "postgres", PG_PASSWORD),
        &[
            ("idle_in_transaction_warn", "\"100ms\""),
            ("idle_in_transaction_crit", "\"1h\""),
            // 0.0001 % of 200,000,000 is 200 transactions.
            ("wraparound_warn_pct", "0.0001"),
            ("wraparound_crit_pct", "50"),
        ],
    ));
    let mut holder = client(&app_url(&pg, "postgres", PG_PASSWORD));
    holder
        .batch_execute("SET application_name = 'forgotten'; BEGIN; SELECT txid_current()")
        .unwrap();
    let pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    wait_until(
        &pg,
        &format!(
            "SELECT now() - state_change > interval '200 ms' FROM pg_stat_activity \
              WHERE pid = {pid} AND state = 'idle in transaction'"
        ),
        Duration::from_secs(10),
        "the session to sit idle in its transaction",
    );
    let (code, doc, err) = run_json(&sb, &["db", "analyze", "--no-analyze", "--json"]);
    assert_eq!(code, 1, "{doc:#}\n{err}");
    assert_eq!(status(&doc, "idle_in_transaction"), "warning");
    assert!(
        message(&doc, "idle_in_transaction").contains(&format!("pid {pid} postgres (forgotten)")),
        "{doc:#}"
    );
    let idle = &doc["data"]["sessions"]["idle_in_transaction"][0];
    assert_eq!(idle["pid"], pid);
    assert!(idle["xmin_age"].as_i64().is_some(), "{idle}");

    assert_eq!(status(&doc, "wraparound"), "warning", "{doc:#}");
    let w = &doc["data"]["wraparound"];
    let app = find(&w["databases"], "database", APP).unwrap();
    assert!(app["xid_age"].as_i64().unwrap() >= 300, "{app}");
    let ledger = find(&w["tables"], "table", "public.ledger").unwrap();
    assert!(ledger["xid_age"].as_i64().unwrap() >= 300, "{ledger}");
    assert_eq!(status(&doc, "multixact"), "ok");
    holder.batch_execute("ROLLBACK").unwrap();
}

#[test]
fn full_and_reindex_database_wait_for_the_maintenance_window() {
    let pg = cluster(&format!("{CHURN}ANALYZE;"));
    let url = app_url(&pg, "postgres", PG_PASSWORD);
    // A one-minute window tomorrow: now is outside it, whatever the time.
    let tomorrow = jiff::Zoned::now().date().tomorrow().unwrap();
    let day = tomorrow.strftime("%a").to_string();
    let outside = Sandbox::new(&format!(
        "{}\n[[window]]\nname = \"weekly\"\nwhen = \"{day} 03:00-03:01\"\n",
        config(&url, &[])
    ));
    let stats = table_stats(&pg);
    let (code, doc, _) = run_json(
        &outside,
        &["vacuum", "--full", "--table", "churn", "--json"],
    );
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(status(&doc, "window"), "warning");
    assert!(
        message(&doc, "window").contains("VACUUM FULL refused"),
        "{doc:#}"
    );
    assert!(message(&doc, "window").contains("next: weekly"), "{doc:#}");
    assert_eq!(table_stats(&pg), stats);
    let (code, doc, _) = run_json(&outside, &["vacuum", "--reindex-database", "--json"]);
    assert_eq!(code, 1, "{doc:#}");

    // --force: VACUUM FULL rewrites the table to its live rows.
    let (code, doc, err) = run_json(
        &outside,
        &["vacuum", "--full", "--force", "--table", "churn", "--json"],
    );
    assert_eq!(code, 0, "{doc:#}\n{err}");
    let t = find(&doc["data"]["tables"], "relation", "public.churn").unwrap();
    assert_eq!(t["sql"], "VACUUM (FULL, ANALYZE) \"public\".\"churn\"");
    let (b, a) = (
        t["before"]["table_bytes"].as_i64().unwrap(),
        t["after"]["table_bytes"].as_i64().unwrap(),
    );
    assert!(a * 3 < b, "{b} -> {a}");

    // Inside a window, no --force needed.
    let inside = Sandbox::new(&format!(
        "{}\n[[window]]\nname = \"always\"\nwhen = \"daily 00:00-24:00\"\n",
        config(&url, &[])
    ));
    let (code, doc, err) = run_json(&inside, &["vacuum", "--reindex-database", "--json"]);
    assert_eq!(code, 0, "{doc:#}\n{err}");
    assert_eq!(status(&doc, "reindex_database"), "ok");
}

#[test]
fn unknown_tables_and_bad_config_are_named() {
    let pg = cluster(CHURN);
    let url = app_url(&pg, "postgres", PG_PASSWORD);
    let sb = Sandbox::new(&config(&url, &[]));
    let out = sb.run(&["vacuum", "--table", "nosuch"]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    assert!(stderr(&out).contains("no table \"nosuch\" in database \"app\""));
    let sb = Sandbox::new(&config(
        &url,
        &[("analyze_tables", "[\"churn\", \"gone\"]")],
    ));
    let out = sb.run(&["db", "analyze"]);
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("db.analyze_tables"),
        "{}",
        stderr(&out)
    );
    let sb = Sandbox::new(&config(
        &url,
        &[("bloat_warn_pct", "70"), ("bloat_crit_pct", "50")],
    ));
    let out = sb.run(&["db", "analyze"]);
    assert_eq!(code(&out), 78);
    assert!(
        stderr(&out).contains("key `db.bloat_warn_pct`"),
        "{}",
        stderr(&out)
    );
    let sb = Sandbox::new(&config(&url, &[("lock_timout", "\"1s\"")]));
    let out = sb.run(&["vacuum"]);
    assert_eq!(code(&out), 78);
    assert!(stderr(&out).contains("db.lock_timout"), "{}", stderr(&out));
}

/// check_postgres's table bloat estimate (sound, unlike its index one) and
/// ours, on the same tables: within 25 %.
#[test]
fn table_bloat_agrees_with_check_postgres() {
    let pg = cluster(&format!(
        "{CHURN}
         CREATE TABLE gappy (id int PRIMARY KEY, payload text) WITH (autovacuum_enabled = false);
         INSERT INTO gappy SELECT g, repeat('g', 200) FROM generate_series(1, 20000) g;
         DELETE FROM gappy WHERE id % 3 <> 0;"
    ));
    // Its own statement: VACUUM cannot run inside the setup's implicit transaction.
    pg.psql(APP, "VACUUM gappy");
    pg.psql(APP, "ANALYZE");
    let sb = Sandbox::new(&config(&app_url(&pg, "postgres", PG_PASSWORD), &[]));
    let (_, doc, _) = run_json(&sb, &["db", "analyze", "--no-analyze", "--json"]);
    let out = Command::new("check_postgres")
        .args([
            "--action=bloat",
            "--host=127.0.0.1",
            &format!("--port={}", pg.port),
            "--dbuser=postgres",
            &format!("--dbname={APP}"),
            "--warning=1 B",
            "--critical=100 GB",
            "--perflimit=100",
        ])
        .env("PGPASSWORD", PG_PASSWORD)
        .output()
        .unwrap_or_else(|e| {
            panic!("check_postgres not found ({e}): install it with `scripts/deps check-postgres`")
        });
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let theirs = |table: &str| -> i64 {
        let re = regex::Regex::new(&format!(
            r"table {} rows:\S+ pages:\d+ shouldbe:\d+ \([\d.]+X\) wasted size:(\d+)",
            regex::escape(table)
        ))
        .unwrap();
        re.captures(&text)
            .unwrap_or_else(|| panic!("{table} not in check_postgres's output:\n{text}"))[1]
            .parse()
            .unwrap()
    };
    let ours = |table: &str| -> i64 {
        find(&doc["data"]["table_bloat"]["relations"], "table", table).unwrap()["bloat_bytes"]
            .as_i64()
            .unwrap()
    };
    for table in ["public.churn", "public.gappy"] {
        let (a, b) = (ours(table), theirs(table));
        assert!(a > 0 && b > 0, "{table}: ours {a}, check_postgres {b}");
        let diff = (a - b).abs() as f64 / b as f64;
        assert!(diff <= 0.25, "{table}: ours {a}, check_postgres {b}");
    }
}

#[test]
fn exact_measures_with_pgstattuple_where_it_is_installed() {
    let pg = cluster(&format!("{CHURN}ANALYZE;"));
    let sb = Sandbox::new(&config(&app_url(&pg, "postgres", PG_PASSWORD), &[]));
    let (_, doc, err) = run_json(&sb, &["db", "analyze", "--no-analyze", "--exact", "--json"]);
    assert_eq!(doc["data"]["table_bloat"]["method"], "estimate", "{doc:#}");
    assert!(
        err.contains("--exact needs the pgstattuple extension in app"),
        "{err}"
    );

    pg.psql(APP, "CREATE EXTENSION pgstattuple");
    // pgstatindex counts dead index entries as used until VACUUM removes them.
    pg.psql(APP, "VACUUM churn");
    let (_, doc, err) = run_json(&sb, &["db", "analyze", "--no-analyze", "--exact", "--json"]);
    let tb = &doc["data"]["table_bloat"];
    assert_eq!(tb["method"], "pgstattuple", "{doc:#}\n{err}");
    assert!(
        message(&doc, "table_bloat").ends_with("(pgstattuple)"),
        "{doc:#}"
    );
    // 10,000 live rows in pages that held 50,000 row versions below the truncated tail.
    let churn = find(&tb["relations"], "table", "public.churn").unwrap();
    assert!(churn["bloat_pct"].as_f64().unwrap() > 60.0, "{churn}");
    let idx = find(
        &doc["data"]["index_bloat"]["relations"],
        "index",
        "public.churn_n_idx",
    )
    .unwrap();
    assert!(idx["bloat_pct"].as_f64().unwrap() > 30.0, "{idx}");
}

#[test]
fn the_weekly_vacuum_clears_what_db_analyze_calls_stale() {
    let pg = Pg::start();
    // Autovacuum off, so that only the weekly run vacuums: nothing depends
    // on when its launcher wakes up.
    pg.psql("postgres", "ALTER SYSTEM SET autovacuum = off");
    pg.psql("postgres", "SELECT pg_reload_conf()");
    let t0 = Instant::now();
    while pg.psql("postgres", "SHOW autovacuum") != "off" {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "autovacuum stays on"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A fresh sandbox: the sample schema, loaded and never vacuumed.
    pg.load_sample(APP, 300);
    let fx = tempfile::tempdir().unwrap();
    let sb = Sandbox::new(&format!(
        "{}\n[run]\nlog = \"{}/m.log\"\n[run.weekly]\ntasks = [\"db-analyze\", \"vacuum\"]\n",
        config(&app_url(&pg, "postgres", PG_PASSWORD), &[]),
        fx.path().display()
    ));
    let staleness = |doc: &Value| {
        let analyze = doc["data"]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "db-analyze")
            .unwrap();
        check(&analyze["report"], "vacuum_staleness").clone()
    };

    // This week: db analyze (which runs ANALYZE) flags payments as analyzed
    // but never vacuumed, and the vacuum task that follows takes it.
    let (code, first, err) = run_json(&sb, &["--json", "run", "weekly"]);
    assert!(code <= 1, "{first:#}\n{err}");
    let s = staleness(&first);
    assert_eq!(s["status"], "warning", "{s:#}");
    let flagged = find(
        &first["data"]["tasks"][0]["report"]["data"]["vacuum_staleness"],
        "table",
        "public.payments",
    )
    .unwrap_or_else(|| panic!("{s:#}"));
    assert_eq!(flagged["never_vacuumed"], true);
    let vacuum = &first["data"]["tasks"][1]["report"];
    let planned = find(&vacuum["data"]["plan"], "relation", "public.payments")
        .unwrap_or_else(|| panic!("{vacuum:#}"));
    assert_eq!(planned["why"], "never vacuumed");

    // Next week: nothing stale is left, so that is no longer a warning.
    let (_, second, err) = run_json(&sb, &["--json", "run", "weekly"]);
    let s = staleness(&second);
    assert_eq!(s["status"], "ok", "{s:#}\n{err}");
}

#[test]
fn dry_runs_preview_outside_the_window_and_name_every_threshold() {
    let pg = cluster(&format!("{CHURN}ANALYZE;"));
    let url = app_url(&pg, "postgres", PG_PASSWORD);
    let tomorrow = jiff::Zoned::now().date().tomorrow().unwrap();
    let day = tomorrow.strftime("%a").to_string();
    let outside = Sandbox::new(&format!(
        "{}\n[[window]]\nname = \"weekly\"\nwhen = \"{day} 03:00-03:01\"\n",
        config(&url, &[])
    ));
    let stats = table_stats(&pg);
    // The plan, and what the real run would say now.
    let (code, doc, err) = run_json(
        &outside,
        &[
            "vacuum",
            "--full",
            "--dry-run",
            "--table",
            "churn",
            "--json",
        ],
    );
    assert_eq!(code, 1, "{doc:#}\n{err}");
    assert_eq!(
        doc["data"]["plan"][0]["sql"],
        "VACUUM (FULL, ANALYZE) \"public\".\"churn\""
    );
    assert_eq!(doc["data"]["refused"], serde_json::json!(["VACUUM FULL"]));
    let w = message(&doc, "window");
    assert!(
        w.starts_with(
            "VACUUM FULL would be refused: outside every maintenance window; next: weekly"
        ),
        "{w}"
    );
    assert_eq!(status(&doc, "plan"), "ok");
    assert_eq!(table_stats(&pg), stats);
    let human = stdout(&outside.run(&["vacuum", "--full", "--dry-run", "--table", "churn"]));
    assert!(
        human.contains("would run: VACUUM (FULL, ANALYZE) \"public\".\"churn\""),
        "{human}"
    );

    // Nothing to do: every rule that could have planned something is named,
    // the bloat thresholds too when --reindex asks for them.
    let empty = cluster("");
    let sb = Sandbox::new(&config(&app_url(&empty, "postgres", PG_PASSWORD), &[]));
    let (code, doc, _) = run_json(&sb, &["vacuum", "--reindex", "--dry-run", "--json"]);
    assert_eq!(code, 0, "{doc:#}");
    let m = message(&doc, "plan");
    for part in [
        "nothing to do: no table crosses the dead-tuple thresholds (20% and 100 tuples)",
        "or is stale (never vacuumed or analyzed, or not for 7 days; tables of 1000 rows or more)",
        "no index crosses the bloat thresholds (30% and 0 B)",
    ] {
        assert!(m.contains(part), "{part:?} not in {m:?}");
    }
    let (_, doc, _) = run_json(&sb, &["vacuum", "--dry-run", "--json"]);
    assert!(!message(&doc, "plan").contains("bloat"), "{doc:#}");
}
