//! What an API key may do. A key holds scopes of the form `collection:operation,operation`
//! (`products:list,view`, `orders:*`, `*:list`); an operation is allowed when one scope names
//! both its collection (or `*`) and the operation (or `*`). Nothing else is allowed.

use std::fmt;

/// The scope that lets a key read the change feed (`GET /api/v1/events`). It names no
/// collection: `*:*` does not grant it, and it grants no record operation.
pub const EVENTS_READ: &str = "events:read";

/// The records operations a scope can name.
pub const KEY_OPERATIONS: [&str; 5] = ["list", "view", "create", "update", "delete"];

/// One scope of an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyScope {
    /// A collection name, or `*` for every collection.
    pub collection: String,
    /// Operations from [`KEY_OPERATIONS`], or `["*"]` for all of them.
    pub operations: Vec<String>,
}

impl KeyScope {
    /// Parses `collection:op,op`. The error is a full sentence naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim() == EVENTS_READ {
            return Ok(Self {
                collection: "events".to_owned(),
                operations: vec!["read".to_owned()],
            });
        }
        let Some((collection, operations)) = text.split_once(':') else {
            return Err(format!(
                "The scope `{text}` has no `:`; write `collection:operation,...`, for example `products:list,view`."
            ));
        };
        let collection = collection.trim();
        let name_ok = collection == "*"
            || (!collection.is_empty()
                && collection.len() <= 63
                && collection
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        if !name_ok {
            return Err(format!(
                "`{collection}` in the scope `{text}` is not a collection name or `*`."
            ));
        }
        let mut names: Vec<String> = Vec::new();
        for operation in operations.split(',').map(str::trim) {
            if operation != "*" && !KEY_OPERATIONS.contains(&operation) {
                return Err(format!(
                    "`{operation}` in the scope `{text}` is not an operation; use {} or `*`.",
                    KEY_OPERATIONS.join(", ")
                ));
            }
            if !names.iter().any(|n| n == operation) {
                names.push(operation.to_owned());
            }
        }
        if names.iter().any(|n| n == "*") {
            names = vec!["*".to_owned()];
        }
        Ok(Self {
            collection: collection.to_owned(),
            operations: names,
        })
    }

    /// Whether this is [`EVENTS_READ`], the change feed's scope (which names no collection).
    pub fn is_events_read(&self) -> bool {
        self.collection == "events" && self.operations == ["read"]
    }

    /// Whether this scope allows `operation` on `collection`.
    pub fn allows(&self, collection: &str, operation: &str) -> bool {
        (self.collection == "*" || self.collection == collection)
            && self.operations.iter().any(|o| o == "*" || o == operation)
    }
}

impl fmt::Display for KeyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.collection, self.operations.join(","))
    }
}

/// Whether `scopes` include [`EVENTS_READ`].
pub fn reads_events(scopes: &[KeyScope]) -> bool {
    scopes.iter().any(KeyScope::is_events_read)
}

/// Whether any of `scopes` allows `operation` on `collection`.
pub fn scopes_allow(scopes: &[KeyScope], collection: &str, operation: &str) -> bool {
    scopes.iter().any(|s| s.allows(collection, operation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_allow_exactly_what_they_name() {
        let scopes = [
            KeyScope::parse("products:list, view").unwrap(),
            KeyScope::parse("*:list").unwrap(),
            KeyScope::parse("orders:*").unwrap(),
        ];
        assert!(scopes_allow(&scopes, "products", "view"));
        assert!(scopes_allow(&scopes, "customers", "list"));
        assert!(scopes_allow(&scopes, "orders", "delete"));
        assert!(!scopes_allow(&scopes, "products", "create"));
        assert!(!scopes_allow(&scopes, "customers", "view"));
        assert!(!scopes_allow(&[], "products", "list"));
        assert_eq!(scopes[0].to_string(), "products:list,view");
        assert_eq!(KeyScope::parse("a:*,list").unwrap().to_string(), "a:*");
    }

    #[test]
    fn events_read_grants_the_feed_and_nothing_else() {
        let feed = KeyScope::parse(" events:read ").unwrap();
        assert_eq!(feed.to_string(), EVENTS_READ);
        assert!(reads_events(std::slice::from_ref(&feed)));
        assert!(!reads_events(&[KeyScope::parse("*:*").unwrap()]));
        for operation in KEY_OPERATIONS {
            assert!(!scopes_allow(
                std::slice::from_ref(&feed),
                "events",
                operation
            ));
        }
        assert!(KeyScope::parse("events:read,list").is_err());
    }

    #[test]
    fn malformed_scopes_are_refused_with_a_reason() {
        for bad in [
            "products",
            "products:",
            "Products:list",
            "p:read",
            ":list",
            "a b:list",
        ] {
            let error = KeyScope::parse(bad).unwrap_err();
            assert!(error.ends_with('.'), "{bad}: {error}");
        }
    }
}
