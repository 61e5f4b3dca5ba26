//! How the store's per-backend functions are run: a write as a job of SQLite's single writer or
//! in a PostgreSQL transaction of its own, a read on a SQLite reader thread or a pooled
//! PostgreSQL connection. The body names the backend's functions through the modules listed
//! (`{identity as sql}` makes `sql::` mean `sqlite::identity` on SQLite and
//! `postgres::identity` on PostgreSQL, whose functions are async, hence the body's `.await`).

/// Runs `$body` as one write, with `$imports` taken from the backend's own modules.
macro_rules! write_with {
    ($store:expr, { $($imports:tt)* }, |$conn:ident| $body:expr) => {
        match &*$store.backend {
            Backend::Sqlite(s) => {
                #[allow(unused_imports)]
                use crate::sqlite::{$($imports)*};
                s.pool.write(move |$conn| $body).await
            }
            Backend::Postgres(p) => {
                #[allow(unused_imports)]
                use crate::postgres::{$($imports)*};
                let mut client = p.client().await?;
                let tx = client
                    .transaction()
                    .await
                    .map_err(crate::error::from_postgres)?;
                let $conn = &tx;
                let out = $body.await?;
                tx.commit().await.map_err(crate::error::from_postgres)?;
                Ok(out)
            }
        }
    };
}

/// Runs `$body` as a read, with `$imports` taken from the backend's own modules.
macro_rules! read_with {
    ($store:expr, { $($imports:tt)* }, |$conn:ident| $body:expr) => {
        match &*$store.backend {
            Backend::Sqlite(s) => {
                #[allow(unused_imports)]
                use crate::sqlite::{$($imports)*};
                s.pool.read(move |$conn| $body).await
            }
            Backend::Postgres(p) => {
                #[allow(unused_imports)]
                use crate::postgres::{$($imports)*};
                let client = p.client().await?;
                let $conn = &client;
                $body.await
            }
        }
    };
}

pub(crate) use {read_with, write_with};
