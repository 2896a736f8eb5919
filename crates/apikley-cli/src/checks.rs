//! Every number and URL the user gives, checked when the command line is parsed: a value out
//! of range is a usage error (exit 2) before anything is sent, never a panic later, after a
//! task was paid for.

use std::time::Duration;

/// The longest `--poll-interval`: an hour (the documented schedule never waits longer than
/// 30 s; a wait's default deadline is 15 minutes).
pub const MAX_POLL_INTERVAL: u64 = 3600;

/// The most jobs a batch may have in flight at once.
pub const MAX_CONCURRENCY: usize = 10_000;

/// The fastest sandbox clock.
pub const MAX_SPEED: f64 = 100_000.0;

/// The longest sandbox `--latency`, in milliseconds: ten minutes.
pub const MAX_LATENCY_MS: u64 = 600_000;

/// `--poll-interval SECONDS`: 1 to [`MAX_POLL_INTERVAL`].
pub fn poll_interval(text: &str) -> Result<u64, String> {
    whole(text, 1, MAX_POLL_INTERVAL, "seconds")
}

/// `--concurrency N`: 1 to [`MAX_CONCURRENCY`].
pub fn concurrency(text: &str) -> Result<usize, String> {
    whole(text, 1, MAX_CONCURRENCY as u64, "jobs").map(|n| n as usize)
}

/// `--latency MS`: 0 to [`MAX_LATENCY_MS`].
pub fn latency(text: &str) -> Result<Duration, String> {
    whole(text, 0, MAX_LATENCY_MS, "milliseconds").map(Duration::from_millis)
}

/// `--max-credits N`: a number above 0.
pub fn credits(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(credits) if credits.is_finite() && credits > 0.0 => Ok(credits),
        Ok(_) => Err(format!("must be above 0 (got {text})")),
        Err(_) => Err(format!("{text:?} is not a number")),
    }
}

/// `--speed X`: a number above 0, at most [`MAX_SPEED`].
pub fn speed(text: &str) -> Result<f64, String> {
    let speed: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if speed.is_finite() && speed > 0.0 && speed <= MAX_SPEED {
        Ok(speed)
    } else {
        Err(format!(
            "must be above 0 and at most {MAX_SPEED} (got {text})"
        ))
    }
}

/// `--callback-url URL`: an absolute http(s) URL with a host, whose path a callback endpoint
/// can serve as it is (no segment that a router reads as a parameter: `:name`, `*rest`,
/// `{name}`).
pub fn callback_url(text: &str) -> Result<String, String> {
    let url =
        url::Url::parse(text).map_err(|e| format!("{text:?} is not an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(format!(
            "{text:?} must be an http:// or https:// URL with a host"
        ));
    }
    let routed = url.path_segments().into_iter().flatten().find(|segment| {
        segment.starts_with([':', '*'])
            || segment.contains(['{', '}'])
            || segment.contains("%7B")
            || segment.contains("%7D")
    });
    if let Some(segment) = routed {
        return Err(format!(
            "the path segment {segment:?} of {text:?} cannot be served as it is (':', '*' and braces mark a route's parameters)"
        ));
    }
    Ok(text.to_owned())
}

/// A whole number from `low` to `high`.
fn whole(text: &str, low: u64, high: u64, unit: &str) -> Result<u64, String> {
    let n: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number"))?;
    if (low..=high).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be {low} to {high} {unit} (got {text})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_out_of_range_are_refused() {
        assert_eq!(poll_interval("5"), Ok(5));
        assert!(poll_interval("0").is_err());
        assert!(poll_interval("18446744073709551615").is_err());
        assert!(poll_interval("-1").is_err());
        assert_eq!(concurrency("250"), Ok(250));
        assert!(concurrency("0").is_err());
        for bad in ["0", "-1", "NaN", "inf", "1e300", ""] {
            assert!(speed(bad).is_err(), "{bad}");
        }
        assert_eq!(speed("30"), Ok(30.0));
        assert_eq!(latency("150"), Ok(Duration::from_millis(150)));
        assert!(latency("99999999999").is_err());
    }

    #[test]
    fn callback_urls_must_be_servable_http() {
        assert!(callback_url("https://h.example/cb").is_ok());
        assert!(callback_url("http://127.0.0.1:8080/apikley/callback?x=1").is_ok());
        for bad in [
            "https://h.example/cb/:x",
            "https://h.example/*rest",
            "https://h.example/{id}",
            "ftp://h.example/cb",
            "/relative/path",
            "mailto:me@h.example",
        ] {
            assert!(callback_url(bad).is_err(), "{bad}");
        }
    }
}
