//! Handing a unit of work to the store, and explaining a refused relation.
//!
//! Every record write goes through [`Engine::execute`]. It tells the engine's [`WriteObserver`]
//! that the write is now in the database's hands (a transport's time limit waits for it instead
//! of answering "retry") and, whatever the outcome, which collections it may have changed (a
//! result cache drops their answers before the write is answered). When the database refuses a
//! relation it finds out which field and which case it was: a relation pointing at a record that
//! does not exist, or a deleted record that others still point at. Neither database says so in a
//! form we can rely on (SQLite's foreign-key errors name nothing), so the explanation is read
//! back after the failure, from the schema and a few lookups; the successful path pays nothing
//! for it.

use std::collections::BTreeSet;
use std::sync::Arc;

use fathom_core::ErrorCode;
use fathom_schema::{Collection, FieldType, OnDelete, Value};
use fathom_store::{Scope, StoreErrorKind, UnitOfWork, WriteOp, WriteResult};
use uuid::Uuid;

use crate::engine::Engine;
use crate::error::EngineError;
use crate::filters::column_in;

/// What a transport wants to know about the writes the engine hands to the store.
pub trait WriteObserver: Send + Sync {
    /// The unit goes to the store now (its outcome may take a while, and may be unknown).
    fn handing_over(&self) {}
    /// A unit that wrote to `collection` ended, whatever its outcome (a failed write changed
    /// nothing, but an outcome that is unknown may have committed).
    fn touched(&self, _collection: &str) {}
}

/// What a relation violation of one operation could be about, kept before the operation is
/// handed to the store (which consumes it).
enum Probe {
    /// A create or update: the relation values it writes.
    Targets {
        collection: Arc<Collection>,
        relations: Vec<(String, Uuid)>,
    },
    /// A hard delete of this record.
    Removal {
        collection: Arc<Collection>,
        id: Uuid,
    },
    /// Nothing that can break a relation (a soft delete).
    Nothing,
}

fn probe(op: &WriteOp) -> Probe {
    match op {
        WriteOp::Create {
            collection, values, ..
        }
        | WriteOp::Update {
            collection, values, ..
        } => Probe::Targets {
            collection: collection.clone(),
            relations: relation_values(collection, values),
        },
        WriteOp::Delete { collection, id, .. } if !collection.soft_delete => Probe::Removal {
            collection: collection.clone(),
            id: *id,
        },
        WriteOp::Delete { .. } | WriteOp::Restore { .. } | WriteOp::Purge { .. } => Probe::Nothing,
    }
}

/// The non-null relation values among `values`.
fn relation_values(collection: &Collection, values: &[(String, Value)]) -> Vec<(String, Uuid)> {
    values
        .iter()
        .filter_map(
            |(name, value)| match (&collection.field(name)?.kind, value) {
                (FieldType::Relation { .. }, Value::Text(id)) => {
                    Some((name.clone(), Uuid::parse_str(id).ok()?))
                }
                _ => None,
            },
        )
        .collect()
}

impl Engine {
    /// Runs `work` (whose origin the caller has set) in the store. A relation violation comes
    /// back explained (see the module docs); any other refusal carries the store's kind.
    pub async fn execute(&self, work: UnitOfWork) -> Result<Vec<WriteResult>, EngineError> {
        let probes: Vec<Probe> = work.ops.iter().map(probe).collect();
        let scope = work.scope.clone();
        let touched: BTreeSet<String> = work
            .ops
            .iter()
            .map(|op| op.collection().name.clone())
            .collect();
        if let Some(observer) = self.observer() {
            observer.handing_over();
        }
        let outcome = self.store().execute(work).await;
        if let Some(observer) = self.observer() {
            touched.iter().for_each(|c| observer.touched(c));
        }
        match outcome {
            Ok(results) => Ok(results),
            Err(error) if error.kind == StoreErrorKind::ForeignKeyViolation => {
                let probe = error
                    .operation
                    .and_then(|index| probes.get(index))
                    .unwrap_or(&Probe::Nothing);
                let operation = error.operation;
                match self.explain(&scope, probe).await {
                    Some(mut explained) => {
                        explained.operation = operation;
                        Err(explained)
                    }
                    None => Err(error.into()),
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn explain(&self, scope: &Scope, probe: &Probe) -> Option<EngineError> {
        match probe {
            Probe::Targets {
                collection,
                relations,
            } => {
                let mut missing = Vec::new();
                for (field, id) in relations {
                    let Some(target) = self.relation_target(collection, field) else {
                        continue;
                    };
                    if let Ok(None) = self.store().get(scope, target.clone(), *id).await {
                        missing.push((field.as_str(), target.name.as_str()));
                    }
                }
                if missing.is_empty() {
                    // The target appeared since (or was removed by an earlier operation of the
                    // same batch): any relation written may be the one, so name them all.
                    missing = relations
                        .iter()
                        .filter_map(|(field, _)| {
                            let target = self.relation_target(collection, field)?;
                            Some((field.as_str(), target.name.as_str()))
                        })
                        .collect();
                }
                (!missing.is_empty()).then(|| missing_targets(&missing))
            }
            Probe::Removal { collection, id } => {
                Some(still_referenced(&self.referrers(collection, *id).await))
            }
            Probe::Nothing => None,
        }
    }

    fn relation_target(&self, collection: &Collection, field: &str) -> Option<&Arc<Collection>> {
        match &collection.field(field)?.kind {
            FieldType::Relation {
                collection: target, ..
            } => self.schema().collection(target),
            _ => None,
        }
    }

    /// The relation fields (`collection.field`) that keep a record of `collection` from being
    /// deleted: those whose `on_delete` is `restrict`, narrowed to the ones that hold `id` where
    /// a lookup can tell (soft-deleted referrers still count for the database, but are not
    /// visible to lookups, so when none is found every candidate is named).
    pub async fn referrers(&self, collection: &Collection, id: Uuid) -> Vec<String> {
        let schema = self.schema();
        let candidates: Vec<(&Arc<Collection>, &str)> = schema
            .collections
            .values()
            .flat_map(|referrer| {
                referrer
                    .fields
                    .iter()
                    .filter_map(move |field| match &field.kind {
                        FieldType::Relation {
                            collection: target,
                            on_delete: OnDelete::Restrict,
                        } if *target == collection.name => Some((referrer, field.name.as_str())),
                        _ => None,
                    })
            })
            .collect();
        let name =
            |(referrer, field): &(&Arc<Collection>, &str)| format!("{}.{field}", referrer.name);
        if candidates.len() < 2 {
            return candidates.iter().map(name).collect();
        }
        let key = BTreeSet::from([id.hyphenated().to_string()]);
        let mut holding = Vec::new();
        for candidate in &candidates {
            let (referrer, field) = candidate;
            let Ok(filter) = column_in(schema, referrer, field, &key) else {
                continue;
            };
            // Every tenant: the records that block the delete may belong to any of them. Only
            // the collection and field are reported, never a record.
            let count = self
                .store()
                .count(&Scope::AllTenants, (*referrer).clone(), Some(filter))
                .await;
            if count.is_ok_and(|n| n > 0) {
                holding.push(name(candidate));
            }
        }
        if holding.is_empty() {
            candidates.iter().map(name).collect()
        } else {
            holding
        }
    }
}

/// 409 `relation_violation` naming each relation (field, target collection) whose target does
/// not exist, with the code `not_found`.
pub fn missing_targets(missing: &[(&str, &str)]) -> EngineError {
    let detail = match missing {
        [(field, target)] => {
            format!("`{field}` points at a record of `{target}` that does not exist.")
        }
        _ => format!(
            "{} point at records that do not exist.",
            missing
                .iter()
                .map(|(field, _)| format!("`{field}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    missing.iter().fold(
        EngineError::new(
            ErrorCode::RelationViolation,
            detail,
            "Check that the related ids exist (and belong to the same tenant); create the related record first, or in the same batch.",
        ),
        |error, (field, target)| {
            error.with_field(
                field,
                "not_found",
                format!("No record of `{target}` has this id."),
            )
        },
    )
}

/// 409 `relation_violation` for a delete that records of `referrers` (`collection.field`) still
/// point at, with the code `still_referenced`.
pub fn still_referenced(referrers: &[String]) -> EngineError {
    let detail = if referrers.is_empty() {
        "Other records still point at this record, so it cannot be deleted.".to_owned()
    } else {
        format!(
            "Records still point at this record through {}, so it cannot be deleted.",
            referrers
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let error = EngineError::new(
        ErrorCode::RelationViolation,
        detail,
        "Delete the records that point at it, or point them elsewhere, first; or declare the relation with on_delete = \"cascade\" or \"set_null\".",
    );
    if referrers.is_empty() {
        return error.with_field(
            "id",
            "still_referenced",
            "Other records point at this record.",
        );
    }
    referrers.iter().fold(error, |error, referrer| {
        error.with_field(
            referrer,
            "still_referenced",
            format!("Records point at this one through `{referrer}`."),
        )
    })
}
