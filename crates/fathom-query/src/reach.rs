//! What the relation hops of a caller's filter may reach. A filter such as
//! `project.name ~ "Alp%"` reads records of another collection; answered over every project, it
//! would let a caller learn (through `count`, the order of a page or a cursor) the names of
//! projects that answer 404 to them. [`Filter::confine`] marks the caller's expression so that
//! each hop joins only the target records the caller may see (its list rule, its tenant); the
//! others read as null, as they do when expanded. Rules are not confined: they are the schema's
//! own policy and read every record they name.

use sea_query::{Expr, ExprTrait, Query};

use crate::check::{Filter, Node};
use crate::sql::{Dialect, constant};

/// What a caller may see of the records of a collection that a relation hop reaches.
#[derive(Debug, Clone, PartialEq)]
pub enum Reach {
    /// Every record (a collection anyone may list).
    Everything,
    /// No record: every path through the hop reads as null.
    Nothing,
    /// The records matching this filter, checked against the target collection.
    Matching(Filter),
}

impl Filter {
    /// Confines the relation hops of this (caller-supplied) filter to what `reach` says the
    /// caller may see of each target collection. A filter without hops is returned as it is.
    pub fn confine<E>(self, mut reach: impl FnMut(&str) -> Result<Reach, E>) -> Result<Filter, E> {
        let mut targets: Vec<String> = Vec::new();
        for path in self.paths() {
            for hop in path.hops {
                if !targets.contains(&hop.collection) {
                    targets.push(hop.collection);
                }
            }
        }
        if targets.is_empty() {
            return Ok(self);
        }
        let mut table = self.reach;
        for target in targets {
            let allowed = reach(&target)?;
            table.push((target, allowed));
        }
        Ok(Filter {
            root: Node::Confined(Box::new(self.root)),
            reach: table,
        })
    }
}

/// The condition a confined hop's joined row of `collection`, joined as `alias`, must meet.
/// A collection missing from `reach` reaches nothing (fail closed).
pub(crate) fn condition(
    reach: &[(String, Reach)],
    dialect: Dialect,
    alias: &str,
    collection: &str,
) -> Expr {
    match reach.iter().find(|(c, _)| c == collection).map(|(_, r)| r) {
        Some(Reach::Everything) => constant(true),
        None | Some(Reach::Nothing) => constant(false),
        // A rule on the target's own columns applies to the joined alias directly.
        Some(Reach::Matching(rule)) if rule.paths().iter().all(|p| p.hops.is_empty()) => {
            rule.condition_in(dialect, alias)
        }
        // A rule with hops of its own needs its own joins: the ids it allows, as a subquery.
        Some(Reach::Matching(rule)) => {
            let mut rows = Query::select();
            rows.column((collection.to_owned(), "id".to_owned()))
                .from(collection.to_owned());
            rule.apply_in(dialect, &mut rows, collection);
            Expr::col((alias.to_owned(), "id".to_owned())).in_subquery(rows)
        }
    }
}
