//! What a client is configured with before anything is sent: the key, the base URL, and the
//! ways a configuration can be wrong.

use std::fmt;
use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::rate_limit::RateLimit;

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://api.apikley.ru";
/// The environment variable [`Client::from_env`](crate::Client::from_env) reads the key from.
pub const API_KEY_VAR: &str = "APIKLEY_API_KEY";
/// The environment variable [`Client::from_env`](crate::Client::from_env) reads the base URL
/// from (optional).
pub const BASE_URL_VAR: &str = "APIKLEY_BASE_URL";

/// Why a client cannot be built. Nothing was sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No key was given.
    #[error("no API key: set {API_KEY_VAR} or call ClientBuilder::api_key")]
    NoKey,
    /// The key environment variable is unset or blank.
    #[error(
        "{API_KEY_VAR} is not set: export your Apikley API key in it (keys: https://app.apikley.ru/keys)"
    )]
    NoKeyInEnvironment,
    /// The key is empty.
    #[error("the API key is empty")]
    EmptyKey,
    /// The key holds characters that cannot travel in an HTTP header.
    #[error(
        "the API key holds characters that cannot be sent in a header (spaces, control or non-ASCII characters)"
    )]
    KeyNotSendable,
    /// The base URL is not a usable http(s) URL.
    #[error("invalid base URL {url:?}: {reason}")]
    BaseUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The base URL is plain `http://` on a host that is not this machine.
    #[error(
        "refusing plain http base URL {0:?}: the API key would travel unencrypted. \
         Use https, a loopback address, or ClientBuilder::allow_insecure_http(true)"
    )]
    InsecureHttp(String),
    /// A rate limit that allows nothing (0 requests, or an empty window).
    #[error("rate limit {0:?} allows nothing: use RateLimits::none() for no limit")]
    EmptyRateLimit(RateLimit),
    /// The user agent cannot be sent as a header.
    #[error("invalid user agent {0:?}")]
    UserAgent(String),
    /// An endpoint of a spec cannot be reached from the base URL.
    #[error("an endpoint cannot be called: {0}")]
    Endpoint(String),
    /// The task history ([`ClientBuilder::history`](crate::ClientBuilder::history)) cannot
    /// be opened.
    #[cfg(feature = "history")]
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
    /// The HTTP client could not be built (TLS back end unavailable, …). The cause is the
    /// HTTP stack's own error, boxed so that its type is no part of this API.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// An Apikley API key. It never shows: `Debug` prints `ApiKey([redacted])`, and it has no
/// `Display`.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Wraps a key; refuses an empty one, or one that cannot travel in an HTTP header.
    pub fn new(key: impl Into<String>) -> Result<Self, ConfigError> {
        let key: String = key.into();
        let trimmed = key.trim();
        if trimmed.is_empty() {
            return Err(ConfigError::EmptyKey);
        }
        if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::KeyNotSendable);
        }
        Ok(ApiKey(SecretString::from(trimmed.to_owned())))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// Checks a base URL: https, or plain http on this machine (or when allowed); no query or
/// fragment. The result ends in exactly one slash, so that API paths join onto it.
pub(crate) fn check_base_url(text: &str, allow_insecure_http: bool) -> Result<Url, ConfigError> {
    let invalid = |reason: String| ConfigError::BaseUrl {
        url: text.to_owned(),
        reason,
    };
    let mut url = Url::parse(text).map_err(|e| invalid(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure_http || is_loopback(&url) => {}
        "http" => return Err(ConfigError::InsecureHttp(text.to_owned())),
        other => return Err(invalid(format!("must be http(s), not {other}"))),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment".into()));
    }
    let path = format!("{}/", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url)
}

/// Whether a URL names this machine (`localhost` or a loopback address): where plain `http://`
/// carries no risk.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        for ok in [
            "https://api.apikley.ru",
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9/",
            "https://proxy.example/apikley/",
        ] {
            assert!(check_base_url(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://api.apikley.ru",
            "ftp://x",
            "not a url",
            "https://x/?q=1",
        ] {
            assert!(check_base_url(bad, false).is_err(), "{bad}");
        }
        assert!(matches!(
            check_base_url("http://api.apikley.ru", false),
            Err(ConfigError::InsecureHttp(_))
        ));
        assert!(check_base_url("http://10.0.0.2", true).is_ok());
        assert_eq!(
            check_base_url("https://proxy.example/apikley", false)
                .unwrap()
                .join("api/v1/jobs/createTask")
                .unwrap()
                .as_str(),
            "https://proxy.example/apikley/api/v1/jobs/createTask"
        );
    }

    #[test]
    fn keys_are_checked_and_never_shown() {
        assert!(matches!(ApiKey::new("  "), Err(ConfigError::EmptyKey)));
        assert!(matches!(
            ApiKey::new("has space"),
            Err(ConfigError::KeyNotSendable)
        ));
        let key = ApiKey::new(" sk-secret-123 ").unwrap();
        assert_eq!(key.expose(), "sk-secret-123");
        assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
    }
}
