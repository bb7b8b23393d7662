//! The schema's versioned migrations, applied under an advisory lock.

use super::*;

/// Ordered migrations: (version, description, SQL).
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "coordinator tables",
        r"
CREATE TABLE dmc_meta (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    next_seq bigint NOT NULL,
    min_valid_cursor bigint NOT NULL,
    pairs bigint NOT NULL,
    observations bigint NOT NULL
);
INSERT INTO dmc_meta (id, next_seq, min_valid_cursor, pairs, observations) VALUES (true, 1, 0, 0, 0);
CREATE TABLE dmc_observations (
    node_from bytea NOT NULL,
    node_to bytea NOT NULL,
    reporter bytea NOT NULL,
    record bytea NOT NULL,
    newest timestamptz NOT NULL,
    received timestamptz NOT NULL,
    PRIMARY KEY (node_from, node_to, reporter)
);
CREATE INDEX dmc_observations_reporter ON dmc_observations (reporter);
CREATE INDEX dmc_observations_newest ON dmc_observations (newest);
CREATE TABLE dmc_reporters (
    reporter bytea PRIMARY KEY,
    observations bigint NOT NULL
);
CREATE TABLE dmc_pairs (
    node_from bytea NOT NULL,
    node_to bytea NOT NULL,
    record bytea,
    reporters integer NOT NULL,
    seq bigint NOT NULL UNIQUE,
    PRIMARY KEY (node_from, node_to)
);
",
    ),
    (
        2,
        "reporter classes, held pairs, reputations",
        r"
ALTER TABLE dmc_pairs ADD COLUMN unverified integer NOT NULL DEFAULT 0,
    ADD COLUMN anonymous integer NOT NULL DEFAULT 0;
CREATE TABLE dmc_held (
    node_from bytea NOT NULL,
    node_to bytea NOT NULL,
    reason smallint NOT NULL,
    PRIMARY KEY (node_from, node_to)
);
CREATE TABLE dmc_reputation (
    reporter bytea PRIMARY KEY,
    reputation bytea NOT NULL
);
",
    ),
    (
        3,
        "replay protection",
        r"
CREATE TABLE dmc_body_digests (
    digest bytea PRIMARY KEY,
    timestamp bigint NOT NULL
);
CREATE INDEX dmc_body_digests_timestamp ON dmc_body_digests (timestamp);
CREATE TABLE dmc_last_signed (
    reporter bytea PRIMARY KEY,
    timestamp bigint NOT NULL
);
",
    ),
    (
        4,
        "banned reporters",
        "CREATE TABLE dmc_banned (reporter bytea PRIMARY KEY);",
    ),
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Creates or upgrades the schema, under the migration lock.
pub(super) fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(err("begin migration"))?;
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock({MIGRATION_LOCK});
         CREATE TABLE IF NOT EXISTS dmc_schema_migrations (
             version integer PRIMARY KEY,
             description text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         );"
    ))
    .map_err(err("creating dmc_schema_migrations"))?;
    let current: Option<i32> = tx
        .query_one("SELECT max(version) FROM dmc_schema_migrations", &[])
        .and_then(|r| r.try_get(0))
        .map_err(err("reading dmc_schema_migrations"))?;
    let current = current.unwrap_or(0);
    if current > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, description, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql).map_err(|e| {
            StoreError::postgres(
                format!("coordinator store (PostgreSQL): applying migration {version} ({description})"),
                e,
            )
        })?;
        let params: [&(dyn ToSql + Sync); 2] = [version, description];
        tx.execute(
            "INSERT INTO dmc_schema_migrations (version, description) VALUES ($1, $2)",
            &params,
        )
        .map_err(err("recording a migration"))?;
    }
    tx.commit().map_err(err("committing migrations"))
}
