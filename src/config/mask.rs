//! URL checks and the masking of secrets for messages and `config show`.

use super::*;

pub fn check_http_url(u: &str) -> Result<(), String> {
    match url::Url::parse(u) {
        Ok(p) if matches!(p.scheme(), "http" | "https") && p.host().is_some() => Ok(()),
        // Scheme and host only: the path may be the secret (a webhook's token).
        Ok(p) => Err(format!(
            "{}://{}: only http:// and https:// URLs with a host are checked",
            p.scheme(),
            p.host_str().unwrap_or_default()
        )),
        Err(e) => Err(format!("not a URL ({e})")),
    }
}

/// `text` (an HTTP client's error) with `url`, and its path and query,
/// masked: what is said about a webhook or a ping names its host only.
pub fn scrub_url(text: &str, url: &str) -> String {
    let shown = mask_webhook(url);
    let mut out = text.replace(url, &shown);
    if let Ok(p) = url::Url::parse(url) {
        out = out.replace(p.as_str(), &shown);
        // The path as parsed (normalised) and as written.
        let path = &p[url::Position::BeforePath..];
        let raw = url.find(p.path()).map(|i| &url[i..]).unwrap_or(path);
        for secret in [raw, path] {
            if secret.len() > 1 {
                out = out.replace(secret, &format!("/{MASK}"));
            }
        }
    }
    out
}

pub fn check_redis_url(u: &str) -> Result<(), String> {
    match url::Url::parse(u) {
        Ok(p) if matches!(p.scheme(), "redis" | "rediss") => Ok(()),
        Ok(p) => Err(format!(
            "scheme {}:// is not redis:// or rediss://",
            p.scheme()
        )),
        Err(e) => Err(format!("not a URL ({e})")),
    }
}

/// The URL with any password replaced by the mask; `None` if it does not parse.
pub fn mask_url(u: &str) -> Option<String> {
    let mut parsed = url::Url::parse(u).ok()?;
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(MASK));
    }
    // Tokens in query strings are secrets as well.
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let secret = ["password", "token", "key", "secret"]
                .iter()
                .any(|s| k.to_ascii_lowercase().contains(s));
            (
                k.into_owned(),
                if secret {
                    MASK.to_string()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    if !pairs.is_empty() {
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    Some(parsed.to_string())
}

/// A webhook URL reduced to its scheme and host: the rest may be the key.
pub fn mask_webhook(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(p) => format!(
            "{}://{}/{MASK}",
            p.scheme(),
            p.host_str().unwrap_or_default()
        ),
        Err(_) => MASK.into(),
    }
}

pub(super) fn mask_secrets(v: &mut toml::Value) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                if k.contains("webhook") {
                    // A webhook's path is its secret (Slack's /services/T…/B…/X…).
                    if let toml::Value::String(s) = v {
                        *s = mask_webhook(s);
                    }
                } else if k.contains("password") || k.contains("token") || k.contains("secret") {
                    if let toml::Value::String(s) = v
                        && s != "(none)"
                    {
                        *s = MASK.into();
                    }
                } else {
                    mask_secrets(v);
                }
            }
        }
        toml::Value::Array(a) => a.iter_mut().for_each(mask_secrets),
        toml::Value::String(s) if s.contains("://") => {
            if let Some(m) = mask_url(s) {
                *s = m;
            }
        }
        _ => {}
    }
}
