//! One error type for the coordinator clients and the lnd bridge (dmc-lnd
//! re-exports it). Its [`ErrorKind`] decides what the sync loop does with
//! it: wait and retry (the other side is down), or stop and tell the
//! operator what to fix (a file, a flag, a credential).

use std::fmt;

/// What went wrong, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A flag or file is wrong or unreadable: fix the command line.
    Config,
    /// The other side refused who we are: macaroon, TLS certificate or
    /// signature. Retrying cannot help.
    Refused,
    /// The other side is down, unreachable, overloaded or rate-limiting:
    /// retry with backoff.
    Unavailable,
    /// The other side refused the data or answered something unexpected.
    Invalid,
}

/// An error with a message that names the flag, file or address involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Decides retry or stop.
    pub kind: ErrorKind,
    /// What happened, naming the flag, file or address; shown as is.
    pub message: String,
}

impl Error {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// A wrong or unreadable flag or file ([`ErrorKind::Config`]).
    pub fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, message)
    }

    /// A refused credential ([`ErrorKind::Refused`]).
    pub fn refused(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Refused, message)
    }

    /// The other side is out of reach for now ([`ErrorKind::Unavailable`]).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unavailable, message)
    }

    /// Refused data or an unexpected answer ([`ErrorKind::Invalid`]).
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Invalid, message)
    }

    /// Worth retrying after a pause.
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Unavailable
    }

    /// The operator must change a flag, file or credential.
    pub fn needs_operator(&self) -> bool {
        matches!(self.kind, ErrorKind::Config | ErrorKind::Refused)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// A result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// " (msg)", or nothing for an empty message.
pub fn paren(msg: &str) -> String {
    if msg.is_empty() {
        String::new()
    } else {
        format!(" ({msg})")
    }
}
