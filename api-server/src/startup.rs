//! Building and running the application: wiring, routes, the listener.

use std::time::Duration;

use anyhow::Context;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, Route, Server};
use poem_openapi::OpenApiService;

use crate::auth::{Authenticator, LoginThrottle, PasswordHasher, SessionStore};
use crate::authors::{api::AuthorsApi, repository::AuthorRepository, service::AuthorService};
use crate::books::{api::BooksApi, repository::BookRepository, service::BookService};
use crate::db::{Db, Pool};
use crate::error::AppError;
use crate::health::HealthApi;
use crate::http::cors::CorsPolicy;
use crate::http::limits::Limits;
use crate::http::methods::WithAllow;
use crate::http::observe::{Observe, RouteTemplates};
use crate::http::problem::{Problem, error_response};
use crate::http::security::SecurityHeaders;
use crate::metrics::{Metrics, api::MetricsApi};
use crate::orders::{api::OrdersApi, repository::OrderRepository, service::OrderService};
use crate::settings::Settings;
use crate::users::{api::UsersApi, repository::UserRepository, service::UserService};

type Apis = (
    HealthApi,
    UsersApi,
    AuthorsApi,
    BooksApi,
    OrdersApi,
    MetricsApi,
);

/// A server bound to its port, ready to run.
pub struct Application {
    acceptor: TcpAcceptor,
    port: u16,
    db: Db,
    sessions: SessionStore,
    app: poem::endpoint::BoxEndpoint<'static>,
    shutdown_grace: Duration,
}

impl Application {
    /// Connects to the database, applies migrations, ensures the bootstrap administrator
    /// and binds `HOST:PORT` (port 0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let (db, sessions, apis) = wire(&settings)?;
        db.migrate().await?;
        if let Some(admin) = &settings.admin {
            let user = apis.1.users.ensure_admin(admin).await?;
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
            db,
            sessions,
            app: routes(apis, &settings).boxed(),
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
    let (_, _, apis) = wire(&settings)?;
    Ok(api_service(apis).spec())
}

/// Creates every service over lazily connecting pools.
fn wire(settings: &Settings) -> anyhow::Result<(Db, SessionStore, Apis)> {
    let db = Db::connect_lazy(settings)?;
    let sessions = SessionStore::new(settings)?;
    let hasher = PasswordHasher::new(settings.bcrypt_cost)?;
    let user_repo = UserRepository::new(db.clone());
    let auth = Authenticator::new(sessions.clone(), user_repo.clone());
    let apis = (
        HealthApi {
            db: db.clone(),
            sessions: sessions.clone(),
        },
        UsersApi {
            users: UserService::new(
                user_repo,
                sessions.clone(),
                hasher,
                LoginThrottle::new(sessions.clone(), settings.login_throttle),
            ),
            auth: auth.clone(),
        },
        AuthorsApi {
            authors: AuthorService::new(AuthorRepository::new(db.clone())),
            auth: auth.clone(),
        },
        BooksApi {
            books: BookService::new(BookRepository::new(db.clone())),
            auth: auth.clone(),
        },
        OrdersApi {
            orders: OrderService::new(OrderRepository::new(db.clone())),
            auth,
        },
        MetricsApi {
            metrics: Metrics::new(db.clone())?,
        },
    );
    Ok((db, sessions, apis))
}

fn api_service(apis: Apis) -> OpenApiService<WithAllow<Apis>, ()> {
    OpenApiService::new(WithAllow(apis), "Bookstore API", env!("CARGO_PKG_VERSION"))
}

fn routes(apis: Apis, settings: &Settings) -> impl Endpoint<Output = poem::Response> + use<> {
    let metrics = apis.5.metrics.clone();
    // The same routes as below, for the route label of logs and metrics.
    let templates = RouteTemplates::of::<WithAllow<Apis>>()
        .nest("/docs")
        .at("/openapi.json")
        .at("/openapi.yaml");
    let api = api_service(apis);
    Route::new()
        .nest("/docs", api.swagger_ui())
        .at("/openapi.json", api.spec_endpoint())
        .at("/openapi.yaml", api.spec_endpoint_yaml())
        .nest("/", api)
        .with(CatchPanic::new().with_handler(panic_response))
        .with(Limits {
            max_body_bytes: settings.max_body_bytes,
            timeout: settings.request_timeout,
        })
        .catch_all_error(|err| async move { error_response(err) })
        .with(CorsPolicy::new(&settings.cors_allowed_origins))
        .with(SecurityHeaders)
        .with(Observe::new(metrics, templates))
}

/// A panic in a handler is a bug: log it and answer a plain 500 problem.
fn panic_response(panic: Box<dyn std::any::Any + Send>) -> poem::Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    Problem::from(&AppError::internal(anyhow::anyhow!(
        "handler panicked: {message}"
    )))
    .into_response()
}
