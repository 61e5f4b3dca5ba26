//! The circuit breaker of each webhook endpoint as its delivering node last wrote it
//! (`_fathom_webhook_breakers`): the node holding the endpoint's lease writes every transition
//! (and every change of the failure count), so the admin API of any node of a cluster shows it.

use super::Cell;
use crate::Store;
use crate::error::StoreError;

/// An endpoint's breaker as persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerRow {
    pub endpoint: String,
    /// `closed`, `open` or `half_open`.
    pub state: String,
    pub failures: i64,
    /// When an open breaker lets a probe through, in ms since the Unix epoch.
    pub retry_at_ms: Option<i64>,
    /// The node that wrote it (the lease holder).
    pub holder: String,
    pub at_ms: i64,
}

impl Store {
    /// Creates or replaces an endpoint's persisted breaker.
    pub async fn webhook_breaker_save(&self, row: BreakerRow) -> Result<(), StoreError> {
        self.webhook_sql(vec![(
            r#"INSERT INTO "_fathom_webhook_breakers" ("endpoint", "state", "failures", "retry_at", "holder", "at")
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT ("endpoint") DO UPDATE SET "state" = excluded."state",
                 "failures" = excluded."failures", "retry_at" = excluded."retry_at",
                 "holder" = excluded."holder", "at" = excluded."at""#,
            vec![
                row.endpoint.as_str().into(),
                row.state.as_str().into(),
                row.failures.into(),
                row.retry_at_ms.into(),
                row.holder.as_str().into(),
                row.at_ms.into(),
            ],
        )])
        .await
        .map(|_| ())
    }

    /// An endpoint's persisted breaker, if its delivering node wrote one.
    pub async fn webhook_breaker(&self, endpoint: &str) -> Result<Option<BreakerRow>, StoreError> {
        let rows = self
            .webhook_read(
                r#"SELECT "endpoint", "state", "failures", "retry_at", "holder", "at"
                   FROM "_fathom_webhook_breakers" WHERE "endpoint" = $1"#,
                vec![endpoint.into()],
            )
            .await?;
        Ok(rows.into_iter().next().map(|r: Vec<Cell>| BreakerRow {
            endpoint: r[0].text(),
            state: r[1].text(),
            failures: r[2].int(),
            retry_at_ms: r[3].opt_int(),
            holder: r[4].text(),
            at_ms: r[5].int(),
        }))
    }
}
