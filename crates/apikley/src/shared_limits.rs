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

/// `url` without its password (in its user part or its query), for messages and files.
pub(crate) fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(None);
            }
            let kept: Vec<(String, String)> = parsed
                .query_pairs()
                .filter(|(name, _)| name != "password")
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect();
            if kept.is_empty() {
                parsed.set_query(None);
            } else {
                parsed.query_pairs_mut().clear().extend_pairs(kept);
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
    /// Where to connect again should the session end (it may hold a password: never shown).
    url: String,
    location: String,
    session: Mutex<Session>,
    /// One reconnection at a time.
    reconnecting: tokio::sync::Mutex<()>,
}

/// The current database session and what this process holds in it.
struct Session {
    client: Arc<Client>,
    /// Counts the sessions: a slot is let go only in the session that took it.
    generation: u64,
    /// The slots held in this session: a session may take its own advisory lock twice, so the
    /// process keeps them apart itself.
    held: HashSet<(i32, i32)>,
}

impl Connection {
    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The session's client and generation.
    fn client(&self) -> (Arc<Client>, u64) {
        let session = self.session();
        (session.client.clone(), session.generation)
    }

    /// Connects again when session `generation` ended (its locks ended with it, so nothing is
    /// held any more); another caller's reconnection is waited for instead.
    async fn repair(&self, generation: u64) {
        let _one = self.reconnecting.lock().await;
        let (client, current) = self.client();
        if current != generation || !client.is_closed() {
            return;
        }
        match connect(&self.url).await {
            Ok(client) => {
                let mut session = self.session();
                *session = Session {
                    client: Arc::new(client),
                    generation: generation + 1,
                    held: HashSet::new(),
                };
                tracing::info!(location = %self.location, "the shared rate limits' session was opened again");
            }
            Err(e) => {
                tracing::warn!(location = %self.location, error = %e, "the shared rate limits' database cannot be reached")
            }
        }
    }
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
            url: url.to_owned(),
            location,
            session: Mutex::new(Session {
                client: Arc::new(client),
                generation: 0,
                held: HashSet::new(),
            }),
            reconnecting: tokio::sync::Mutex::new(()),
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
    /// The session that took it.
    generation: u64,
}

impl AccountSlots {
    /// Makes the limit's slot rows, once per process.
    async fn seed(&self, client: &Client) -> Result<(), tokio_postgres::Error> {
        let slots = &self.0;
        let max = i32::try_from(slots.max).unwrap_or(i32::MAX);
        client
            .execute(
                "INSERT INTO apikley_rate_slots (account, kind, slot, busy_until)
                 SELECT $1, $2, g, '-infinity' FROM generate_series(0, $3 - 1) AS g
                 ON CONFLICT DO NOTHING",
                &[&slots.account, &slots.kind, &max],
            )
            .await?;
        Ok(())
    }

    /// Waits for a slot. A database that cannot be reached is waited for too (logged, and
    /// connected to again): no request goes out unaccounted. The search runs in a task of its
    /// own, so that a caller that stops waiting (a deadline, a cancellation) never leaves a
    /// slot half taken: a slot found for nobody is let go at once.
    pub(crate) async fn acquire(&self) -> Held {
        loop {
            let (found, wanted) = tokio::sync::oneshot::channel();
            let slots = self.clone();
            tokio::spawn(async move { slots.search(found).await });
            if let Ok(held) = wanted.await {
                return held;
            }
        }
    }

    /// Looks for a slot until one is found (sent on `found`) or nobody waits for it.
    async fn search(self, found: tokio::sync::oneshot::Sender<Held>) {
        while !found.is_closed() {
            let (client, generation) = self.0.connection.client();
            match self.try_acquire(&client, generation).await {
                Ok(Some(held)) => {
                    if let Err(held) = found.send(held) {
                        held.release(Duration::ZERO);
                    }
                    return;
                }
                Ok(None) => {
                    let pause = RECHECK.mul_f64(0.5 + fastrand::f64() * 0.5);
                    tokio::time::sleep(pause).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, kind = self.0.kind, "the shared rate limits cannot be read; waiting");
                    self.0.connection.repair(generation).await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn try_acquire(
        &self,
        client: &Client,
        generation: u64,
    ) -> Result<Option<Held>, tokio_postgres::Error> {
        let slots = &self.0;
        slots.seeded.get_or_try_init(|| self.seed(client)).await?;
        let max = i32::try_from(slots.max).unwrap_or(i32::MAX);
        let free = client
            .query(
                "SELECT slot FROM apikley_rate_slots
                 WHERE account = $1 AND kind = $2 AND slot < $3 AND busy_until <= now()
                 ORDER BY busy_until LIMIT 8",
                &[&slots.account, &slots.kind, &max],
            )
            .await?;
        for row in free {
            let slot: i32 = row.try_get(0)?;
            if !self.hold_locally(generation, slot) {
                continue;
            }
            match self.take(client, slot).await {
                Ok(true) => {
                    return Ok(Some(Held {
                        slots: self.clone(),
                        slot,
                        generation,
                    }));
                }
                Ok(false) => self.forget_locally(generation, slot),
                Err(e) => {
                    // Whether the lock was taken is unknown: let it go, if it was.
                    let _ = client
                        .execute("SELECT pg_advisory_unlock($1, $2)", &[&slots.lock, &slot])
                        .await;
                    self.forget_locally(generation, slot);
                    return Err(e);
                }
            }
        }
        Ok(None)
    }

    /// Takes `slot` if no process holds it and its window has passed: locked, and marked
    /// busy as if its request ended now.
    async fn take(&self, client: &Client, slot: i32) -> Result<bool, tokio_postgres::Error> {
        let slots = &self.0;
        let locked: bool = client
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&slots.lock, &slot])
            .await?
            .try_get(0)?;
        if !locked {
            return Ok(false);
        }
        let taken = slots.per + IN_FLIGHT_MARGIN;
        let claimed = client
            .execute(
                "UPDATE apikley_rate_slots SET busy_until = now() + make_interval(secs => $4)
                 WHERE account = $1 AND kind = $2 AND slot = $3 AND busy_until <= now()",
                &[&slots.account, &slots.kind, &slot, &taken.as_secs_f64()],
            )
            .await?;
        if claimed == 1 {
            return Ok(true);
        }
        client
            .execute("SELECT pg_advisory_unlock($1, $2)", &[&slots.lock, &slot])
            .await?;
        Ok(false)
    }

    fn hold_locally(&self, generation: u64, slot: i32) -> bool {
        let mut session = self.0.connection.session();
        session.generation == generation && session.held.insert((self.0.lock, slot))
    }

    fn forget_locally(&self, generation: u64, slot: i32) {
        let mut session = self.0.connection.session();
        if session.generation == generation {
            session.held.remove(&(self.0.lock, slot));
        }
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
            let (client, generation) = slots.connection.client();
            if generation != self.generation {
                // Its session ended, and its lock with it.
                return;
            }
            let freed = client
                .execute(
                    "UPDATE apikley_rate_slots SET busy_until = now() + make_interval(secs => $4)
                     WHERE account = $1 AND kind = $2 AND slot = $3",
                    &[&slots.account, &slots.kind, &self.slot, &after.as_secs_f64()],
                )
                .await;
            if let Err(e) = freed {
                tracing::warn!(error = %e, "a shared rate-limit slot's window was not recorded");
            }
            let unlocked = client
                .execute("SELECT pg_advisory_unlock($1, $2)", &[&slots.lock, &self.slot])
                .await;
            match unlocked {
                Ok(_) => self.slots.forget_locally(self.generation, self.slot),
                // A session that ended took its locks along.
                Err(_) if client.is_closed() => self.slots.forget_locally(self.generation, self.slot),
                Err(e) => tracing::warn!(error = %e, "a shared rate-limit slot was not freed; it comes free when this process ends"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apikley_test_support::postgres::Postgres;

    async fn one_slot(server: &Postgres) -> AccountSlots {
        let limits = SharedLimits::connect(&server.url())
            .await
            .expect("connects");
        limits.slots("key", "creates", 1, Duration::from_millis(200))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiter_that_gives_up_leaves_no_slot_taken() {
        let Some(server) = Postgres::start() else {
            return;
        };
        let (a, b) = (one_slot(&server).await, one_slot(&server).await);
        let held = a.acquire().await;
        // The only slot is held: another process's waiter gives up.
        let gave_up = tokio::time::timeout(Duration::from_millis(300), b.acquire()).await;
        assert!(gave_up.is_err(), "the slot was held");
        held.release(Duration::ZERO);
        // The search it left behind may find the slot, and must let it go.
        let again = tokio::time::timeout(Duration::from_secs(3), b.acquire()).await;
        assert!(again.is_ok(), "the slot came free");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_session_that_ends_is_opened_again() {
        let Some(server) = Postgres::start() else {
            return;
        };
        let slots = one_slot(&server).await;
        slots.acquire().await.release(Duration::ZERO);
        // The database ends every other session (a restart, a failover, an idle timeout).
        let admin = connect(&server.url()).await.expect("connects");
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'",
                &[],
            )
            .await
            .expect("terminates");
        let again = tokio::time::timeout(Duration::from_secs(10), slots.acquire()).await;
        assert!(again.is_ok(), "a slot is found through a new session");
    }

    #[test]
    fn a_password_never_shows() {
        assert_eq!(
            redacted("postgres://me:secret@db.internal:5432/jobs?sslmode=disable&password=hunter2"),
            "postgres://me@db.internal:5432/jobs?sslmode=disable"
        );
    }
}
