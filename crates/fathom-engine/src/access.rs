//! Who may do what to records. Every operation of a collection has a rule in the schema: none
//! means administrators only (deny by default), `true` means anyone, and an expression is a
//! filter over `auth.*`, `request.body.*` and the record. List and view rules join the SQL
//! WHERE (a caller never receives, counts or pages through a row it may not see); update and
//! delete rules guard the statement against the stored row (a forbidden record answers 404);
//! create rules are checked against the incoming record. Hidden fields are for administrators.

use std::collections::BTreeSet;

use fathom_auth::scopes_allow;
use fathom_core::ErrorCode;
use fathom_query::{Env, FieldPath, Filter, Reach, check, parse};
use fathom_schema::{Collection, Rule, Schema, TENANT_FIELD, Value};
use fathom_store::{Record, Scope, StoreErrorKind};
use serde_json::{Map, Value as Json};

use crate::error::EngineError;
use crate::filters::column_in;
use crate::principal::Principal;

impl Principal {
    /// The refusal of a whole operation: 401 for an anonymous caller, 403 otherwise.
    pub fn denied(&self, operation: &str, collection: &str) -> EngineError {
        match self {
            Self::Anonymous => EngineError::new(
                ErrorCode::Unauthorized,
                format!("Signing in is required to {operation} records of `{collection}`."),
                "Send `Authorization: Bearer <access_token>` from /api/v1/auth/login.",
            ),
            Self::Service(key) => EngineError::new(
                ErrorCode::Forbidden,
                format!(
                    "The API key `{}` may not {operation} records of `{collection}`.",
                    key.name
                ),
                format!("Use a key with the scope `{collection}:{operation}`."),
            ),
            _ => EngineError::new(
                ErrorCode::Forbidden,
                format!("You may not {operation} records of `{collection}`."),
                "Ask an administrator for access.",
            ),
        }
    }
}

/// The rule of `operation` on `collection` for `principal`: `Ok(None)` when nothing restricts
/// it, a filter the records must match, or a refusal.
pub fn rule(
    schema: &Schema,
    collection: &Collection,
    operation: &str,
    principal: &Principal,
    body: Option<&Map<String, Json>>,
) -> Result<Option<Filter>, EngineError> {
    if principal.is_admin() {
        return Ok(None);
    }
    if let Principal::Service(key) = principal {
        return if scopes_allow(&key.scopes, &collection.name, operation) {
            Ok(None)
        } else {
            Err(principal.denied(operation, &collection.name))
        };
    }
    match collection.rules.get(operation) {
        None => Err(principal.denied(operation, &collection.name)),
        Some(Rule::Public) => Ok(None),
        Some(Rule::Expression(text)) => {
            let expr = parse(text).map_err(|e| {
                EngineError::internal(format!("the {operation} rule of {}: {e}", collection.name))
            })?;
            check(&expr, text, schema, collection, &principal.env(body))
                .map(Some)
                .map_err(|e| {
                    EngineError::internal(format!(
                        "the {operation} rule of {}: {e}",
                        collection.name
                    ))
                })
        }
    }
}

/// Confines the relation hops of a caller's `filter` to the records the caller may list of each
/// target collection (its list rule, within the caller's tenant); the others read as null, as
/// they do when expanded. Administrators and API keys reach every record, as they do today.
pub fn confine_hops(
    schema: &Schema,
    principal: &Principal,
    filter: Filter,
) -> Result<Filter, EngineError> {
    if matches!(
        principal,
        Principal::Admin(_) | Principal::Service(_) | Principal::System
    ) {
        return Ok(filter);
    }
    filter.confine(|name| {
        if name == fathom_schema::ACCOUNTS {
            // Every account a record points at may be seen through it (as `expand` shows it);
            // which of its fields a caller may read is `reject_hidden`'s matter.
            return Ok(Reach::Everything);
        }
        let Some(target) = schema.collection(name) else {
            return Ok(Reach::Nothing);
        };
        let tenant = match (target.tenant_scoped, principal.scope()) {
            (false, _) | (true, Scope::AllTenants) => None,
            (true, Scope::NoTenant) => return Ok(Reach::Nothing),
            (true, Scope::Tenant(tenant)) => Some(column_in(
                schema,
                target,
                TENANT_FIELD,
                &BTreeSet::from([tenant]),
            )?),
        };
        if target.rules.get("list").is_none() {
            return Ok(Reach::Nothing);
        }
        Ok(
            match (rule(schema, target, "list", principal, None)?, tenant) {
                (None, None) => Reach::Everything,
                (Some(rule), None) | (None, Some(rule)) => Reach::Matching(rule),
                (Some(rule), Some(tenant)) => Reach::Matching(rule.and(tenant)),
            },
        )
    })
}

/// Checks every rule of the schema at start-up, so that a broken rule stops the server instead
/// of failing requests. Returns one message per broken rule.
pub fn check_rules(schema: &Schema) -> Vec<String> {
    let mut problems = Vec::new();
    for collection in schema.collections.values() {
        for operation in fathom_schema::Rules::OPERATIONS {
            if let Some(Rule::Expression(text)) = collection.rules.get(operation) {
                let checked = parse(text)
                    .and_then(|expr| check(&expr, text, schema, collection, &Env::default()));
                if let Err(e) = checked {
                    problems.push(format!(
                        "the `{operation}` rule of `{}`, {e}; hint: {}",
                        collection.name, e.hint
                    ));
                }
            }
        }
    }
    problems
}

/// Whether a new record (its validated values) satisfies a create rule.
pub fn allows_new_record(filter: &Filter, values: &[(String, Value)]) -> bool {
    filter.matches(&|path: &FieldPath| {
        if !path.hops.is_empty() {
            return Value::Null;
        }
        values
            .iter()
            .find(|(name, _)| *name == path.column)
            .map_or(Value::Null, |(_, v)| v.clone())
    })
}

/// Removes hidden fields from a record's JSON for non-administrators.
pub fn strip_hidden(
    collection: &Collection,
    principal: &Principal,
    record: &mut Map<String, Json>,
) {
    if principal.is_admin() {
        return;
    }
    for field in collection.fields.iter().filter(|f| f.hidden) {
        record.remove(&field.name);
    }
}

/// Refuses a create the collection's create rule does not allow for this caller and record:
/// 401 without credentials (signing in may help), 403 with them. (Take the rule with [`rule`]
/// before validating the body, so a caller who may not create at all learns nothing about the
/// collection's fields.)
pub fn check_new_record(
    collection: &Collection,
    principal: &Principal,
    create_rule: Option<&Filter>,
    values: &[(String, Value)],
) -> Result<(), EngineError> {
    match create_rule {
        Some(filter) if allows_new_record(filter, values) => Ok(()),
        Some(_) if matches!(principal, Principal::Anonymous) => {
            Err(principal.denied("create", &collection.name))
        }
        Some(_) => Err(EngineError::new(
            ErrorCode::Forbidden,
            format!(
                "The create rule of `{}` does not allow this record.",
                collection.name
            ),
            "Check the values the rule requires (for example an owner field equal to your id).",
        )),
        None => Ok(()),
    }
}

/// The answer to an update the store refused because the record as changed falls outside the
/// update rule (which the stored record met): 401 without credentials, otherwise 403
/// `rule_violation`. Any other error is passed to `otherwise`.
pub fn refused_change<E>(
    principal: &Principal,
    collection: &str,
    failure: EngineError,
    otherwise: impl FnOnce(EngineError) -> E,
) -> E
where
    E: From<EngineError>,
{
    if failure.store != Some(StoreErrorKind::RuleViolation) {
        return otherwise(failure);
    }
    if matches!(principal, Principal::Anonymous) {
        return principal.denied("update", collection).into();
    }
    EngineError::new(
        ErrorCode::RuleViolation,
        format!("The update rule of `{collection}` does not allow the record as changed."),
        "The rule must hold after the change too: leave the fields it depends on (such as an \
         owner) as they are, or ask an administrator.",
    )
    .into()
}

/// A record's JSON as this caller may see it.
pub fn visible_json(collection: &Collection, principal: &Principal, record: &Record) -> Json {
    let mut map = record.to_json();
    strip_hidden(collection, principal, &mut map);
    Json::Object(map)
}
