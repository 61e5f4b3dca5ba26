//! Webhook storage: endpoints (their settings as an opaque JSON document the webhooks crate
//! owns, and their signing secrets), the log of delivery attempts, dead letters and the queue
//! of replays. The tables hold only integers and text, so both databases run the same SQL
//! (placeholders written `$n`, rendered `?n` for SQLite); times are milliseconds since the
//! Unix epoch. The delivery position of an endpoint is its cursor, `webhook:<id>`
//! (`crate::cursors`); its breaker's last transition is in `webhooks/breakers.rs`.

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::error::{StoreError, from_postgres, from_sqlite};
use crate::{Backend, Store};

mod breakers;
pub use breakers::BreakerRow;

/// An endpoint as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: String,
    /// The endpoint's settings (URL, selection, flags), a JSON document.
    pub spec: String,
    /// The signing secrets, a JSON document. Never logged.
    pub secrets: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl std::fmt::Debug for WebhookRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRow")
            .field("id", &self.id)
            .field("spec", &self.spec)
            .field("secrets", &"[redacted]")
            .finish()
    }
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    /// Assigned by the store (ignored when logging).
    pub id: i64,
    pub endpoint: String,
    pub seq: i64,
    pub event_id: String,
    /// 1 for the first attempt of a message.
    pub attempt: i64,
    pub at_ms: i64,
    /// The response status, `None` when no response came (refused, timed out, blocked).
    pub status: Option<i64>,
    pub duration_ms: i64,
    /// The first KiB of the response body.
    pub response: String,
    /// Why the attempt failed when no status says it.
    pub error: Option<String>,
    /// `delivered`, `failed`, `dead`, `gone`, `skipped`.
    pub outcome: String,
}

/// A message whose last attempt failed: kept until replayed or its endpoint is removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub endpoint: String,
    pub seq: i64,
    pub event_id: String,
    pub at_ms: i64,
    pub attempts: i64,
    pub last_error: String,
}

/// Which messages to deliver again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// The events with sequences in `from..=to` still in the outbox.
    Range { from: i64, to: i64 },
    /// Every dead letter of the endpoint.
    DeadLetters,
}

pub(crate) const SQLITE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS \"_fathom_webhooks\" (
    \"id\" TEXT PRIMARY KEY NOT NULL,
    \"spec\" TEXT NOT NULL,
    \"secrets\" TEXT NOT NULL,
    \"created_at\" INTEGER NOT NULL,
    \"updated_at\" INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS \"_fathom_webhook_attempts\" (
    \"id\" INTEGER PRIMARY KEY NOT NULL,
    \"endpoint\" TEXT NOT NULL, \"seq\" INTEGER NOT NULL, \"event_id\" TEXT NOT NULL,
    \"attempt\" INTEGER NOT NULL, \"at\" INTEGER NOT NULL, \"status\" INTEGER,
    \"duration_ms\" INTEGER NOT NULL, \"response\" TEXT NOT NULL, \"error\" TEXT,
    \"outcome\" TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS \"_fathom_webhook_attempts_endpoint\" ON \"_fathom_webhook_attempts\" (\"endpoint\", \"id\");
CREATE TABLE IF NOT EXISTS \"_fathom_webhook_dead\" (
    \"endpoint\" TEXT NOT NULL, \"seq\" INTEGER NOT NULL, \"event_id\" TEXT NOT NULL,
    \"at\" INTEGER NOT NULL, \"attempts\" INTEGER NOT NULL, \"last_error\" TEXT NOT NULL,
    PRIMARY KEY (\"endpoint\", \"seq\")
) STRICT;
CREATE TABLE IF NOT EXISTS \"_fathom_webhook_replays\" (
    \"endpoint\" TEXT NOT NULL, \"seq\" INTEGER NOT NULL,
    PRIMARY KEY (\"endpoint\", \"seq\")
) STRICT;
CREATE TABLE IF NOT EXISTS \"_fathom_webhook_breakers\" (
    \"endpoint\" TEXT PRIMARY KEY NOT NULL, \"state\" TEXT NOT NULL,
    \"failures\" INTEGER NOT NULL, \"retry_at\" INTEGER, \"holder\" TEXT NOT NULL,
    \"at\" INTEGER NOT NULL
) STRICT;";

pub(crate) const POSTGRES_TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS "_fathom_webhooks" (
    "id" text PRIMARY KEY,
    "spec" text NOT NULL,
    "secrets" text NOT NULL,
    "created_at" bigint NOT NULL,
    "updated_at" bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS "_fathom_webhook_attempts" (
    "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "endpoint" text NOT NULL, "seq" bigint NOT NULL, "event_id" text NOT NULL,
    "attempt" bigint NOT NULL, "at" bigint NOT NULL, "status" bigint,
    "duration_ms" bigint NOT NULL, "response" text NOT NULL, "error" text,
    "outcome" text NOT NULL
);
CREATE INDEX IF NOT EXISTS "_fathom_webhook_attempts_endpoint" ON "_fathom_webhook_attempts" ("endpoint", "id");
CREATE TABLE IF NOT EXISTS "_fathom_webhook_dead" (
    "endpoint" text NOT NULL, "seq" bigint NOT NULL, "event_id" text NOT NULL,
    "at" bigint NOT NULL, "attempts" bigint NOT NULL, "last_error" text NOT NULL,
    PRIMARY KEY ("endpoint", "seq")
);
CREATE TABLE IF NOT EXISTS "_fathom_webhook_replays" (
    "endpoint" text NOT NULL, "seq" bigint NOT NULL,
    PRIMARY KEY ("endpoint", "seq")
);
CREATE TABLE IF NOT EXISTS "_fathom_webhook_breakers" (
    "endpoint" text PRIMARY KEY, "state" text NOT NULL,
    "failures" bigint NOT NULL, "retry_at" bigint, "holder" text NOT NULL,
    "at" bigint NOT NULL
);"#;

/// A bound parameter either driver accepts.
#[derive(Debug, Clone)]
enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Self::Text(Some(v.to_owned()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Self::Text(v)
    }
}

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Self::Int(v) => rusqlite::ToSql::to_sql(v),
            Self::Text(v) => rusqlite::ToSql::to_sql(v),
        }
    }
}

impl ToSql for Arg {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Self::Int(v) => ToSql::to_sql(v, ty, out),
            Self::Text(v) => ToSql::to_sql(v, ty, out),
        }
    }
    fn accepts(ty: &Type) -> bool {
        <i64 as ToSql>::accepts(ty) || <String as ToSql>::accepts(ty)
    }
    to_sql_checked!();
}

/// One cell read from either driver's row: integers and text only.
#[derive(Debug, Clone)]
enum Cell {
    Int(Option<i64>),
    Text(Option<String>),
}

impl Cell {
    fn int(&self) -> i64 {
        match self {
            Self::Int(Some(v)) => *v,
            _ => 0,
        }
    }
    fn opt_int(&self) -> Option<i64> {
        match self {
            Self::Int(v) => *v,
            Self::Text(_) => None,
        }
    }
    fn text(&self) -> String {
        self.opt_text().unwrap_or_default()
    }
    fn opt_text(&self) -> Option<String> {
        match self {
            Self::Text(v) => v.clone(),
            Self::Int(_) => None,
        }
    }
}

/// A statement and its arguments.
type Statement = (&'static str, Vec<Arg>);

fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

fn sqlite_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    args: &[Arg],
) -> Result<Vec<Vec<Cell>>, StoreError> {
    let mut statement = conn.prepare_cached(&sqlite_sql(sql)).map_err(from_sqlite)?;
    let columns = statement.column_count();
    let mut rows = statement
        .query(rusqlite::params_from_iter(args.iter()))
        .map_err(from_sqlite)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(from_sqlite)? {
        let mut cells = Vec::with_capacity(columns);
        for i in 0..columns {
            use rusqlite::types::ValueRef;
            cells.push(match row.get_ref(i).map_err(from_sqlite)? {
                ValueRef::Integer(v) => Cell::Int(Some(v)),
                ValueRef::Text(t) => Cell::Text(Some(String::from_utf8_lossy(t).into_owned())),
                _ => Cell::Int(None),
            });
        }
        out.push(cells);
    }
    Ok(out)
}

fn postgres_cells(row: &tokio_postgres::Row) -> Result<Vec<Cell>, StoreError> {
    (0..row.len())
        .map(|i| {
            Ok(if *row.columns()[i].type_() == Type::TEXT {
                Cell::Text(row.try_get(i).map_err(from_postgres)?)
            } else {
                Cell::Int(row.try_get(i).map_err(from_postgres)?)
            })
        })
        .collect()
}

impl Store {
    /// Runs the statements in one transaction; returns the rows they return (`RETURNING`).
    async fn webhook_sql(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Cell>>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => {
                s.pool
                    .write(move |conn| {
                        let mut out = Vec::new();
                        for (sql, args) in &statements {
                            out.extend(sqlite_rows(conn, sql, args)?);
                        }
                        Ok(out)
                    })
                    .await
            }
            Backend::Postgres(p) => {
                let mut client = p.client().await?;
                let tx = client.transaction().await.map_err(from_postgres)?;
                let mut out = Vec::new();
                for (sql, args) in &statements {
                    let statement = tx.prepare_cached(sql).await.map_err(from_postgres)?;
                    let params: Vec<&(dyn ToSql + Sync)> =
                        args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
                    let rows = tx.query(&statement, &params).await.map_err(from_postgres)?;
                    for row in &rows {
                        out.push(postgres_cells(row)?);
                    }
                }
                tx.commit().await.map_err(from_postgres)?;
                Ok(out)
            }
        }
    }

    /// A read: one statement on a reader (SQLite) or a pooled connection (PostgreSQL).
    async fn webhook_read(
        &self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Vec<Vec<Cell>>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.pool.read(move |conn| sqlite_rows(conn, sql, &args)).await,
            Backend::Postgres(p) => {
                let client = p.client().await?;
                let statement = client.prepare_cached(sql).await.map_err(from_postgres)?;
                let params: Vec<&(dyn ToSql + Sync)> =
                    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
                let rows = client
                    .query(&statement, &params)
                    .await
                    .map_err(from_postgres)?;
                rows.iter().map(postgres_cells).collect()
            }
        }
    }

    /// Creates or replaces an endpoint.
    pub async fn webhook_save(&self, row: WebhookRow) -> Result<(), StoreError> {
        self.webhook_sql(vec![(
            r#"INSERT INTO "_fathom_webhooks" ("id", "spec", "secrets", "created_at", "updated_at")
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT ("id") DO UPDATE SET "spec" = excluded."spec",
                   "secrets" = excluded."secrets", "updated_at" = excluded."updated_at""#,
            vec![
                row.id.as_str().into(),
                row.spec.as_str().into(),
                row.secrets.as_str().into(),
                row.created_at_ms.into(),
                row.updated_at_ms.into(),
            ],
        )])
        .await
        .map(drop)
    }

    /// Every endpoint, oldest first.
    pub async fn webhooks(&self) -> Result<Vec<WebhookRow>, StoreError> {
        let rows = self
            .webhook_read(
                r#"SELECT "id", "spec", "secrets", "created_at", "updated_at" FROM "_fathom_webhooks" ORDER BY "created_at", "id""#,
                vec![],
            )
            .await?;
        Ok(rows.iter().map(|r| webhook_row(r)).collect())
    }

    /// One endpoint by id.
    pub async fn webhook(&self, id: &str) -> Result<Option<WebhookRow>, StoreError> {
        let rows = self
            .webhook_read(
                r#"SELECT "id", "spec", "secrets", "created_at", "updated_at" FROM "_fathom_webhooks" WHERE "id" = $1"#,
                vec![id.into()],
            )
            .await?;
        Ok(rows.first().map(|r| webhook_row(r)))
    }

    /// Removes an endpoint with its attempts, dead letters, replays, breaker and cursor, in one
    /// transaction. Returns whether it existed.
    pub async fn webhook_delete(&self, id: &str) -> Result<bool, StoreError> {
        let cursor = format!("webhook:{id}");
        let rows = self
            .webhook_sql(vec![
                (
                    r#"DELETE FROM "_fathom_webhook_attempts" WHERE "endpoint" = $1"#,
                    vec![id.into()],
                ),
                (
                    r#"DELETE FROM "_fathom_webhook_dead" WHERE "endpoint" = $1"#,
                    vec![id.into()],
                ),
                (
                    r#"DELETE FROM "_fathom_webhook_replays" WHERE "endpoint" = $1"#,
                    vec![id.into()],
                ),
                (
                    r#"DELETE FROM "_fathom_webhook_breakers" WHERE "endpoint" = $1"#,
                    vec![id.into()],
                ),
                (
                    r#"DELETE FROM "_fathom_cursors" WHERE "name" = $1"#,
                    vec![cursor.as_str().into()],
                ),
                (
                    r#"DELETE FROM "_fathom_webhooks" WHERE "id" = $1 RETURNING "id""#,
                    vec![id.into()],
                ),
            ])
            .await?;
        Ok(!rows.is_empty())
    }

    /// Appends one attempt to the log.
    pub async fn webhook_log_attempt(&self, a: AttemptRow) -> Result<(), StoreError> {
        self.webhook_log_attempts(vec![a]).await
    }

    /// Appends attempts to the log, in one transaction (a delivering node batches the
    /// attempts that succeeded, so the log costs one write per batch, not one per message).
    pub async fn webhook_log_attempts(&self, attempts: Vec<AttemptRow>) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let statements = attempts
            .into_iter()
            .map(|a| {
                (
                    r#"INSERT INTO "_fathom_webhook_attempts"
               ("endpoint", "seq", "event_id", "attempt", "at", "status", "duration_ms", "response", "error", "outcome")
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
                    vec![
                        a.endpoint.as_str().into(),
                        a.seq.into(),
                        a.event_id.as_str().into(),
                        a.attempt.into(),
                        a.at_ms.into(),
                        a.status.into(),
                        a.duration_ms.into(),
                        a.response.as_str().into(),
                        a.error.into(),
                        a.outcome.as_str().into(),
                    ],
                )
            })
            .collect();
        self.webhook_sql(statements).await.map(drop)
    }

    /// An endpoint's attempts, newest first, with ids below `before` when given.
    pub async fn webhook_attempts(
        &self,
        endpoint: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AttemptRow>, StoreError> {
        let rows = self
            .webhook_read(
                r#"SELECT "id", "endpoint", "seq", "event_id", "attempt", "at", "status", "duration_ms", "response", "error", "outcome"
                   FROM "_fathom_webhook_attempts" WHERE "endpoint" = $1 AND "id" < $2
                   ORDER BY "id" DESC LIMIT $3"#,
                vec![endpoint.into(), before.unwrap_or(i64::MAX).into(), limit.into()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AttemptRow {
                id: r[0].int(),
                endpoint: r[1].text(),
                seq: r[2].int(),
                event_id: r[3].text(),
                attempt: r[4].int(),
                at_ms: r[5].int(),
                status: r[6].opt_int(),
                duration_ms: r[7].int(),
                response: r[8].text(),
                error: r[9].opt_text(),
                outcome: r[10].text(),
            })
            .collect())
    }

    /// Records a dead letter (replacing an older one for the same message).
    pub async fn webhook_dead_letter(&self, d: DeadLetter) -> Result<(), StoreError> {
        self.webhook_sql(vec![(
            r#"INSERT INTO "_fathom_webhook_dead" ("endpoint", "seq", "event_id", "at", "attempts", "last_error")
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT ("endpoint", "seq") DO UPDATE SET "at" = excluded."at",
                   "attempts" = excluded."attempts", "last_error" = excluded."last_error""#,
            vec![
                d.endpoint.as_str().into(),
                d.seq.into(),
                d.event_id.as_str().into(),
                d.at_ms.into(),
                d.attempts.into(),
                d.last_error.as_str().into(),
            ],
        )])
        .await
        .map(drop)
    }

    /// An endpoint's dead letters, in sequence order.
    pub async fn webhook_dead_letters(
        &self,
        endpoint: &str,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let rows = self
            .webhook_read(
                r#"SELECT "endpoint", "seq", "event_id", "at", "attempts", "last_error"
                   FROM "_fathom_webhook_dead" WHERE "endpoint" = $1 ORDER BY "seq""#,
                vec![endpoint.into()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| DeadLetter {
                endpoint: r[0].text(),
                seq: r[1].int(),
                event_id: r[2].text(),
                at_ms: r[3].int(),
                attempts: r[4].int(),
                last_error: r[5].text(),
            })
            .collect())
    }

    /// Queues messages for delivery again (their dead letters, if any, are removed: a replay
    /// that fails again dead-letters anew). Returns how many were queued.
    pub async fn webhook_replay(
        &self,
        endpoint: &str,
        replay: Replay,
    ) -> Result<usize, StoreError> {
        let statements: Vec<Statement> = match replay {
            Replay::Range { from, to } => vec![
                (
                    r#"DELETE FROM "_fathom_webhook_dead" WHERE "endpoint" = $1 AND "seq" BETWEEN $2 AND $3"#,
                    vec![endpoint.into(), from.into(), to.into()],
                ),
                (
                    r#"INSERT INTO "_fathom_webhook_replays" ("endpoint", "seq")
                       SELECT $1, "seq" FROM "_fathom_events" WHERE "seq" BETWEEN $2 AND $3
                       ON CONFLICT DO NOTHING RETURNING "seq""#,
                    vec![endpoint.into(), from.into(), to.into()],
                ),
            ],
            Replay::DeadLetters => vec![
                (
                    r#"INSERT INTO "_fathom_webhook_replays" ("endpoint", "seq")
                       SELECT "endpoint", "seq" FROM "_fathom_webhook_dead" WHERE "endpoint" = $1
                       ON CONFLICT DO NOTHING RETURNING "seq""#,
                    vec![endpoint.into()],
                ),
                (
                    r#"DELETE FROM "_fathom_webhook_dead" WHERE "endpoint" = $1"#,
                    vec![endpoint.into()],
                ),
            ],
        };
        Ok(self.webhook_sql(statements).await?.len())
    }

    /// The oldest queued replays of an endpoint, in sequence order.
    pub async fn webhook_replays(
        &self,
        endpoint: &str,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let rows = self
            .webhook_read(
                r#"SELECT "seq" FROM "_fathom_webhook_replays" WHERE "endpoint" = $1 ORDER BY "seq" LIMIT $2"#,
                vec![endpoint.into(), limit.into()],
            )
            .await?;
        Ok(rows.iter().map(|r| r[0].int()).collect())
    }

    /// Takes a replay off the queue once it has been delivered or dead-lettered.
    pub async fn webhook_replay_done(&self, endpoint: &str, seq: i64) -> Result<(), StoreError> {
        self.webhook_sql(vec![(
            r#"DELETE FROM "_fathom_webhook_replays" WHERE "endpoint" = $1 AND "seq" = $2"#,
            vec![endpoint.into(), seq.into()],
        )])
        .await
        .map(drop)
    }
}

fn webhook_row(r: &[Cell]) -> WebhookRow {
    WebhookRow {
        id: r[0].text(),
        spec: r[1].text(),
        secrets: r[2].text(),
        created_at_ms: r[3].int(),
        updated_at_ms: r[4].int(),
    }
}
