//! Statements built at run time over a [`Tx`], for work on many rows at once
//! (import): values of a few plain types, inserts of many rows per
//! statement, and ids handed out the way import keeps them.

use std::collections::HashSet;

use sqlx::{AssertSqlSafe, postgres::PgRow, sqlite::SqliteRow};

use super::tx::Tx;
use crate::error::Result;

/// One value to bind.
#[derive(Debug, Clone, Copy)]
pub enum Val<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
}

/// Binds `$args` in order to the query `$q`.
macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match *a {
                Val::Int(v) => q.bind(v),
                Val::OptInt(v) => q.bind(v),
                Val::Text(s) => q.bind(s),
                Val::OptText(s) => q.bind(s),
            };
        }
        q
    }};
}

/// Most values bound in one statement (SQLite allows 32,766, PostgreSQL 65,535).
const MAX_BINDS: usize = 4000;

impl Tx {
    /// Runs one statement; returns the rows it changed.
    pub async fn run(&mut self, sql: &str, args: &[Val<'_>]) -> Result<u64> {
        let sql = AssertSqlSafe(sql.to_string());
        Ok(match self {
            Tx::Sqlite(t) => bind_all!(sqlx::query(sql), args).execute(&mut **t).await?.rows_affected(),
            Tx::Postgres(t) => bind_all!(sqlx::query(sql), args).execute(&mut **t).await?.rows_affected(),
        })
    }

    /// Reads every row a query returns.
    pub async fn rows<T>(&mut self, sql: &str, args: &[Val<'_>]) -> Result<Vec<T>>
    where
        T: Send + Unpin + for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow>,
    {
        let sql = AssertSqlSafe(sql.to_string());
        Ok(match self {
            Tx::Sqlite(t) => bind_all!(sqlx::query_as(sql), args).fetch_all(&mut **t).await?,
            Tx::Postgres(t) => bind_all!(sqlx::query_as(sql), args).fetch_all(&mut **t).await?,
        })
    }

    /// Inserts `rows` (each one value per column) into `table`, as many rows
    /// per statement as the bind limit allows; `tail` ends each statement
    /// (`ON CONFLICT … DO NOTHING`, say). Returns the rows inserted.
    pub async fn insert_rows(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &[Vec<Val<'_>>],
        tail: &str,
    ) -> Result<u64> {
        let per_statement = (MAX_BINDS / columns.len().max(1)).max(1);
        let pg = self.is_postgres();
        let mut inserted = 0;
        for chunk in rows.chunks(per_statement) {
            let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
            let mut n = 0;
            for (i, row) in chunk.iter().enumerate() {
                debug_assert_eq!(row.len(), columns.len());
                sql.push_str(if i == 0 { "(" } else { ", (" });
                for j in 0..row.len() {
                    n += 1;
                    if j > 0 {
                        sql.push_str(", ");
                    }
                    // SQLite looks a numbered parameter up by a linear scan of
                    // the statement's names, so thousands of `$N` cost
                    // quadratic time: anonymous `?` bind in order instead.
                    if pg {
                        sql.push('$');
                        sql.push_str(&n.to_string());
                    } else {
                        sql.push('?');
                    }
                }
                sql.push(')');
            }
            sql.push(' ');
            sql.push_str(tail);
            let args: Vec<Val<'_>> = chunk.iter().flatten().copied().collect();
            inserted += self.run(&sql, &args).await?;
        }
        Ok(inserted)
    }

    /// Hands out ids for new rows of `table` that would like to keep
    /// `wanted`: see [`Ids::take`].
    pub async fn ids(&mut self, table: &str, wanted: impl Iterator<Item = i64> + Clone) -> Result<Ids> {
        let lo = wanted.clone().filter(|&w| w > 0).min();
        let hi = wanted.filter(|&w| w > 0).max();
        let taken: HashSet<i64> = match (lo, hi) {
            (Some(lo), Some(hi)) => self
                .rows::<(i64,)>(
                    &format!("SELECT id FROM {table} WHERE id BETWEEN $1 AND $2"),
                    &[Val::Int(lo), Val::Int(hi)],
                )
                .await?
                .into_iter()
                .map(|(id,)| id)
                .collect(),
            _ => HashSet::new(),
        };
        let (max,): (i64,) =
            self.rows(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}"), &[]).await?.pop().unwrap_or((0,));
        Ok(Ids { taken, max })
    }
}

/// Ids for one table during an import.
pub struct Ids {
    taken: HashSet<i64>,
    max: i64,
}

impl Ids {
    /// `want` when it is positive and no row has it, else one past the
    /// largest id so far (as `MAX(id) + 1` would be, row by row).
    pub fn take(&mut self, want: i64) -> i64 {
        let id = if want > 0 && !self.taken.contains(&want) { want } else { self.max + 1 };
        self.taken.insert(id);
        self.max = self.max.max(id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kept_when_free_and_new_ones_follow_the_largest() {
        let mut ids = Ids { taken: [3, 4].into_iter().collect(), max: 4 };
        assert_eq!(ids.take(1), 1);
        assert_eq!(ids.take(3), 5, "3 is taken");
        assert_eq!(ids.take(9), 9);
        assert_eq!(ids.take(1), 10, "1 was taken in this import");
        assert_eq!(ids.take(0), 11);
    }
}
