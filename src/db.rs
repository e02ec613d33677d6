//! Database connection and migrations. The backend follows the URL's scheme: `sqlite:` (the
//! embedded default, a WAL-mode file under the data folder) or `postgres:`.

use std::time::Duration;

use anyhow::Context;
use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use crate::config::Config;

/// Opens the pool. For SQLite the data folder is created, and every pooled connection gets
/// WAL mode, `synchronous=NORMAL` (durable across process crashes, which is what WAL promises
/// without a sync per commit), foreign keys and a busy timeout so that writers queue instead
/// of failing.
pub async fn connect(config: &Config) -> anyhow::Result<DatabaseConnection> {
    if config.is_sqlite() {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data folder {}",
                config.data_dir.display()
            )
        })?;
    }
    let mut options = ConnectOptions::new(config.database_url.expose());
    options
        .max_connections(config.database_max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        });
    Database::connect(options)
        .await
        .with_context(|| format!("cannot open {}", config.database_url_for_logs()))
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("applying database migrations failed")
}

/// Whether the database answers and has every migration applied (for `/readyz`).
pub async fn is_ready(db: &DatabaseConnection) -> bool {
    if db.execute_unprepared("SELECT 1").await.is_err() {
        return false;
    }
    matches!(Migrator::get_pending_migrations(db).await, Ok(pending) if pending.is_empty())
}

/// Begins a transaction that will write. On SQLite it starts `IMMEDIATE`, taking the write
/// lock (waiting for it up to the busy timeout) before its first read; a deferred transaction
/// that reads and then writes fails outright when another writer commits in between. On
/// PostgreSQL it is an ordinary transaction.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Writes a consistent copy of a SQLite database to `to` (which must not exist) while others
/// keep reading and writing: `VACUUM INTO` copies the database as one read transaction sees it.
/// Returns the size of the copy. PostgreSQL is refused: `pg_dump` is its backup tool.
pub async fn backup_sqlite(db: &DatabaseConnection, to: &std::path::Path) -> anyhow::Result<u64> {
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        anyhow::bail!(
            "backup copies a SQLite database; for PostgreSQL use pg_dump \
             (e.g. `pg_dump --format=custom --file=ocop.dump \"$DATABASE_URL\"`)"
        );
    }
    if to.exists() {
        anyhow::bail!("{} exists already; choose a new file", to.display());
    }
    let target = to
        .to_str()
        .context("the backup path must be valid UTF-8")?
        .replace('\'', "''");
    db.execute_unprepared(&format!("VACUUM INTO '{target}'"))
        .await
        .with_context(|| format!("copying the database to {} failed", to.display()))?;
    Ok(std::fs::metadata(to)?.len())
}
