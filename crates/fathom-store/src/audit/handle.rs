//! The audit log's methods on [`Store`]: append, read (filtered, newest first), walk the chain
//! (oldest first, for `fathom audit verify`), the head, and one pruning step under retention.

use crate::audit::{AuditEntry, AuditHead, AuditQuery, AuditRecord, AuditRetention};
use crate::error::{StoreError, from_postgres};
use crate::postgres::audit as pg;
use crate::sqlite::audit as lite;
use crate::{Backend, Store};

impl Store {
    /// Appends one entry to the audit log, chained to the current head.
    pub async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.pool.write(move |conn| lite::append(conn, &[entry])).await,
            Backend::Postgres(p) => {
                let mut client = p.client().await?;
                let tx = client.transaction().await.map_err(from_postgres)?;
                pg::append(&tx, &[entry]).await?;
                tx.commit().await.map_err(from_postgres)
            }
        }
    }

    /// The newest `limit` audit records, newest first.
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        self.audit_query(AuditQuery {
            limit,
            ..AuditQuery::default()
        })
        .await
    }

    /// The audit records matching `query`, newest first.
    pub async fn audit_query(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.pool.read(move |conn| lite::log(conn, &query)).await,
            Backend::Postgres(p) => pg::log(&**p.client().await?, &query).await,
        }
    }

    /// Up to `limit` audit records after sequence `after`, oldest first.
    pub async fn audit_chain(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => {
                s.pool
                    .read(move |conn| lite::chain_read(conn, after, limit))
                    .await
            }
            Backend::Postgres(p) => {
                pg::chain_read(&**p.client().await?, after, i64::from(limit)).await
            }
        }
    }

    /// The newest entry's sequence and hash.
    pub async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.pool.read(lite::head).await,
            Backend::Postgres(p) => pg::head(&**p.client().await?).await,
        }
    }

    /// One pruning step: removes at most one batch of the oldest entries past `retention` and
    /// appends a checkpoint naming the last one removed; returns how many it removed (0 when
    /// nothing is due, so callers loop until then). Never removes the newest entry.
    pub async fn prune_audit(&self, retention: AuditRetention) -> Result<usize, StoreError> {
        if retention.keeps_everything() {
            return Ok(0);
        }
        match &*self.backend {
            Backend::Sqlite(s) => {
                // Decided on a reader first, so that the writer sees a job only when one is due.
                let due = s
                    .pool
                    .read(move |conn| lite::prune_bound(conn, &retention))
                    .await?;
                if due.is_none() {
                    return Ok(0);
                }
                s.pool
                    .write(move |conn| lite::prune(conn, &retention))
                    .await
            }
            Backend::Postgres(p) => {
                let mut client = p.client().await?;
                let tx = client.transaction().await.map_err(from_postgres)?;
                let removed = pg::prune(&tx, &retention).await?;
                tx.commit().await.map_err(from_postgres)?;
                Ok(removed)
            }
        }
    }
}
