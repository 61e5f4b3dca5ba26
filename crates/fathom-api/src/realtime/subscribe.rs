//! A subscribe request checked into a live subscription, exactly as a list request is checked:
//! the collection must exist, the caller's list rule must allow it (401 or 403 otherwise), the
//! filter is parsed and type-checked against the schema, may not name hidden fields and has its
//! relation hops confined to what the caller may list; `fields` names readable fields. And the
//! snapshot: the records matching now, read through the store with the same filter and rule.

use fathom_events::{Subscription, SubscriptionSpec, Viewer};
use fathom_query::{Env, default_sort};
use fathom_store::ListQuery;
use serde_json::Value as Json;
use uuid::Uuid;

use super::protocol::{MAX_SUBSCRIPTION_ID, SubscribeRequest, invalid};
use crate::AppState;
use crate::error::ApiError;
use crate::records::access::{Principal, confine_hops, reject_hidden, rule};
use crate::records::fields::known_columns;
use crate::records::params::{self, parse_filter};
use crate::records::{record_json, resolve};

/// Checks `request` for `principal` into a subscription.
pub fn check(
    state: &AppState,
    principal: &Principal,
    request: &SubscribeRequest,
) -> Result<Subscription, ApiError> {
    if request.id.is_empty() || request.id.len() > MAX_SUBSCRIPTION_ID {
        return Err(invalid(format!(
            "A subscription id must have 1 to {MAX_SUBSCRIPTION_ID} bytes."
        )));
    }
    let schema = &state.schema;
    let collection = resolve(state, &request.collection)?;
    let list_rule = rule(schema, &collection, "list", principal, None)?;
    let filter = match &request.filter {
        Some(text) => {
            let filter = parse_filter(text, schema, &collection, &Env::default())?;
            reject_hidden(schema, &collection, principal, "filter", &filter.paths())?;
            Some(confine_hops(schema, principal, filter)?)
        }
        None => None,
    };
    let fields = match &request.fields {
        Some(names) => {
            let known = known_columns(&collection);
            for name in names {
                let readable = known.contains(name)
                    && (principal.is_admin() || !collection.field(name).is_some_and(|f| f.hidden));
                if !readable {
                    let shown: String = name.chars().take(64).collect();
                    return Err(params::invalid(
                        "fields",
                        format!("`{}` has no field `{shown}` you can read.", collection.name),
                        "Name fields of the collection, as REST's `fields` does.".into(),
                    ));
                }
            }
            Some(names.clone())
        }
        None => None,
    };
    if let Some(snapshot) = &request.snapshot {
        let max = state.realtime.settings.max_snapshot;
        if !(1..=max).contains(&snapshot.limit) {
            return Err(invalid(format!(
                "`snapshot.limit` must be from 1 to {max}, but is {}.",
                snapshot.limit
            )));
        }
    }
    Ok(Subscription::new(SubscriptionSpec {
        id: request.id.clone(),
        collection,
        filter,
        fields,
        viewer: Viewer {
            scope: principal.scope(),
            rule: list_rule,
            sees_hidden: principal.is_admin(),
        },
        max_tracked: state.realtime.settings.max_tracked,
    }))
}

/// The first `limit` records in view of `subscription` now (in `id` order), as the subscriber
/// sees them, with their ids and versions, and whether more match.
pub async fn snapshot(
    state: &AppState,
    subscription: &Subscription,
    limit: u32,
) -> Result<(Vec<Json>, Vec<(Uuid, i64)>, bool), ApiError> {
    let spec = subscription.spec();
    let query = ListQuery {
        filter: subscription.predicate().cloned(),
        sort: default_sort(),
        after: None,
        limit: limit + 1,
        offset: 0,
    };
    let mut records = state
        .store
        .list(&spec.viewer.scope, spec.collection.clone(), query)
        .await?;
    let more = records.len() > limit as usize;
    records.truncate(limit as usize);
    let versions = records.iter().map(|r| (r.id, r.version)).collect();
    let shaped = records
        .iter()
        .map(|r| match record_json(r) {
            Json::Object(map) => Json::Object(subscription.shape(&map)),
            other => other,
        })
        .collect();
    Ok((shaped, versions, more))
}
