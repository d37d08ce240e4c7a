//! A refused request, explained field by field in the contract's terms.
//!
//! poem-openapi refuses a body or parameter that does not parse into the operation's
//! types with a message of its own, in Rust's terms and about one field at most. When that
//! happens, the request is checked against the contract's schemas for the operation
//! instead, and the answer is a 422 whose `errors` name every offending field by its JSON
//! path (`price`, `items.0.book_id`) or parameter name (`limit`), in plain words. Only
//! refused requests pay for it: the others keep a clone of the URI, of the header
//! parameters they carry and of the body's bytes (reference-counted), nothing more.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError};
use percent_encoding::percent_decode_str;
use poem::Request;
use poem::http::{HeaderValue, StatusCode, Uri};
use poem_openapi::error::{
    ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use serde_json::Value;

use super::contract::{Kind, Location, OperationRules, RouteRules, Schema};
use super::problem::{FieldProblem, Problem, ProblemError};

/// What `detail` says of a request refused for its fields.
const DETAIL: &str = "The request does not match the API's contract; see errors.";

/// Explains the refused requests of one route (see the module documentation); a route
/// the contract does not describe (`/docs`) is left as it is.
pub struct Explain {
    pub route: Option<Arc<RouteRules>>,
    /// The route's template, as poem writes it (`/api/v1/books/:id`).
    pub template: Arc<str>,
}

/// What is kept of a request until its answer, in case it is refused.
pub struct Sent<'a> {
    operation: &'a OperationRules,
    uri: Uri,
    /// The header parameters the request carries: their index among the operation's
    /// parameters, and their value.
    headers: Vec<(usize, HeaderValue)>,
    body: Option<Bytes>,
}

impl Explain {
    /// Keeps what explaining `req` would take, if the contract describes its operation;
    /// `body` is the request's body, already read.
    pub fn keep(&self, req: &Request, body: &Bytes) -> Option<Sent<'_>> {
        let operation = self.route.as_deref()?.operation(req.method())?;
        let headers = operation
            .params
            .iter()
            .enumerate()
            .filter(|(_, param)| param.location == Location::Header)
            .filter_map(|(index, param)| {
                let value = req.headers().get(param.name.as_str())?;
                Some((index, value.clone()))
            })
            .collect();
        Some(Sent {
            operation,
            uri: req.uri().clone(),
            headers,
            body: operation.body.as_ref().map(|_| body.clone()),
        })
    }

    /// `err`, the answer to the request `sent` keeps, explained field by field if
    /// poem-openapi refused its input.
    pub fn explain(&self, sent: &Sent<'_>, err: poem::Error) -> poem::Error {
        if is_refused_input(&err) {
            refused(explain(sent, &self.template, &err))
        } else {
            err
        }
    }
}

/// Whether poem-openapi refused the request's input (its body or a parameter).
fn is_refused_input(err: &poem::Error) -> bool {
    err.is::<ParseRequestPayloadError>()
        || err.is::<ParseParamError>()
        || err.is::<ParsePathError>()
        || err.is::<ContentTypeError>()
}

fn refused(errors: Vec<FieldProblem>) -> poem::Error {
    let problem = Problem {
        errors: Some(errors),
        ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", DETAIL)
    };
    poem::Error::new(ProblemError(problem), StatusCode::UNPROCESSABLE_ENTITY)
}

/// Every field of `sent` that breaks its operation's rules.
fn explain(sent: &Sent<'_>, template: &str, refusal: &poem::Error) -> Vec<FieldProblem> {
    let operation = sent.operation;
    let mut errors = Vec::new();
    for (index, param) in operation.params.iter().enumerate() {
        let raw = match param.location {
            Location::Path => path_value(template, sent.uri.path(), &param.name),
            Location::Query => query_value(sent.uri.query(), &param.name),
            Location::Header => {
                sent.headers
                    .iter()
                    .find(|(at, _)| *at == index)
                    .map(|(_, value)| {
                        Cow::Owned(String::from_utf8_lossy(value.as_bytes()).into_owned())
                    })
            }
        };
        match raw {
            None if param.required => errors.push(field(&param.name, "is required")),
            None => {}
            Some(raw) => match typed(param.kind, &raw) {
                Ok(value) => check(&param.schema, &value, &param.name, &mut errors),
                Err(message) => errors.push(field(&param.name, message)),
            },
        }
    }
    if let (Some(schema), Some(body)) = (&operation.body, &sent.body) {
        if refusal.is::<ContentTypeError>() && !body.is_empty() {
            errors.push(field(
                "",
                "must be sent as JSON (Content-Type: application/json)",
            ));
        } else if body.is_empty() {
            errors.push(field("", "is required: a JSON body"));
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(value) => check(schema, &value, "", &mut errors),
                Err(err) => errors.push(field("", format!("is not valid JSON: {err}"))),
            }
        }
    }
    if errors.is_empty() {
        // The contract takes what the server refused: a disagreement between the two,
        // which the contract test should have caught.
        tracing::error!(reason = %refusal, "input the contract allows was refused");
        errors.push(field("", "is invalid"));
    }
    errors
}

/// The path segment that `template` (`/api/v1/books/:id`) puts parameter `name` at.
fn path_value<'a>(template: &str, path: &'a str, name: &str) -> Option<Cow<'a, str>> {
    let position = template
        .split('/')
        .position(|segment| segment.strip_prefix(':') == Some(name))?;
    let segment = path.split('/').nth(position)?;
    Some(percent_decode_str(segment).decode_utf8_lossy())
}

/// The first value of query parameter `name`, decoded.
fn query_value<'a>(query: Option<&str>, name: &str) -> Option<Cow<'a, str>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs
        .into_iter()
        .find_map(|(key, value)| (key == name).then_some(Cow::Owned(value)))
}

/// A parameter's text as the JSON value its schema describes.
fn typed(kind: Kind, raw: &str) -> Result<Value, &'static str> {
    match kind {
        Kind::String => Ok(Value::String(raw.to_owned())),
        Kind::Integer => raw
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| "must be an integer"),
        Kind::Number => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or("must be a number"),
        Kind::Boolean => match raw {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err("must be true or false"),
        },
    }
}

/// Adds an error for each field of `value` that breaks `schema`, the first one of each
/// field only; `prefix` names the value (a parameter's name, or empty for the body).
fn check(schema: &Schema, value: &Value, prefix: &str, errors: &mut Vec<FieldProblem>) {
    let validator = match schema.validator() {
        Ok(validator) => validator,
        Err(err) => {
            tracing::error!(error = err, "a schema of the contract does not compile");
            return;
        }
    };
    for error in validator.iter_errors(value) {
        let mut name = member_path(prefix, &error);
        if let ValidationErrorKind::Required { property } = error.kind() {
            let property = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            name = join(&name, &property);
        }
        if errors.iter().any(|e| e.field == name) {
            continue;
        }
        let message = message(schema.root(), &error);
        errors.push(field(&name, message));
    }
}

/// The dotted JSON path of the member an error is about.
fn member_path(prefix: &str, error: &ValidationError<'_>) -> String {
    error
        .instance_path()
        .segments()
        .fold(prefix.to_owned(), |path, segment| {
            join(&path, &segment.to_string())
        })
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_owned()
    } else {
        format!("{path}.{member}")
    }
}

fn field(name: &str, message: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: name.to_owned(),
        message: message.into(),
    }
}

/// What is wrong, in plain words. A schema may word its own: `x-error-message` on it (or
/// on a schema around it) replaces what a `pattern`, `format` or `anyOf` would say, which
/// would otherwise be a regular expression or a list of alternatives.
fn message(root: &Value, error: &ValidationError<'_>) -> String {
    use ValidationErrorKind as K;
    let own = || own_message(root, error.evaluation_path().as_str());
    match error.kind() {
        K::Required { .. } => "is required".to_owned(),
        K::Type { kind } => format!("must be {}", types(kind)),
        K::Enum { options } => format!("must be one of: {}", listed(options)),
        K::MinLength { limit: 1 } => "must not be empty".to_owned(),
        K::MinLength { limit } => format!("must be at least {limit} characters long"),
        K::MaxLength { limit } => format!("must be at most {limit} characters long"),
        K::Minimum { limit } => format!("must be at least {}", number(limit)),
        K::Maximum { limit } => format!("must be at most {}", number(limit)),
        K::ExclusiveMinimum { limit } => format!("must be greater than {}", number(limit)),
        K::ExclusiveMaximum { limit } => format!("must be less than {}", number(limit)),
        K::MultipleOf { multiple_of } => format!("must be a multiple of {multiple_of}"),
        K::Format { format } => own().map_or_else(
            || match format.as_str() {
                "date" => "must be a date as YYYY-MM-DD".to_owned(),
                "date-time" => "must be a date and time as RFC 3339".to_owned(),
                "uuid" => "must be a UUID".to_owned(),
                other => format!("must be a valid {other}"),
            },
            str::to_owned,
        ),
        K::Pattern { pattern } => {
            own().map_or_else(|| format!("must match {pattern}"), str::to_owned)
        }
        K::AnyOf { .. } | K::OneOfNotValid { .. } | K::OneOfMultipleValid { .. } => own()
            .map_or_else(
                || "does not match any of the allowed forms".to_owned(),
                str::to_owned,
            ),
        K::AdditionalProperties { unexpected } => {
            format!("must not have {}", listed(&Value::from(unexpected.clone())))
        }
        _ => error.to_string(),
    }
}

/// The `x-error-message` of the innermost schema on `path` (an evaluation path: JSON
/// pointer segments from `root`, with `$ref` where a reference was followed) that has one.
fn own_message<'a>(root: &'a Value, path: &str) -> Option<&'a str> {
    let of = |node: &'a Value| node.get("x-error-message").and_then(Value::as_str);
    let mut node = root;
    let mut found = of(node);
    for segment in path.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        node = match node {
            Value::Object(map) if segment == "$ref" => {
                let reference = map.get("$ref")?.as_str()?.strip_prefix('#')?;
                root.pointer(reference)?
            }
            Value::Object(map) => map.get(&segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return found,
        };
        found = of(node).or(found);
    }
    found
}

/// `a string`, `an integer or null`.
fn types(kind: &TypeKind) -> String {
    let names: Vec<&str> = match kind {
        TypeKind::Single(ty) => vec![article(*ty)],
        TypeKind::Multiple(set) => set.iter().map(article).collect(),
    };
    names.join(" or ")
}

fn article(ty: JsonType) -> &'static str {
    match ty {
        JsonType::Array => "an array",
        JsonType::Boolean => "a boolean",
        JsonType::Integer => "an integer",
        JsonType::Null => "null",
        JsonType::Number => "a number",
        JsonType::Object => "an object",
        JsonType::String => "a string",
    }
}

/// `a, b, c`: strings without their quotes.
fn listed(options: &Value) -> String {
    let items = options.as_array().map(Vec::as_slice).unwrap_or_default();
    let names: Vec<String> = items
        .iter()
        .map(|item| {
            item.as_str()
                .map_or_else(|| item.to_string(), str::to_owned)
        })
        .collect();
    names.join(", ")
}

/// A limit as people write it: `100`, not `100.0`.
fn number(limit: &Value) -> String {
    match limit.as_f64() {
        Some(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{n:.0}"),
        _ => limit.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use poem::http::{Method, Uri};
    use serde_json::json;

    use super::{Sent, explain, own_message};
    use crate::http::contract::Contract;

    fn errors_of(
        method: Method,
        template: &str,
        uri: &str,
        body: Option<&str>,
    ) -> Vec<(String, String)> {
        let contract = Contract::load().unwrap_or_else(|err| panic!("{err:#}"));
        let route = contract
            .route(template)
            .unwrap_or_else(|| panic!("no route {template}"));
        let operation = route
            .operation(&method)
            .unwrap_or_else(|| panic!("no {method}"));
        let sent = Sent {
            operation,
            uri: uri.parse::<Uri>().unwrap_or_else(|e| panic!("{e}")),
            headers: Vec::new(),
            body: body.map(|b| Bytes::from(b.to_owned())),
        };
        let refusal = poem::Error::from_string("refused", poem::http::StatusCode::BAD_REQUEST);
        explain(&sent, template, &refusal)
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    fn pair(field: &str, message: &str) -> (String, String) {
        (field.to_owned(), message.to_owned())
    }

    #[test]
    fn a_body_is_explained_field_by_field() {
        let errors = errors_of(
            Method::POST,
            "/api/v1/books",
            "/api/v1/books",
            Some(r#"{"title": "", "price": "1234567.89", "published_at": "2020-1-1"}"#),
        );
        assert!(
            errors.contains(&pair("title", "must not be empty")),
            "{errors:?}"
        );
        assert!(
            errors.contains(&pair("author_id", "is required")),
            "{errors:?}"
        );
        assert!(
            errors.contains(&pair(
                "price",
                "must be an amount from 0.01 to 1000000.00 with at most 2 fraction digits, such as \"19.99\""
            )),
            "{errors:?}"
        );
        assert!(
            errors.contains(&pair("published_at", "must be a date as YYYY-MM-DD")),
            "{errors:?}"
        );
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn types_enums_and_bounds_are_said_in_plain_words() {
        let signup = errors_of(
            Method::POST,
            "/api/v1/users/signup",
            "/api/v1/users/signup",
            Some(r#"{"email": null, "password": "short", "full_name": 7}"#),
        );
        for expected in [
            pair("email", "must be a string"),
            pair("full_name", "must be a string"),
            pair("password", "must be at least 8 characters long"),
        ] {
            assert!(signup.contains(&expected), "{signup:?}");
        }
        assert_eq!(signup.len(), 3, "{signup:?}");
        let status = errors_of(
            Method::PATCH,
            "/api/v1/orders/:id",
            "/api/v1/orders/not-a-uuid",
            Some(r#"{"status": "lost"}"#),
        );
        assert!(status.contains(&pair("id", "must be a UUID")), "{status:?}");
        assert!(
            status.contains(&pair(
                "status",
                "must be one of: pending, paid, shipped, delivered, cancelled"
            )),
            "{status:?}"
        );
    }

    #[test]
    fn parameters_are_named_and_read_as_their_type() {
        let errors = errors_of(
            Method::GET,
            "/api/v1/books",
            "/api/v1/books?limit=1000000&offset=x&min_price=-1&q=a%00b",
            None,
        );
        assert!(
            errors.contains(&pair("limit", "must be at most 100")),
            "{errors:?}"
        );
        assert!(
            errors.contains(&pair("offset", "must be an integer")),
            "{errors:?}"
        );
        assert!(errors.iter().any(|(f, _)| f == "min_price"), "{errors:?}");
        assert!(
            errors.contains(&pair("q", "must not contain NUL characters")),
            "{errors:?}"
        );
    }

    #[test]
    fn malformed_json_is_one_error_with_its_position() {
        let errors = errors_of(
            Method::POST,
            "/api/v1/authors",
            "/api/v1/authors",
            Some(r#"{"name": "#),
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "");
        assert!(
            errors[0].1.starts_with("is not valid JSON: ") && errors[0].1.contains("line 1 column"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_schema_names_its_own_message_through_references() {
        let root = json!({
            "$ref": "#/components/schemas/A",
            "components": { "schemas": { "A": { "x-error-message": "own", "anyOf": [] } } }
        });
        assert_eq!(own_message(&root, "/$ref/anyOf"), Some("own"));
        assert_eq!(own_message(&root, "/properties/x"), None);
    }
}
