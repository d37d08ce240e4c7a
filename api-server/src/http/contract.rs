//! The contract, `openapi.yaml`: the document the server serves, compiled in as it is, and
//! what it says each operation's input must be, which names the fields of a refused
//! request (see `http::explain`).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use jsonschema::{Draft, Validator};
use poem::http::Method;
use serde_json::{Map, Value, json};

/// The contract as written.
pub const YAML: &str = include_str!("../../../openapi.yaml");

/// The contract, read once at start-up.
pub struct Contract {
    /// The same document as JSON.
    json: String,
    /// The input rules of each route, by poem's template of it (`/api/v1/books/:id`).
    routes: HashMap<String, Arc<RouteRules>>,
}

impl Contract {
    pub fn load() -> anyhow::Result<Self> {
        let document: Value = serde_yaml::from_str(YAML).context("openapi.yaml is not YAML")?;
        let json = serde_json::to_string_pretty(&document)?;
        let schemas = Arc::new(json_schemas(&document));
        let mut routes = HashMap::new();
        let paths = document.get("paths").and_then(Value::as_object);
        for (path, item) in paths.into_iter().flatten() {
            let shared = item.get("parameters").and_then(Value::as_array);
            let mut operations = Vec::new();
            for (method, operation) in item.as_object().into_iter().flatten() {
                let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                    continue;
                };
                if method == Method::OPTIONS || !operation.is_object() {
                    continue;
                }
                let rules = OperationRules::new(&document, &schemas, operation, shared)
                    .with_context(|| format!("{method} {path}"))?;
                operations.push((method, rules));
            }
            routes.insert(poem_template(path), Arc::new(RouteRules { operations }));
        }
        Ok(Self { json, routes })
    }

    pub fn yaml(&self) -> &'static str {
        YAML
    }

    pub fn json(&self) -> &str {
        &self.json
    }

    /// The input rules of the route poem knows as `template` (`/api/v1/books/:id`).
    pub fn route(&self, template: &str) -> Option<Arc<RouteRules>> {
        self.routes.get(template).cloned()
    }
}

/// `/api/v1/books/{id}` as poem writes it: `/api/v1/books/:id`.
fn poem_template(path: &str) -> String {
    path.split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!(":{name}"),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// What the operations of one route take.
pub struct RouteRules {
    operations: Vec<(Method, OperationRules)>,
}

impl RouteRules {
    pub fn operation(&self, method: &Method) -> Option<&OperationRules> {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.operations
            .iter()
            .find_map(|(m, rules)| (m == method).then_some(rules))
    }
}

/// What one operation takes: its parameters and its JSON body.
pub struct OperationRules {
    pub params: Vec<ParamRule>,
    pub body: Option<Schema>,
}

impl OperationRules {
    fn new(
        document: &Value,
        schemas: &Arc<Value>,
        operation: &Value,
        shared: Option<&Vec<Value>>,
    ) -> anyhow::Result<Self> {
        let own = operation.get("parameters").and_then(Value::as_array);
        let mut params: Vec<ParamRule> = Vec::new();
        // The operation's own parameters first: they override the path's of the same name.
        for param in own.into_iter().chain(shared).flatten() {
            let param = resolve(document, param).context("a parameter's $ref")?;
            let (Some(name), Some(location)) = (
                param.get("name").and_then(Value::as_str),
                param.get("in").and_then(Value::as_str),
            ) else {
                anyhow::bail!("a parameter without name or in: {param}");
            };
            let Some(location) = Location::named(location) else {
                continue;
            };
            if params
                .iter()
                .any(|p| p.name == name && p.location == location)
            {
                continue;
            }
            let schema = param.get("schema").cloned().unwrap_or_else(|| json!({}));
            let kind = Kind::of(resolve(document, &schema).unwrap_or(&schema));
            params.push(ParamRule {
                name: name.to_owned(),
                location,
                required: param.get("required") == Some(&Value::Bool(true)),
                kind,
                schema: Schema::new(to_json_schema(schema), schemas),
            });
        }
        let body = operation
            .pointer("/requestBody/content/application~1json/schema")
            .map(|schema| Schema::new(to_json_schema(schema.clone()), schemas));
        Ok(Self { params, body })
    }
}

/// Where a parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Header,
}

impl Location {
    fn named(name: &str) -> Option<Self> {
        match name {
            "path" => Some(Self::Path),
            "query" => Some(Self::Query),
            "header" => Some(Self::Header),
            _ => None,
        }
    }
}

/// The JSON type a parameter's text is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Integer,
    Number,
    Boolean,
    String,
}

impl Kind {
    fn of(schema: &Value) -> Self {
        match schema.get("type").and_then(Value::as_str) {
            Some("integer") => Self::Integer,
            Some("number") => Self::Number,
            Some("boolean") => Self::Boolean,
            _ => Self::String,
        }
    }
}

/// One parameter of an operation.
pub struct ParamRule {
    pub name: String,
    pub location: Location,
    pub required: bool,
    pub kind: Kind,
    pub schema: Schema,
}

/// A schema of the contract as JSON Schema (draft 4, which OpenAPI 3.0's schemas extend),
/// compiled when a request first breaks it: only refused requests need it.
pub struct Schema {
    /// The schema, with the contract's `components/schemas` beside it for its `$ref`s.
    root: Arc<Value>,
    validator: OnceLock<Result<Validator, String>>,
}

impl Schema {
    fn new(schema: Value, schemas: &Arc<Value>) -> Self {
        let mut root = match schema {
            Value::Object(map) => map,
            other => Map::from_iter([("allOf".to_owned(), json!([other]))]),
        };
        root.insert("components".to_owned(), json!({ "schemas": &**schemas }));
        Self {
            root: Arc::new(Value::Object(root)),
            validator: OnceLock::new(),
        }
    }

    /// The schema as JSON: what `$ref`s and error paths are resolved in.
    pub fn root(&self) -> &Value {
        &self.root
    }

    pub fn validator(&self) -> Result<&Validator, &str> {
        self.validator
            .get_or_init(|| {
                jsonschema::options()
                    .with_draft(Draft::Draft4)
                    .should_validate_formats(true)
                    .with_format("date", |text| crate::http::types::Date::parse(text).is_ok())
                    .with_format("uuid", |text| uuid::Uuid::try_parse(text).is_ok())
                    .build(&self.root)
                    .map_err(|err| err.to_string())
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

/// The contract's `components/schemas` as JSON Schema.
fn json_schemas(document: &Value) -> Value {
    let schemas = document.pointer("/components/schemas").cloned();
    to_json_schema(schemas.unwrap_or_else(|| json!({})))
}

/// An OpenAPI 3.0 schema as JSON Schema draft 4: `nullable: true` becomes a `null`
/// alternative, and examples go (they are not rules).
fn to_json_schema(mut schema: Value) -> Value {
    convert(&mut schema);
    schema
}

fn convert(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("example");
            let nullable = map.remove("nullable") == Some(Value::Bool(true));
            map.values_mut().for_each(convert);
            if !nullable {
                return;
            }
            if let Some(Value::String(ty)) = map.get("type") {
                let types = json!([ty, "null"]);
                map.insert("type".to_owned(), types);
                if let Some(Value::Array(options)) = map.get_mut("enum") {
                    options.push(Value::Null);
                }
            } else {
                let inner = Value::Object(std::mem::take(map));
                map.insert("anyOf".to_owned(), json!([inner, { "type": "null" }]));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(convert),
        _ => {}
    }
}

/// `value`, or what its local `$ref` points at in `document`.
pub fn resolve<'a>(document: &'a Value, value: &'a Value) -> Option<&'a Value> {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => document.pointer(reference.strip_prefix('#')?),
        None => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use poem::http::Method;
    use serde_json::{Value, json};

    use super::{Contract, Kind, Location, poem_template, to_json_schema};

    fn contract() -> Contract {
        Contract::load().unwrap_or_else(|err| panic!("{err:#}"))
    }

    #[test]
    fn every_schema_of_the_contract_compiles() {
        let contract = contract();
        assert!(!contract.routes.is_empty());
        for (template, route) in &contract.routes {
            for (method, operation) in &route.operations {
                let schemas = operation
                    .body
                    .iter()
                    .chain(operation.params.iter().map(|p| &p.schema));
                for schema in schemas {
                    if let Err(err) = schema.validator() {
                        panic!("{method} {template}: {err}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_example_of_the_contract_follows_its_schema() {
        let contract = contract();
        let document: Value = serde_yaml::from_str(super::YAML).unwrap_or_else(|e| panic!("{e}"));
        let schemas = std::sync::Arc::new(super::json_schemas(&document));
        let components = document
            .pointer("/components/schemas")
            .and_then(Value::as_object);
        for (name, schema) in components.into_iter().flatten() {
            let example = schema
                .get("example")
                .unwrap_or_else(|| panic!("{name} has no example"));
            let checked = super::Schema::new(
                json!({ "$ref": format!("#/components/schemas/{name}") }),
                &schemas,
            );
            let validator = checked
                .validator()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let errors: Vec<String> = validator
                .iter_errors(example)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "the example of {name}: {errors:?}");
        }
        assert!(contract.json().contains("\"openapi\": \"3.0.3\""));
    }

    #[test]
    fn routes_are_found_by_poem_template_with_their_parameters() {
        let contract = contract();
        assert_eq!(poem_template("/api/v1/books/{id}"), "/api/v1/books/:id");
        let books = contract
            .route("/api/v1/books")
            .unwrap_or_else(|| panic!("no books route"));
        let list = books
            .operation(&Method::GET)
            .unwrap_or_else(|| panic!("no list"));
        let limit = list.params.iter().find(|p| p.name == "limit");
        assert!(limit.is_some_and(|p| p.kind == Kind::Integer && p.location == Location::Query));
        assert!(list.body.is_none());
        assert!(
            books
                .operation(&Method::POST)
                .is_some_and(|create| create.body.is_some())
        );
        let book = contract
            .route("/api/v1/books/:id")
            .unwrap_or_else(|| panic!("no book route"));
        let get = book
            .operation(&Method::HEAD)
            .unwrap_or_else(|| panic!("HEAD is GET"));
        assert!(
            get.params
                .iter()
                .any(|p| p.name == "id" && p.location == Location::Path && p.required)
        );
    }

    #[test]
    fn nullable_becomes_a_null_alternative() {
        assert_eq!(
            to_json_schema(json!({ "type": "string", "nullable": true, "example": "x" })),
            json!({ "type": ["string", "null"] })
        );
        assert_eq!(
            to_json_schema(json!({ "$ref": "#/x", "nullable": true })),
            json!({ "anyOf": [{ "$ref": "#/x" }, { "type": "null" }] })
        );
        assert_eq!(
            to_json_schema(json!({ "type": "string", "enum": ["a"], "nullable": true })),
            json!({ "type": ["string", "null"], "enum": ["a", null] })
        );
    }
}
