//! The operations of the API as the server routes them, with the `405 Method Not
//! Allowed` and the `Allow` header that RFC 9110 requires of it.
//!
//! poem answers a method that a known path does not serve with a bare 405 error that says
//! nothing about the path, so the edge cannot tell which methods to list. Instead, the
//! composed API is served through [`Served`], which gives every path an endpoint for
//! each method it lacks: a `method_not_allowed` problem whose `Allow` lists exactly what
//! the path serves.
//!
//! [`route_api`] puts the operations into the server's one router, beside its other
//! routes, so that a request is routed once: poem-openapi's own service would be a
//! router of its own, nested in the server's.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;

use poem::endpoint::BoxEndpoint;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, EndpointExt, Request, Response, Route, RouteMethod};
use poem_openapi::__private::UrlQuery;
use poem_openapi::OpenApi;
use poem_openapi::registry::{MetaApi, MetaParamIn, Registry};

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
    let paths = paths::<T>();
    let mut own = RouteTable::new();
    api.add_routes(&mut own);
    for (path, mut served) in own {
        let (template, reading_query) = paths
            .get(&path)
            .map_or((path.as_str(), None), |(template, reading)| {
                (template.as_str(), Some(reading))
            });
        let allow = allow_value(served.keys());
        let missing: Vec<Method> = methods()
            .filter(|m| !served.contains_key(m))
            .filter(|m| *m != Method::HEAD || !served.contains_key(&Method::GET))
            .collect();
        for method in missing {
            served.insert(method, not_allowed(allow.clone()));
        }
        let served: Vec<_> = served
            .into_iter()
            .map(|(method, endpoint)| {
                let operation = Operation {
                    reads_query: reading_query.is_some_and(|reading| reading.contains(&method)),
                    endpoint,
                };
                (method, edge.around(template, operation))
            })
            .collect();
        table.entry(path).or_default().extend(served);
    }
}

/// For each path of `T`'s route table, its route template and the methods whose
/// operation reads the query string (see [`ReadsQuery`]). poem-openapi names path
/// parameters by position in its routes (`/api/v1/books/:param0`), the spec by name
/// (`/api/v1/books/{id}`); the template takes the names, in poem's form
/// (`/api/v1/books/:id`).
fn paths<T: OpenApi>() -> HashMap<String, (String, HashSet<Method>)> {
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
            let reading_query = path
                .operations
                .iter()
                .filter(|op| {
                    !op.security.is_empty()
                        || op.params.iter().any(|p| p.in_type == MetaParamIn::Query)
                })
                .map(|op| op.method.clone())
                .collect();
            (key, (template, reading_query))
        })
        .collect()
}

/// An operation's endpoint. One that reads the query string has it parsed first, as
/// poem-openapi's own service does for every request: its query parameters and its
/// security scheme take their values from this [`UrlQuery`], and fail without it.
/// Operations that do not read it skip the work.
struct Operation {
    endpoint: BoxEndpoint<'static>,
    reads_query: bool,
}

impl Endpoint for Operation {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        if self.reads_query {
            let query: Vec<(String, String)> = req.params().unwrap_or_default();
            req.extensions_mut().insert(UrlQuery(query));
        }
        self.endpoint.call(req).await
    }
}

/// Adds the operations of `api` to `route`, the server's router, each path completed with
/// 405 answers and every endpoint wrapped in the layers of `api.edge` (see [`Served`]).
pub fn route_api<T: OpenApi>(route: Route, api: Served<T>) -> Route {
    let mut table = RouteTable::new();
    api.add_routes(&mut table);
    table.into_iter().fold(route, |route, (path, served)| {
        let methods = served
            .into_iter()
            .fold(RouteMethod::new(), |methods, (method, endpoint)| {
                methods.method(method, endpoint)
            });
        route.at(path, methods)
    })
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

/// The spec of `T` without `T` itself: what the documentation page and the contract test
/// need, while the operations are routed by [`route_api`].
pub struct SpecOf<T>(PhantomData<fn() -> T>);

impl<T> Default for SpecOf<T> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T: OpenApi> OpenApi for SpecOf<T> {
    fn meta() -> Vec<MetaApi> {
        T::meta()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn add_routes(self, _table: &mut RouteTable) {}
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
