//! The stores' error type.

use std::path::PathBuf;
use std::sync::Arc;

/// What to do about a coordinator store file that cannot be opened.
pub(crate) const OPEN_ADVICE: &str = "run `dmc admin salvage --out DIR` to copy what is readable into a new store, restore it from a backup, or start `dmc serve --fresh-store` to set it aside and begin empty";

/// A storage failure.
///
/// The message (`Display`) is complete: it names the path or operation
/// concerned and includes the cause, because the CLI and the logs print
/// only it. The variant says what kind of failure it is, for callers that
/// act on it; `source()` gives the backend's own error. Sources are shared
/// (`Arc`) so that one failed group commit can be handed to every
/// registration that waited on it.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds the store file open (redb locks it; for the
    /// coordinator's store, usually a running `dmc serve`).
    #[error("{0}")]
    Locked(String),
    /// The file or a stored record is damaged: empty, truncated, or not
    /// decodable as what the store writes.
    #[error("{0}")]
    Corrupt(String),
    /// redb refused to open a coordinator store file (not for its lock).
    #[error("{}: cannot open the store ({source}): {OPEN_ADVICE}", path.display())]
    Unopenable {
        /// The store file.
        path: PathBuf,
        /// redb's reason.
        #[source]
        source: Arc<redb::DatabaseError>,
    },
    /// Input refused before anything was written: a connection string, a
    /// configuration, a result, a target that is already taken.
    #[error("{0}")]
    Invalid(String),
    /// An operation this backend does not offer.
    #[error("{0}")]
    Unsupported(&'static str),
    /// No pooled database connection was free, or could be opened, in
    /// time (the source holds the last connection error, if any).
    #[error("{context}: {source}")]
    Pool {
        /// What was being done, as the message starts.
        context: String,
        /// r2d2's error (it carries the last connection error).
        #[source]
        source: Arc<r2d2::Error>,
    },
    /// The database's schema is newer than this build understands.
    #[error(
        "coordinator store (PostgreSQL): the database's schema is version {found}, newer than this dmc \
         understands ({supported}); upgrade dmc"
    )]
    SchemaTooNew {
        /// The database's schema version.
        found: i32,
        /// The newest version this build migrates to.
        supported: i32,
    },
    /// Salvage could not read even the file's header.
    #[error("{source} (nothing could be salvaged: redb cannot read the file's header; restore from a backup)")]
    NothingSalvaged {
        /// redb's reason for not reading the header.
        #[source]
        source: Box<StoreError>,
    },
    /// A redb operation failed.
    #[error("{context}: {source}")]
    Redb {
        /// What was being done, as the message starts.
        context: String,
        /// redb's error.
        #[source]
        source: Arc<redb::Error>,
    },
    /// A PostgreSQL operation (or connecting) failed.
    #[error("{context}: {source}")]
    Postgres {
        /// What was being done, as the message starts.
        context: String,
        /// The PostgreSQL client's error.
        #[source]
        source: Arc<postgres::Error>,
    },
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, as the message starts.
        context: String,
        /// The I/O error.
        #[source]
        source: Arc<std::io::Error>,
    },
}

impl StoreError {
    pub(crate) fn redb(context: impl Into<String>, e: impl Into<redb::Error>) -> Self {
        StoreError::Redb {
            context: context.into(),
            source: Arc::new(e.into()),
        }
    }

    pub(crate) fn postgres(context: impl Into<String>, e: postgres::Error) -> Self {
        StoreError::Postgres {
            context: context.into(),
            source: Arc::new(e),
        }
    }

    pub(crate) fn io(context: impl Into<String>, e: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source: Arc::new(e),
        }
    }
}
