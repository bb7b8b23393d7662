//! Throwaway databases for tests and benchmarks (the `testing` feature).

use super::*;

/// A throwaway database for tests and benchmarks: `CREATE DATABASE` on the
/// server that `admin_url` reaches, dropped (with its connections) when
/// this value is dropped. Only with the `testing` feature.
pub struct ScratchDatabase {
    admin: Config,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates `<prefix>_<pid>_<time>_<n>`.
    pub fn create(admin_url: &str, prefix: &str) -> Result<Self, StoreError> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let mut admin = parse_url(admin_url)?;
        if admin.get_connect_timeout().is_none() {
            admin.connect_timeout(Duration::from_secs(10));
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "{}_{}_{nanos}_{}",
            prefix
                .to_ascii_lowercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut client = admin
            .connect(NoTls)
            .map_err(|e| StoreError::postgres(format!("connecting to {}", describe(&admin)), e))?;
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .map_err(|e| StoreError::postgres(format!("CREATE DATABASE {name} on {}", describe(&admin)), e))?;
        let url = url_with_dbname(admin_url, &name);
        Ok(ScratchDatabase { admin, name, url })
    }

    /// A connection string for the scratch database (the admin one's
    /// host, user and options).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The scratch database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Ok(mut c) = self.admin.connect(NoTls) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name));
        }
    }
}
