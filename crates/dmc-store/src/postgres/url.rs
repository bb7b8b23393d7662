//! PostgreSQL connection strings: parsing, describing without the password, changing the database.

use super::*;

/// Parses a connection string (`postgres://user@host:port/db?...` or
/// `host=... dbname=...`). The error never repeats the string, which may
/// hold a password.
pub fn parse_url(url: &str) -> Result<Config, StoreError> {
    if url.trim().is_empty() {
        return Err(StoreError::Invalid("database_url: empty".into()));
    }
    url.parse::<Config>()
        .map_err(|e| StoreError::Invalid(format!("database_url: not a PostgreSQL connection string: {e}")))
}

/// `user@host:port/dbname`, without the password, for messages.
pub fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(s) => s.clone(),
            Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "{}@{}:{}/{}",
        config.get_user().unwrap_or("(default user)"),
        if hosts.is_empty() {
            "(default host)".into()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() {
            "5432".into()
        } else {
            ports.join(",")
        },
        config.get_dbname().unwrap_or("(default database)"),
    )
}

/// `url` with its database replaced by `dbname`, in URL or key=value form.
pub fn url_with_dbname(url: &str, dbname: &str) -> String {
    let url = url.trim();
    if let Some(scheme_end) = url.find("://") {
        let rest_start = scheme_end + 3;
        let rest = &url[rest_start..];
        let query = rest.find('?').map(|i| &rest[i..]).unwrap_or("");
        let before_query = &rest[..rest.len() - query.len()];
        let authority = before_query.split('/').next().unwrap_or("");
        format!("{}{authority}/{dbname}{query}", &url[..rest_start])
    } else {
        format!("{url} dbname={dbname}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbname_is_replaced_in_both_forms() {
        assert_eq!(
            url_with_dbname("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(url_with_dbname("postgresql://h", "x"), "postgresql://h/x");
        assert_eq!(url_with_dbname("postgres://h/?a=b", "x"), "postgres://h/x?a=b");
        assert_eq!(url_with_dbname("host=/tmp user=u", "x"), "host=/tmp user=u dbname=x");
        assert_eq!(
            parse_url(&url_with_dbname("host=/tmp dbname=a", "x"))
                .unwrap()
                .get_dbname(),
            Some("x")
        );
    }

    #[test]
    fn bad_urls_are_named_without_echoing_them() {
        let e = parse_url("").unwrap_err().to_string();
        assert!(e.contains("database_url"), "{e}");
        let e = parse_url("postgres://user:s3cret@host:notaport/db")
            .unwrap_err()
            .to_string();
        assert!(e.contains("database_url") && !e.contains("s3cret"), "{e}");
    }

    #[test]
    fn micros_floor_and_order() {
        assert_eq!(micros(Timestamp::from_raw(1_999)), 1);
        assert_eq!(micros(Timestamp::from_raw(-1)), -1);
        assert!(micros(Timestamp::ZERO) < 0);
        assert_eq!(micros(Timestamp::from_raw(i128::MAX)), 9_000_000_000_000 * 1_000_000);
        let t = system_time(micros(Timestamp::from_unix_secs(-5)));
        assert_eq!(UNIX_EPOCH.duration_since(t).unwrap(), Duration::from_secs(5));
    }

    #[test]
    fn describe_hides_the_password() {
        let c = parse_url("postgres://alice:s3cret@db.example:6543/coord").unwrap();
        assert_eq!(describe(&c), "alice@db.example:6543/coord");
    }
}
