//! `db analyze` on a schema-per-tenant database of 3,000 tables: every table
//! listed with the sizes of the catalogue's page counts (no relation opened)
//! and, with `--exact`, with the sizes PostgreSQL reads from the files; every
//! table and index given a bloat estimate from its own statistics, the same
//! whether read from `pg_statistic` (a superuser) or through `pg_stats` (a
//! role that may only read the tables); and no catalogue query handed to the
//! JIT compiler. How the time grows is measured by `scripts/bench scale`, not here.

mod common;

use std::collections::BTreeMap;

use common::*;

const APP: &str = "app";
const TENANTS: usize = 3;
const TABLES_PER_TENANT: usize = 1000;

/// The same 1,000 table names in each tenant's schema (what a name-only
/// match would mix up), each with a serial primary key, one more index, and
/// a few rows: fewer in some tables, wider values in later tenants, so that
/// sizes and statistics differ from table to table. Committed every 100
/// tables, so that the DO block stays within the lock table.
fn build(pg: &Pg) {
    pg.psql("postgres", &format!("CREATE DATABASE {APP}"));
    pg.psql(
        APP,
        &format!(
            "DO $$ BEGIN
               FOR s IN 1..{TENANTS} LOOP
                 EXECUTE format('CREATE SCHEMA tenant_%s', s);
                 FOR i IN 1..{TABLES_PER_TENANT} LOOP
                   EXECUTE format('CREATE TABLE tenant_%s.t%s (id serial PRIMARY KEY, a int, b text)', s, i);
                   EXECUTE format('CREATE INDEX ON tenant_%s.t%s (a)', s, i);
                   EXECUTE format('INSERT INTO tenant_%s.t%s (a, b) SELECT g, repeat(md5(g::text), %s) \
                                   FROM generate_series(1, %s) g', s, i, s, 1 + (i % 4) * 40);
                   IF i % 100 = 0 THEN COMMIT; END IF;
                 END LOOP;
               END LOOP;
             END $$"
        ),
    );
    pg.psql(APP, "ANALYZE");
    pg.psql(APP, "CREATE EXTENSION pg_stat_statements");
}

/// (table, index) bytes of each tenant table, as `sql` computes them.
fn sizes_by(pg: &Pg, sql: &str) -> BTreeMap<String, (i64, i64)> {
    pg.psql(
        APP,
        &format!(
            "SELECT n.nspname || '.' || c.relname, {sql} \
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE c.relkind = 'r' AND n.nspname LIKE 'tenant\\_%'"
        ),
    )
    .lines()
    .map(|l| {
        let f: Vec<&str> = l.split('|').collect();
        (
            f[0].to_string(),
            (f[1].parse().unwrap(), f[2].parse().unwrap()),
        )
    })
    .collect()
}

/// The sizes the report lists, by table.
fn listed_sizes(doc: &serde_json::Value) -> BTreeMap<String, (i64, i64)> {
    doc["data"]["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_string(),
                (
                    t["table_bytes"].as_i64().unwrap(),
                    t["index_bytes"].as_i64().unwrap(),
                ),
            )
        })
        .collect()
}

fn metric(doc: &serde_json::Value, check_name: &str, name: &str) -> f64 {
    check(doc, check_name)["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap()["value"]
        .as_f64()
        .unwrap()
}

/// Every table listed, each with the sizes of `truth`, and the total theirs.
fn assert_sizes(doc: &serde_json::Value, truth: &BTreeMap<String, (i64, i64)>, what: &str) {
    assert_eq!(truth.len(), TENANTS * TABLES_PER_TENANT);
    let listed = listed_sizes(doc);
    assert_eq!(listed.len(), truth.len(), "{}", check(doc, "sizes"));
    for (name, sizes) in truth {
        assert_eq!(listed.get(name), Some(sizes), "{what} sizes of {name}");
    }
    let total: i64 = truth.values().map(|(t, i)| t + i).sum();
    assert_eq!(metric(doc, "sizes", "tables"), truth.len() as f64);
    assert_eq!(metric(doc, "sizes", "total_bytes"), total as f64, "{what}");
}

/// The bloat estimates of a report, relation by relation.
fn estimates(doc: &serde_json::Value, check_name: &str) -> Vec<serde_json::Value> {
    let mut rows = doc["data"][check_name]["relations"]
        .as_array()
        .unwrap()
        .clone();
    rows.sort_by_key(|r| format!("{}/{}", r["table"], r["index"]));
    rows
}

#[test]
fn three_thousand_tables_are_all_listed_with_their_sizes_and_estimates() {
    let pg = Pg::start_with(PgOptions {
        settings: vec!["log_connections=on".into(), "log_statement=all".into()],
        ..Default::default()
    });
    build(&pg);
    let tables = TENANTS * TABLES_PER_TENANT;
    let config = |user: &str, password: &str| {
        format!(
            "[database]\nurl = \"postgres://{user}:{password}@127.0.0.1:{}/{APP}\"\ntimeout = \"5s\"\n\n\
             [db]\ntop = 10000\nbloat_min_size = \"0\"\n",
            pg.port
        )
    };
    // Every table in the lists (top), and small relations judged.
    let sb = Sandbox::new(&config("postgres", PG_PASSWORD));
    pg.psql(APP, "SELECT pg_stat_statements_reset()");
    // From the server's log: the processes (`[pid]`) of the sessions that
    // connected as db analyze (log_connections), and of those among them
    // that made one of the shared reads (each begins with this SET LOCAL,
    // log_statement).
    let log = pg.dir.path().join("log");
    let before = std::fs::read_to_string(&log).unwrap().len();
    let out = sb.run(&["db", "analyze", "--no-analyze", "--json"]);
    let text = std::fs::read_to_string(&log).unwrap();
    let pid = |l: &str| l.split(" [").nth(1)?.split(']').next().map(str::to_string);
    let pids = |marker: &str| -> std::collections::BTreeSet<String> {
        text[before..]
            .lines()
            .filter(|l| l.contains(marker))
            .filter_map(pid)
            .collect()
    };
    let sessions = pids("application_name=bbp-maint db analyze");
    let readers = pids("SET LOCAL max_parallel_workers_per_gather");
    assert_eq!(sessions.len(), 2, "sessions of one db analyze");
    assert_eq!(readers, sessions, "sessions that made a shared read");
    let doc = json(&out);
    assert!(code(&out) <= 2, "{doc:#}\n{}", stderr(&out));
    let data = &doc["data"];

    // Sizes by default: the catalogue's page counts of the heap, its TOAST
    // table and the indexes, no relation opened; said so.
    assert_eq!(data["sizes_from"], "catalog");
    assert!(
        check(&doc, "sizes")["message"].as_str().unwrap().ends_with(
            "(from the catalogue as of the last VACUUM or ANALYZE; --exact reads the files)"
        ),
        "{}",
        check(&doc, "sizes")
    );
    let catalog = sizes_by(
        &pg,
        "(c.relpages + coalesce((SELECT t.relpages FROM pg_class t WHERE t.oid = c.reltoastrelid), 0))::int8 * 8192, \
         (SELECT coalesce(sum(ci.relpages), 0)::int8 * 8192 FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid \
           WHERE i.indrelid = c.oid)",
    );
    assert_sizes(&doc, &catalog, "catalogue");

    // With --exact: what pg_table_size and pg_indexes_size say, table by table.
    let out = sb.run(&["db", "analyze", "--no-analyze", "--exact", "--json"]);
    let exact = json(&out);
    assert!(code(&out) <= 2, "{exact:#}\n{}", stderr(&out));
    assert_eq!(exact["data"]["sizes_from"], "files");
    let files = sizes_by(&pg, "pg_table_size(c.oid), pg_indexes_size(c.oid)");
    assert_ne!(
        files, catalog,
        "the files count the maps the catalogue does not"
    );
    assert_sizes(&exact, &files, "file");

    // Bloat: every table and every index estimated from its own statistics.
    let table_bloat = &data["table_bloat"];
    assert_eq!(
        table_bloat["relations"].as_array().unwrap().len(),
        tables,
        "{}",
        check(&doc, "table_bloat")
    );
    assert_eq!(table_bloat["skipped_no_statistics"], serde_json::json!([]));
    let index_bloat = &data["index_bloat"];
    assert_eq!(
        index_bloat["relations"].as_array().unwrap().len(),
        2 * tables,
        "{}",
        check(&doc, "index_bloat")
    );
    assert_eq!(index_bloat["skipped_no_statistics"], serde_json::json!([]));
    // The same name in three schemas with values of three widths: each
    // table's estimate reads its own schema's statistics, so the real size
    // it starts from is its own.
    for s in 1..=TENANTS {
        let name = format!("tenant_{s}.t3");
        let row = table_bloat["relations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["table"] == name.as_str())
            .unwrap_or_else(|| panic!("no estimate for {name}"));
        let heap: i64 = pg
            .psql(
                APP,
                &format!("SELECT pg_relation_size('{name}') + pg_relation_size((SELECT reltoastrelid FROM pg_class WHERE oid = '{name}'::regclass))"),
            )
            .parse()
            .unwrap();
        assert_eq!(row["real_bytes"].as_i64().unwrap(), heap, "{row}");
    }

    // A role that may read the tables but not pg_statistic gets its column
    // statistics through pg_stats: the same estimates, relation by relation.
    // It may open one session, so the reads that two sessions shared above
    // are all made on one here.
    let mut grants =
        String::from("CREATE ROLE reader LOGIN PASSWORD 'reader-pw' CONNECTION LIMIT 1;");
    for s in 1..=TENANTS {
        grants.push_str(&format!(
            " GRANT USAGE ON SCHEMA tenant_{s} TO reader; GRANT SELECT ON ALL TABLES IN SCHEMA tenant_{s} TO reader;"
        ));
    }
    pg.psql(APP, &grants);
    let reader = Sandbox::new(&config("reader", "reader-pw"));
    let out = reader.run(&["db", "analyze", "--no-analyze", "--json"]);
    let read = json(&out);
    assert!(code(&out) <= 2, "{read:#}\n{}", stderr(&out));
    for name in ["table_bloat", "index_bloat"] {
        assert_eq!(
            read["data"][name]["skipped_no_statistics"],
            serde_json::json!([])
        );
        assert_eq!(estimates(&read, name), estimates(&doc, name), "{name}");
    }
    assert_sizes(&read, &catalog, "catalogue, one session");

    // A catalogue query over thousands of relations is costed high enough
    // for the JIT, which compiled for longer than the query ran.
    let jit: i64 = pg
        .psql(
            APP,
            "SELECT coalesce(sum(jit_functions), 0) FROM pg_stat_statements \
              WHERE query NOT LIKE '%pg_stat_statements%'",
        )
        .parse()
        .unwrap();
    assert_eq!(jit, 0, "bbp-maint's statements were JIT-compiled");
}
