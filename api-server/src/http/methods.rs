//! `405 Method Not Allowed` with the `Allow` header that RFC 9110 requires of it.
//!
//! poem answers a method that a known path does not serve with a bare 405 error that says
//! nothing about the path, so the edge cannot tell which methods to list. Instead, the
//! composed API is served through [`Served`], which gives every path an endpoint for
//! each method it lacks: a `method_not_allowed` problem whose `Allow` lists exactly what
//! the path serves.

use std::collections::HashMap;

use poem::endpoint::BoxEndpoint;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{EndpointExt, Response};
use poem_openapi::OpenApi;
use poem_openapi::registry::{MetaApi, Registry};

use super::Problem;
use super::edge::Edge;

/// What `OpenApi::add_routes` fills: path → method → endpoint.
pub type RouteTable = HashMap<String, HashMap<Method, BoxEndpoint<'static>>>;

/// The methods of RFC 9110.
pub static STANDARD: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
    Method::TRACE,
    Method::CONNECT,
];

/// The methods answered with 405 where a path does not serve them: the standard ones and
/// QUERY (the safe method with a body that HTTP is gaining). HEAD is left to poem, which
/// serves it from GET, wherever GET exists.
fn methods() -> impl Iterator<Item = Method> {
    STANDARD
        .iter()
        .cloned()
        .chain(Method::from_bytes(b"QUERY").ok())
}

/// The `Allow` value for a path serving `served`: its methods, plus HEAD where GET is
/// served, in a stable order.
pub fn allow_value<'a>(served: impl IntoIterator<Item = &'a Method>) -> String {
    let mut names: Vec<&str> = served.into_iter().map(Method::as_str).collect();
    if names.contains(&"GET") && !names.contains(&"HEAD") {
        names.push("HEAD");
    }
    let rank = |name: &&str| {
        methods()
            .position(|m| m.as_str() == *name)
            .unwrap_or(usize::MAX)
    };
    names.sort_by_key(rank);
    names.dedup();
    names.join(", ")
}

/// Adds the routes of `api` to `table`, each path completed with 405 answers that carry
/// `Allow`, and every endpoint wrapped in the layers of `edge`.
fn add_routes_with_allow<T: OpenApi>(api: T, edge: &Edge, table: &mut RouteTable) {
    let templates = templates::<T>();
    let mut own = RouteTable::new();
    api.add_routes(&mut own);
    for (path, mut served) in own {
        let template = templates
            .get(&path)
            .cloned()
            .unwrap_or_else(|| path.clone());
        let allow = allow_value(served.keys());
        let missing: Vec<Method> = methods()
            .filter(|m| !served.contains_key(m))
            .filter(|m| *m != Method::HEAD || !served.contains_key(&Method::GET))
            .collect();
        for method in missing {
            served.insert(method, not_allowed(allow.clone()));
        }
        let served = served
            .into_iter()
            .map(|(method, endpoint)| (method, edge.around(&template, endpoint)));
        table.entry(path).or_default().extend(served);
    }
}

/// The route template of each path of `T`'s route table: poem-openapi names path
/// parameters by position in its routes (`/api/v1/books/:param0`), the spec by name
/// (`/api/v1/books/{id}`); the template takes the names, in poem's form
/// (`/api/v1/books/:id`).
fn templates<T: OpenApi>() -> HashMap<String, String> {
    T::meta()
        .into_iter()
        .flat_map(|api| api.paths)
        .map(|path| {
            let (mut key, mut template, mut params) = (String::new(), String::new(), 0);
            for segment in path.path.split('/').filter(|s| !s.is_empty()) {
                match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => {
                        key.push_str(&format!("/:param{params}"));
                        template.push_str(&format!("/:{name}"));
                        params += 1;
                    }
                    None => {
                        key.push_str(&format!("/{segment}"));
                        template.push_str(&format!("/{segment}"));
                    }
                }
            }
            (key, template)
        })
        .collect()
}

/// An endpoint that answers 405 with `allow` as the `Allow` header.
fn not_allowed(allow: String) -> BoxEndpoint<'static> {
    poem::endpoint::make_sync(move |_| method_not_allowed(&allow)).boxed()
}

/// The 405 problem, listing the methods the path serves.
pub fn method_not_allowed(allow: &str) -> Response {
    let mut resp = Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("The route does not support this method; it supports {allow}."),
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(allow) {
        resp.headers_mut().insert(header::ALLOW, value);
    }
    resp
}

/// The composed API as it is served: the spec is the API's own; every path also answers
/// the methods it lacks with 405 and `Allow`, and every endpoint has the [`Edge`] layers
/// around it.
pub struct Served<T> {
    pub api: T,
    pub edge: Edge,
}

impl<T: OpenApi> OpenApi for Served<T> {
    fn meta() -> Vec<MetaApi> {
        T::meta()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn add_routes(self, table: &mut RouteTable) {
        add_routes_with_allow(self.api, &self.edge, table);
    }
}

#[cfg(test)]
mod tests {
    use poem::http::Method;

    use super::allow_value;

    #[test]
    fn allow_lists_the_served_methods_with_head_beside_get() {
        assert_eq!(
            allow_value(&[Method::DELETE, Method::GET, Method::PATCH]),
            "GET, HEAD, PATCH, DELETE"
        );
        assert_eq!(allow_value(&[Method::POST]), "POST");
    }
}
