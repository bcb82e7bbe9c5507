//! The few places SQLite and PostgreSQL differ, decided here and nowhere else.

use sqlx::{Any, Transaction};

use super::Backend;

/// The larger of two SQL expressions: `MAX(a, b)` on SQLite, `GREATEST(a, b)` on PostgreSQL.
pub fn greatest(backend: Backend, a: &str, b: &str) -> String {
    match backend {
        Backend::Sqlite => format!("MAX({a}, {b})"),
        Backend::Postgres => format!("GREATEST({a}, {b})"),
    }
}

/// Serialises the transactions that contend on `key` until this one ends. PostgreSQL takes a
/// transaction-scoped advisory lock on the key's hash; SQLite needs nothing, its one writer
/// connection already runs write transactions one at a time.
pub async fn lock(backend: Backend, tx: &mut Transaction<'static, Any>, key: &str) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(key).execute(&mut **tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_larger_of_two_in_each_dialect() {
        assert_eq!(greatest(Backend::Sqlite, "a.x", "excluded.x"), "MAX(a.x, excluded.x)");
        assert_eq!(greatest(Backend::Postgres, "a.x", "excluded.x"), "GREATEST(a.x, excluded.x)");
    }
}
