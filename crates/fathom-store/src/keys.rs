//! Which data keys the stored ciphertexts name, and how many values each protects: what the
//! start-up check (a key a row needs must be in the ring) and `fathom keys status` read.

use fathom_query::Dialect;
use fathom_schema::Collection;

use crate::crypto::CIPHERTEXT_PREFIX;

/// The values of one encrypted field under one key id. A value without the ciphertext prefix
/// (plaintext left by a field encrypted after the fact) counts under [`PLAINTEXT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub collection: String,
    pub field: String,
    pub key: String,
    /// Rows (soft-deleted ones included: they still hold the value).
    pub values: u64,
}

/// The pseudo key id of stored values that are not ciphertexts.
pub const PLAINTEXT: &str = "(plaintext)";

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `SELECT <key id>, COUNT(*) FROM <collection> WHERE <field> IS NOT NULL GROUP BY 1`, with
/// the key id cut out of the ciphertext in `dialect`'s string functions. Names come from a
/// validated schema and are quoted anyway; nothing else is spliced in.
pub(crate) fn usage_sql(dialect: Dialect, collection: &Collection, field: &str) -> String {
    let column = ident(field);
    let key = match dialect {
        Dialect::Sqlite => format!("substr({column}, 5, instr(substr({column}, 5), ':') - 1)"),
        Dialect::Postgres => format!("split_part({column}, ':', 2)"),
    };
    format!(
        "SELECT CASE WHEN substr({column}, 1, 4) = '{CIPHERTEXT_PREFIX}' THEN {key} ELSE '{PLAINTEXT}' END, \
         COUNT(*) FROM {} WHERE {column} IS NOT NULL GROUP BY 1 ORDER BY 1",
        ident(&collection.name)
    )
}
