//! Reads through the engine: a record by id, a page, a count, as a caller may see them (the
//! view or list rule joins the statement, so a record the caller may not see is simply not
//! there, and the caller's relation hops reach only what it may list).

use std::collections::BTreeSet;
use std::sync::Arc;

use fathom_core::ErrorCode;
use fathom_query::{Filter, SortKey, default_sort};
use fathom_schema::{Collection, Value};
use fathom_store::{Deleted, ListQuery, Record, Scope};
use uuid::Uuid;

use crate::access::{confine_hops, rule};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::filters::column_in;
use crate::principal::Principal;

impl Engine {
    /// The record `id` of `collection` if `principal` may view it (its view rule, its tenant);
    /// `None` otherwise, as if it did not exist.
    pub async fn get(
        &self,
        principal: &Principal,
        collection: &Arc<Collection>,
        id: Uuid,
    ) -> Result<Option<Record>, EngineError> {
        let scope = principal.scope();
        match rule(self.schema(), collection, "view", principal, None)? {
            None => Ok(self.store().get(&scope, collection.clone(), id).await?),
            Some(rule) => Ok(self.by_id(&scope, collection, id, Some(rule)).await?),
        }
    }

    /// The records of `collection` whose `column` holds one of `keys`, as `principal` may list
    /// them (the list rule joins the statement; its tenant), at most `limit`, oldest first:
    /// what an expansion of a relation loads for a whole page.
    pub async fn related(
        &self,
        principal: &Principal,
        collection: &Arc<Collection>,
        column: &str,
        keys: &BTreeSet<String>,
        limit: u32,
    ) -> Result<Vec<Record>, EngineError> {
        let guard = rule(self.schema(), collection, "list", principal, None)?;
        self.keyed(&principal.scope(), collection, column, keys, guard, limit)
            .await
    }

    /// Record `id` of `collection` in `scope` if `guard` (a rule's filter) lets it through.
    pub(crate) async fn by_id(
        &self,
        scope: &Scope,
        collection: &Arc<Collection>,
        id: Uuid,
        guard: Option<Filter>,
    ) -> Result<Option<Record>, EngineError> {
        let ids = BTreeSet::from([id.hyphenated().to_string()]);
        Ok(self
            .keyed(scope, collection, "id", &ids, guard, 1)
            .await?
            .pop())
    }

    /// The records of `collection` in `scope` whose `column` holds one of `keys` and which
    /// `guard` lets through, at most `limit`, oldest first.
    async fn keyed(
        &self,
        scope: &Scope,
        collection: &Arc<Collection>,
        column: &str,
        keys: &BTreeSet<String>,
        guard: Option<Filter>,
        limit: u32,
    ) -> Result<Vec<Record>, EngineError> {
        let mut filter = column_in(self.schema(), collection, column, keys)?;
        if let Some(guard) = guard {
            filter = filter.and(guard);
        }
        let query = ListQuery {
            filter: Some(filter),
            sort: default_sort(),
            after: None,
            limit,
            offset: 0,
        };
        Ok(self.store().list(scope, collection.clone(), query).await?)
    }
}

/// A page of records as a transport asked for it (parsed and checked against the schema).
pub struct Listing<'a> {
    /// The caller's own filter: its relation hops reach only what the caller may list there.
    pub filter: Option<Filter>,
    pub sort: &'a [SortKey],
    /// Keyset paging: the sort values of the last record of the previous page.
    pub after: Option<&'a [Value]>,
    pub limit: u32,
    pub offset: u64,
    pub deleted: Deleted,
    /// Whether the total of matching records is wanted too.
    pub count: bool,
    /// The expanded relation paths (`author`, `author.org`), recorded with the read's shape.
    pub expand: &'a [String],
}

/// A page of records the caller may list.
#[derive(Debug)]
pub struct Page {
    pub records: Vec<Record>,
    /// Whether another page follows.
    pub more: bool,
    /// The total of matching records, when asked for.
    pub total: Option<u64>,
}

/// Refuses a non-administrator's request for deleted records.
pub fn check_deleted(principal: &Principal, deleted: Deleted) -> Result<(), EngineError> {
    if deleted != Deleted::Hidden && !principal.is_admin() {
        return Err(EngineError::new(
            ErrorCode::Forbidden,
            "Only administrators may list deleted records.",
            "Leave out `deleted`, or sign in as an administrator.",
        ));
    }
    Ok(())
}

impl Engine {
    /// The caller's filter confined to what it may reach through relations, joined with the
    /// collection's list rule for the caller.
    fn list_filter(
        &self,
        principal: &Principal,
        collection: &Collection,
        filter: Option<Filter>,
    ) -> Result<Option<Filter>, EngineError> {
        let filter = match filter {
            Some(filter) => Some(confine_hops(self.schema(), principal, filter)?),
            None => None,
        };
        Ok(
            match (
                rule(self.schema(), collection, "list", principal, None)?,
                filter,
            ) {
                (Some(rule), Some(filter)) => Some(filter.and(rule)),
                (Some(rule), None) => Some(rule),
                (None, filter) => filter,
            },
        )
    }

    /// A page of the records of `collection` that `principal` may list (its list rule, its
    /// tenant), matching the listing's filter, in its order.
    pub async fn list(
        &self,
        principal: &Principal,
        collection: &Arc<Collection>,
        listing: Listing<'_>,
    ) -> Result<Page, EngineError> {
        check_deleted(principal, listing.deleted)?;
        let filter = self.list_filter(principal, collection, listing.filter)?;
        let (listed, counted) = if listing.count {
            (filter.clone(), filter)
        } else {
            (filter, None)
        };
        // One record more than asked tells whether another page follows.
        let query = ListQuery {
            filter: listed,
            sort: listing.sort.to_vec(),
            after: listing.after.map(<[Value]>::to_vec),
            limit: listing.limit + 1,
            offset: listing.offset,
        };
        let scope = principal.scope();
        let mut records = self
            .store()
            .list_expanding(
                &scope,
                collection.clone(),
                query,
                listing.deleted,
                listing.expand,
            )
            .await?;
        let more = records.len() > listing.limit as usize;
        records.truncate(listing.limit as usize);
        let total = if listing.count {
            Some(
                self.store()
                    .count_with(&scope, collection.clone(), counted, listing.deleted)
                    .await?,
            )
        } else {
            None
        };
        Ok(Page {
            records,
            more,
            total,
        })
    }

    /// How many records of `collection` matching `filter` `principal` may list.
    pub async fn count(
        &self,
        principal: &Principal,
        collection: &Arc<Collection>,
        filter: Option<Filter>,
    ) -> Result<u64, EngineError> {
        let filter = self.list_filter(principal, collection, filter)?;
        Ok(self
            .store()
            .count(&principal.scope(), collection.clone(), filter)
            .await?)
    }
}
