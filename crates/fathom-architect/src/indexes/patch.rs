//! The schema-file side of an index finding: the TOML lines that declare an index, as
//! `docs/ARCHITECT.md` shows them and `fathom advise --apply` merges them.

/// `fields` as a TOML array of strings.
pub fn fields_array(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| format!("\"{}\"", f.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// The lines that add an index over `fields` to `collection` (appended to `indexes` when the
/// collection declares some already).
pub fn add_index(collection: &str, fields: &[String]) -> String {
    format!(
        "[collections.{collection}]\nindexes = [{}]\n",
        fields_array(fields)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patch_parses_as_an_index_of_the_collection() {
        let fields = vec!["team".to_owned(), "created_at".to_owned(), "id".to_owned()];
        let patch = add_index("tasks", &fields);
        assert_eq!(
            patch,
            "[collections.tasks]\nindexes = [[\"team\", \"created_at\", \"id\"]]\n"
        );
        let source = format!("{patch}fields.team = {{ type = \"text\" }}\n");
        let schema = fathom_schema::parse_schema("schema.toml", &source).expect("parses");
        let tasks = schema.collection("tasks").expect("tasks");
        assert!(tasks.indexes.iter().any(|i| i.fields == fields));
    }
}
