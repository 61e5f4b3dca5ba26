//! The OpenAPI entries of the embedding application's custom routes (`crate::custom`): each
//! [`OperationDoc`] becomes an operation of its path, with its path parameters, request and
//! response schemas, the shared problem responses it names, and its tag. Added before the rate
//! limits' pass (`rate_limits::annotate`), so their fields and the 429 are documented too.

use serde_json::{Map, Value, json};

use super::document::problem_responses;
use crate::custom::{CustomRoutes, OperationDoc};

/// The tag of a custom operation that names none.
const DEFAULT_TAG: &str = "Custom";

/// Adds every custom route's operations (and their tags) to `document`.
pub(super) fn describe(document: &mut Value, routes: &CustomRoutes) {
    let mut tags: Vec<String> = Vec::new();
    for route in routes.iter() {
        let parameters = path_parameters(&route.path);
        let mut item = Map::new();
        for operation in &route.doc.operations {
            let tag = operation.tag.clone().unwrap_or_else(|| DEFAULT_TAG.into());
            if !tags.contains(&tag) {
                tags.push(tag.clone());
            }
            item.insert(
                operation.method.as_str().to_ascii_lowercase(),
                render(&route.path, operation, &tag, &parameters),
            );
        }
        document["paths"][route.path.as_str()] = Value::Object(item);
    }
    if let Some(listed) = document["tags"].as_array_mut() {
        for tag in tags {
            if !listed.iter().any(|t| t["name"] == tag.as_str()) {
                listed.push(json!({ "name": tag, "description": "Routes of the embedding application." }));
            }
        }
    }
}

fn render(path: &str, operation: &OperationDoc, tag: &str, parameters: &[Value]) -> Value {
    let mut responses = Map::new();
    for (status, description, schema) in &operation.responses {
        let mut response = json!({
            "description": description,
            "headers": { "X-Request-Id": super::document::component_ref("headers", "RequestId") },
        });
        if let Some(schema) = schema {
            response["content"] = json!({ "application/json": { "schema": schema } });
        }
        responses.insert(status.to_string(), response);
    }
    if responses.is_empty() {
        responses.insert("200".into(), json!({ "description": "Done." }));
    }
    let mut problems = operation.problems.clone();
    if operation.authenticated && !problems.contains(&401) {
        problems.push(401);
    }
    responses.extend(problem_responses(&problems));
    let mut rendered = json!({
        "summary": operation.summary,
        "operationId": operation
            .operation_id
            .clone()
            .unwrap_or_else(|| operation_id(operation.method.as_str(), path)),
        "tags": [tag],
        "responses": responses,
    });
    if let Some(description) = &operation.description {
        rendered["description"] = json!(description);
    }
    if !parameters.is_empty() {
        rendered["parameters"] = Value::Array(parameters.to_vec());
    }
    if let Some(schema) = &operation.request {
        rendered["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": schema } },
        });
    }
    if operation.authenticated {
        rendered["security"] = json!([{ "bearerAuth": [] }]);
    }
    rendered
}

/// One required string parameter per `{name}` capture of `path`.
fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            json!({
                "name": name.trim_start_matches('*'),
                "in": "path",
                "required": true,
                "schema": { "type": "string" },
            })
        })
        .collect()
}

/// `post` + `/api/v1/shop/{id}/pay` → `customPostShopIdPay`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = String::from("custom");
    for word in std::iter::once(method).chain(
        path.trim_start_matches(crate::custom::CUSTOM_PREFIX)
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty()),
    ) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_and_parameters_come_from_the_path() {
        assert_eq!(
            operation_id("POST", "/api/v1/shop/{id}/pay"),
            "customPostShopIdPay"
        );
        let parameters = path_parameters("/api/v1/shop/{id}/pay");
        assert_eq!(parameters.len(), 1);
        assert_eq!(parameters[0]["name"], "id");
    }
}
