//! SQLite files with versioned migrations.
//!
//! Each store declares its migrations as an ordered list of SQL scripts; [`open`] applies the
//! ones a file has not seen yet, each in its own transaction, and records them in
//! `schema_migrations (store, version, applied_at_ms)`. A file written by a newer Shrike (a
//! version this build does not know) is refused rather than misread. WAL journal, foreign keys
//! on, `synchronous = NORMAL` (durable across process crashes; a power loss may drop the last
//! transactions, never corrupt the file).

use std::path::Path;

use rusqlite::{params, Connection};

/// One migration: its version (1, 2, … in order) and the SQL that applies it.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Version number, strictly increasing from 1.
    pub version: i64,
    /// SQL run in one transaction.
    pub sql: &'static str,
}

/// Errors opening or migrating a store.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file was migrated by a newer build.
    #[error("{store}: the database is at schema version {found}, newer than this build's {known}")]
    TooNew {
        /// Store name.
        store: String,
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// The migration list is not 1, 2, 3, …
    #[error("{store}: migrations must be numbered 1, 2, 3, … in order")]
    BadMigrations {
        /// Store name.
        store: String,
    },
}

/// Opens (creating if needed) the SQLite file at `path` and applies `migrations` of `store`.
/// `:memory:` opens an in-memory database.
///
/// # Errors
/// The file cannot be opened, a migration fails (nothing of it is applied), or the file is
/// newer than this build.
pub fn open(path: &Path, store: &str, migrations: &[Migration]) -> Result<Connection, DbError> {
    let conn = if path.as_os_str() == ":memory:" {
        Connection::open_in_memory()?
    } else {
        Connection::open(path)?
    };
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    migrate(conn, store, migrations)
}

/// Applies the migrations `conn` has not seen (see [`open`]).
///
/// # Errors
/// As [`open`].
pub fn migrate(
    mut conn: Connection,
    store: &str,
    migrations: &[Migration],
) -> Result<Connection, DbError> {
    if migrations
        .iter()
        .enumerate()
        .any(|(i, m)| m.version != i as i64 + 1)
    {
        return Err(DbError::BadMigrations {
            store: store.to_owned(),
        });
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            store TEXT NOT NULL, version INTEGER NOT NULL, applied_at_ms INTEGER NOT NULL,
            PRIMARY KEY (store, version))",
    )?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE store = ?1",
        params![store],
        |r| r.get(0),
    )?;
    let known = migrations.len() as i64;
    if current > known {
        return Err(DbError::TooNew {
            store: store.to_owned(),
            found: current,
            known,
        });
    }
    for m in migrations.iter().filter(|m| m.version > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (store, version, applied_at_ms) VALUES (?1, ?2, ?3)",
            params![store, m.version, now_ms()],
        )?;
        tx.commit()?;
    }
    Ok(conn)
}

/// Wall-clock epoch milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &[Migration] = &[
        Migration {
            version: 1,
            sql: "CREATE TABLE t (a INTEGER);",
        },
        Migration {
            version: 2,
            sql: "ALTER TABLE t ADD COLUMN b TEXT;",
        },
    ];

    #[test]
    fn migrations_apply_once_and_refuse_newer_files() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("x.db");
        let c = open(&p, "x", &M[..1])?;
        c.execute("INSERT INTO t (a) VALUES (1)", [])?;
        drop(c);
        let c = open(&p, "x", M)?;
        c.execute("INSERT INTO t (a, b) VALUES (2, 'y')", [])?;
        let n: i64 = c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?;
        assert_eq!(n, 2);
        drop(c);
        // Reopening applies nothing twice.
        let c = open(&p, "x", M)?;
        let v: i64 = c.query_row(
            "SELECT MAX(version) FROM schema_migrations WHERE store='x'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(v, 2);
        drop(c);
        assert!(matches!(
            open(&p, "x", &M[..1]),
            Err(DbError::TooNew {
                found: 2,
                known: 1,
                ..
            })
        ));
        let bad = [Migration {
            version: 2,
            sql: "",
        }];
        assert!(matches!(
            open(&p, "y", &bad),
            Err(DbError::BadMigrations { .. })
        ));
        Ok(())
    }

    #[test]
    fn a_failing_migration_leaves_nothing_behind() -> Result<(), Box<dyn std::error::Error>> {
        let bad = [Migration {
            version: 1,
            sql: "CREATE TABLE u (a); INSERT INTO nope VALUES (1);",
        }];
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("x.db");
        assert!(open(&p, "z", &bad).is_err());
        let c = Connection::open(&p)?;
        let n: i64 = c.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'u'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(n, 0);
        Ok(())
    }
}
