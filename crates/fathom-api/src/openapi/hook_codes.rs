//! The application's own error codes (`fathom_engine::HookCode`, declared with its before-write
//! hooks) in the OpenAPI document: beside Fathom's stable codes in the `Problem` schema's enum,
//! in `x-error-codes` and the introduction's table, in the problem response of their status,
//! and on every write that runs hooks (the create, update or delete of a hooked collection, and
//! the batch, which runs the same hooks).

use std::collections::BTreeSet;

use fathom_engine::{HookCode, Hooks, WriteKind};
use serde_json::{Value, json};

use super::document::{problem_response, problem_response_name, problem_responses};

pub(super) fn describe(document: &mut Value, hooks: &Hooks) {
    let codes = hooks.codes();
    if codes.is_empty() {
        return;
    }
    if let Some(known) = document
        .pointer_mut("/components/schemas/Problem/properties/code/enum")
        .and_then(Value::as_array_mut)
    {
        known.extend(codes.iter().map(|c| json!(c.code)));
    }
    if let Some(listed) = document["x-error-codes"].as_array_mut() {
        listed.extend(
            codes
                .iter()
                .map(|c| json!({ "code": c.code, "status": c.status, "title": c.title })),
        );
    }
    if let Some(text) = document["info"]["description"].as_str() {
        // The table of codes ends the introduction.
        let mut text = text.to_owned();
        for c in codes {
            text.push_str(&format!("| `{}` | {} | {} |\n", c.code, c.status, c.title));
        }
        document["info"]["description"] = json!(text);
    }
    let statuses: BTreeSet<u16> = codes.iter().map(|c| c.status).collect();
    for &status in &statuses {
        describe_status(document, status, codes);
    }
    let statuses: Vec<u16> = statuses.into_iter().collect();
    let mut writes: Vec<(String, &str)> = hooks
        .hooked()
        .map(|(collection, kind)| match kind {
            WriteKind::Create => (format!("/api/v1/{collection}"), "post"),
            WriteKind::Update => (format!("/api/v1/{collection}/{{id}}"), "patch"),
            WriteKind::Delete => (format!("/api/v1/{collection}/{{id}}"), "delete"),
        })
        .collect();
    writes.push(("/api/v1/batch".to_owned(), "post"));
    for (path, method) in writes {
        if let Some(responses) =
            document["paths"][path.as_str()][method]["responses"].as_object_mut()
        {
            for (status, reference) in problem_responses(&statuses) {
                responses.entry(status).or_insert(reference);
            }
        }
    }
}

/// The shared problem response of `status` names the application's codes too (and exists,
/// when no code of Fathom's has that status).
fn describe_status(document: &mut Value, status: u16, codes: &[HookCode]) {
    let name = problem_response_name(status);
    let own: Vec<String> = codes
        .iter()
        .filter(|c| c.status == status)
        .map(|c| format!("`{}` ({})", c.code, c.title))
        .collect();
    let responses = &mut document["components"]["responses"];
    if responses.get(&name).is_none() {
        let mut response = problem_response(status);
        response["description"] = json!(format!(
            "A problem of the application's: {}.",
            own.join(", ")
        ));
        responses[name.as_str()] = response;
        return;
    }
    let described = responses[name.as_str()]["description"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_owned();
    responses[name.as_str()]["description"] = json!(format!(
        "{described}; the application's: {}.",
        own.join(", ")
    ));
}
