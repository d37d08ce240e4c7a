//! Building and running the application: wiring, routes, the listener.

use std::sync::Arc;

use anyhow::Context;
use poem::endpoint::{BoxEndpoint, make_sync};
use poem::web::Html;
use poem::{Endpoint, EndpointExt, IntoResponse, Route};
use poem_openapi::OpenApi;
use poem_openapi::OpenApiService;
use poem_openapi::registry::{MetaApi, Registry};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::SessionStore;
use crate::authors::api::AuthorsApi;
use crate::books::api::BooksApi;
use crate::cache::CatalogueCache;
use crate::cache::listener::{self, Subscribers};
use crate::db::{Db, Pool};
use crate::domain::Password;
use crate::http::contract::Contract;
use crate::http::edge::Edge;
use crate::http::methods::{RouteTable, SpecOf, route_api};
use crate::http::observe::Observe;
use crate::http::serve::{ServeLimits, serve};
use crate::idempotency::{self, IdempotencyRecords};
use crate::metrics::{CacheStats, Metrics};
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
    /// Whether `/metrics` is served with the API (else on `METRICS_ADDR` only; the spec
    /// describes it either way).
    metrics_with_api: bool,
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
        if self.metrics_with_api {
            self.metrics.add_routes(table);
        }
    }
}

/// What [`wire`] builds: the backends, and the APIs over them.
struct Wired {
    db: Db,
    sessions: SessionStore,
    /// The caches to keep coherent with other servers' writes.
    caches: Subscribers,
    /// Authenticates the bearer token of every protected operation (see `users::bearer`).
    users: Arc<UserService>,
    apis: Apis,
}

/// A server bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    port: u16,
    /// `/metrics` alone, on `METRICS_ADDR`, when it is set.
    metrics: Option<(TcpListener, BoxEndpoint<'static>)>,
    db: Db,
    sessions: SessionStore,
    /// The records of idempotency keys, purged while the server runs.
    records: IdempotencyRecords,
    /// The caches, kept coherent while the server runs.
    caches: Subscribers,
    app: BoxEndpoint<'static>,
    limits: ServeLimits,
}

impl Application {
    /// Connects to the database, applies migrations, creates the bootstrap administrator
    /// if it does not exist, and binds `HOST:PORT` (port 0 picks a free one) and
    /// `METRICS_ADDR`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let mut wired = wire(&settings)?;
        wired.db.migrate().await?;
        wired.db.start();
        wired.sessions.check_certificate().await?;
        if let Some(admin) = &settings.admin {
            bootstrap_admin(&wired.users, &admin.email, admin.password.expose_secret()).await?;
        }
        let addr = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let port = listener.local_addr()?.port();
        let metrics = match &settings.metrics_addr {
            Some(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding METRICS_ADDR {addr}"))?;
                let metrics = wired.apis.metrics.metrics.clone();
                let endpoint = Route::new()
                    .at("/metrics", make_sync(move |_| metrics.page()))
                    .boxed();
                Some((listener, endpoint))
            }
            None => None,
        };
        Ok(Self {
            listener,
            port,
            metrics,
            db: wired.db.clone(),
            sessions: wired.sessions.clone(),
            records: IdempotencyRecords::new(wired.db.clone(), settings.idempotency_key_ttl),
            caches: std::mem::take(&mut wired.caches),
            app: routes(wired, &settings)?.boxed(),
            limits: ServeLimits {
                header_read_timeout: settings.header_read_timeout,
                max_connections: settings.max_connections,
                shutdown_grace: settings.shutdown_grace,
            },
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on when `METRICS_ADDR` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        let (listener, _) = self.metrics.as_ref()?;
        listener.local_addr().ok().map(|addr| addr.port())
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
        let (stop, stopped) = watch::channel(false);
        let signal = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let metrics = self.metrics.map(|(listener, endpoint)| {
            let stopped = signal(stopped.clone());
            tokio::spawn(serve(listener, endpoint, self.limits, stopped))
        });
        let purge = tokio::spawn(idempotency::run_purge(self.records));
        let listener = self
            .db
            .listen_options(listener::APPLICATION_NAME)
            .filter(|_| !self.caches.is_empty())
            .map(|options| tokio::spawn(listener::run(self.caches, options)));
        let api = serve(self.listener, self.app, self.limits, signal(stopped));
        let (served, ()) = tokio::join!(api, async {
            shutdown.await;
            let _ = stop.send(true);
        });
        purge.abort();
        if let Some(listener) = listener {
            listener.abort();
        }
        served?;
        if let Some(metrics) = metrics {
            metrics.await??;
        }
        self.db.close().await;
        Ok(())
    }
}

/// Creates the administrator of `ADMIN_EMAIL` and `ADMIN_PASSWORD` unless an account has
/// that e-mail already. An existing account is never changed here (an account someone
/// signed up with that address must not become an administrator by a restart): one that
/// is not an active administrator is reported, and `api-server admin create` makes it one.
async fn bootstrap_admin(users: &UserService, email: &str, password: &str) -> anyhow::Result<()> {
    let password = Password::parse(password.to_owned())
        .map_err(|why| anyhow::anyhow!("ADMIN_PASSWORD {why}"))?;
    let (user, created) = users.bootstrap_admin(email, password).await?;
    if created {
        tracing::info!(email = %user.email, "administrator account created");
    } else if user.is_admin && user.is_active {
        tracing::info!(email = %user.email, "administrator account exists; left as it is");
    } else {
        tracing::warn!(
            email = %user.email,
            "ADMIN_EMAIL names an existing account that is not an active administrator; \
             start-up changes no existing account: use `api-server admin create --email …` \
             to make it one"
        );
    }
    Ok(())
}

/// The spec the implementation describes, as JSON: what poem-openapi generates from the
/// operations and their wire types. The server serves the contract itself; the contract
/// test proves the two agree. Builds no API and connects to nothing.
pub fn implemented_spec() -> anyhow::Result<String> {
    Ok(spec_service().spec())
}

/// Creates every service over lazily connecting pools.
fn wire(settings: &Settings) -> anyhow::Result<Wired> {
    let db = Db::connect_lazy(settings)?;
    let sessions = SessionStore::new(settings)?;
    // Other servers may write a PostgreSQL database: the caches must hear of it.
    let shared = matches!(db.pool(), Pool::Postgres(_));
    let cache = CatalogueCache::catalogue(&settings.catalogue_cache, shared);
    let accounts = users::account_cache(settings, shared);
    let users = Arc::new(users::service(
        db.clone(),
        sessions.clone(),
        accounts.clone(),
        settings,
    )?);
    let apis = Apis {
        health: HealthApi {
            db: db.clone(),
            sessions: sessions.clone(),
        },
        users: UsersApi {
            users: Arc::clone(&users),
        },
        authors: AuthorsApi {
            authors: authors::service(db.clone()),
            cache: cache.clone(),
        },
        books: BooksApi {
            books: books::service(db.clone()),
            cache: cache.clone(),
        },
        orders: OrdersApi {
            orders: orders::service(db.clone(), sessions.clone(), settings),
        },
        metrics: MetricsApi {
            metrics: Metrics::new(
                db.clone(),
                sessions.clone(),
                vec![
                    CacheStats::of("catalogue", "Anonymous catalogue reads", cache.clone()),
                    CacheStats::of(
                        "account",
                        "Account reads to authenticate requests",
                        accounts.clone(),
                    ),
                ],
            )?,
        },
        metrics_with_api: settings.metrics_addr.is_none(),
    };
    let mut caches: Subscribers = Vec::new();
    if cache.needs_listener() {
        caches.push((listener::CATALOGUE, Box::new(cache)));
    }
    if accounts.needs_listener() {
        caches.push((listener::ACCOUNTS, Box::new(accounts)));
    }
    Ok(Wired {
        db,
        sessions,
        caches,
        users,
        apis,
    })
}

/// poem-openapi's service over the spec alone: it renders the spec and the documentation
/// page; the operations themselves are routed by [`route_api`].
fn spec_service() -> OpenApiService<SpecOf<Apis>, ()> {
    OpenApiService::new(
        SpecOf::default(),
        "Bookstore API",
        env!("CARGO_PKG_VERSION"),
    )
}

/// The server's one router: the documentation, the contract and every operation, each
/// with the edge layers around it, so that a request is routed once.
fn routes(
    wired: Wired,
    settings: &Settings,
) -> anyhow::Result<impl Endpoint<Output = poem::Response> + use<>> {
    let metrics = wired.apis.metrics.metrics.clone();
    let contract = Arc::new(Contract::load()?);
    let edge = Edge::new(settings, Arc::clone(&contract), metrics.clone());
    let docs = docs_page(&spec_service(), &contract)?;
    let yaml = contract.yaml();
    let json = contract.json().to_owned();
    let route = Route::new()
        .nest(
            "/docs",
            edge.around(
                "/docs",
                Route::new().at("/", make_sync(move |_| Html(docs.clone()))),
            ),
        )
        .at(
            "/openapi.json",
            edge.around(
                "/openapi.json",
                make_sync(move |_| {
                    json.clone()
                        .with_content_type("application/json; charset=utf-8")
                }),
            ),
        )
        .at(
            "/openapi.yaml",
            edge.around(
                "/openapi.yaml",
                make_sync(move |_| yaml.with_content_type("application/yaml; charset=utf-8")),
            ),
        );
    Ok(route_api(route, wired.apis, &edge, wired.users)
        .with(Observe::new(&metrics, &settings.trusted_proxies)))
}

/// The Swagger UI page, rendering the contract. poem-openapi's page embeds the spec it
/// generates; the contract takes its place, so that readers see its own prose.
fn docs_page(
    api: &OpenApiService<SpecOf<Apis>, ()>,
    contract: &Contract,
) -> anyhow::Result<String> {
    let page = api.swagger_ui_html();
    let generated = api.spec();
    anyhow::ensure!(
        page.contains(&generated),
        "the documentation page does not embed the spec where expected"
    );
    Ok(page.replacen(&generated, contract.json(), 1))
}
