//! The admin operations (`dmc admin` against a running server), guarded
//! by the bearer token in the data dir.

use dmc_core::aggregate::Reporter;

use super::{ApiError, Coordinator};

impl Coordinator {
    /// Sets the bearer token the admin endpoints require; until set, every admin request is refused.
    pub fn set_admin_token(&self, token: String) {
        *self.admin_token.write().unwrap_or_else(|p| p.into_inner()) = Some(token);
    }

    /// Checks an `Authorization` header against the admin token, in time
    /// independent of where they differ.
    fn check_admin(&self, authorization: Option<&str>) -> Result<(), ApiError> {
        let token = self.admin_token.read().unwrap_or_else(|p| p.into_inner()).clone();
        let given = authorization.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim);
        let ok = match (token, given) {
            (Some(t), Some(g)) if t.len() == g.len() => {
                t.bytes().zip(g.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(ApiError::Unauthenticated(
                "admin: send Authorization: Bearer <the token in the server's <data-dir>/admin.token>".into(),
            ))
        }
    }

    /// `dmc admin forget-reporter` while the server runs: deletes the
    /// reporter's observations (its replay state stays, so old bodies
    /// cannot bring it back) and, with `ban`, refuses its future
    /// registrations. Blocking. Returns (observations removed, newly banned).
    pub fn admin_forget(
        &self,
        authorization: Option<&str>,
        reporter: &str,
        ban: bool,
    ) -> Result<(usize, bool), ApiError> {
        self.check_admin(authorization)?;
        let r = Reporter::parse(reporter).map_err(|e| ApiError::Invalid(format!("reporter: {e}")))?;
        let banned = if ban {
            self.store
                .ban_reporter(r)
                .map_err(|e| ApiError::Internal(e.to_string()))?
        } else {
            false
        };
        let n = self
            .store
            .forget_reporter(r)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        tracing::info!(reporter = %r, observations = n, banned = ban, "admin: reporter forgotten");
        self.recount_unverified()?;
        // The model has no per-reporter removal: it is rebuilt from what
        // the store still holds, so a forgotten reporter shapes nothing.
        self.seed_liquidity()?;
        Ok((n, banned))
    }

    /// `dmc admin check` while the server runs: every table of the open
    /// store read and checked. Blocking.
    pub fn admin_check(
        &self,
        authorization: Option<&str>,
    ) -> Result<dmc_store::coordinator::salvage::CheckReport, ApiError> {
        self.check_admin(authorization)?;
        let r = self.store.check().map_err(|e| ApiError::Invalid(e.to_string()))?;
        tracing::info!(problems = r.problems_total, "admin: store checked");
        Ok(r)
    }
}
