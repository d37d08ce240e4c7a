//! Structural comparison of two OpenAPI 3.0 documents: the hand-written contract and the
//! spec the implementation describes.
//!
//! Both documents are normalised first, so that only differences a client could observe
//! remain: `$ref`s into `components/{responses,parameters,requestBodies,headers}` are inlined
//! (schema refs stay refs, and `components/schemas` is compared on its own); path-level
//! parameters and the document-wide `security` are copied into each operation; documentation
//! keys and explicit defaults are dropped; media types lose their parameters and header names
//! their case; `allOf: [{$ref}, {..}]` becomes `{$ref, ..}`; arrays whose order carries no
//! meaning are sorted. Parameters are keyed by `in:name` rather than by position, so a
//! pointer such as `.../get/parameters/query:limit/schema` names one.

use serde_json::{Map, Number, Value};

// Word lists, read with `listed`: OpenAPI keywords grouped by how they are normalised.
/// Keys that only document, and so never change what goes over the wire.
const DOC_KEYS: &str = "description summary title example examples externalDocs";
/// Flags that mean the same when `false` as when absent (`explode` is handled apart).
const FALSE_BY_DEFAULT: &str =
    "deprecated nullable readOnly writeOnly required allowEmptyValue allowReserved uniqueItems";
/// Objects whose keys are names chosen by the API, not OpenAPI keywords.
const NAME_MAPS: &str = "paths properties responses content schemas securitySchemes headers \
    parameters encoding links callbacks mapping scopes variables";
/// Arrays whose order carries no meaning, and which mean nothing when empty.
const SET_KEYS: &str = "required enum tags security";
const METHODS: &str = "get put post delete options head patch trace";
/// Key under which an array element of `security` sits: a map of scheme name to scopes.
const REQUIREMENT: &str = "security requirement";

fn listed(list: &str, key: &str) -> bool {
    list.split_whitespace().any(|word| word == key)
}

/// Every difference between the two documents, one readable line each, in the form
/// `JSON pointer: what differs`, sorted so that the order never depends on key order.
pub fn diff(contract: &Value, implemented: &Value) -> Vec<String> {
    let mut walk = Walk::default();
    walk.compare(&normalise(contract), &normalise(implemented), Kind::Spec);
    walk.out.sort();
    walk.out
}

/// The parts of a document that are compared, in canonical form.
pub fn normalise(doc: &Value) -> Value {
    let mut doc = doc.clone();
    inline_refs(&doc.clone(), &mut doc, 0);
    let security = doc.get("security").cloned();
    let mut kept = Map::new();
    if let Some(Value::Object(mut paths)) = doc.get_mut("paths").map(Value::take) {
        for item in paths.values_mut() {
            spread_path_item(item, security.as_ref());
        }
        kept.insert("paths".into(), Value::Object(paths));
    }
    let mut components = Map::new();
    for key in ["schemas", "securitySchemes"] {
        if let Some(section) = doc.pointer_mut(&format!("/components/{key}")) {
            components.insert(key.into(), section.take());
        }
    }
    if !components.is_empty() {
        kept.insert("components".into(), Value::Object(components));
    }
    clean(Value::Object(kept), "")
}

/// Replaces every `$ref` outside `components/schemas` with a copy of its target.
fn inline_refs(root: &Value, value: &mut Value, depth: usize) {
    let target = value.get("$ref").and_then(Value::as_str);
    let local = target.and_then(|t| t.strip_prefix('#'));
    let local = local.filter(|t| !t.starts_with("/components/schemas/") && depth < 32);
    if let Some(found) = local.and_then(|pointer| root.pointer(pointer)) {
        *value = found.clone();
        return inline_refs(root, value, depth + 1);
    }
    match value {
        Value::Object(map) => map.values_mut().for_each(|v| inline_refs(root, v, depth)),
        Value::Array(items) => items.iter_mut().for_each(|v| inline_refs(root, v, depth)),
        _ => {}
    }
}

/// Copies path-level parameters and the document-wide `security` into each operation (the
/// operation's own entry wins), as OpenAPI applies them, so either way of writing them
/// compares equal.
fn spread_path_item(item: &mut Value, security: Option<&Value>) {
    let Some(map) = item.as_object_mut() else {
        return;
    };
    let shared = array(map.remove("parameters"));
    let id = |p: &Value| (p.get("in").cloned(), p.get("name").cloned());
    for (_, op) in map.iter_mut().filter(|(key, _)| listed(METHODS, key)) {
        let Some(op) = op.as_object_mut() else {
            continue;
        };
        let mut all = array(op.remove("parameters"));
        let overridden = |p: &&Value| all.iter().any(|o| id(o) == id(p));
        let inherited: Vec<Value> = shared.iter().filter(|p| !overridden(p)).cloned().collect();
        all.extend(inherited);
        op.insert("parameters".into(), Value::Array(all));
        if let Some(security) = security.filter(|_| !op.contains_key("security")) {
            op.insert("security".into(), security.clone());
        }
    }
}

fn array(value: Option<Value>) -> Vec<Value> {
    match value {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

fn text(map: &Map<String, Value>, key: &str) -> String {
    let value = map.get(key).and_then(Value::as_str);
    value.unwrap_or_default().to_owned()
}

/// A media type without its parameters (`; charset=utf-8`), or a header name, in lower case.
fn bare_name(name: &str) -> String {
    let bare = name.split(';').next().unwrap_or_default();
    bare.trim().to_ascii_lowercase()
}

/// Canonical form of `value`, which sits under `key` in its parent spec object.
fn clean(value: Value, key: &str) -> Value {
    match value {
        Value::Object(map) if key == REQUIREMENT => {
            let scopes = map.into_iter().map(|(k, v)| (k, sorted(clean(v, ""))));
            Value::Object(scopes.collect())
        }
        Value::Object(map) if listed(NAME_MAPS, key) => {
            let rename = |name: String| match key {
                "content" | "headers" => bare_name(&name),
                _ => name,
            };
            let entries = map.into_iter().map(|(k, v)| (rename(k), clean(v, "")));
            Value::Object(entries.collect())
        }
        Value::Object(map) => Value::Object(clean_spec_object(map)),
        Value::Array(items) if key == "parameters" => Value::Object(parameters_by_id(items)),
        Value::Array(items) => {
            let item_key = if key == "security" { REQUIREMENT } else { "" };
            let items = Value::Array(items.into_iter().map(|v| clean(v, item_key)).collect());
            if listed(SET_KEYS, key) {
                sorted(items)
            } else {
                items
            }
        }
        Value::Number(n) => clean_number(n),
        other => other,
    }
}

fn clean_spec_object(map: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in map {
        let is_default = (value == false && listed(FALSE_BY_DEFAULT, &key))
            || (value == true && key == "explode");
        if is_default || listed(DOC_KEYS, &key) || key.starts_with("x-") {
            continue;
        }
        let value = match key.as_str() {
            "enum" => sorted(data(value)),
            "default" => data(value),
            _ => clean(value, &key),
        };
        let empty = matches!(&value, Value::Array(a) if a.is_empty())
            || matches!(&value, Value::Object(o) if o.is_empty());
        if !(empty && (listed(SET_KEYS, &key) || key == "parameters")) {
            out.insert(key, value);
        }
    }
    // poem-openapi emits a `$ref` with siblings (a field's description) as
    // `allOf: [{$ref}, {siblings}]`: the same schema as `{$ref, siblings}`.
    if let Some(Value::Array(parts)) = out.get("allOf")
        && parts
            .iter()
            .filter(|part| part.get("$ref").is_some())
            .count()
            == 1
        && let Some(parts) = parts
            .iter()
            .map(Value::as_object)
            .collect::<Option<Vec<_>>>()
    {
        let mut flat = out.clone();
        flat.remove("allOf");
        let mut clash = false;
        for (key, value) in parts.into_iter().flatten() {
            clash |= flat.insert(key.clone(), value.clone()).is_some();
        }
        if !clash {
            out = flat;
        }
    }
    out
}

/// Parameters keyed by `in:name` (header names in lower case, as they are case-insensitive),
/// without `style` where it is the default for `in`.
fn parameters_by_id(items: Vec<Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for item in items {
        let Value::Object(mut p) = clean(item, "") else {
            continue;
        };
        let (location, mut name) = (text(&p, "in"), text(&p, "name"));
        if location == "header" {
            name = bare_name(&name);
            p.insert("name".into(), Value::from(name.as_str()));
        }
        let default_style = match location.as_str() {
            "query" | "cookie" => "form",
            _ => "simple",
        };
        if text(&p, "style") == default_style {
            p.remove("style");
        }
        out.insert(format!("{location}:{name}"), Value::Object(p));
    }
    out
}

/// `100.0` and `100` are the same bound.
fn clean_number(n: Number) -> Value {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
        _ => Value::Number(n),
    }
}

fn data(value: Value) -> Value {
    match value {
        Value::Number(n) => clean_number(n),
        Value::Array(items) => Value::Array(items.into_iter().map(data).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, data(v))).collect()),
        other => other,
    }
}

fn sorted(value: Value) -> Value {
    let Value::Array(mut items) = value else {
        return value;
    };
    items.sort_by_cached_key(Value::to_string);
    items.dedup();
    Value::Array(items)
}

/// How the keys of the values being compared are to be read.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Spec,
    Names,
    Set,
}

fn child_kind(parent: Kind, key: &str) -> Kind {
    match key {
        _ if parent == Kind::Names => Kind::Spec,
        _ if listed(NAME_MAPS, key) => Kind::Names,
        _ if listed(SET_KEYS, key) => Kind::Set,
        _ => Kind::Spec,
    }
}

/// The value OpenAPI assumes for a flag that a document leaves out.
fn implied(key: &str) -> Option<&'static Value> {
    static FALSE: Value = Value::Bool(false);
    static TRUE: Value = Value::Bool(true);
    match key {
        "explode" => Some(&TRUE),
        _ if listed(FALSE_BY_DEFAULT, key) => Some(&FALSE),
        _ => None,
    }
}

/// Walks both normalised documents together, collecting differences.
#[derive(Default)]
struct Walk {
    path: Vec<String>,
    out: Vec<String>,
}

impl Walk {
    fn compare(&mut self, contract: &Value, implemented: &Value, kind: Kind) {
        match (contract, implemented) {
            (Value::Object(c), Value::Object(s)) => {
                let implemented_only = s.keys().filter(|k| !c.contains_key(*k));
                for key in c.keys().chain(implemented_only) {
                    // A flag that one side leaves out has the value OpenAPI assumes for it.
                    let (cv, sv) = (c.get(key), s.get(key));
                    let flag = kind != Kind::Names && cv.or(sv).is_some_and(Value::is_boolean);
                    let implied = implied(key).filter(|_| flag);
                    match (cv.or(implied), sv.or(implied)) {
                        (Some(cv), Some(sv)) if key == "required" && kind == Kind::Spec => {
                            let (cv, sv) = (two_sided(cv, c, s), two_sided(sv, c, s));
                            self.child(key, &cv, &sv, Kind::Set);
                        }
                        (Some(cv), Some(sv)) => self.child(key, cv, sv, child_kind(kind, key)),
                        (cv, _) => self.one_side(describe(&self.path, key, kind), cv.is_some()),
                    }
                }
            }
            (Value::Array(c), Value::Array(s)) if kind == Kind::Set => {
                for item in c.iter().filter(|v| !s.contains(v)) {
                    self.one_side(item, true);
                }
                for item in s.iter().filter(|v| !c.contains(v)) {
                    self.one_side(item, false);
                }
            }
            (Value::Array(c), Value::Array(s)) if c.len() == s.len() => {
                for (i, (cv, sv)) in c.iter().zip(s).enumerate() {
                    self.child(&i.to_string(), cv, sv, Kind::Spec);
                }
            }
            _ if contract == implemented => {}
            _ => {
                let here = pointer(&self.path);
                self.out.push(format!(
                    "{here}: contract {contract}, implemented {implemented}"
                ));
            }
        }
    }

    fn child(&mut self, key: &str, contract: &Value, implemented: &Value, kind: Kind) {
        self.path.push(key.to_owned());
        self.compare(contract, implemented, kind);
        self.path.pop();
    }

    fn one_side(&mut self, what: impl std::fmt::Display, in_contract: bool) {
        let here = pointer(&self.path);
        let side = match in_contract {
            true => "in contract, not implemented",
            false => "implemented, not in contract",
        };
        self.out.push(format!("{here}: {what} {side}"));
    }
}

/// A `required` list without the fields that only one side has: those are reported once,
/// under `properties`.
fn two_sided(required: &Value, c: &Map<String, Value>, s: &Map<String, Value>) -> Value {
    let has = |side: &Map<String, Value>, name: &str| {
        side.get("properties").and_then(|p| p.get(name)).is_some()
    };
    let Value::Array(names) = required else {
        return required.clone();
    };
    let kept = names
        .iter()
        .filter(|n| n.as_str().is_none_or(|n| has(c, n) == has(s, n)));
    Value::Array(kept.cloned().collect())
}

/// How a missing or extra `key` of the object at `path` is named in a message.
fn describe(path: &[String], key: &str, kind: Kind) -> String {
    let noun = match path.last().map(String::as_str) {
        _ if kind != Kind::Names => "",
        Some("properties") => "field",
        Some("parameters") => {
            let (location, name) = key.split_once(':').unwrap_or(("", key));
            return format!("parameter {location} {name:?}");
        }
        Some("responses") => return format!("status code {key}"),
        Some("paths") => "path",
        Some("content") => "media type",
        Some("schemas") => "schema",
        Some("headers") => "header",
        Some("securitySchemes") => "security scheme",
        _ => "",
    };
    match noun {
        "" if path.len() == 2 && path[0] == "paths" && listed(METHODS, key) => {
            format!("operation {key}")
        }
        "" => format!("key {key:?}"),
        noun => format!("{noun} {key:?}"),
    }
}

/// JSON pointer (RFC 6901) of `path`.
fn pointer(path: &[String]) -> String {
    if path.is_empty() {
        return "(document root)".into();
    }
    path.iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}
