//! The host through `sysinfo`: CPU use sampled over a short interval, load
//! per core, memory and swap, and the service processes' RSS and CPU
//! (gather); then judged against `[perf]`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

use crate::config::Perf;
use crate::report::{Check, Metric, Status};
use crate::units::bytes;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Facts {
    pub cpu_pct: f64,
    pub cores: usize,
    pub load1: f64,
    pub load5: f64,
    pub memory_total: u64,
    pub memory_used: u64,
    pub swap_total: u64,
    pub swap_used: u64,
    /// Per configured name: its processes, their RSS and CPU (% of one core) summed.
    pub processes: BTreeMap<String, Service>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Service {
    pub count: usize,
    pub rss: u64,
    pub cpu_pct: f64,
}

pub fn gather(p: &Perf) -> Facts {
    let mut sys = System::new();
    let kind = ProcessRefreshKind::nothing().with_cpu().with_memory();
    sys.refresh_cpu_usage();
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    // CPU use is a difference between two readings.
    std::thread::sleep(p.cpu_sample.0.max(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL));
    sys.refresh_cpu_usage();
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    sys.refresh_memory();
    let load = System::load_average();
    let mut processes: BTreeMap<String, Service> = p
        .processes
        .iter()
        .map(|n| (n.clone(), Service::default()))
        .collect();
    for proc_ in sys.processes().values() {
        let name = proc_.name().to_string_lossy();
        if let Some(s) = processes.get_mut(name.as_ref()) {
            s.count += 1;
            s.rss += proc_.memory();
            s.cpu_pct += f64::from(proc_.cpu_usage());
        }
    }
    Facts {
        cpu_pct: f64::from(sys.global_cpu_usage()),
        cores: sys.cpus().len().max(1),
        load1: load.one,
        load5: load.five,
        memory_total: sys.total_memory(),
        memory_used: sys.total_memory().saturating_sub(sys.available_memory()),
        swap_total: sys.total_swap(),
        swap_used: sys.used_swap(),
        processes,
    }
}

fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

pub fn cpu(p: &Perf, f: &Facts, sample: Duration) -> Check {
    let m = Metric::new("cpu_pct", r1(f.cpu_pct), "%")
        .thresholds(Some(p.cpu_warn_pct), Some(p.cpu_crit_pct))
        .with_min(0.0)
        .with_max(100.0);
    let per_core = f.load1 / f.cores as f64;
    Check::new(
        "host_cpu",
        m.judge(),
        format!(
            "{:.1}% over {}; load {:.2} per core ({:.2} on {} cores, 5 min {:.2})",
            f.cpu_pct,
            crate::units::duration(sample),
            per_core,
            f.load1,
            f.cores,
            f.load5
        ),
    )
    .with_metric(m)
    .with_metric(Metric::new("load_per_core", (per_core * 100.0).round() / 100.0, "").with_min(0.0))
}

pub fn memory(p: &Perf, f: &Facts) -> Check {
    let used = pct(f.memory_used, f.memory_total);
    let m = Metric::new("memory_pct", r1(used), "%")
        .thresholds(Some(p.memory_warn_pct), Some(p.memory_crit_pct))
        .with_min(0.0)
        .with_max(100.0);
    let mut status = m.judge();
    let mut msg = format!("{:.1}% of {} in use", used, bytes(f.memory_total));
    let mut c = Check::new("host_memory", Status::Ok, "").with_metric(m);
    if f.swap_total > 0 {
        let s = pct(f.swap_used, f.swap_total);
        let sm = Metric::new("swap_pct", r1(s), "%")
            .thresholds(Some(p.swap_warn_pct), None)
            .with_min(0.0)
            .with_max(100.0);
        status = status.worse(sm.judge());
        msg.push_str(&format!("; swap {:.1}% of {}", s, bytes(f.swap_total)));
        c = c.with_metric(sm);
    } else {
        msg.push_str("; no swap");
    }
    c.status = status;
    c.message = msg;
    c
}

pub fn processes(f: &Facts) -> Check {
    let mut parts = Vec::new();
    let mut c = Check::new("processes", Status::Ok, "");
    for (name, s) in &f.processes {
        if s.count == 0 {
            parts.push(format!("{name} not running"));
            continue;
        }
        parts.push(format!(
            "{name} x{}: {} RSS, {:.1}% CPU",
            s.count,
            bytes(s.rss),
            s.cpu_pct
        ));
        c = c
            .with_metric(Metric::new(format!("{name}_rss"), s.rss as f64, "B").with_min(0.0))
            .with_metric(Metric::new(format!("{name}_cpu_pct"), r1(s.cpu_pct), "%").with_min(0.0));
    }
    c.message = if parts.is_empty() {
        "no service processes configured (perf.processes)".into()
    } else {
        parts.join("; ")
    };
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            cpu_pct: 12.0,
            cores: 2,
            load1: 1.0,
            load5: 0.5,
            memory_total: 1000,
            memory_used: 850,
            swap_total: 0,
            swap_used: 0,
            processes: [
                (
                    "postgres".to_string(),
                    Service {
                        count: 3,
                        rss: 3 << 20,
                        cpu_pct: 1.5,
                    },
                ),
                ("node".to_string(), Service::default()),
            ]
            .into(),
        }
    }

    #[test]
    fn the_guides_80_percent_of_memory() {
        let p = Perf::default();
        let c = memory(&p, &facts());
        assert_eq!(c.status, Status::Warning, "{}", c.message);
        let mut f = facts();
        f.memory_used = 500;
        f.swap_total = 100;
        f.swap_used = 90;
        assert_eq!(memory(&p, &f).status, Status::Warning);
        f.swap_used = 0;
        assert_eq!(memory(&p, &f).status, Status::Ok);
    }

    #[test]
    fn cpu_and_load_per_core() {
        let c = cpu(&Perf::default(), &facts(), Duration::from_millis(500));
        assert_eq!(c.status, Status::Ok);
        assert!(c.message.contains("load 0.50 per core"), "{}", c.message);
        let mut f = facts();
        f.cpu_pct = 97.0;
        assert_eq!(
            cpu(&Perf::default(), &f, Duration::ZERO).status,
            Status::Critical
        );
    }

    #[test]
    fn services_are_listed_and_a_missing_one_named() {
        let c = processes(&facts());
        assert!(c.message.contains("node not running"), "{}", c.message);
        assert!(
            c.message.contains("postgres x3: 3.0 MiB RSS"),
            "{}",
            c.message
        );
    }
}
