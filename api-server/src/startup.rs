//! Building and running the application: wiring, routes, the listener.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::endpoint::BoxEndpoint;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::{Endpoint, EndpointExt, Route, Server};
use poem_openapi::OpenApi;
use poem_openapi::OpenApiService;
use poem_openapi::registry::{MetaApi, Registry};

use crate::auth::SessionStore;
use crate::authors::api::AuthorsApi;
use crate::books::api::BooksApi;
use crate::db::{Db, Pool};
use crate::http::edge::Edge;
use crate::http::methods::{RouteTable, Served};
use crate::http::observe::Observe;
use crate::http::problem::error_response;
use crate::http::security::SecurityHeaders;
use crate::metrics::Metrics;
use crate::operations::{HealthApi, MetricsApi};
use crate::orders::api::OrdersApi;
use crate::settings::Settings;
use crate::users::UserService;
use crate::users::api::UsersApi;
use crate::{authors, books, orders, users};

/// Every API of the server, by name.
struct Apis {
    health: HealthApi,
    users: UsersApi,
    authors: AuthorsApi,
    books: BooksApi,
    orders: OrdersApi,
    metrics: MetricsApi,
}

/// The APIs served side by side, as poem-openapi composes a tuple of them.
impl OpenApi for Apis {
    fn meta() -> Vec<MetaApi> {
        [
            HealthApi::meta(),
            UsersApi::meta(),
            AuthorsApi::meta(),
            BooksApi::meta(),
            OrdersApi::meta(),
            MetricsApi::meta(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn register(registry: &mut Registry) {
        HealthApi::register(registry);
        UsersApi::register(registry);
        AuthorsApi::register(registry);
        BooksApi::register(registry);
        OrdersApi::register(registry);
        MetricsApi::register(registry);
    }

    fn add_routes(self, table: &mut RouteTable) {
        self.health.add_routes(table);
        self.users.add_routes(table);
        self.authors.add_routes(table);
        self.books.add_routes(table);
        self.orders.add_routes(table);
        self.metrics.add_routes(table);
    }
}

/// What [`wire`] builds: the backends, and the APIs over them.
struct Wired {
    db: Db,
    sessions: SessionStore,
    /// Authenticates the bearer token of every protected operation (see `users::bearer`).
    users: Arc<UserService>,
    apis: Apis,
}

/// A server bound to its port, ready to run.
pub struct Application {
    acceptor: TcpAcceptor,
    port: u16,
    db: Db,
    sessions: SessionStore,
    app: BoxEndpoint<'static>,
    shutdown_grace: Duration,
}

impl Application {
    /// Connects to the database, applies migrations, ensures the bootstrap administrator
    /// and binds `HOST:PORT` (port 0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let wired = wire(&settings)?;
        wired.db.migrate().await?;
        if let Some(admin) = &settings.admin {
            let user = wired.users.ensure_admin(admin).await?;
            tracing::info!(email = %user.email, "administrator account ensured");
        }
        let addr = format!("{}:{}", settings.host, settings.port);
        let acceptor = TcpListener::bind(addr.clone())
            .into_acceptor()
            .await
            .with_context(|| format!("binding {addr}"))?;
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().map(|s| s.port()))
            .context("the listener has no TCP address")?;
        Ok(Self {
            acceptor,
            port,
            db: wired.db.clone(),
            sessions: wired.sessions.clone(),
            app: routes(wired, &settings).boxed(),
            shutdown_grace: settings.shutdown_grace,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What a person starting the server wants to know: where it listens, which backends
    /// it uses and how to switch them.
    pub fn banner(&self, host: &str) -> String {
        let shown_host = if host == "0.0.0.0" { "127.0.0.1" } else { host };
        let mut lines = vec![format!(
            "listening on http://{host}:{port} — API docs at http://{shown_host}:{port}/docs",
            port = self.port
        )];
        lines.push(match self.db.pool() {
            Pool::Postgres(_) => "database: PostgreSQL (DATABASE_URL)".to_owned(),
            Pool::Sqlite(pool) => {
                let options = pool.connect_options();
                let file = options.get_filename();
                let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned());
                format!(
                    "database: embedded SQLite file {} — set DATABASE_URL=postgres://… to use PostgreSQL",
                    file.display()
                )
            }
        });
        lines.push(if self.sessions.is_shared() {
            "sessions: Redis (REDIS_URL)".to_owned()
        } else {
            "sessions: in-process, lost on restart — set REDIS_URL=redis://… to keep them in Redis"
                .to_owned()
        });
        lines.join("\n")
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(self.app, shutdown, Some(self.shutdown_grace))
            .await?;
        self.db.close().await;
        Ok(())
    }
}

/// The spec the server serves, as JSON. Builds the API without connecting to anything.
pub fn openapi_spec() -> anyhow::Result<String> {
    // The lazy pools need a runtime to exist, though they never connect here.
    let runtime = match tokio::runtime::Handle::try_current() {
        Ok(_) => None,
        Err(_) => Some(tokio::runtime::Builder::new_current_thread().build()?),
    };
    let _entered = runtime.as_ref().map(tokio::runtime::Runtime::enter);
    let settings = Settings::from_lookup(|key| (key == "BCRYPT_COST").then(|| "4".to_owned()))?;
    let wired = wire(&settings)?;
    Ok(api_service(wired.apis, Edge::new(&settings)).spec())
}

/// Creates every service over lazily connecting pools.
fn wire(settings: &Settings) -> anyhow::Result<Wired> {
    let db = Db::connect_lazy(settings)?;
    let sessions = SessionStore::new(settings)?;
    let users = users::service(db.clone(), sessions.clone(), settings)?;
    let apis = Apis {
        health: HealthApi {
            db: db.clone(),
            sessions: sessions.clone(),
        },
        users: UsersApi {
            users: users.clone(),
        },
        authors: AuthorsApi {
            authors: authors::service(db.clone()),
        },
        books: BooksApi {
            books: books::service(db.clone()),
        },
        orders: OrdersApi {
            orders: orders::service(db.clone()),
        },
        metrics: MetricsApi {
            metrics: Metrics::new(db.clone(), sessions.clone())?,
        },
    };
    Ok(Wired {
        db,
        sessions,
        users: Arc::new(users),
        apis,
    })
}

fn api_service(apis: Apis, edge: Edge) -> OpenApiService<Served<Apis>, ()> {
    OpenApiService::new(
        Served { api: apis, edge },
        "Bookstore API",
        env!("CARGO_PKG_VERSION"),
    )
}

fn routes(wired: Wired, settings: &Settings) -> impl Endpoint<Output = poem::Response> + use<> {
    let metrics = wired.apis.metrics.metrics.clone();
    let edge = Edge::new(settings);
    let api = api_service(wired.apis, edge.clone());
    Route::new()
        .nest("/docs", edge.around("/docs", api.swagger_ui()))
        .at(
            "/openapi.json",
            edge.around("/openapi.json", api.spec_endpoint()),
        )
        .at(
            "/openapi.yaml",
            edge.around("/openapi.yaml", api.spec_endpoint_yaml()),
        )
        .nest("/", api)
        .data(wired.users)
        .catch_all_error(|err| async move { error_response(err) })
        .with(SecurityHeaders)
        .with(Observe::new(metrics))
}
