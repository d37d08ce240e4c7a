//! The contract test: the spec the implementation describes (what poem-openapi generates
//! from the operations and their wire types) must match `openapi.yaml`, the hand-written
//! contract that the server serves and the clients are generated from.
//!
//! Also holds the tests of the comparison itself, which prove that harmless differences in
//! how the two documents are written are ignored and that each real one is reported once.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod spec_diff;

use serde_json::{Value, json};

#[test]
fn the_implementation_matches_the_contract() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("openapi.yaml is readable");
    let contract: Value = serde_yaml::from_str(&text).expect("openapi.yaml is valid YAML");
    let implemented: Value =
        serde_json::from_str(&api_server::implemented_spec().expect("the API builds"))
            .expect("the implemented spec is JSON");

    let differences = spec_diff::diff(&contract, &implemented);

    assert!(
        differences.is_empty(),
        "the implementation differs from openapi.yaml in {} place(s):\n{}\n\
         openapi.yaml is the contract: change the server to match it, or change the contract first",
        differences.len(),
        differences.join("\n"),
    );
}

/// A contract written by hand: shared responses and parameters as `$ref`s, path-level
/// parameters, document-wide security, descriptions, media types without parameters.
fn contract_example() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": { "title": "Bookstore", "version": "1.0.0" },
        "servers": [{ "url": "http://localhost:8080" }],
        "tags": [{ "name": "Books", "description": "The catalogue." }],
        "security": [{ "BearerAuth": [] }],
        "paths": {
            "/books/{id}": {
                "parameters": [{ "$ref": "#/components/parameters/BookId" }],
                "get": {
                    "operationId": "get_book",
                    "summary": "One book.",
                    "tags": ["Books"],
                    "security": [],
                    "parameters": [
                        {
                            "name": "fields", "in": "query", "description": "Sparse fieldset.",
                            "schema": { "type": "integer", "minimum": 1, "maximum": 100 }
                        },
                        { "name": "if-none-match", "in": "header", "schema": { "type": "string" } }
                    ],
                    "responses": {
                        "200": {
                            "description": "The book.",
                            "headers": {
                                "ETag": { "required": true, "schema": { "type": "string" } }
                            },
                            "content": content("application/json", "Book")
                        },
                        "404": { "$ref": "#/components/responses/NotFound" }
                    }
                },
                "put": {
                    "operationId": "replace_book",
                    "tags": ["Books"],
                    "requestBody": { "$ref": "#/components/requestBodies/Book" },
                    "responses": { "204": { "description": "Replaced." } }
                }
            }
        },
        "components": {
            "parameters": {
                "BookId": {
                    "name": "id", "in": "path", "required": true,
                    "schema": { "type": "string", "format": "uuid" }
                }
            },
            "requestBodies": {
                "Book": {
                    "required": true,
                    "content": content("application/json", "Book")
                }
            },
            "responses": {
                "NotFound": {
                    "description": "No such book.",
                    "content": content("application/json", "Problem")
                }
            },
            "schemas": {
                "Book": {
                    "type": "object",
                    "x-rust-type": "Book",
                    "required": ["isbn", "author", "price"],
                    "properties": {
                        "isbn": { "type": "string", "example": "978-0-13-468599-1" },
                        "author": { "$ref": "#/components/schemas/Author" },
                        "price": { "type": "string", "pattern": "^[0-9]+\\.[0-9]{2}$" },
                        "format": { "type": "string", "enum": ["paperback", "hardcover"] },
                        "a/b~c": { "type": "boolean" },
                        "description": { "type": "string" }
                    }
                },
                "Author": { "type": "object", "properties": { "name": { "type": "string" } } },
                "Problem": {
                    "type": "object",
                    "required": ["code"],
                    "properties": { "code": { "type": "string" } }
                }
            },
            "securitySchemes": { "BearerAuth": { "type": "http", "scheme": "bearer" } }
        }
    })
}

/// The same API as poem-openapi emits it: everything inlined, `; charset=utf-8`, titles,
/// explicit defaults, described `$ref`s wrapped in `allOf`, upper-case header names,
/// bounds as floats, sets in another order.
fn implemented_example() -> Value {
    let problem = content("application/json; charset=utf-8", "Problem");
    let book = content("application/json; charset=utf-8", "Book");
    let id = json!({
        "name": "id", "schema": { "type": "string", "format": "uuid" }, "in": "path",
        "required": true, "deprecated": false, "explode": true, "style": "simple"
    });
    json!({
        "openapi": "3.0.0",
        "info": { "title": "t", "version": "1" },
        "servers": [],
        "tags": [{ "name": "Books" }],
        "paths": {
            "/books/{id}": {
                "get": {
                    "tags": ["Books"],
                    "summary": "Get a book",
                    "parameters": [
                        {
                            "name": "fields", "in": "query", "required": false, "deprecated": false,
                            "explode": true, "style": "form",
                            "schema": { "type": "integer", "maximum": 100.0, "minimum": 1.0 }
                        },
                        {
                            "name": "If-None-Match", "in": "header", "required": false,
                            "deprecated": false, "explode": true, "schema": { "type": "string" }
                        },
                        id
                    ],
                    "responses": {
                        "200": {
                            "description": "",
                            "content": book,
                            "headers": {
                                "ETAG": {
                                    "required": true, "deprecated": false,
                                    "schema": { "type": "string" }
                                }
                            }
                        },
                        "404": { "description": "", "content": problem }
                    },
                    "operationId": "get_book"
                },
                "put": {
                    "tags": ["Books"],
                    "parameters": [id],
                    "requestBody": { "content": book, "required": true },
                    "responses": { "204": { "description": "" } },
                    "security": [{ "BearerAuth": [] }],
                    "operationId": "replace_book",
                    "deprecated": false
                }
            }
        },
        "components": {
            "schemas": {
                "Author": {
                    "type": "object", "title": "Author", "required": [],
                    "properties": { "name": { "type": "string", "readOnly": false } }
                },
                "Book": {
                    "type": "object",
                    "title": "Book",
                    "required": ["price", "isbn", "author"],
                    "properties": {
                        "isbn": { "type": "string", "description": "The ISBN." },
                        "author": {
                            "description": "Who wrote it.",
                            "allOf": [
                                { "$ref": "#/components/schemas/Author" },
                                { "description": "Who wrote it." }
                            ]
                        },
                        "price": {
                            "type": "string", "pattern": "^[0-9]+\\.[0-9]{2}$", "nullable": false
                        },
                        "format": { "type": "string", "enum": ["hardcover", "paperback"] },
                        "a/b~c": { "type": "boolean" },
                        "description": { "type": "string", "description": "The blurb." }
                    }
                },
                "Problem": {
                    "type": "object", "title": "Problem", "required": ["code"],
                    "properties": { "code": { "type": "string" } }
                }
            },
            "securitySchemes": { "BearerAuth": { "type": "http", "scheme": "bearer" } }
        }
    })
}

/// A `content` map with one media type, whose body is the named schema.
fn content(media_type: &str, schema: &str) -> Value {
    json!({ media_type: { "schema": { "$ref": format!("#/components/schemas/{schema}") } } })
}

/// Applies `change` to a copy of `doc`, at the JSON pointer `at`.
fn with(doc: &Value, at: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut doc = doc.clone();
    change(doc.pointer_mut(at).expect("the pointer names a value"));
    doc
}

#[test]
fn documents_that_differ_only_in_how_they_are_written_compare_equal() {
    assert_eq!(
        spec_diff::diff(&contract_example(), &implemented_example()),
        Vec::<String>::new()
    );
}

#[test]
fn a_field_added_to_the_contract_is_named() {
    let contract = with(
        &contract_example(),
        "/components/schemas/Book/properties",
        |p| {
            p["title"] = json!({ "type": "string" });
        },
    );

    assert_eq!(
        spec_diff::diff(&contract, &implemented_example()),
        [r#"/components/schemas/Book/properties: field "title" in contract, not implemented"#]
    );
}

#[test]
fn a_required_field_missing_from_the_server_is_reported_once() {
    let implemented = with(&implemented_example(), "/components/schemas/Book", |book| {
        book["properties"].as_object_mut().unwrap().remove("price");
        book["required"] = json!(["isbn", "author"]);
    });

    assert_eq!(
        spec_diff::diff(&contract_example(), &implemented),
        [r#"/components/schemas/Book/properties: field "price" in contract, not implemented"#]
    );
}

#[test]
fn a_status_code_or_operation_the_server_lacks_is_named() {
    let implemented = with(&implemented_example(), "/paths/~1books~1{id}", |item| {
        item["get"]["responses"]
            .as_object_mut()
            .unwrap()
            .remove("404");
        item.as_object_mut().unwrap().remove("put");
    });

    assert_eq!(
        spec_diff::diff(&contract_example(), &implemented),
        [
            "/paths/~1books~1{id}/get/responses: status code 404 in contract, not implemented",
            "/paths/~1books~1{id}: operation put in contract, not implemented",
        ]
    );
}

#[test]
fn a_changed_type_or_format_shows_both_values() {
    let implemented = with(
        &implemented_example(),
        "/components/schemas/Book/properties",
        |p| {
            p["isbn"]["type"] = json!("integer");
            p["a/b~c"]["format"] = json!("int64");
        },
    );

    assert_eq!(
        spec_diff::diff(&contract_example(), &implemented),
        [
            r#"/components/schemas/Book/properties/a~1b~0c: key "format" implemented, not in contract"#,
            r#"/components/schemas/Book/properties/isbn/type: contract "string", implemented "integer""#,
        ]
    );
}

#[test]
fn a_changed_required_list_names_the_field() {
    let contract = with(
        &contract_example(),
        "/components/schemas/Problem/required",
        |r| {
            *r = json!([]);
        },
    );

    assert_eq!(
        spec_diff::diff(&contract, &implemented_example()),
        [r#"/components/schemas/Problem: key "required" implemented, not in contract"#]
    );

    let implemented = with(
        &implemented_example(),
        "/components/schemas/Book/required",
        |r| {
            *r = json!(["isbn", "author", "price", "format"]);
        },
    );

    assert_eq!(
        spec_diff::diff(&contract_example(), &implemented),
        [r#"/components/schemas/Book/required: "format" implemented, not in contract"#]
    );
}

#[test]
fn an_added_parameter_is_named_by_location_and_name() {
    let contract = with(
        &contract_example(),
        "/paths/~1books~1{id}/get/parameters",
        |params| {
            let limit = json!({ "name": "limit", "in": "query", "schema": { "type": "integer" } });
            params.as_array_mut().unwrap().push(limit);
        },
    );

    assert_eq!(
        spec_diff::diff(&contract, &implemented_example()),
        [
            r#"/paths/~1books~1{id}/get/parameters: parameter query "limit" in contract, not implemented"#
        ]
    );
}

#[test]
fn a_changed_bound_inside_a_parameter_has_a_readable_path() {
    let implemented = with(
        &implemented_example(),
        "/paths/~1books~1{id}/get/parameters/0/schema",
        |schema| {
            schema["maximum"] = json!(50);
        },
    );

    assert_eq!(
        spec_diff::diff(&contract_example(), &implemented),
        [
            "/paths/~1books~1{id}/get/parameters/query:fields/schema/maximum: contract 100, implemented 50"
        ]
    );
}

#[test]
fn security_and_media_types_are_compared() {
    let implemented = with(&implemented_example(), "/paths/~1books~1{id}", |item| {
        item["get"]["security"] = json!([{ "BearerAuth": [] }]);
        let content = item["put"]["requestBody"]["content"]
            .as_object_mut()
            .unwrap();
        let body = content.remove("application/json; charset=utf-8").unwrap();
        content.insert("text/plain; charset=utf-8".into(), body);
    });

    assert_eq!(
        spec_diff::diff(&contract_example(), &implemented),
        [
            r#"/paths/~1books~1{id}/get: key "security" implemented, not in contract"#,
            r#"/paths/~1books~1{id}/put/requestBody/content: media type "application/json" in contract, not implemented"#,
            r#"/paths/~1books~1{id}/put/requestBody/content: media type "text/plain" implemented, not in contract"#,
        ]
    );
}

#[test]
fn schema_references_are_compared_by_name() {
    let implemented = with(
        &implemented_example(),
        "/components/schemas/Book/properties/author/allOf/0",
        |r| {
            *r = json!({ "$ref": "#/components/schemas/Problem" });
        },
    );

    assert_eq!(
        spec_diff::diff(&contract_example(), &implemented),
        [
            r##"/components/schemas/Book/properties/author/$ref: contract "#/components/schemas/Author", implemented "#/components/schemas/Problem""##
        ]
    );
}

#[test]
fn a_flag_left_to_its_default_shows_both_values() {
    let implemented = with(&implemented_example(), "/paths/~1books~1{id}/put", |put| {
        put["requestBody"]
            .as_object_mut()
            .unwrap()
            .remove("required");
        put["deprecated"] = json!(true);
    });

    assert_eq!(
        spec_diff::diff(&contract_example(), &implemented),
        [
            "/paths/~1books~1{id}/put/deprecated: contract false, implemented true",
            "/paths/~1books~1{id}/put/requestBody/required: contract true, implemented false",
        ]
    );
}
