//! What the batch journal and the task history share: an SQLite file readable by its owner
//! only, whose statements run on tokio's blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

/// An open SQLite connection whose statements run off the async workers: each one is synced
/// to disk before it returns, and an fsync must not stall the timers, waits and downloads in
/// flight.
#[derive(Debug, Clone)]
pub(crate) struct Store(Arc<Mutex<Connection>>);

impl Store {
    /// The store on `connection`.
    pub(crate) fn new(connection: Connection) -> Self {
        Store(Arc::new(Mutex::new(connection)))
    }

    /// Runs `statement` on this thread: for short reads where no runtime may be at hand.
    #[cfg(feature = "history")]
    pub(crate) fn run_now<T>(&self, statement: impl FnOnce(&Connection) -> T) -> T {
        let connection = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        statement(&connection)
    }

    /// Runs `statement` on the blocking pool; `stopped` words a writer that panicked.
    pub(crate) async fn run<T: Send + 'static, E: Send + 'static>(
        &self,
        statement: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        stopped: impl FnOnce(String) -> E,
    ) -> Result<T, E> {
        let connection = self.0.clone();
        tokio::task::spawn_blocking(move || {
            // A statement either ran or did not: the connection stays usable after a panic.
            let connection = connection
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            statement(&connection)
        })
        .await
        .unwrap_or_else(|e| Err(stopped(e.to_string())))
    }
}

/// Creates the file at `path` readable and writable by its owner only (it holds prompts and
/// signed result URLs), unless it exists; SQLite gives its `-wal` and `-shm` files the same
/// permissions.
pub(crate) fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
