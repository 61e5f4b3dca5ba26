//! One subscription: which events of a collection a subscriber receives, and how each is
//! announced to it.
//!
//! A record is *in view* of a subscription when the subscriber may read it (its tenant, its
//! collection's list rule as bound to the subscriber) and it matches the subscription's filter.
//! Each event is judged on the record as the event carries it (after the change; the last state
//! for a delete). The subscription remembers which records it has announced as in view (a
//! bounded set), which decides how a change is announced:
//!
//! | in view now | announced before | announced as |
//! |---|---|---|
//! | yes | no | `create` (a create event) or `enter` |
//! | yes | yes | `update` |
//! | no, but readable | yes, or the update wrote a field the filter or rule reads | `leave` |
//! | no, and not readable | yes | `leave` with the id only |
//! | no | no, and no such field written | nothing |
//! | deleted, readable (last state) | - | `delete` |
//! | deleted, not readable or no last state | yes | `delete` with the id only |
//! | hard-deleted (no last state), the rule reads every record of the subscriber's tenants | - | `delete` |
//!
//! A record the subscriber may read that an update took out of the filter is announced as
//! `leave` even if this subscription never announced it (after a resume it cannot know what the
//! client holds), which reveals nothing the subscriber could not read. Rules and filters that only read the record
//! itself are evaluated in memory; one that follows a relation is answered by the store (one
//! indexed read by id per event of that collection), since the related record is not in the event.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use fathom_query::{Env, FieldPath, Filter, ValueKind, check, default_sort, parse};
use fathom_schema::{Collection, Schema, TENANT_FIELD, Value};
use fathom_store::{Event, EventOperation, ListQuery, Scope, Store, StoreError};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

/// Who receives a subscription's events: what the subscriber may read of the collection.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The tenants the subscriber reaches.
    pub scope: Scope,
    /// The collection's list rule bound to the subscriber; `None` when nothing restricts it.
    pub rule: Option<Filter>,
    /// Whether hidden fields are shown (administrators).
    pub sees_hidden: bool,
}

/// What a subscription asks for, checked by the caller against the schema and the subscriber's
/// rights.
#[derive(Debug, Clone)]
pub struct SubscriptionSpec {
    pub id: String,
    pub collection: Arc<Collection>,
    /// The caller's filter (already confined to what its relation hops may reach).
    pub filter: Option<Filter>,
    /// The fields kept in each record (`id` always); `None` keeps every readable field.
    pub fields: Option<Vec<String>>,
    pub viewer: Viewer,
    /// The most records the subscription remembers as announced.
    pub max_tracked: usize,
}

/// How one event is announced on one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announce {
    Create,
    Update,
    Delete,
    Enter,
    Leave,
}

impl Announce {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Enter => "enter",
            Self::Leave => "leave",
        }
    }
}

/// One subscription's announcement of one event: whether it carries the record as the
/// subscriber may see it ([`Subscription::shape`]; not for a delete, nor for a leave of a record
/// it may no longer read).
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    pub announce: Announce,
    pub with_record: bool,
}

/// Why a subscription cannot go on.
#[derive(Debug)]
pub enum MatchError {
    /// It has announced more records than it may remember.
    Overflow,
    Store(StoreError),
}

/// A live subscription.
pub struct Subscription {
    spec: SubscriptionSpec,
    /// `filter AND rule`, whole.
    predicate: Option<Filter>,
    /// Whether the predicate follows a relation (then the store decides).
    through_store: bool,
    /// Whether the rule alone follows a relation.
    rule_through_store: bool,
    announced: HashSet<Uuid>,
    /// The versions a snapshot sent; events at or below them are already reflected.
    snapshot: HashMap<Uuid, i64>,
    /// The parts of [`Subscription::render_key`], made once: the id, then what decides
    /// [`Subscription::shape`] besides the record (the hidden fields removed, the selection),
    /// each length-prefixed so that no two different lists of parts read alike.
    key_id: String,
    key_shape: String,
    /// See [`Subscription::share_key`].
    share_key: String,
}

fn has_hops(filter: &Filter) -> bool {
    filter.paths().iter().any(|p| !p.hops.is_empty())
}

impl Subscription {
    pub fn new(spec: SubscriptionSpec) -> Self {
        let predicate = match (&spec.filter, &spec.viewer.rule) {
            (None, None) => None,
            (Some(f), None) | (None, Some(f)) => Some(f.clone()),
            (Some(f), Some(r)) => Some(f.clone().and(r.clone())),
        };
        let through_store = predicate.as_ref().is_some_and(has_hops);
        let rule_through_store = spec.viewer.rule.as_ref().is_some_and(has_hops);
        // The fields removed (named, should two connections serve different schema versions),
        // then the selection.
        let removed: Vec<&str> = spec
            .collection
            .fields
            .iter()
            .filter(|f| f.hidden && !spec.viewer.sees_hidden)
            .map(|f| f.name.as_str())
            .collect();
        let shape_key = format!("{removed:?}{:?}", spec.fields);
        let key_id = format!("{}:{}", spec.id.len(), spec.id);
        let key_shape = format!("|{}:{shape_key}", shape_key.len());
        // Everything an untracked subscription's judging and rendering read besides the event.
        let decides = format!(
            "{:?}{}{:?}",
            spec.collection.name, spec.collection.tenant_scoped, spec.viewer.scope
        );
        Self {
            share_key: format!("{key_id}|{}:{decides}{key_shape}", decides.len()),
            key_id,
            key_shape,
            spec,
            predicate,
            through_store,
            rule_through_store,
            announced: HashSet::new(),
            snapshot: HashMap::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.spec.id
    }

    pub fn collection(&self) -> &Arc<Collection> {
        &self.spec.collection
    }

    /// Appends to `key` what decides this subscription's part of an event frame: its id, how
    /// it announces the event, and (when the frame carries the record) its shape. Equal keys
    /// render to the same text.
    pub fn render_key(&self, delivery: Delivery, key: &mut String) {
        key.push_str(&self.key_id);
        key.push_str(delivery.announce.as_str());
        key.push_str(if delivery.with_record {
            &self.key_shape
        } else {
            "|0:"
        });
    }

    /// What alone decides how this subscription announces any event, when nothing else does:
    /// it remembers nothing (no filter, no rule) and has no snapshot left to skip. Then its id,
    /// collection, tenants and shape decide everything, and two subscriptions with the same key
    /// announce every event identically. `None` while the subscription's own memory matters.
    pub fn share_key(&self) -> Option<&str> {
        (!self.tracks() && self.snapshot.is_empty()).then_some(self.share_key.as_str())
    }

    pub fn spec(&self) -> &SubscriptionSpec {
        &self.spec
    }

    /// `filter AND rule`: what a snapshot reads.
    pub fn predicate(&self) -> Option<&Filter> {
        self.predicate.as_ref()
    }

    /// Remembers the records a snapshot sent (their ids and versions), so that events already
    /// reflected in it are not sent again.
    pub fn note_snapshot(&mut self, records: &[(Uuid, i64)]) -> Result<(), MatchError> {
        for (id, version) in records {
            self.snapshot.insert(*id, *version);
            self.remember(*id)?;
        }
        Ok(())
    }

    /// Whether the subscription remembers what it announced. One with neither filter nor rule
    /// has in view every record it may read, always: nothing can enter or leave it, so it has
    /// nothing to remember (and no bound on how many records it follows); an update is
    /// announced as `update`.
    fn tracks(&self) -> bool {
        self.predicate.is_some()
    }

    fn remember(&mut self, id: Uuid) -> Result<(), MatchError> {
        if !self.tracks() {
            return Ok(());
        }
        if self.announced.insert(id) && self.announced.len() > self.spec.max_tracked {
            return Err(MatchError::Overflow);
        }
        Ok(())
    }

    /// How `event` is announced on this subscription, if at all. `record` is the event's record
    /// with encrypted fields decrypted ([`crate::Shared::record_for`]).
    pub async fn judge(
        &mut self,
        schema: &Schema,
        store: &Store,
        event: &Event,
        record: Option<&Map<String, Json>>,
    ) -> Result<Option<Delivery>, MatchError> {
        if event.collection != self.spec.collection.name {
            return Ok(None);
        }
        // A delete carries the record's last version, which the snapshot may hold too: a record
        // in the snapshot was not yet deleted when it was read, so its delete always counts.
        if let Some(version) = self.snapshot.get(&event.record_id) {
            if event.version <= *version && event.operation != EventOperation::Delete {
                return Ok(None);
            }
            self.snapshot.remove(&event.record_id);
        }
        let announced = self.announced.contains(&event.record_id);
        let Some(record) = record else {
            // A hard delete keeps no last state to judge. A subscriber told of the record hears
            // it went; so does one whose rule lets it read every record of its tenants (after a
            // resume it may hold the record without this connection knowing; an id it never
            // held is ignored by the client and reveals nothing it could not read).
            let told = announced
                || (self.spec.viewer.rule.is_none() && self.in_tenant(event.tenant.as_deref()));
            return Ok(told.then(|| self.gone(event)));
        };
        let tenant = record.get(TENANT_FIELD).and_then(Json::as_str);
        let readable =
            self.in_tenant(tenant) && self.readable(schema, store, event, record).await?;
        let in_view = readable && self.matches(schema, store, event, record).await?;
        let delivery = match (event.operation, in_view) {
            (EventOperation::Delete, _) if readable || announced => Some(self.gone(event)),
            (EventOperation::Delete, _) => None,
            (_, true) => {
                // Untracked, only a create is news: anything else was in view before.
                let known =
                    announced || (!self.tracks() && event.operation != EventOperation::Create);
                let announce = match (event.operation, known) {
                    (_, true) => Announce::Update,
                    (EventOperation::Create, false) => Announce::Create,
                    (_, false) => Announce::Enter,
                };
                self.remember(event.record_id)?;
                Some(Delivery {
                    announce,
                    with_record: true,
                })
            }
            (_, false) if announced || (readable && self.may_have_left(event)) => {
                self.announced.remove(&event.record_id);
                Some(Delivery {
                    announce: Announce::Leave,
                    with_record: readable,
                })
            }
            (_, false) => None,
        };
        Ok(delivery)
    }

    /// Whether an update could have taken a record out of view: it wrote a field the filter or
    /// the rule reads (a relation hop counts as its relation field). A create never leaves, and
    /// an update of other fields leaves a record that does not match now as unmatched as before.
    fn may_have_left(&self, event: &Event) -> bool {
        event.operation == EventOperation::Update
            && self.predicate.as_ref().is_some_and(|predicate| {
                predicate.paths().iter().any(|path| {
                    let column = path.hops.first().map_or(&path.column, |hop| &hop.field);
                    event.changed.iter().any(|c| c == column)
                })
            })
    }

    fn gone(&mut self, event: &Event) -> Delivery {
        self.announced.remove(&event.record_id);
        let announce = if event.operation == EventOperation::Delete {
            Announce::Delete
        } else {
            Announce::Leave
        };
        Delivery {
            announce,
            with_record: false,
        }
    }

    /// Whether a record of `tenant` is within the subscriber's tenants.
    fn in_tenant(&self, tenant: Option<&str>) -> bool {
        if !self.spec.collection.tenant_scoped {
            return true;
        }
        match &self.spec.viewer.scope {
            Scope::AllTenants => true,
            Scope::NoTenant => false,
            Scope::Tenant(mine) => tenant == Some(mine.as_str()),
        }
    }

    /// Whether the subscriber's rule lets it read the record.
    async fn readable(
        &self,
        schema: &Schema,
        store: &Store,
        event: &Event,
        record: &Map<String, Json>,
    ) -> Result<bool, MatchError> {
        match &self.spec.viewer.rule {
            None => Ok(true),
            Some(rule) if self.rule_through_store => {
                self.stored_match(schema, store, event, rule).await
            }
            Some(rule) => Ok(rule.matches(&|path| lookup(record, path))),
        }
    }

    /// Whether the record matches `filter AND rule`.
    async fn matches(
        &self,
        schema: &Schema,
        store: &Store,
        event: &Event,
        record: &Map<String, Json>,
    ) -> Result<bool, MatchError> {
        match &self.predicate {
            None => Ok(true),
            Some(predicate) if self.through_store => {
                self.stored_match(schema, store, event, predicate).await
            }
            Some(predicate) => Ok(predicate.matches(&|path| lookup(record, path))),
        }
    }

    /// Asks the store whether the record (as stored now) matches `filter`, within the
    /// subscriber's tenants.
    async fn stored_match(
        &self,
        schema: &Schema,
        store: &Store,
        event: &Event,
        filter: &Filter,
    ) -> Result<bool, MatchError> {
        let collection = &self.spec.collection;
        // The id is a parsed uuid, so the text below is a well-formed literal.
        let text = format!("id = \"{}\"", event.record_id.hyphenated());
        let by_id = parse(&text)
            .ok()
            .and_then(|expr| check(&expr, &text, schema, collection, &Env::default()).ok())
            .unwrap_or_else(Filter::always);
        let query = ListQuery {
            filter: Some(by_id.and(filter.clone())),
            sort: default_sort(),
            after: None,
            limit: 1,
            offset: 0,
        };
        let found = store
            .list(&self.spec.viewer.scope, collection.clone(), query)
            .await
            .map_err(MatchError::Store)?;
        Ok(!found.is_empty())
    }

    /// The record as the subscriber may see it: hidden fields removed, then the selection.
    pub fn shape(&self, record: &Map<String, Json>) -> Map<String, Json> {
        let mut shaped = record.clone();
        if !self.spec.viewer.sees_hidden {
            for field in self.spec.collection.fields.iter().filter(|f| f.hidden) {
                shaped.remove(&field.name);
            }
        }
        if let Some(fields) = &self.spec.fields {
            shaped.retain(|key, _| key == "id" || fields.iter().any(|f| f == key));
        }
        shaped
    }
}

/// The value at `path` of a record in its API JSON form, as the expression language compares
/// it. Paths through relations never reach here (those filters are answered by the store).
/// Webhooks evaluate their filters with it too.
pub fn lookup(record: &Map<String, Json>, path: &FieldPath) -> Value {
    if !path.hops.is_empty() {
        return Value::Null;
    }
    match record.get(&path.column) {
        None | Some(Json::Null) => Value::Null,
        Some(json) if path.kind == ValueKind::Json => Value::Json(json.clone()),
        Some(Json::Bool(b)) => Value::Bool(*b),
        Some(Json::String(s)) => Value::Text(s.clone()),
        Some(Json::Number(n)) => match (path.kind, n.as_i64()) {
            (ValueKind::Integer, Some(i)) => Value::Integer(i),
            _ => n.as_f64().map_or(Value::Null, Value::Number),
        },
        Some(other) => Value::Json(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(column: &str, kind: ValueKind) -> FieldPath {
        FieldPath {
            hops: Vec::new(),
            column: column.into(),
            kind,
        }
    }

    #[test]
    fn record_json_reads_as_the_values_the_evaluator_compares() {
        let record: Map<String, Json> = serde_json::from_value(serde_json::json!({
            "n": 3, "x": 2.5, "ok": true, "name": "a", "meta": {"k": 1}, "gone": null,
        }))
        .unwrap_or_default();
        assert_eq!(
            lookup(&record, &path("n", ValueKind::Integer)),
            Value::Integer(3)
        );
        assert_eq!(
            lookup(&record, &path("n", ValueKind::Number)),
            Value::Number(3.0)
        );
        assert_eq!(
            lookup(&record, &path("x", ValueKind::Number)),
            Value::Number(2.5)
        );
        assert_eq!(
            lookup(&record, &path("ok", ValueKind::Bool)),
            Value::Bool(true)
        );
        assert_eq!(
            lookup(&record, &path("name", ValueKind::Text)),
            Value::Text("a".into())
        );
        assert_eq!(
            lookup(&record, &path("meta", ValueKind::Json)),
            Value::Json(serde_json::json!({"k": 1}))
        );
        assert_eq!(lookup(&record, &path("gone", ValueKind::Text)), Value::Null);
        assert_eq!(
            lookup(&record, &path("missing", ValueKind::Text)),
            Value::Null
        );
    }
}
