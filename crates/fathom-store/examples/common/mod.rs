//! What the store's measuring examples share: the schema they write to and how a result is printed.

use std::sync::Arc;
use std::time::Duration;

use fathom_schema::{Collection, Constraints, Field, FieldType, Schema};

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e6
}

/// Prints one line: throughput (`unit` a second) and the p50 and p99 latencies.
pub fn report(name: &str, unit: &str, total: Duration, mut latencies: Vec<Duration>) {
    latencies.sort();
    println!(
        "{name:<58} {:>9.0} {unit}/s   p50 {:>8.1} us   p99 {:>8.1} us",
        latencies.len() as f64 / total.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99)
    );
}

/// One `notes` collection with a required text `body`.
pub fn schema() -> Schema {
    let field = Field {
        name: "body".into(),
        kind: FieldType::Text,
        required: true,
        unique: false,
        default: None,
        constraints: Constraints::default(),
        hidden: false,
        encrypted: false,
        blind_index: false,
    };
    let notes = Collection {
        name: "notes".into(),
        fields: vec![field],
        indexes: vec![],
        soft_delete: false,
        timestamps: true,
        tenant_scoped: false,
        require_if_match: false,
        audit: false,
        cache: None,
        rules: Default::default(),
    };
    Schema {
        collections: [("notes".to_owned(), Arc::new(notes))]
            .into_iter()
            .collect(),
        users: None,
        renames: Default::default(),
        public_email: false,
    }
}
