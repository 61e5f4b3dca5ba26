//! The outbox on PostgreSQL.
//!
//! A plain sequence would not do: its values are taken at INSERT and become visible at COMMIT,
//! so a reader could see 11 before 10 commits. Instead events are inserted under staging
//! numbers (negative, from `_fathom_event_staging`), and a deferred constraint trigger
//! (`_fathom_number_event`, one call per event row, in insertion order) numbers them during
//! COMMIT from one counter row (`UPDATE ... SET last = last + 1 RETURNING last`) and sends
//! `pg_notify('fathom_events', n)`, which is delivered only if the transaction commits. The
//! counter row's lock serialises that final step: the next transaction can take numbers only
//! once the previous holder has committed (or rolled back, giving its numbers back), so numbers
//! are gap-free and become visible in order; and since the trigger runs inside COMMIT, the lock
//! is held for the commit alone, never across a round trip to the client.
//!
//! Every node follows the outbox with [`follow`]: a dedicated connection that LISTENs on
//! `fathom_events` (a wake-up only) and also reads the counter every second (the table is the
//! truth), reconnecting with backoff.

use std::sync::{Arc, Weak};
use std::time::Duration;

use deadpool_postgres::GenericClient;
use tokio::sync::watch;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::error::{StoreError, from_postgres};
use crate::events::{
    Draft, EventPage, Origin, PRUNE_BATCH, Retention, StoredEvent, StoredJson, advance,
};

pub(crate) const TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS "_fathom_events" (
    "seq" bigint PRIMARY KEY,
    "id" text NOT NULL,
    "collection" text NOT NULL,
    "record_id" text NOT NULL,
    "operation" text NOT NULL,
    "version" bigint NOT NULL,
    "tenant" text COLLATE "C",
    "changed" text NOT NULL,
    "record" text,
    "actor_type" text NOT NULL,
    "actor_id" text,
    "request_id" text,
    "committed_at" text NOT NULL
);
CREATE INDEX IF NOT EXISTS "_fathom_events_tenant" ON "_fathom_events" ("tenant", "seq");
CREATE TABLE IF NOT EXISTS "_fathom_event_counter" (
    "id" integer PRIMARY KEY CHECK ("id" = 1),
    "last" bigint NOT NULL
);
INSERT INTO "_fathom_event_counter" ("id", "last") VALUES (1, 0) ON CONFLICT DO NOTHING;
CREATE SEQUENCE IF NOT EXISTS "_fathom_event_staging";
CREATE OR REPLACE FUNCTION "_fathom_number_event"() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
    n bigint;
BEGIN
    UPDATE "_fathom_event_counter" SET "last" = "last" + 1 WHERE "id" = 1 RETURNING "last" INTO n;
    UPDATE "_fathom_events" SET "seq" = n WHERE "seq" = NEW."seq";
    PERFORM pg_notify('fathom_events', n::text);
    RETURN NULL;
END
$f$;
DO $d$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '_fathom_events_number') THEN
        CREATE CONSTRAINT TRIGGER "_fathom_events_number" AFTER INSERT ON "_fathom_events"
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "_fathom_number_event"();
    END IF;
END
$d$;
"#;

/// The channel every node LISTENs on; the payload is the latest sequence.
pub(crate) const CHANNEL: &str = "fathom_events";

const APPEND: &str = r#"
INSERT INTO "_fathom_events" ("seq", "id", "collection", "record_id", "operation", "version",
    "tenant", "changed", "record", "actor_type", "actor_id", "request_id", "committed_at")
SELECT -nextval('"_fathom_event_staging"'), "d"."id", "d"."collection", "d"."record_id",
    "d"."operation", "d"."version", "d"."tenant", "d"."changed", "d"."record",
    $9, $10, $11, $12
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[],
    $7::text[], $8::text[])
    WITH ORDINALITY AS "d"("id", "collection", "record_id", "operation", "version", "tenant",
        "changed", "record", "n")
ORDER BY "d"."n"
"#;

const COLUMNS: &str = r#""seq", "id", "collection", "record_id", "operation", "version", "tenant", "changed", "record", "actor_type", "actor_id", "request_id", "committed_at""#;

const LATEST: &str = r#"SELECT "last" FROM "_fathom_event_counter" WHERE "id" = 1"#;
const OLDEST: &str = r#"SELECT COALESCE(MIN("seq"), 0) FROM "_fathom_events""#;

/// Appends the events of one transaction under staging numbers; the deferred trigger numbers
/// them (and notifies) during COMMIT.
pub(crate) async fn append<C: GenericClient>(
    tx: &C,
    drafts: &[Draft],
    origin: &Origin,
) -> Result<(), StoreError> {
    if drafts.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(drafts.len());
    let mut collections = Vec::with_capacity(drafts.len());
    let mut record_ids = Vec::with_capacity(drafts.len());
    let mut operations = Vec::with_capacity(drafts.len());
    let mut versions = Vec::with_capacity(drafts.len());
    let mut tenants = Vec::with_capacity(drafts.len());
    let mut changed = Vec::with_capacity(drafts.len());
    let mut records = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let json = StoredJson::of(draft);
        ids.push(draft.id.hyphenated().to_string());
        collections.push(draft.collection.clone());
        record_ids.push(draft.record_id.hyphenated().to_string());
        operations.push(draft.operation.as_str().to_owned());
        versions.push(draft.version);
        tenants.push(draft.tenant.clone());
        changed.push(json.changed);
        records.push(json.record);
    }
    let (actor_type, actor_id) = origin.actor.columns();
    let committed_at = fathom_schema::value::now_timestamp();
    let statement = tx.prepare_cached(APPEND).await.map_err(from_postgres)?;
    tx.execute(
        &statement,
        &[
            &ids,
            &collections,
            &record_ids,
            &operations,
            &versions,
            &tenants,
            &changed,
            &records,
            &actor_type,
            &actor_id,
            &origin.request_id,
            &committed_at,
        ],
    )
    .await
    .map_err(from_postgres)?;
    Ok(())
}

/// The highest sequence ever taken.
pub(crate) async fn latest<C: GenericClient>(client: &C) -> Result<i64, StoreError> {
    let statement = client.prepare_cached(LATEST).await.map_err(from_postgres)?;
    let row = client
        .query_opt(&statement, &[])
        .await
        .map_err(from_postgres)?;
    row.map_or(Ok(0), |r| r.try_get(0).map_err(from_postgres))
}

async fn oldest<C: GenericClient>(client: &C) -> Result<i64, StoreError> {
    let statement = client.prepare_cached(OLDEST).await.map_err(from_postgres)?;
    client
        .query_one(&statement, &[])
        .await
        .map_err(from_postgres)?
        .try_get(0)
        .map_err(from_postgres)
}

fn read_event(row: &tokio_postgres::Row) -> Result<StoredEvent, tokio_postgres::Error> {
    Ok(StoredEvent {
        sequence: row.try_get(0)?,
        id: row.try_get(1)?,
        collection: row.try_get(2)?,
        record_id: row.try_get(3)?,
        operation: row.try_get(4)?,
        version: row.try_get(5)?,
        tenant: row.try_get(6)?,
        changed: row.try_get(7)?,
        record: row.try_get(8)?,
        actor_type: row.try_get(9)?,
        actor_id: row.try_get(10)?,
        request_id: row.try_get(11)?,
        committed_at: row.try_get(12)?,
    })
}

/// Events after `after`, read in one REPEATABLE READ snapshot so the page and its bounds agree.
pub(crate) async fn after(
    client: &mut deadpool_postgres::Client,
    after: i64,
    limit: usize,
    tenant: Option<&str>,
) -> Result<EventPage, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(from_postgres)?;
    let rows = match tenant {
        None => {
            let sql = format!(
                r#"SELECT {COLUMNS} FROM "_fathom_events" WHERE "seq" > $1 ORDER BY "seq" LIMIT $2"#
            );
            let statement = tx.prepare_cached(&sql).await.map_err(from_postgres)?;
            tx.query(&statement, &[&after, &limit])
                .await
                .map_err(from_postgres)?
        }
        Some(tenant) => {
            let sql = format!(
                r#"SELECT {COLUMNS} FROM "_fathom_events" WHERE "tenant" = $1 AND "seq" > $2 ORDER BY "seq" LIMIT $3"#
            );
            let statement = tx.prepare_cached(&sql).await.map_err(from_postgres)?;
            tx.query(&statement, &[&tenant, &after, &limit])
                .await
                .map_err(from_postgres)?
        }
    };
    let events = rows
        .iter()
        .map(|row| read_event(row).map_err(from_postgres)?.decode())
        .collect::<Result<Vec<_>, _>>()?;
    let page = EventPage {
        events,
        oldest: oldest(&tx).await?,
        latest: latest(&tx).await?,
    };
    tx.commit().await.map_err(from_postgres)?;
    Ok(page)
}

/// Removes at most one batch of the oldest events past `retention` (a prefix, never the
/// latest, never past the cursors named in `held_by`); returns how many. The cursors are read
/// before the bound, and a cursor only moves forward (a rewind is an administrator's replay),
/// so the bound stays safe until the DELETE.
pub(crate) async fn prune(
    client: &deadpool_postgres::Client,
    retention: Retention,
    held_by: &[String],
) -> Result<usize, StoreError> {
    let first = oldest(client).await?;
    if first == 0 {
        return Ok(0);
    }
    let last = latest(client).await?;
    let cutoff = crate::events::age_cutoff(retention.max_age);
    let statement = client
        .prepare_cached(
            r#"SELECT MAX("seq") FROM (SELECT "seq", "committed_at" FROM "_fathom_events"
               ORDER BY "seq" LIMIT $1) AS "b" WHERE "committed_at" < $2"#,
        )
        .await
        .map_err(from_postgres)?;
    let by_age: Option<i64> = client
        .query_one(&statement, &[&PRUNE_BATCH, &cutoff])
        .await
        .map_err(from_postgres)?
        .try_get(0)
        .map_err(from_postgres)?;
    let statement = client
        .prepare_cached(r#"SELECT MIN("position") FROM "_fathom_cursors" WHERE "name" = ANY($1)"#)
        .await
        .map_err(from_postgres)?;
    let held: Option<i64> = client
        .query_one(&statement, &[&held_by])
        .await
        .map_err(from_postgres)?
        .try_get(0)
        .map_err(from_postgres)?;
    let Some(upto) = crate::events::prune_bound(first, last, by_age, retention, held) else {
        return Ok(0);
    };
    let statement = client
        .prepare_cached(r#"DELETE FROM "_fathom_events" WHERE "seq" <= $1"#)
        .await
        .map_err(from_postgres)?;
    let removed = client
        .execute(&statement, &[&upto])
        .await
        .map_err(from_postgres)?;
    Ok(usize::try_from(removed).unwrap_or(usize::MAX))
}

/// How often a node reads the counter even without a notification.
const POLL: Duration = Duration::from_secs(1);

/// Follows the outbox for as long as the store lives (it holds the watch weakly): LISTENs on a
/// dedicated connection and advances the watch on every notification, reads the counter every
/// [`POLL`], and reconnects with backoff (up to 5 s) when the connection fails.
pub(crate) async fn follow(config: tokio_postgres::Config, watch: Weak<watch::Sender<i64>>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if watch.strong_count() == 0 {
            return;
        }
        match listen(&config, &watch).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e.detail, retry_in_ms = backoff.as_millis() as u64, "the event listener lost its PostgreSQL connection");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// One listening connection's life: `Ok` when the store is gone, `Err` when the connection is.
async fn listen(
    config: &tokio_postgres::Config,
    watch: &Weak<watch::Sender<i64>>,
) -> Result<(), StoreError> {
    let (client, mut connection) = config.connect(NoTls).await.map_err(from_postgres)?;
    let (notes_tx, mut notes) = tokio::sync::mpsc::unbounded_channel::<Option<i64>>();
    // The connection delivers notifications only while it is polled.
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(note))) => {
                    let _ = notes_tx.send(note.payload().parse().ok());
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
    });
    let _stop_driver = AbortOnDrop(driver);
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(from_postgres)?;
    let mut poll = tokio::time::interval(POLL);
    loop {
        let Some(sender) = watch.upgrade() else {
            return Ok(());
        };
        tokio::select! {
            note = notes.recv() => match note {
                Some(Some(latest)) => advance(&sender, latest),
                Some(None) => advance(&sender, counter(&client).await?),
                None => return Err(StoreError::new(
                    crate::StoreErrorKind::Unavailable,
                    "the listening connection closed",
                )),
            },
            _ = poll.tick() => advance(&sender, counter(&client).await?),
        }
    }
}

async fn counter(client: &tokio_postgres::Client) -> Result<i64, StoreError> {
    let row = client.query_opt(LATEST, &[]).await.map_err(from_postgres)?;
    row.map_or(Ok(0), |r| r.try_get(0).map_err(from_postgres))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts [`follow`] for a store's watch.
pub(crate) fn spawn_follower(config: tokio_postgres::Config, watch: &Arc<watch::Sender<i64>>) {
    tokio::spawn(follow(config, Arc::downgrade(watch)));
}
