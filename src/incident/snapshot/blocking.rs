//! The blocking tree from `pg_blocking_pids`: who waits for whom, and the
//! root blockers (those that block others and wait for nobody) first.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// One backend as `pg_stat_activity` shows it, query already masked.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Backend {
    pub pid: i32,
    pub user: String,
    pub application: String,
    pub client: String,
    pub state: String,
    pub wait: String,
    pub xact_secs: Option<f64>,
    pub query_secs: Option<f64>,
    pub query: String,
    pub blocked_by: Vec<i32>,
}

/// A root blocker: what it holds, how long, and whom it holds up.
#[derive(Clone, Debug, Serialize)]
pub struct Root {
    pub pid: i32,
    pub user: String,
    pub application: String,
    pub state: String,
    pub xact_secs: Option<f64>,
    pub query: String,
    /// Locks it holds (relation and mode), filled in by the gatherer.
    pub holds: Vec<String>,
    /// Every session waiting for it, directly or through another.
    pub blocked: Vec<i32>,
}

/// The root blockers, those holding up the most sessions first.
pub fn roots(backends: &[Backend]) -> Vec<Root> {
    let by_pid: BTreeMap<i32, &Backend> = backends.iter().map(|b| (b.pid, b)).collect();
    // waiters[p]: the sessions that wait for p directly.
    let mut waiters: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for b in backends {
        for &p in &b.blocked_by {
            waiters.entry(p).or_default().push(b.pid);
        }
    }
    let mut out: Vec<Root> = waiters
        .keys()
        .filter(|p| by_pid.get(p).is_none_or(|b| b.blocked_by.is_empty()))
        .map(|&p| {
            // Everyone downstream, cycles guarded.
            let mut seen = BTreeSet::new();
            let mut todo = vec![p];
            while let Some(x) = todo.pop() {
                for &w in waiters.get(&x).map(Vec::as_slice).unwrap_or(&[]) {
                    if w != p && seen.insert(w) {
                        todo.push(w);
                    }
                }
            }
            let b = by_pid.get(&p);
            Root {
                pid: p,
                user: b.map(|b| b.user.clone()).unwrap_or_default(),
                application: b.map(|b| b.application.clone()).unwrap_or_default(),
                state: b
                    .map(|b| b.state.clone())
                    .unwrap_or_else(|| "(not a client session)".into()),
                xact_secs: b.and_then(|b| b.xact_secs),
                query: b.map(|b| b.query.clone()).unwrap_or_default(),
                holds: Vec::new(),
                blocked: seen.into_iter().collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.blocked
            .len()
            .cmp(&a.blocked.len())
            .then(a.pid.cmp(&b.pid))
    });
    out
}

/// The `n` longest of the sessions by `key`, longest first.
pub fn longest(backends: &[Backend], n: usize, key: fn(&Backend) -> Option<f64>) -> Vec<Backend> {
    let mut v: Vec<&Backend> = backends.iter().filter(|b| key(b).is_some()).collect();
    v.sort_by(|a, b| {
        key(b)
            .partial_cmp(&key(a))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    v.into_iter().take(n).cloned().collect()
}

/// One line for the summary about a root blocker.
pub fn describe(r: &Root) -> String {
    let age = r
        .xact_secs
        .map(|s| {
            format!(
                ", transaction open {}",
                crate::units::duration(std::time::Duration::from_secs(s as u64))
            )
        })
        .unwrap_or_default();
    let holds = if r.holds.is_empty() {
        String::new()
    } else {
        format!(", holds {}", r.holds.join(", "))
    };
    format!(
        "pid {} ({} {:?}, {}{age}{holds}) blocks {} session{}: {}",
        r.pid,
        r.user,
        r.application,
        r.state,
        r.blocked.len(),
        if r.blocked.len() == 1 { "" } else { "s" },
        r.query
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(pid: i32, blocked_by: &[i32]) -> Backend {
        Backend {
            pid,
            state: "active".into(),
            blocked_by: blocked_by.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn the_root_of_a_pile_up_comes_first_with_everyone_behind_it() {
        // 10 holds a lock; 11 and 12 wait for it; 13 waits for 11.
        let v = [
            b(10, &[]),
            b(11, &[10]),
            b(12, &[10]),
            b(13, &[11]),
            b(20, &[]),
            b(21, &[20]),
        ];
        let r = roots(&v);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].pid, r[0].blocked.clone()), (10, vec![11, 12, 13]));
        assert_eq!((r[1].pid, r[1].blocked.clone()), (20, vec![21]));
    }

    #[test]
    fn a_deadlock_cycle_does_not_loop_and_has_no_root() {
        let v = [b(1, &[2]), b(2, &[1])];
        assert!(roots(&v).is_empty());
    }

    #[test]
    fn longest_sorts_by_the_key() {
        let mut a = b(1, &[]);
        a.xact_secs = Some(5.0);
        let mut c = b(2, &[]);
        c.xact_secs = Some(50.0);
        let l = longest(&[a, c, b(3, &[])], 10, |b| b.xact_secs);
        assert_eq!(l.iter().map(|b| b.pid).collect::<Vec<_>>(), [2, 1]);
    }
}
