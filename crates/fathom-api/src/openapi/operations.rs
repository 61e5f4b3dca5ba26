//! The path items: each collection's five record operations, the batch endpoint, and the
//! service endpoints (health, readiness, this document).

use fathom_schema::{Collection, FieldType, Schema};
use serde_json::{Map, Value, json};

use super::document::{component_ref, problem_responses};
use super::schemas::{EXAMPLE_ID, TypeNames, schema_ref};
use super::shaping::{field_list, shaping_parameters};

/// Most operations a batch may hold.
pub const MAX_BATCH_OPERATIONS: usize = 100;

/// The `X-Request-Id` header every response carries.
pub(super) fn request_id_header() -> Value {
    json!({ "X-Request-Id": component_ref("headers", "RequestId") })
}

pub(super) fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// A 2xx response with a JSON body.
pub(super) fn ok(description: &str, schema: Value) -> Value {
    json!({
        "description": description,
        "headers": request_id_header(),
        "content": json_content(schema),
    })
}

/// An operation's `responses`: the success ones, then one problem response per error status.
pub(super) fn responses(success: &[(&str, Value)], error_statuses: &[u16]) -> Value {
    let mut out = Map::new();
    for (status, response) in success {
        out.insert((*status).to_owned(), response.clone());
    }
    out.extend(problem_responses(error_statuses));
    Value::Object(out)
}

/// The envelope of one record.
pub(super) fn single_envelope(record: &str) -> Value {
    json!({
        "type": "object",
        "required": ["data", "meta"],
        "properties": { "data": schema_ref(record), "meta": schema_ref("Meta") },
    })
}

/// A filter example that makes sense for the collection: an enum, a number, a boolean or a
/// text field compared with a literal.
fn filter_example(collection: &Collection) -> String {
    let fields = &collection.fields;
    let enum_value = fields.iter().find_map(|f| match &f.kind {
        FieldType::Enum { values } => values.first().map(|v| format!("{} = \"{v}\"", f.name)),
        _ => None,
    });
    let numeric = || {
        fields
            .iter()
            .find(|f| f.kind.is_numeric())
            .map(|f| format!("{} >= 10", f.name))
    };
    let boolean = || {
        fields
            .iter()
            .find(|f| matches!(f.kind, FieldType::Boolean))
            .map(|f| format!("{} = true", f.name))
    };
    let text = || {
        fields
            .iter()
            .find(|f| f.kind.is_textual())
            .map(|f| format!("{} = \"{}\"", f.name, f.name))
    };
    enum_value
        .or_else(numeric)
        .or_else(boolean)
        .or_else(text)
        .unwrap_or_else(|| format!("id = \"{EXAMPLE_ID}\""))
}

fn list_operation(schema: &Schema, collection: &Collection, type_name: &str) -> Value {
    let name = &collection.name;
    let [fields, expand] = shaping_parameters(schema, collection);
    let record = format!("{type_name}Selected");
    json!({
        "tags": [name],
        "operationId": format!("list{type_name}"),
        "summary": format!("List {name}"),
        "description": format!(
            "A page of `{name}` records, filtered and sorted. Page with `cursor` (from `meta.page.next`) \
             or with `offset`; `count=true` adds the total.{}",
            if collection.soft_delete { " Deleted records are not listed." } else { "" }
        ),
        "parameters": [
            {
                "name": "filter", "in": "query", "required": false,
                "description": format!(
                    "Keep the records matching an expression, such as `status = \"paid\" && total >= 100`. \
                     Compare fields with `=`, `!=`, `<`, `<=`, `>`, `>=`, `in [..]`, `~` (case-insensitive \
                     match, `%` as wildcard) and `!~`; combine with `&&`, `||`, `!` and parentheses. A \
                     comparison with a null side is false; `field = null` tests for null. A relation path \
                     such as `customer.tier` reads the related record. Fields: {}.",
                    field_list(collection)
                ),
                "schema": { "type": "string" },
                "example": filter_example(collection),
            },
            {
                "name": "sort", "in": "query", "required": false,
                "description": "Sort fields, comma-separated; a `-` prefix sorts descending. `id` always breaks ties.",
                "schema": { "type": "string" },
                "example": if collection.timestamps { "-created_at" } else { "-id" },
            },
            component_ref("parameters", "Limit"),
            component_ref("parameters", "Cursor"),
            component_ref("parameters", "Offset"),
            component_ref("parameters", "Count"),
            fields,
            expand,
            component_ref("parameters", "Ids"),
        ],
        "responses": responses(
            &[("200", ok(
                &format!("A page of `{name}` records."),
                json!({
                    "type": "object",
                    "required": ["data", "meta"],
                    "properties": {
                        "data": { "type": "array", "items": schema_ref(&record) },
                        "meta": schema_ref("ListMeta"),
                    },
                }),
            ))],
            &[400, 401, 403, 404, 500, 503],
        ),
    })
}

fn create_operation(collection: &Collection, type_name: &str) -> Value {
    let name = &collection.name;
    let mut created = ok(
        &format!("The created `{name}` record."),
        single_envelope(&format!("{type_name}Record")),
    );
    created["headers"]["Location"] = component_ref("headers", "Location");
    json!({
        "tags": [name],
        "operationId": format!("create{type_name}"),
        "summary": format!("Create a record of {name}"),
        "description": "Validates the body against the schema (every invalid field is reported at once) and creates the record.",
        "requestBody": {
            "required": true,
            "content": json_content(schema_ref(&format!("{type_name}Create"))),
        },
        "responses": responses(&[("201", created)], &[400, 401, 403, 404, 409, 413, 415, 500, 503, 504]),
    })
}

fn get_operation(schema: &Schema, collection: &Collection, type_name: &str) -> Value {
    let name = &collection.name;
    let [fields, expand] = shaping_parameters(schema, collection);
    json!({
        "tags": [name],
        "operationId": format!("get{type_name}"),
        "summary": format!("Get a record of {name}"),
        "parameters": [component_ref("parameters", "RecordId"), fields, expand],
        "responses": responses(
            &[("200", ok(&format!("The `{name}` record."), single_envelope(&format!("{type_name}Selected"))))],
            &[400, 401, 403, 404, 500, 503],
        ),
    })
}

fn update_operation(collection: &Collection, type_name: &str) -> Value {
    let name = &collection.name;
    json!({
        "tags": [name],
        "operationId": format!("update{type_name}"),
        "summary": format!("Update a record of {name}"),
        "description": "Changes only the fields in the body; `version` grows by one.",
        "parameters": [component_ref("parameters", "RecordId")],
        "requestBody": {
            "required": true,
            "content": json_content(schema_ref(&format!("{type_name}Update"))),
        },
        "responses": responses(
            &[("200", ok(&format!("The updated `{name}` record."), single_envelope(&format!("{type_name}Record"))))],
            &[400, 401, 403, 404, 409, 413, 415, 500, 503, 504],
        ),
    })
}

fn delete_operation(collection: &Collection, type_name: &str) -> Value {
    let name = &collection.name;
    let description = if collection.soft_delete {
        format!(
            "A soft delete: `{name}` keeps deleted records (with `deleted_at` set) but hides them from \
             every read, and frees their unique values."
        )
    } else {
        "Deletes the record for good. Records that refer to it are handled as their relation's \
         `on_delete` says; with `restrict` (the default) the delete is refused while any exist."
            .to_owned()
    };
    json!({
        "tags": [name],
        "operationId": format!("delete{type_name}"),
        "summary": format!("Delete a record of {name}"),
        "description": description,
        "parameters": [component_ref("parameters", "RecordId")],
        "responses": responses(
            &[("204", json!({ "description": "Deleted; no body.", "headers": request_id_header() }))],
            &[400, 401, 403, 404, 409, 500, 503, 504],
        ),
    })
}

/// `/api/v1/{c}` and `/api/v1/{c}/{id}` for one collection.
pub fn collection_paths(
    schema: &Schema,
    collection: &Collection,
    type_name: &str,
) -> [(String, Value); 2] {
    let name = &collection.name;
    [
        (
            format!("/api/v1/{name}"),
            json!({
                "get": list_operation(schema, collection, type_name),
                "post": create_operation(collection, type_name),
            }),
        ),
        (
            format!("/api/v1/{name}/{{id}}"),
            json!({
                "get": get_operation(schema, collection, type_name),
                "patch": update_operation(collection, type_name),
                "delete": delete_operation(collection, type_name),
            }),
        ),
    ]
}

/// The shared parameters, for `components.parameters`.
pub fn parameters(default_page_size: u32, max_page_size: u32) -> Value {
    json!({
        "RecordId": {
            "name": "id", "in": "path", "required": true,
            "description": "The record's id, as returned in `id`.",
            "schema": { "type": "string", "format": "uuid" },
            "example": EXAMPLE_ID,
        },
        "Limit": {
            "name": "limit", "in": "query", "required": false,
            "description": "Records per page.",
            "schema": { "type": "integer", "minimum": 1, "maximum": max_page_size, "default": default_page_size },
        },
        "Cursor": {
            "name": "cursor", "in": "query", "required": false,
            "description": "Opaque position from `meta.page.next` of the previous page, passed unchanged with the same `sort`. Only `offset=0` (the default) goes with it; any other offset is a 400. A cursor that was not issued for this collection and sort is a 400 too.",
            "schema": { "type": "string", "minLength": 1 },
        },
        "Offset": {
            "name": "offset", "in": "query", "required": false,
            "description": "Records to skip. Must be 0 with `cursor`; prefer cursors on large collections.",
            "schema": { "type": "integer", "minimum": 0, "default": 0 },
        },
        "Count": {
            "name": "count", "in": "query", "required": false,
            "description": "Add the number of matching records as `meta.page.total`.",
            "schema": { "type": "boolean", "default": false },
        },
        "Ids": {
            "name": "ids", "in": "query", "required": false,
            "description": "Read these records in one request: ids, comma-separated.",
            "schema": { "type": "string" },
            "example": EXAMPLE_ID,
        },
    })
}

/// `/api/v1/batch` and the schemas it needs (`BatchRequest`, `BatchResponse`).
/// A batch create's `ref`: the name later operations use to refer to its record.
fn batch_ref_name() -> Value {
    json!({
        "type": "string",
        "pattern": "^[A-Za-z0-9_-]{1,64}$",
        "description": "A name for the record this create makes; later operations of the batch refer to it as `$ref:<name>`.",
    })
}

/// The `id` of a batch update or delete: a record id, or a reference to an earlier create.
fn batch_target_id() -> Value {
    json!({
        "anyOf": [
            { "type": "string", "format": "uuid" },
            { "type": "string", "pattern": "^\\$ref:[A-Za-z0-9_-]{1,64}$" },
        ],
    })
}

pub fn batch(schema: &Schema, names: &TypeNames) -> (Value, Value, Value) {
    let mut variants = Vec::new();
    let mut records = Vec::new();
    for (collection, type_name) in names {
        variants.push(json!({
            "title": format!("create in {collection}"),
            "type": "object",
            "required": ["op", "collection", "body"],
            "properties": {
                "op": { "const": "create" },
                "collection": { "const": collection },
                "ref": batch_ref_name(),
                "body": schema_ref(&format!("{type_name}Create")),
            },
            "additionalProperties": false,
        }));
        variants.push(json!({
            "title": format!("update in {collection}"),
            "type": "object",
            "required": ["op", "collection", "id", "body"],
            "properties": {
                "op": { "const": "update" },
                "collection": { "const": collection },
                "id": batch_target_id(),
                "body": schema_ref(&format!("{type_name}Update")),
            },
            "additionalProperties": false,
        }));
        variants.push(json!({
            "title": format!("delete in {collection}"),
            "type": "object",
            "required": ["op", "collection", "id"],
            "properties": {
                "op": { "const": "delete" },
                "collection": { "const": collection },
                "id": batch_target_id(),
            },
            "additionalProperties": false,
        }));
        records.push(schema_ref(&format!("{type_name}Record")));
    }
    // A schema without collections (possible only when built by hand) admits no operations;
    // JSON Schema forbids an empty `oneOf`/`anyOf`, so say it with `false`.
    let union = |keyword: &str, options: Vec<Value>| {
        if options.is_empty() {
            json!(false)
        } else {
            json!({ keyword: options })
        }
    };
    let mut request = json!({
        "type": "object",
        "required": ["operations"],
        "properties": {
            "operations": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH_OPERATIONS,
                // `anyOf`, not `oneOf`: `op` and `collection` already tell the variants apart,
                // and a generator would otherwise have to prove each value matches only one.
                "items": union("anyOf", variants),
            },
        },
        "additionalProperties": false,
    });
    if let Some(collection) = schema.collections.keys().next() {
        request["examples"] = json!([{ "operations": [
            { "op": "delete", "collection": collection, "id": EXAMPLE_ID },
        ] }]);
    }
    // `anyOf`: records of two collections with the same fields look alike.
    let mut record = union("anyOf", records);
    if let Some(object) = record.as_object_mut() {
        object.insert(
            "description".into(),
            json!("The record written, for create and update."),
        );
    }
    let response = json!({
        "type": "object",
        "required": ["data", "meta"],
        "properties": {
            "data": {
                "type": "array",
                "description": "One result per operation, in order.",
                "items": {
                    "type": "object",
                    "required": ["op", "id"],
                    "properties": {
                        "op": { "type": "string", "enum": ["create", "update", "delete"] },
                        "id": { "type": "string", "format": "uuid" },
                        "record": record,
                    },
                },
            },
            "meta": schema_ref("Meta"),
        },
    });
    let path = json!({
        "post": {
            "tags": ["Batch"],
            "operationId": "runBatch",
            "summary": "Run several writes in one transaction",
            "description": format!(
                "Up to {MAX_BATCH_OPERATIONS} creates, updates and deletes across collections, applied in \
                 one transaction: all of them take effect, or (on the first failure) none does. \
                 A create may name itself with `ref`; later operations write `$ref:<name>` in a \
                 relation field of their body or as their `id` to mean the record it creates \
                 (400 `unknown_ref` or `wrong_collection` otherwise)."
            ),
            "requestBody": { "required": true, "content": json_content(schema_ref("BatchRequest")) },
            "responses": responses(
                &[("200", ok("Every operation succeeded.", schema_ref("BatchResponse")))],
                &[400, 401, 403, 404, 409, 413, 415, 500, 503, 504],
            ),
        },
    });
    (path, request, response)
}

/// `/health`, `/ready` and `/api/v1/openapi.json`.
pub fn service_paths() -> [(String, Value); 3] {
    let readiness = json!({
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": { "type": "string", "enum": ["ready", "not_ready"] },
            "checks": {
                "type": "object",
                "required": ["database", "migrations"],
                "properties": {
                    "database": { "type": "boolean", "description": "The database answers." },
                    "migrations": { "type": "boolean", "description": "The applied schema is the served one." },
                },
            },
            "brokers": super::brokers::readiness_brokers(),
            "rate_limits": {
                "type": "object",
                "description": "Present when `redis.url` is set: where rate limits and the sign-in throttle are counted. Never makes the node unready: while Redis is down they are counted on each node.",
                "required": ["store", "shared"],
                "properties": {
                    "store": {
                        "type": "string",
                        "enum": ["redis", "local_fallback"],
                        "description": "`redis`: in Redis, shared by every node; `local_fallback`: Redis is unreachable, so on this node until it answers again.",
                    },
                    "shared": { "type": "boolean", "description": "Counted in Redis for the whole cluster right now." },
                },
            },
        },
    });
    [
        (
            "/api/v1/openapi.json".to_owned(),
            json!({ "get": {
                "tags": ["Service"],
                "operationId": "openapiDocument",
                "summary": "This document",
                "responses": responses(
                    &[("200", ok("The OpenAPI 3.1 document of the served schema.", json!({ "type": "object" })))],
                    &[500],
                ),
            }}),
        ),
        (
            "/health".to_owned(),
            json!({ "get": {
                "tags": ["Service"],
                "operationId": "checkHealth",
                "summary": "Liveness",
                "description": "The process is up and serving HTTP. Never touches the database.",
                "responses": responses(
                    &[("200", ok("Alive.", json!({
                        "type": "object",
                        "required": ["status"],
                        "properties": { "status": { "const": "ok" } },
                    })))],
                    &[500],
                ),
            }}),
        ),
        (
            "/ready".to_owned(),
            json!({ "get": {
                "tags": ["Service"],
                "operationId": "checkReady",
                "summary": "Readiness",
                "description": "The database answers and its applied schema is the one this server serves.",
                "responses": responses(
                    &[
                        ("200", ok("Ready to serve.", readiness.clone())),
                        ("503", ok("Not ready; `checks` says why.", readiness)),
                    ],
                    &[500],
                ),
            }}),
        ),
    ]
}
