//! The operations of the API as the server routes them, with the `405 Method Not
//! Allowed` and the `Allow` header that RFC 9110 requires of it.
//!
//! poem answers a method that a known path does not serve with a bare 405 error that says
//! nothing about the path. Instead, each path's operations are served by one endpoint
//! that picks the operation by method, and answers a method the path lacks with a
//! `method_not_allowed` problem whose `Allow` lists exactly what the path serves.
//!
//! [`route_api`] puts the operations into the server's one router, beside its other
//! routes, so that a request is routed once: poem-openapi's own service would be a
//! router of its own, nested in the server's. The edge layers wrap each path once, not
//! each operation: a request passes through as few layers as it can.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;

use poem::endpoint::BoxEndpoint;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, Request, Response, Route};
use poem_openapi::__private::UrlQuery;
use poem_openapi::OpenApi;
use poem_openapi::registry::{MetaApi, MetaOperation, MetaParamIn, Registry};

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

/// The methods in the order `Allow` lists them: the standard ones, then QUERY (the safe
/// method with a body that HTTP is gaining).
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

/// What the router needs to know of a path of `T`'s route table.
struct PathInfo {
    /// Its route template. poem-openapi names path parameters by position in its routes
    /// (`/api/v1/books/:param0`), the spec by name (`/api/v1/books/{id}`); the template
    /// takes the names, in poem's form (`/api/v1/books/:id`).
    template: String,
    /// The methods whose operation reads the query string (see [`Operation`]).
    reading_query: HashSet<Method>,
    /// The methods whose operation has a security scheme.
    secured: HashSet<Method>,
}

/// The [`PathInfo`] of each path of `T`'s route table.
fn paths<T: OpenApi>() -> HashMap<String, PathInfo> {
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
            let methods = |keep: fn(&MetaOperation) -> bool| {
                path.operations
                    .iter()
                    .filter(|op| keep(op))
                    .map(|op| op.method.clone())
                    .collect()
            };
            let info = PathInfo {
                template,
                reading_query: methods(|op| {
                    !op.security.is_empty()
                        || op.params.iter().any(|p| p.in_type == MetaParamIn::Query)
                }),
                secured: methods(|op| !op.security.is_empty()),
            };
            (key, info)
        })
        .collect()
}

/// An operation's endpoint. One that reads the query string has it parsed first, as
/// poem-openapi's own service does for every request: its query parameters and its
/// security scheme take their values from this [`UrlQuery`], and fail without it.
/// Operations that do not read it skip the work. One with a security scheme gets the
/// data its checker reads attached to the request; the others do without.
struct Operation<D> {
    endpoint: BoxEndpoint<'static>,
    reads_query: bool,
    checker_data: Option<D>,
}

impl<D: Clone + Send + Sync + 'static> Operation<D> {
    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        if self.reads_query {
            let query: Vec<(String, String)> = req.params().unwrap_or_default();
            req.extensions_mut().insert(UrlQuery(query));
        }
        if let Some(data) = &self.checker_data {
            req.extensions_mut().insert(data.clone());
        }
        self.endpoint.call(req).await
    }
}

/// The operations of one path, by method. A method the path does not serve is answered
/// 405 with `Allow`; HEAD is served from GET, without the body, where the path serves GET
/// but not HEAD.
struct Methods<D> {
    served: Vec<(Method, Operation<D>)>,
    allow: String,
}

impl<D> Methods<D> {
    fn operation(&self, method: &Method) -> Option<&Operation<D>> {
        self.served
            .iter()
            .find(|(served, _)| served == method)
            .map(|(_, operation)| operation)
    }
}

impl<D: Clone + Send + Sync + 'static> Endpoint for Methods<D> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        if let Some(operation) = self.operation(req.method()) {
            return operation.call(req).await;
        }
        match self.operation(&Method::GET) {
            Some(get) if req.method() == Method::HEAD => {
                req.set_method(Method::GET);
                let mut resp = get.call(req).await?;
                resp.set_body(());
                Ok(resp)
            }
            _ => Ok(method_not_allowed(&self.allow)),
        }
    }
}

/// Adds the operations of `api` to `route`, the server's router: each path with the
/// [`Edge`] layers around it, answering the methods it lacks with 405 and `Allow`.
/// `checker_data` is what the security schemes' checkers read from the request.
pub fn route_api<T, D>(route: Route, api: T, edge: &Edge, checker_data: D) -> Route
where
    T: OpenApi,
    D: Clone + Send + Sync + 'static,
{
    let paths = paths::<T>();
    let mut table = RouteTable::new();
    api.add_routes(&mut table);
    table.into_iter().fold(route, |route, (path, served)| {
        let info = paths.get(&path);
        let template = info.map_or(path.as_str(), |info| info.template.as_str());
        let methods = Methods {
            allow: allow_value(served.keys()),
            served: served
                .into_iter()
                .map(|(method, endpoint)| {
                    let operation = Operation {
                        reads_query: info.is_some_and(|info| info.reading_query.contains(&method)),
                        checker_data: info
                            .is_some_and(|info| info.secured.contains(&method))
                            .then(|| checker_data.clone()),
                        endpoint,
                    };
                    (method, operation)
                })
                .collect(),
        };
        let endpoint = edge.around(template, methods);
        route.at(path, endpoint)
    })
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
