//! Client configuration: the key, the base URL and the policies.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::Error;
use crate::client::{Client, Inner, endpoints};
use crate::rate_limit::{Limiter, RateLimits};
use crate::retry::RetryPolicy;
use crate::wait::{Estimator, WaitOptions};

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://api.apikley.ru";
/// The environment variable [`Client::from_env`] reads the key from.
pub const API_KEY_VAR: &str = "APIKLEY_API_KEY";
/// The environment variable [`Client::from_env`] reads the base URL from (optional).
pub const BASE_URL_VAR: &str = "APIKLEY_BASE_URL";

/// An Apikley API key. It never shows: `Debug` prints `ApiKey([redacted])`, and it has no
/// `Display`.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Wraps a key; refuses an empty one, or one that cannot travel in an HTTP header.
    pub fn new(key: impl Into<String>) -> Result<Self, Error> {
        let key: String = key.into();
        let trimmed = key.trim();
        if trimmed.is_empty() {
            return Err(Error::Config("the API key is empty".into()));
        }
        if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::Config(
                "the API key holds characters that cannot be sent in a header (spaces, control or non-ASCII characters)".into(),
            ));
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

/// Builds a [`Client`]. Every setting has a default except the key.
///
/// ```
/// use std::time::Duration;
/// use apikley::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .api_key("my-key")
///     .base_url("http://127.0.0.1:8080") // plain http: allowed for loopback only
///     .request_timeout(Some(Duration::from_secs(20)))
///     .retry(RetryPolicy { max_attempts: 3, ..RetryPolicy::default() })
///     .build()?;
/// # Ok::<(), apikley::Error>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    api_key: Option<Result<ApiKey, String>>,
    base_url: String,
    allow_insecure_http: bool,
    request_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    download_idle_timeout: Option<Duration>,
    retry: RetryPolicy,
    rate_limits: RateLimits,
    wait: WaitOptions,
    user_agent: String,
    http: Option<reqwest::Client>,
    pooled: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            api_key: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            allow_insecure_http: false,
            request_timeout: Some(Duration::from_secs(30)),
            connect_timeout: Some(Duration::from_secs(10)),
            download_idle_timeout: Some(Duration::from_secs(60)),
            retry: RetryPolicy::default(),
            rate_limits: RateLimits::default(),
            wait: WaitOptions::default(),
            user_agent: concat!("apikley-rust/", env!("CARGO_PKG_VERSION")).to_owned(),
            http: None,
            pooled: true,
        }
    }
}

impl ClientBuilder {
    /// The API key (required).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey::new(key).map_err(|e| e.to_string()));
        self
    }

    /// The base URL, default `https://api.apikley.ru`. Plain `http://` is refused unless the
    /// host is a loopback address (a local sandbox) or [`allow_insecure_http`](Self::allow_insecure_http) is set.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Allows a plain `http://` base URL on any host. The key then travels unencrypted.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The time limit of one API call (default 30 s). Downloads have their own. `None`
    /// removes every per-request limit: a stalled call then waits forever, even inside a
    /// [`Task::wait`](crate::Task::wait) whose deadline would otherwise cut it short.
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The time limit for opening a connection (default 10 s; `None` for none). Ignored with
    /// [`http_client`](Self::http_client), which brings its own.
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a download may go without receiving a byte (default 60 s; `None` for no
    /// limit), whichever HTTP client is used. Downloads have no overall time limit: a large video
    /// on a slow link is fine as long as bytes keep arriving.
    pub fn download_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.download_idle_timeout = timeout;
        self
    }

    /// How failed calls are retried.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The client-side rate limits (default: 20 new tasks per 10 s, 10 status queries per s).
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// The defaults of [`Task::wait`](crate::Task::wait): deadline and polling schedule.
    pub fn wait_options(mut self, options: WaitOptions) -> Self {
        self.wait = options;
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Sends through the caller's own `reqwest::Client` (proxies, TLS roots, …), for API calls
    /// and downloads alike. The key and user agent are added to each API request, so it needs no
    /// default headers; downloads never carry the key.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Settings for tests on tokio's paused clock: no request, connect or download timeouts and
    /// no idle connection pool. While the runtime waits on the network, the paused clock jumps
    /// to the next pending timer, so any of those timers would fire at once.
    pub fn for_paused_clock(mut self) -> Self {
        self.request_timeout = None;
        self.connect_timeout = None;
        self.download_idle_timeout = None;
        self.pooled = false;
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let key = match self.api_key {
            None => {
                return Err(Error::Config(format!(
                    "no API key: set {API_KEY_VAR} or call ClientBuilder::api_key"
                )));
            }
            Some(Err(reason)) => {
                return Err(Error::Config(
                    reason.trim_start_matches("configuration: ").into(),
                ));
            }
            Some(Ok(key)) => key,
        };
        let base_url = check_base_url(&self.base_url, self.allow_insecure_http)?;
        for limit in [self.rate_limits.creates, self.rate_limits.queries]
            .into_iter()
            .flatten()
        {
            if limit.max == 0 || limit.per.is_zero() {
                return Err(Error::Config(format!(
                    "rate limit {limit:?} allows nothing: use RateLimits::none() for no limit"
                )));
            }
        }
        let http = match self.http {
            Some(client) => client,
            None => {
                let mut builder = reqwest::Client::builder();
                if let Some(timeout) = self.connect_timeout {
                    builder = builder.connect_timeout(timeout);
                }
                if !self.pooled {
                    builder = builder.pool_max_idle_per_host(0).pool_idle_timeout(None);
                }
                builder
                    .build()
                    .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?
            }
        };
        let user_agent = reqwest::header::HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::Config(format!("invalid user agent {:?}", self.user_agent)))?;
        Ok(Client {
            inner: Arc::new(Inner {
                key,
                endpoints: endpoints(&base_url)?,
                base_url,
                download_http: http.clone(),
                download_idle_timeout: self.download_idle_timeout,
                http,
                user_agent,
                request_timeout: self.request_timeout,
                retry: self.retry,
                rate_limits: self.rate_limits,
                creates: self.rate_limits.creates.map(Limiter::new),
                queries: self.rate_limits.queries.map(Limiter::new),
                wait: self.wait,
                estimator: Estimator::default(),
            }),
        })
    }

    /// Reads `APIKLEY_API_KEY` (required) and `APIKLEY_BASE_URL` (optional) into the builder.
    pub fn with_env(self) -> Result<Self, Error> {
        self.with_vars(|name| std::env::var(name).ok())
    }

    fn with_vars(self, var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let key = var(API_KEY_VAR).filter(|k| !k.trim().is_empty()).ok_or_else(|| {
            Error::Config(format!(
                "{API_KEY_VAR} is not set: export your Apikley API key in it (keys: https://app.apikley.ru/keys)"
            ))
        })?;
        let mut builder = self.api_key(key);
        if let Some(url) = var(BASE_URL_VAR).filter(|u| !u.trim().is_empty()) {
            builder = builder.base_url(url.trim());
        }
        Ok(builder)
    }
}

fn check_base_url(text: &str, allow_insecure_http: bool) -> Result<Url, Error> {
    let mut url =
        Url::parse(text).map_err(|e| Error::Config(format!("invalid base URL {text:?}: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure_http || is_loopback(&url) => {}
        "http" => {
            return Err(Error::Config(format!(
                "refusing plain http base URL {text:?}: the API key would travel unencrypted. \
                 Use https, a loopback address, or ClientBuilder::allow_insecure_http(true)"
            )));
        }
        other => {
            return Err(Error::Config(format!(
                "base URL {text:?} must be http(s), not {other}"
            )));
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "base URL {text:?} must not have a query or fragment"
        )));
    }
    // Paths join onto the base: make it end in exactly one slash.
    let path = format!("{}/", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
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
    fn the_environment_names_the_missing_variable() {
        let error = ClientBuilder::default().with_vars(|_| None).unwrap_err();
        assert!(
            error.to_string().contains("APIKLEY_API_KEY is not set"),
            "{error}"
        );
        let client = ClientBuilder::default()
            .with_vars(|name| match name {
                API_KEY_VAR => Some("k".into()),
                BASE_URL_VAR => Some(" http://127.0.0.1:9 ".into()),
                _ => None,
            })
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(client.base_url().as_str(), "http://127.0.0.1:9/");
        let default = ClientBuilder::default()
            .with_vars(|name| (name == API_KEY_VAR).then(|| "k".into()))
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(default.base_url().as_str(), "https://api.apikley.ru/");
    }

    #[test]
    fn keys_are_checked_and_never_shown() {
        assert!(ApiKey::new("  ").is_err());
        assert!(ApiKey::new("has space").is_err());
        let key = ApiKey::new(" sk-secret-123 ").unwrap();
        assert_eq!(key.expose(), "sk-secret-123");
        assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
    }
}
