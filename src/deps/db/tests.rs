use super::*;

fn fetched(result: Result<usize, &str>, kept: Option<&str>) -> Fetched {
    Fetched {
        ecosystem: "npm".into(),
        result: result
            .map(|records| MetaEntry {
                fetched_at: "2026-11-30T00:00:00Z".into(),
                records,
                url: "https://user:secret@mirror.example/npm/all.zip".into(),
                sha256: "00".into(),
            })
            .map_err(str::to_string),
        kept_previous: kept.map(str::to_string),
        duration: Duration::from_millis(1300),
    }
}

#[test]
fn a_failed_download_is_critical_only_without_a_previous_copy() {
    let ok = fetched(Ok(1), None).check();
    assert_eq!(ok.status, Status::Ok);
    assert!(ok.message.starts_with("1 record from "), "{}", ok.message);
    assert!(ok.message.ends_with(" in 1.3s"), "{}", ok.message);
    assert!(!ok.message.contains("secret"), "{}", ok.message);
    assert_eq!(ok.metrics[0].value, 1.0);
    let kept = fetched(Err("HTTP 503"), Some("2026-11-29T00:00:00Z")).check();
    assert_eq!(kept.status, Status::Warning);
    assert_eq!(
        kept.message,
        "download failed, the previous copy (fetched 2026-11-29T00:00:00Z) stays in place: HTTP 503"
    );
    let none = fetched(Err("HTTP 503"), None).check();
    assert_eq!(none.status, Status::Critical);
    assert!(
        none.message.contains("cannot check npm packages"),
        "{}",
        none.message
    );
    assert_eq!(none.duration, Duration::from_millis(1300));
}
