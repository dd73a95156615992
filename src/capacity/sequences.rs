//! Sequences in the capacity review: how much of its range each has used
//! (`db::sequences` reads them, with a narrower column as the limit), its
//! growth from the values sampled each run, and the days until it runs out.
//! An int4 (or narrower) key past 75 % is a WARNING whatever its trend: the
//! rewrite to bigint takes long enough that it must start before the trend
//! says so. Pure.

use serde_json::{Value, json};

use crate::config::Capacity;
use crate::db::sequences::Sequence;
use crate::disk::history::MountSample;
use crate::report::{Check, Metric, Status};
use crate::units::count;

use super::judge::Growth;

/// The (and `db check`'s default) line for a narrow key.
pub const NARROW_WARN_PCT: f64 = 75.0;

/// How many at-risk sequences the check's message names.
const NAMED: usize = 3;

/// The history key of a sequence's sample.
pub fn key(s: &Sequence) -> String {
    format!("seq:{}", s.qualified())
}

/// Values used so far and the range's size, both counted from the
/// sequence's start in its direction, so a descending one grows too.
/// `None` before the first `nextval` or when the role may not read it.
pub fn sample(s: &Sequence) -> Option<MountSample> {
    let last = s.last_value? as i128;
    let start = if s.increment > 0 {
        s.min_value
    } else {
        s.max_value
    } as i128;
    let end = s.limit() as i128;
    Some(MountSample {
        used: (last - start).unsigned_abs().min(u64::MAX as u128) as u64,
        usable: (end - start).unsigned_abs().min(u64::MAX as u128) as u64,
    })
}

/// Whether the range that runs out is an int4's or narrower.
fn narrow(s: &Sequence) -> bool {
    s.limit().unsigned_abs() <= i32::MAX as u64 + 1
}

/// One sequence's verdict.
struct Verdict {
    pct: f64,
    days: Option<f64>,
    status: Status,
    text: String,
    row: Value,
}

fn one(c: &Capacity, s: &Sequence, g: Option<Growth>, samples: usize) -> Option<Verdict> {
    let pct = s.used_pct()?;
    let left = s.remaining()?.max(0) as f64;
    let mut text = format!(
        "{} at {pct:.1}% of {} ({left:.0} left)",
        s.qualified(),
        s.range_text()
    );
    let mut status = Status::Ok;
    let mut days = None;
    match g {
        None => text.push_str(&format!(
            "; too little history yet ({} so far; a trend needs {} over {})",
            count(samples, "sample"),
            c.trend_min_samples,
            crate::units::duration(c.trend_min_span.0)
        )),
        Some(g) if g.per_day > 0.0 => {
            let d = left / g.per_day;
            text.push_str(&format!(
                "; +{:.0}/week over {:.0} days; runs out in {d:.0} days",
                g.per_day * 7.0,
                g.span_days
            ));
            status = Metric::new("", d, "")
                .thresholds(Some(c.days_warn), Some(c.days_crit))
                .alert_below()
                .judge();
            days = Some(d);
        }
        Some(_) => text.push_str("; not growing"),
    }
    if narrow(s) && pct > NARROW_WARN_PCT {
        status = status.worse(Status::Warning);
        text.push_str(&format!(
            "; an int4 key past {NARROW_WARN_PCT:.0}%: plan its move to bigint"
        ));
    }
    let row = json!({
        "sequence": s.qualified(), "type": s.data_type, "column": s.column,
        "column_type": s.column_type, "last_value": s.last_value, "limit": s.limit(),
        "used_pct": (pct * 100.0).round() / 100.0, "remaining": left,
        "growth_per_week": g.map(|g| (g.per_day * 7.0 * 100.0).round() / 100.0),
        "days_to_exhaustion": days.map(|d| (d * 10.0).round() / 10.0),
        "samples": samples,
    });
    Some(Verdict {
        pct,
        days,
        status,
        text,
        row,
    })
}

/// Only OK, WARNING and CRITICAL come out of `one`.
fn rank(s: Status) -> u8 {
    match s {
        Status::Ok => 0,
        Status::Warning => 1,
        Status::Unknown => 2,
        Status::Critical => 3,
    }
}

/// The `sequences` check, naming the worst few at risk (the most used when
/// none is), the detail lines for every one at risk, and `data.sequences`.
/// `seqs`: each sequence with its growth and how many samples it has.
pub fn judge(
    c: &Capacity,
    seqs: &[(Sequence, Option<Growth>, usize)],
) -> (Check, Vec<String>, Value) {
    let mut v: Vec<Verdict> = seqs
        .iter()
        .filter_map(|(s, g, n)| one(c, s, *g, *n))
        .collect();
    // Worst first: status, then the sooner exhaustion, then the more used.
    v.sort_by(|a, b| {
        rank(b.status)
            .cmp(&rank(a.status))
            .then(
                a.days
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&b.days.unwrap_or(f64::INFINITY)),
            )
            .then(b.pct.total_cmp(&a.pct))
    });
    let status = Status::worst(v.iter().map(|x| x.status));
    let at_risk: Vec<&Verdict> = v.iter().filter(|x| x.status != Status::Ok).collect();
    let unused = seqs.len() - v.len();
    let mut msg = if !at_risk.is_empty() {
        let mut m = at_risk
            .iter()
            .take(NAMED)
            .map(|x| x.text.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        if at_risk.len() > NAMED {
            m.push_str(&format!(
                " (and {} more, listed below)",
                at_risk.len() - NAMED
            ));
        }
        m
    } else {
        match v.iter().max_by(|a, b| a.pct.total_cmp(&b.pct)) {
            Some(x) => format!("{}; the most used: {}", count(v.len(), "sequence"), x.text),
            None => "no sequence used yet".to_string(),
        }
    };
    if unused > 0 {
        msg.push_str(&format!(
            "; {} not used yet or not readable",
            count(unused, "other sequence")
        ));
    }
    let mut ch = Check::new("sequences", status, msg);
    if let Some(x) = v.first() {
        ch.metrics.push(
            Metric::new("worst_used_pct", (x.pct * 100.0).round() / 100.0, "%")
                .with_min(0.0)
                .with_max(100.0),
        );
    }
    if let Some(d) = v
        .iter()
        .filter_map(|x| x.days)
        .min_by(|a, b| a.total_cmp(b))
    {
        ch.metrics.push(
            Metric::new("days_to_exhaustion", (d * 10.0).round() / 10.0, "d")
                .thresholds(Some(c.days_warn), Some(c.days_crit))
                .alert_below()
                .with_min(0.0),
        );
    }
    let details = if at_risk.is_empty() {
        Vec::new()
    } else {
        std::iter::once(format!("sequences at risk ({}):", at_risk.len()))
            .chain(at_risk.iter().map(|x| format!("  {}", x.text)))
            .collect()
    };
    (
        ch,
        details,
        Value::Array(v.into_iter().map(|x| x.row).collect()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(name: &str, data_type: &str, last: i64) -> Sequence {
        Sequence {
            schema: "public".into(),
            name: name.into(),
            data_type: data_type.into(),
            min_value: 1,
            max_value: if data_type == "integer" {
                i32::MAX as i64
            } else {
                i64::MAX
            },
            increment: 1,
            last_value: Some(last),
            column: None,
            column_type: None,
            readable: true,
        }
    }

    fn grows(per_day: f64) -> Option<Growth> {
        Some(Growth {
            per_day,
            samples: 4,
            span_days: 3.0,
        })
    }

    #[test]
    fn days_to_exhaustion_from_growth_warn_under_30_and_critical_under_7() {
        let c = Capacity::default();
        // An int4 at 10 %: 1,932,735,283 left;
        // at 100M a day that is 19.3 days: WARNING.
        let s = seq("orders_id_seq", "integer", 214_748_364);
        let (ch, details, data) = judge(&c, &[(s.clone(), grows(1e8), 4)]);
        assert_eq!(ch.status, Status::Warning, "{}", ch.message);
        assert!(ch.message.contains("runs out in 19 days"), "{}", ch.message);
        assert_eq!(data[0]["days_to_exhaustion"], 19.3);
        assert_eq!(details.len(), 2);
        let (ch, _, _) = judge(&c, &[(s.clone(), grows(5e8), 4)]);
        assert_eq!(ch.status, Status::Critical, "{}", ch.message);
        let (ch, _, _) = judge(&c, &[(s, grows(1e6), 4)]);
        assert_eq!(ch.status, Status::Ok, "{}", ch.message);
        let m = ch.metrics.iter().find(|m| m.name == "days_to_exhaustion");
        assert!(m.unwrap().value > 1900.0);
    }

    #[test]
    fn an_int4_past_75_pct_warns_whatever_the_trend() {
        let c = Capacity::default();
        let at = (i32::MAX as f64 * 0.8) as i64;
        for (g, n) in [(None, 1), (grows(0.0), 4), (grows(1.0), 4)] {
            let (ch, _, _) = judge(&c, &[(seq("bonds_id_seq", "integer", at), g, n)]);
            assert_eq!(ch.status, Status::Warning, "{}", ch.message);
            assert!(ch.message.contains("int4 key past 75%"), "{}", ch.message);
        }
        // A bigint at the same count is nowhere near.
        let (ch, _, _) = judge(&c, &[(seq("big", "bigint", at), grows(1.0), 4)]);
        assert_eq!(ch.status, Status::Ok, "{}", ch.message);
        // An int4 column behind a bigint sequence is a narrow key.
        let mut s = seq("wide_seq", "bigint", at);
        s.column = Some("public.t.id".into());
        s.column_type = Some("integer".into());
        let (ch, _, _) = judge(&c, &[(s, None, 1)]);
        assert_eq!(ch.status, Status::Warning, "{}", ch.message);
        assert!(
            ch.message.contains("integer column public.t.id"),
            "{}",
            ch.message
        );
    }

    #[test]
    fn too_little_history_claims_no_days() {
        let c = Capacity::default();
        let (ch, _, data) = judge(&c, &[(seq("s", "bigint", 10), None, 2)]);
        assert_eq!(ch.status, Status::Ok);
        assert!(
            ch.message
                .contains("too little history yet (2 samples so far"),
            "{}",
            ch.message
        );
        assert!(ch.metrics.iter().all(|m| m.name != "days_to_exhaustion"));
        assert!(data[0]["days_to_exhaustion"].is_null());
    }

    #[test]
    fn the_worst_is_named_first_and_unused_ones_counted() {
        let c = Capacity::default();
        let mut unused = seq("fresh", "integer", 0);
        unused.last_value = None;
        let seqs = [
            (seq("slow", "integer", 1000), grows(10.0), 4),
            (seq("soon", "integer", 2_000_000_000), grows(1e8), 4),
            (unused, None, 0),
        ];
        let (ch, _, data) = judge(&c, &seqs);
        assert_eq!(ch.status, Status::Critical);
        assert!(
            ch.message.starts_with("public.soon at 93.1%"),
            "{}",
            ch.message
        );
        assert!(!ch.message.contains("public.slow"), "{}", ch.message);
        assert!(
            ch.message.contains("1 other sequence not used yet"),
            "{}",
            ch.message
        );
        assert_eq!(data.as_array().unwrap().len(), 2);
    }

    #[test]
    fn samples_count_from_the_start_in_either_direction() {
        let s = seq("up", "integer", 101);
        assert_eq!(
            sample(&s),
            Some(MountSample {
                used: 100,
                usable: i32::MAX as u64 - 1
            })
        );
        let mut d = seq("down", "integer", -51);
        d.increment = -1;
        d.max_value = -1;
        d.min_value = i32::MIN as i64;
        assert_eq!(sample(&d).unwrap().used, 50);
    }
}
