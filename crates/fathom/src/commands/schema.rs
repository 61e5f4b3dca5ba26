//! `fathom schema check`, and reading a schema file with its access rules checked.

use std::collections::BTreeSet;
use std::process::ExitCode;

use fathom_query::{Env, QueryError, check as check_expression, parse as parse_expression};
use fathom_schema::{Rule, RuleSite, Schema, SchemaError, SchemaErrors};

use crate::cli::CommonArgs;

pub fn check(args: &CommonArgs) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let schema = super::load_schema(&config.schema.path)?;
    let fields: usize = schema.collections.values().map(|c| c.fields.len()).sum();
    println!(
        "{} is valid: {} collection(s), {fields} field(s).",
        config.schema.path.display(),
        schema.collections.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Parses a schema file and checks its access rules, reporting every problem of both kinds in
/// one list in file order. The parser cannot check rules (the expression language sits above
/// it), so it says where each rule stands, and the rules are checked here against every
/// collection it could read, even when other parts of the file have problems.
pub fn parse_with_rules(file: &str, source: &str) -> Result<Schema, SchemaErrors> {
    let read = fathom_schema::read_schema_file(file, source);
    let mut errors = read.errors;
    let checkable = checkable(&read.schema);
    for site in &read.rules {
        if !checkable.contains(site.collection.as_str()) {
            continue;
        }
        if let Err(problem) = check_rule(&read.schema, site) {
            errors.errors.push(rule_error(site, &problem));
        }
    }
    if errors.errors.is_empty() {
        Ok(read.schema)
    } else {
        errors.sort();
        Err(errors)
    }
}

/// The collections whose rules can be judged: read without problems, and so is every
/// collection their relations lead to (a rule may follow them), so that a problem elsewhere
/// never shows up again as a rule naming something "unknown".
fn checkable(schema: &Schema) -> BTreeSet<&str> {
    let complete = |start: &str| {
        let mut seen = BTreeSet::from([start.to_owned()]);
        let mut pending = vec![start.to_owned()];
        while let Some(name) = pending.pop() {
            let Some(collection) = schema.collection(&name) else {
                return false;
            };
            for field in &collection.fields {
                if let fathom_schema::FieldType::Relation { collection, .. } = &field.kind
                    && seen.insert(collection.clone())
                {
                    pending.push(collection.clone());
                }
            }
        }
        true
    };
    schema
        .collections
        .keys()
        .map(String::as_str)
        .filter(|name| complete(name))
        .collect()
}

fn check_rule(schema: &Schema, site: &RuleSite) -> Result<(), QueryError> {
    let Some(collection) = schema.collection(&site.collection) else {
        return Ok(());
    };
    let Some(Rule::Expression(text)) = collection.rules.get(site.operation) else {
        return Ok(());
    };
    let expr = parse_expression(text)?;
    check_expression(&expr, text, schema, collection, &Env::default()).map(drop)
}

/// A rule's problem at its place in the file: the expression's own column when the string is
/// written as it reads, else the start of the value with the column named in the message.
fn rule_error(site: &RuleSite, problem: &QueryError) -> SchemaError {
    let detail = problem.message.trim_end_matches('.');
    let (column, message) = if site.verbatim {
        (
            site.column + problem.column - 1,
            format!(
                "The `{}` rule of `{}` is not valid: {detail}.",
                site.operation, site.collection
            ),
        )
    } else {
        (
            site.column,
            format!(
                "The `{}` rule of `{}` is not valid at column {} of the expression: {detail}.",
                site.operation, site.collection, problem.column
            ),
        )
    };
    SchemaError::new(
        site.line,
        column,
        site.path.clone(),
        message,
        problem.hint.clone(),
    )
}
