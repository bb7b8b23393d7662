//! A throwaway PostgreSQL database for a test, when one is configured.

use std::io::Write;

pub use dmc_store::postgres::ScratchDatabase;

/// A scratch database from `DMC_TEST_DATABASE_URL`, or `None` without it,
/// printing `SKIPPED <test>` to the real stderr (past the harness's
/// capture) so a skipped test is visible.
pub fn scratch(test: &str) -> Option<ScratchDatabase> {
    match std::env::var("DMC_TEST_DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => {
            Some(ScratchDatabase::create(&u, "dmc_test").unwrap_or_else(|e| panic!("{test}: {e}")))
        }
        _ => {
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: DMC_TEST_DATABASE_URL not set");
            None
        }
    }
}
