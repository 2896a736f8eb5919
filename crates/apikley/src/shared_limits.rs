//! One account's rate limits shared by every process that uses it, through PostgreSQL.
//!
//! Each limit (`max` requests per window) is `max` slot rows. A request takes a free slot (one
//! whose window has passed) under a session-level advisory lock, holds it while it is sent and
//! answered, and frees it one window after its answer, as the in-process limiter does. A
//! process that dies loses its session, so PostgreSQL drops its locks: its slots come free one
//! window after they were taken, whatever it was doing. No window of the server's clock then
//! sees more than `max` requests from all processes together.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use tokio_postgres::{Client, NoTls};

/// A lock id that serializes the creation of the table by processes starting at once.
const SCHEMA_LOCK: i64 = 0x6170_696b_6c65_7902;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS apikley_rate_slots (
    account    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    slot       INTEGER NOT NULL,
    busy_until TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account, kind, slot)
)";

/// A slot is taken as if its request ended at once plus this, so that one whose process
/// dies with the request on its way is not reused before that request's window has passed.
const IN_FLIGHT_MARGIN: Duration = Duration::from_secs(1);

/// How long to wait before looking for a free slot again, at most.
const RECHECK: Duration = Duration::from_millis(50);

/// `url` without its password, for messages and files.
pub(crate) fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(None);
            }
            parsed.to_string()
        }
        Err(_) => "(a PostgreSQL address that cannot be read)".to_owned(),
    }
}

/// A connection to the database at `url`, its driver running on the current runtime; an
/// address that gives no time limit gets 10 s to connect.
pub(crate) async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!(error = %e, "a PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// Creates what `schema` creates unless it exists, one process at a time (processes starting at
/// once would otherwise race on the catalogue): under the transaction lock `lock`.
pub(crate) async fn create(
    client: &mut Client,
    lock: i64,
    schema: &str,
) -> Result<(), tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&lock])
        .await?;
    transaction.batch_execute(schema).await?;
    transaction.commit().await
}

/// Why the shared limits cannot be reached.
#[derive(Debug, thiserror::Error)]
#[error("the shared rate limits at {location} cannot be used: {source}")]
pub struct SharedLimitsError {
    location: String,
    #[source]
    source: tokio_postgres::Error,
}

/// A connection to the database that holds the rate limits of the accounts its clients use:
/// give it to every client of every process that uses an account
/// ([`ClientBuilder::shared_limits`](crate::ClientBuilder::shared_limits)), and together they
/// keep to the account's limits ([`RateLimits`](crate::RateLimits), the documented ones by
/// default). An account is known to the database by a digest of its API key, never the key.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let limits = apikley::SharedLimits::connect("postgres://apikley@db.internal:5432/apikley").await?;
/// let client = apikley::Client::builder().with_env().shared_limits(limits).build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SharedLimits(Arc<Connection>);

struct Connection {
    client: Client,
    location: String,
    /// The slots this process holds: a session may take its own advisory lock twice, so the
    /// process keeps them apart itself.
    held: Mutex<HashSet<(i32, i32)>>,
}

impl std::fmt::Debug for SharedLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedLimits")
            .field(&self.0.location)
            .finish()
    }
}

impl SharedLimits {
    /// Connects to the PostgreSQL database at `url` (`postgres://USER@HOST:PORT/DB`), making
    /// its table on first use.
    pub async fn connect(url: &str) -> Result<SharedLimits, SharedLimitsError> {
        let location = redacted(url);
        let error = |source| SharedLimitsError {
            location: location.clone(),
            source,
        };
        let mut client = connect(url).await.map_err(error)?;
        create(&mut client, SCHEMA_LOCK, SCHEMA)
            .await
            .map_err(error)?;
        Ok(SharedLimits(Arc::new(Connection {
            client,
            location,
            held: Mutex::default(),
        })))
    }

    /// The slots of one limit of the account whose API key is `key`: `max` requests per
    /// `per`.
    pub(crate) fn slots(
        &self,
        key: &str,
        kind: &'static str,
        max: u32,
        per: Duration,
    ) -> AccountSlots {
        let account: String = Sha256::digest(key.as_bytes())
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect();
        let digest = Sha256::digest(format!("{account}/{kind}").as_bytes());
        let lock = i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        AccountSlots(Arc::new(Slots {
            connection: self.0.clone(),
            account,
            kind,
            lock,
            max,
            per,
            seeded: OnceCell::new(),
        }))
    }
}

/// One limit's slots, as a client's limiter uses them.
#[derive(Clone)]
pub(crate) struct AccountSlots(Arc<Slots>);

struct Slots {
    connection: Arc<Connection>,
    account: String,
    kind: &'static str,
    /// The first half of each slot's advisory lock id (the slot number is the second).
    lock: i32,
    max: u32,
    per: Duration,
    seeded: OnceCell<()>,
}

impl std::fmt::Debug for AccountSlots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountSlots")
            .field("kind", &self.0.kind)
            .field("max", &self.0.max)
            .field("per", &self.0.per)
            .finish_non_exhaustive()
    }
}

/// A slot this process holds until [`release`](Held::release)d.
#[derive(Debug)]
pub(crate) struct Held {
    slots: AccountSlots,
    slot: i32,
}

impl AccountSlots {
    /// Makes the limit's slot rows, once per process.
    async fn seed(&self) -> Result<(), tokio_postgres::Error> {
        let slots = &self.0;
        let max = i32::try_from(slots.max).unwrap_or(i32::MAX);
        slots
            .connection
            .client
            .execute(
                "INSERT INTO apikley_rate_slots (account, kind, slot, busy_until)
                 SELECT $1, $2, g, '-infinity' FROM generate_series(0, $3 - 1) AS g
                 ON CONFLICT DO NOTHING",
                &[&slots.account, &slots.kind, &max],
            )
            .await?;
        Ok(())
    }

    /// Waits for a slot. A database that cannot be reached is waited for too (logged): no
    /// request goes out unaccounted.
    pub(crate) async fn acquire(&self) -> Held {
        loop {
            match self.try_acquire().await {
                Ok(Some(held)) => return held,
                Ok(None) => {
                    let pause = RECHECK.mul_f64(0.5 + fastrand::f64() * 0.5);
                    tokio::time::sleep(pause).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, kind = self.0.kind, "the shared rate limits cannot be read; waiting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn try_acquire(&self) -> Result<Option<Held>, tokio_postgres::Error> {
        let slots = &self.0;
        slots.seeded.get_or_try_init(|| self.seed()).await?;
        let client = &slots.connection.client;
        let max = i32::try_from(slots.max).unwrap_or(i32::MAX);
        let free = client
            .query(
                "SELECT slot FROM apikley_rate_slots
                 WHERE account = $1 AND kind = $2 AND slot < $3 AND busy_until <= now()
                 ORDER BY busy_until LIMIT 8",
                &[&slots.account, &slots.kind, &max],
            )
            .await?;
        let taken = slots.per + IN_FLIGHT_MARGIN;
        for row in free {
            let slot: i32 = row.try_get(0)?;
            if !self.hold_locally(slot) {
                continue;
            }
            let locked: bool = client
                .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&slots.lock, &slot])
                .await?
                .try_get(0)?;
            if locked {
                // Free by its time, and ours: taken as if its request ended now.
                let claimed = client
                    .execute(
                        "UPDATE apikley_rate_slots SET busy_until = now() + make_interval(secs => $4)
                         WHERE account = $1 AND kind = $2 AND slot = $3 AND busy_until <= now()",
                        &[&slots.account, &slots.kind, &slot, &taken.as_secs_f64()],
                    )
                    .await?;
                if claimed == 1 {
                    return Ok(Some(Held {
                        slots: self.clone(),
                        slot,
                    }));
                }
                client
                    .execute("SELECT pg_advisory_unlock($1, $2)", &[&slots.lock, &slot])
                    .await?;
            }
            self.forget_locally(slot);
        }
        Ok(None)
    }

    fn hold_locally(&self, slot: i32) -> bool {
        let mut held = self
            .0
            .connection
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        held.insert((self.0.lock, slot))
    }

    fn forget_locally(&self, slot: i32) {
        let mut held = self
            .0
            .connection
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        held.remove(&(self.0.lock, slot));
    }
}

impl Held {
    /// Frees the slot `after` from now (a window after a request's answer; at once for a
    /// slot no request used). In the background: the caller's request is over.
    pub(crate) fn release(self, after: Duration) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime (shutdown): the session ends with the process, and its locks.
            return;
        };
        runtime.spawn(async move {
            let slots = &self.slots.0;
            let client = &slots.connection.client;
            let freed = client
                .execute(
                    "UPDATE apikley_rate_slots SET busy_until = now() + make_interval(secs => $4)
                     WHERE account = $1 AND kind = $2 AND slot = $3",
                    &[&slots.account, &slots.kind, &self.slot, &after.as_secs_f64()],
                )
                .await;
            let unlocked = client
                .execute("SELECT pg_advisory_unlock($1, $2)", &[&slots.lock, &self.slot])
                .await;
            if let Err(e) = freed.and(unlocked) {
                tracing::warn!(error = %e, "a shared rate-limit slot was not freed; it comes free when this process ends");
                return;
            }
            self.slots.forget_locally(self.slot);
        });
    }
}
