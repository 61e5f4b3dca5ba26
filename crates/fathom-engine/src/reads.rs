//! Reads through the engine: a record by id, as a caller may see it (its view rule joins the
//! statement, so a record the caller may not see is simply not found).

use std::collections::BTreeSet;
use std::sync::Arc;

use fathom_query::default_sort;
use fathom_schema::Collection;
use fathom_store::{ListQuery, Record};
use uuid::Uuid;

use crate::access::rule;
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
            Some(rule) => {
                let ids = BTreeSet::from([id.hyphenated().to_string()]);
                let filter = column_in(self.schema(), collection, "id", &ids)?.and(rule);
                let query = ListQuery {
                    filter: Some(filter),
                    sort: default_sort(),
                    after: None,
                    limit: 1,
                    offset: 0,
                };
                Ok(self
                    .store()
                    .list(&scope, collection.clone(), query)
                    .await?
                    .pop())
            }
        }
    }
}
