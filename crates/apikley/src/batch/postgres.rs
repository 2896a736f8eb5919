//! The journal in a PostgreSQL database that several workers share: each job is claimed by
//! one worker at a time under a lease the worker renews while it lives; a worker that dies
//! leaves its jobs to the others once its leases lapse. Every statement commits before it
//! returns, so "sending" is on the server before a `createTask` goes out; every write that
//! moves a job names its holder, so a worker whose lease lapsed cannot move it any more.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_postgres::{Client, Row as PgRow};

use super::journal::{Claim, JournalError, Pending, Row, Stage, Store};
pub(crate) use crate::shared_limits::redacted;

/// How long a claim lives without renewal: several heartbeats, so that only a worker that
/// stopped loses its jobs.
const LEASE: Duration = Duration::from_secs(20);

/// A lock id that serializes the creation of the table by workers starting at once.
const SCHEMA_LOCK: i64 = 0x6170_696b_6c65_7901;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS apikley_batch_jobs (
    batch       TEXT NOT NULL,
    key         TEXT NOT NULL,
    position    BIGINT NOT NULL,
    model       TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    request     TEXT NOT NULL,
    stage       TEXT NOT NULL,
    task_id     TEXT,
    output      TEXT,
    bytes       BIGINT,
    detail      TEXT,
    owner       TEXT,
    lease_until TIMESTAMPTZ,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (batch, key)
)";

/// The columns a [`Row`] is read from, in order.
const COLUMNS: &str = "key, fingerprint, stage, task_id, output, bytes, detail, request";

/// One worker's connection to a shared batch journal.
#[derive(Debug)]
pub(crate) struct PgJournal {
    client: Client,
    batch: String,
    /// This worker, as its claims name it.
    owner: String,
    location: String,
    /// The jobs this worker has in hand: the heartbeat renews these (a job whose release
    /// failed is not kept from the others).
    in_hand: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl PgJournal {
    /// Connects to the database at `url` and opens the batch `name` in it (creating the
    /// table on first use).
    pub(crate) async fn connect(url: &str, name: &str) -> Result<PgJournal, JournalError> {
        let mut client = crate::shared_limits::connect(url).await?;
        crate::shared_limits::create(&mut client, SCHEMA_LOCK, SCHEMA).await?;
        let owner = format!("{}-{:016x}", std::process::id(), fastrand::u64(..));
        Ok(PgJournal {
            client,
            batch: name.to_owned(),
            owner,
            location: format!("{} (batch {name})", redacted(url)),
            in_hand: std::sync::Mutex::default(),
        })
    }

    fn lease_seconds() -> f64 {
        LEASE.as_secs_f64()
    }

    fn in_hand(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.in_hand
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A change to a job this worker holds; refused when it does not.
    async fn change(
        &self,
        key: &str,
        assignments: &str,
        values: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<(), JournalError> {
        self.change_where(key, assignments, "owner = $3", values)
            .await
    }

    /// A change to a job where `allowed` holds (`$3` is this worker); refused elsewhere.
    async fn change_where(
        &self,
        key: &str,
        assignments: &str,
        allowed: &str,
        values: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<(), JournalError> {
        let statement = format!(
            "UPDATE apikley_batch_jobs SET {assignments}, updated_at = now()
             WHERE batch = $1 AND key = $2 AND ({allowed})"
        );
        let mut all: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&self.batch, &key, &self.owner];
        all.extend_from_slice(values);
        match self.client.execute(&statement, &all).await? {
            0 => Err(JournalError::NotHeld(key.to_owned())),
            _ => Ok(()),
        }
    }
}

fn read_row(row: &PgRow) -> Result<Row, JournalError> {
    let stage: String = row.try_get(2)?;
    let output: Option<String> = row.try_get(4)?;
    let bytes: Option<i64> = row.try_get(5)?;
    Ok(Row {
        key: row.try_get(0)?,
        fingerprint: row.try_get(1)?,
        legacy_fingerprint: false,
        stage: Stage::parse(&stage)?,
        task_id: row.try_get(3)?,
        output: output.map(PathBuf::from),
        bytes: bytes.and_then(|b| u64::try_from(b).ok()),
        detail: row.try_get(6)?,
        request: row.try_get(7)?,
    })
}

impl Store for PgJournal {
    fn location(&self) -> &str {
        &self.location
    }

    fn rows(&self) -> Pending<'_, Vec<Row>> {
        Box::pin(async move {
            let rows = self
                .client
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM apikley_batch_jobs WHERE batch = $1 ORDER BY position, key"
                    ),
                    &[&self.batch],
                )
                .await?;
            rows.iter().map(read_row).collect()
        })
    }

    fn add<'a>(
        &'a self,
        key: &'a str,
        model: &'a str,
        fingerprint: &'a str,
        request: &'a str,
    ) -> Pending<'a, ()> {
        Box::pin(async move {
            self.client
                .execute(
                    "INSERT INTO apikley_batch_jobs (batch, key, position, model, fingerprint, request, stage)
                     SELECT $1, $2, COALESCE(MAX(position), 0) + 1, $3, $4, $5, 'pending'
                     FROM apikley_batch_jobs WHERE batch = $1
                     ON CONFLICT (batch, key) DO NOTHING",
                    &[&self.batch, &key, &model, &fingerprint, &request],
                )
                .await?;
            Ok(())
        })
    }

    fn refingerprint<'a>(&'a self, key: &'a str, fingerprint: &'a str) -> Pending<'a, ()> {
        Box::pin(async move {
            self.client
                .execute(
                    "UPDATE apikley_batch_jobs SET fingerprint = $3 WHERE batch = $1 AND key = $2",
                    &[&self.batch, &key, &fingerprint],
                )
                .await?;
            Ok(())
        })
    }

    /// Takes the job in one statement: the row is locked (`FOR UPDATE SKIP LOCKED`) and
    /// leased to this worker unless another live worker holds it or it is over.
    fn claim<'a>(&'a self, key: &'a str) -> Pending<'a, Claim> {
        Box::pin(async move {
            let lease = Self::lease_seconds();
            let claimed = self
                .client
                .query_opt(
                    &format!(
                        "WITH target AS (
                             SELECT key FROM apikley_batch_jobs
                             WHERE batch = $1 AND key = $2 AND stage NOT IN ('saved', 'failed')
                               AND (owner IS NULL OR owner = $3 OR lease_until < now())
                             FOR UPDATE SKIP LOCKED)
                         UPDATE apikley_batch_jobs AS j
                         SET owner = $3, lease_until = now() + make_interval(secs => $4)
                         FROM target WHERE j.batch = $1 AND j.key = target.key
                         RETURNING {}",
                        COLUMNS
                            .split(", ")
                            .map(|c| format!("j.{c}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    &[&self.batch, &key, &self.owner, &lease],
                )
                .await?;
            if let Some(row) = claimed {
                self.in_hand().insert(key.to_owned());
                return Ok(Claim::Ours(read_row(&row)?));
            }
            let row = self
                .client
                .query_opt(
                    &format!(
                        "SELECT {COLUMNS} FROM apikley_batch_jobs WHERE batch = $1 AND key = $2"
                    ),
                    &[&self.batch, &key],
                )
                .await?
                .ok_or_else(|| JournalError::NoJob(key.to_owned()))?;
            let row = read_row(&row)?;
            Ok(match row.stage() {
                Stage::Saved | Stage::Failed => Claim::Over(row),
                _ => Claim::Held,
            })
        })
    }

    fn release<'a>(&'a self, key: &'a str) -> Pending<'a, ()> {
        Box::pin(async move {
            self.in_hand().remove(key);
            self.client
                .execute(
                    "UPDATE apikley_batch_jobs SET owner = NULL, lease_until = NULL
                     WHERE batch = $1 AND key = $2 AND owner = $3",
                    &[&self.batch, &key, &self.owner],
                )
                .await?;
            Ok(())
        })
    }

    fn renew(&self) -> Pending<'_, ()> {
        Box::pin(async move {
            let lease = Self::lease_seconds();
            let keys: Vec<String> = self.in_hand().iter().cloned().collect();
            self.client
                .execute(
                    "UPDATE apikley_batch_jobs SET lease_until = now() + make_interval(secs => $3)
                     WHERE batch = $1 AND owner = $2 AND key = ANY($4)",
                    &[&self.batch, &self.owner, &lease, &keys],
                )
                .await?;
            Ok(())
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        stage: Stage,
        task_id: Option<&'a str>,
        detail: Option<&'a str>,
    ) -> Pending<'a, ()> {
        Box::pin(async move {
            let assignments = "stage = $4, task_id = COALESCE($5, task_id), detail = $6";
            let values: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
                [&stage.as_str(), &task_id, &detail];
            match (stage, task_id) {
                // A task that exists is a fact, not a move: its id is written even when this
                // worker's claim lapsed meanwhile (another took the job and, seeing no id,
                // reported it unknown), unless another task id is journaled.
                (Stage::Submitted, Some(_)) => {
                    let allowed = "owner = $3 OR task_id IS NULL";
                    self.change_where(key, assignments, allowed, &values).await
                }
                _ => self.change(key, assignments, &values).await,
            }
        })
    }

    fn note<'a>(&'a self, key: &'a str, why: &'a str) -> Pending<'a, ()> {
        Box::pin(async move { self.change(key, "detail = $4", &[&why]).await })
    }

    fn saved<'a>(&'a self, key: &'a str, output: &'a Path, bytes: u64) -> Pending<'a, ()> {
        Box::pin(async move {
            let output = output.to_string_lossy().into_owned();
            let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
            self.change(
                key,
                "stage = 'saved', output = $4, bytes = $5, detail = NULL",
                &[&output, &bytes],
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apikley_test_support::postgres::Postgres;

    async fn worker(server: &Postgres) -> PgJournal {
        PgJournal::connect(&server.url(), "jobs.jsonl")
            .await
            .expect("connects")
    }

    #[tokio::test]
    async fn one_worker_holds_a_job_at_a_time_and_a_lapsed_claim_moves_on() {
        let Some(server) = Postgres::start() else {
            return;
        };
        let (a, b) = (worker(&server).await, worker(&server).await);
        // Both load the jobs: each is added once.
        for w in [&a, &b] {
            for key in ["one", "two"] {
                w.add(key, "m", &format!("f-{key}"), "{}")
                    .await
                    .expect("adds");
            }
        }
        let rows = a.rows().await.expect("reads");
        let keys: Vec<&str> = rows.iter().map(Row::key).collect();
        assert_eq!(keys, ["one", "two"]);

        assert!(matches!(a.claim("one").await, Ok(Claim::Ours(_))));
        assert!(matches!(b.claim("one").await, Ok(Claim::Held)));
        assert!(matches!(b.claim("two").await, Ok(Claim::Ours(_))));
        // Only the holder moves a job.
        let store: &dyn Store = &b;
        assert!(matches!(
            store.sending("one").await,
            Err(JournalError::NotHeld(key)) if key == "one"
        ));
        let store: &dyn Store = &a;
        store.sending("one").await.expect("the holder writes");
        store.submitted("one", "task-1").await.expect("writes");

        // A lapsed lease (a worker that stopped renewing) goes to the next worker, with
        // everything the first journaled.
        a.client
            .execute(
                "UPDATE apikley_batch_jobs SET lease_until = now() - interval '1 second' WHERE key = 'one'",
                &[],
            )
            .await
            .expect("ages the lease");
        let Ok(Claim::Ours(row)) = b.claim("one").await else {
            panic!("the lapsed claim moves on");
        };
        assert_eq!(
            (row.stage(), row.task_id()),
            (Stage::Submitted, Some("task-1"))
        );
        let store: &dyn Store = &a;
        assert!(matches!(
            store.failed("one", "x").await,
            Err(JournalError::NotHeld(_))
        ));

        // A finished job is over for everyone.
        b.saved("one", Path::new("/out/one.mp4"), 42)
            .await
            .expect("writes");
        b.release("one").await.expect("releases");
        let Ok(Claim::Over(row)) = a.claim("one").await else {
            panic!("a saved job is over");
        };
        assert_eq!(row.saved_file(), Some((Path::new("/out/one.mp4"), 42)));
        // Released, a job is free for another.
        b.release("two").await.expect("releases");
        assert!(matches!(a.claim("two").await, Ok(Claim::Ours(_))));

        // A worker whose claim lapsed while its create was on its way still journals the task
        // id when the create answers (the next worker saw no id and reported it unknown).
        a.add("three", "m", "f-three", "{}").await.expect("adds");
        assert!(matches!(a.claim("three").await, Ok(Claim::Ours(_))));
        let store: &dyn Store = &a;
        store.sending("three").await.expect("writes");
        a.client
            .execute(
                "UPDATE apikley_batch_jobs SET lease_until = now() - interval '1 second' WHERE key = 'three'",
                &[],
            )
            .await
            .expect("ages the lease");
        let Ok(Claim::Ours(row)) = b.claim("three").await else {
            panic!("the lapsed claim moves on");
        };
        assert_eq!((row.stage(), row.task_id()), (Stage::Sending, None));
        b.release("three").await.expect("releases");
        store
            .submitted("three", "task-3")
            .await
            .expect("the id is a fact");
        assert!(matches!(
            store.failed("three", "x").await,
            Err(JournalError::NotHeld(_))
        ));
        let Ok(Claim::Ours(row)) = b.claim("three").await else {
            panic!("free");
        };
        assert_eq!(
            (row.stage(), row.task_id()),
            (Stage::Submitted, Some("task-3"))
        );
    }
}
