//! Test harness: starts the real server in-process on a free port and hands out
//! `api-client` clients.
//!
//! `TEST_BACKEND` picks the backend pair every test runs on:
//! - `postgres` (the default): a fresh PostgreSQL database per test and a unique Redis key
//!   prefix; needs `TEST_DATABASE_URL` (a role that may create databases) and
//!   `TEST_REDIS_URL`;
//! - `sqlite`: a fresh SQLite file per test (in `TEST_SQLITE_DIR`, else the system's
//!   temporary directory) and the in-process session store.
//!
//! `scripts/test.sh` starts throwaway servers, sets these and runs the suite on both.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use api_client::{Client, types};
use api_server::{Application, Settings};
use sqlx::Connection;
use uuid::Uuid;

pub use api_client;

/// The bootstrap administrator every test server has.
pub const ADMIN_EMAIL: &str = "admin@bookstore.test";
pub const ADMIN_PASSWORD: &str = "admin-password";
/// The password [`TestApp::customer`] gives its accounts.
pub const PASSWORD: &str = "correct horse battery";

/// A running server and what is needed to talk to it.
pub struct TestApp {
    pub base_url: String,
    /// An anonymous client.
    pub client: Client,
    /// Where `/metrics` is served when `METRICS_ADDR` is set.
    pub metrics_port: Option<u16>,
    settings: Settings,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    /// Starts a server on a database of its own.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| None).await
    }

    /// Starts a server; `overrides` may replace any setting by its variable name.
    pub async fn spawn_with(overrides: impl Fn(&str) -> Option<String>) -> Self {
        if std::env::var_os("TEST_LOG").is_some() {
            api_server::telemetry::init();
        }
        let (database_url, redis_url) = match Backend::from_env() {
            Backend::Postgres => (fresh_database().await, std::env::var("TEST_REDIS_URL").ok()),
            Backend::Sqlite => (fresh_sqlite_file(), None),
        };
        let deployment = Deployment::from_env(&database_url);
        let own_redis = ["REDIS_URL", "REDIS_SENTINELS", "REDIS_CLUSTER_NODES"]
            .into_iter()
            .find_map(&overrides);
        let prefix = format!("test-{}", Uuid::new_v4().simple());
        let settings = Settings::from_lookup(|key| {
            overrides(key).or_else(|| {
                Some(match key {
                    "HOST" => "127.0.0.1".to_owned(),
                    "PORT" => "0".to_owned(),
                    "DATABASE_URL" => database_url.clone(),
                    "DATABASE_MAX_CONNECTIONS" => "10".to_owned(),
                    // The deployment of the pass, unless the test brings its own database or
                    // Redis.
                    "DATABASE_MIGRATION_URL" if overrides("DATABASE_URL").is_none() => {
                        deployment.migration_url.clone()?
                    }
                    "DATABASE_QUERY_MODE" if overrides("DATABASE_URL").is_none() => {
                        deployment.query_mode.clone()?
                    }
                    "REDIS_CLUSTER_NODES" if own_redis.is_none() => {
                        deployment.redis_cluster_nodes.clone()?
                    }
                    "REDIS_URL" if deployment.redis_cluster_nodes.is_none() => redis_url.clone()?,
                    "REDIS_KEY_PREFIX" => prefix.clone(),
                    "BCRYPT_COST" => "4".to_owned(),
                    // The suite signs up hundreds of accounts from one address.
                    "SIGNUP_MAX_PER_CLIENT" => "0".to_owned(),
                    "ADMIN_EMAIL" => ADMIN_EMAIL.to_owned(),
                    "ADMIN_PASSWORD" => ADMIN_PASSWORD.to_owned(),
                    _ => return None,
                })
            })
        })
        .expect("test settings are valid");
        Self::start(settings).await
    }

    async fn start(settings: Settings) -> Self {
        let app = Application::build(settings.clone())
            .await
            .expect("the server starts");
        let base_url = format!("http://127.0.0.1:{}", app.port());
        let metrics_port = app.metrics_port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            stopped.await.ok();
        }));
        Self {
            client: Client::new(&base_url),
            base_url,
            metrics_port,
            settings,
            stop: Some(stop),
            server,
        }
    }

    /// The settings the server runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// An anonymous client whose requests say they were forwarded for `client_ip` (in
    /// `X-Forwarded-For`), as a load balancer's are.
    pub fn client_from(&self, client_ip: &str) -> Client {
        Client::new_with_client(&self.base_url, forwarded_for(client_ip, None))
    }

    /// Logs in as a client forwarded for `client_ip` (see [`TestApp::client_from`]); the
    /// raw answer, for tests of refused logins.
    pub async fn login_from(
        &self,
        client_ip: &str,
        email: &str,
        password: &str,
    ) -> Result<api_client::ResponseValue<types::LoginResponse>, api_client::Error<types::Problem>>
    {
        self.client_from(client_ip)
            .log_in(email, password)
            .await
            .map(|(_, session)| session)
    }

    /// Stops the server gracefully and starts a new one on the same database and session
    /// store (on a new port): what a restart of the process does.
    pub async fn restart(self) -> Self {
        self.restart_with(|_| {}).await
    }

    /// [`TestApp::restart`] with settings changed by `change`.
    pub async fn restart_with(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        (&mut self.server)
            .await
            .expect("the server task ends")
            .expect("the server stops cleanly");
        let mut settings = self.settings.clone();
        change(&mut settings);
        Self::start(settings).await
    }

    /// Logs in and returns an authenticated client with its login answer.
    pub async fn login(&self, email: &str, password: &str) -> (Client, types::LoginResponse) {
        log_in(&self.client, email, password).await
    }

    /// Sends `body` as JSON with `token` as the bearer token, as a client without the
    /// generated types would (to send what those types refuse); the status and the JSON
    /// answer.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        use api_client::ClientInfo as _;
        let mut request = self
            .client
            .client()
            .request(method, format!("{}{path}", self.base_url))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("an answer body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// A client logged in as the bootstrap administrator.
    pub async fn admin(&self) -> Client {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.0
    }

    /// Signs up a new customer with a unique e-mail and [`PASSWORD`], logs in.
    pub async fn customer(&self) -> (Client, types::User) {
        let email = format!("reader-{}@example.com", Uuid::new_v4().simple());
        let user = self.signup(&email, PASSWORD).await;
        (self.login(&email, PASSWORD).await.0, user)
    }

    /// Signs up an account and returns it.
    pub async fn signup(&self, email: &str, password: &str) -> types::User {
        self.client
            .signup()
            .body(types::SignupRequest {
                email: valid(email),
                password: valid(password),
                full_name: valid("Test Reader"),
            })
            .send()
            .await
            .expect("signup succeeds")
            .into_inner()
    }

    /// A client that authenticates with `token`, whatever it is.
    pub fn with_token(&self, token: &str) -> Client {
        with_token(&self.base_url, token)
    }

    /// Creates an author as `admin` (see [`author`]).
    pub async fn author(&self, admin: &Client, name: &str) -> types::Author {
        author(admin, name).await
    }

    /// Creates a book by a new author at `price` as `admin`.
    pub async fn book(&self, admin: &Client, title: &str, price: &str) -> types::Book {
        let author = author(admin, "Ursula K. Le Guin").await;
        book_by(admin, author.id, title, price).await
    }

    /// Creates a book by `author_id` at `price` as `admin` (see [`book_by`]).
    pub async fn book_by(
        &self,
        admin: &Client,
        author_id: Uuid,
        title: &str,
        price: &str,
    ) -> types::Book {
        book_by(admin, author_id, title, price).await
    }
}

/// Creates an author as `admin`, on any server.
pub async fn author(admin: &Client, name: &str) -> types::Author {
    admin
        .create_author()
        .body(types::AuthorCreate {
            name: valid(name),
            bio: None,
        })
        .send()
        .await
        .expect("creating an author succeeds")
        .into_inner()
}

/// Creates a book by `author_id` at `price` as `admin`, on any server.
pub async fn book_by(admin: &Client, author_id: Uuid, title: &str, price: &str) -> types::Book {
    admin
        .create_book()
        .body(types::BookCreate {
            title: valid(title),
            author_id,
            description: None,
            price: money(price),
            published_at: None,
        })
        .send()
        .await
        .expect("creating a book succeeds")
        .into_inner()
}

/// Logs in through `client` and returns an authenticated client with the login answer.
pub async fn log_in(
    client: &Client,
    email: &str,
    password: &str,
) -> (Client, types::LoginResponse) {
    let (me, session) = client
        .log_in(email, password)
        .await
        .expect("login succeeds");
    (me, session.into_inner())
}

/// A client of the server at `base_url` that authenticates with `token`, whatever it is.
pub fn with_token(base_url: &str, token: &str) -> Client {
    api_client::authenticated(base_url, token).expect("the token is a valid header")
}

/// An HTTP client whose requests carry `X-Forwarded-For: client_ip`, and the bearer
/// `token` if given.
pub fn forwarded_for(client_ip: &str, token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        client_ip.parse().expect("an address is a header value"),
    );
    if let Some(token) = token {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}")
                .parse()
                .expect("a token is a header value"),
        );
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

/// A money value for the client, e.g. `money("12.50")`.
pub fn money(amount: &str) -> types::Money {
    amount.parse().expect("a well-formed amount")
}

/// `text` as the client's type for a field with rules (`types::Name`, `types::EmailAddress`,
/// `types::NewPassword`…), which checks them as the contract states them: panics when they
/// refuse it, which in a test is a mistake of the test.
pub fn valid<T>(text: &str) -> T
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .unwrap_or_else(|err| panic!("{text:?} breaks the contract's rules: {err}"))
}

/// The `code` and the `(field, message)` pairs of a problem answered as JSON.
pub fn field_errors(problem: &serde_json::Value) -> (&str, Vec<(&str, &str)>) {
    let errors = problem["errors"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let pairs = errors
        .iter()
        .map(|e| {
            let text = |key: &str| e[key].as_str().unwrap_or_default();
            (text("field"), text("message"))
        })
        .collect();
    (problem["code"].as_str().unwrap_or_default(), pairs)
}

/// The problem of a documented error answer: panics on success or on an answer the
/// contract does not declare.
pub fn problem<T: std::fmt::Debug>(
    result: Result<T, api_client::Error<types::Problem>>,
) -> types::Problem {
    match result {
        Err(api_client::Error::ErrorResponse(resp)) => {
            let status = resp.status().as_u16();
            let problem = resp.into_inner();
            assert_eq!(
                problem.status,
                i32::from(status),
                "body and HTTP status agree"
            );
            problem
        }
        other => panic!("expected a documented error answer, got {other:?}"),
    }
}

/// Asserts that `result` is the documented error with `status` and `code`.
#[track_caller]
pub fn assert_problem<T: std::fmt::Debug>(
    result: Result<T, api_client::Error<types::Problem>>,
    status: u16,
    code: &str,
) -> types::Problem {
    let problem = problem(result);
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (i32::from(status), code),
        "{problem:?}"
    );
    problem
}

/// How the PostgreSQL + Redis pass is deployed, beyond one PostgreSQL and one Redis:
/// through PgBouncer (`TEST_DATABASE_DIRECT_URL`, the PostgreSQL behind it, where the
/// migrations run; `TEST_DATABASE_QUERY_MODE`) and on a Redis Cluster
/// (`TEST_REDIS_CLUSTER_NODES`, used instead of `TEST_REDIS_URL`). `scripts/test.sh` sets
/// them for its third pass.
struct Deployment {
    migration_url: Option<String>,
    query_mode: Option<String>,
    redis_cluster_nodes: Option<String>,
}

impl Deployment {
    fn from_env(database_url: &str) -> Self {
        let var = |key| std::env::var(key).ok().filter(|v: &String| !v.is_empty());
        // The same database, reached directly rather than through the pooler.
        let migration_url = var("TEST_DATABASE_DIRECT_URL").map(|direct| {
            let name = database_url
                .split('?')
                .next()
                .and_then(|base| base.rsplit('/').next())
                .unwrap_or_default();
            let (base, query) = direct
                .split_once('?')
                .map_or((direct.as_str(), None), |(b, q)| (b, Some(q)));
            let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
            match query {
                Some(query) => format!("{server}/{name}?{query}"),
                None => format!("{server}/{name}"),
            }
        });
        Self {
            migration_url,
            query_mode: var("TEST_DATABASE_QUERY_MODE"),
            redis_cluster_nodes: var("TEST_REDIS_CLUSTER_NODES"),
        }
    }
}

/// Whether the tests run through PgBouncer (see `Deployment`): what PostgreSQL does by
/// itself behind it (its `statement_timeout`) is then left to the deployment.
pub fn through_pgbouncer() -> bool {
    std::env::var_os("TEST_DATABASE_DIRECT_URL").is_some()
}

/// The backend pair the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL and Redis.
    Postgres,
    /// The embedded SQLite file and the in-process session store.
    Sqlite,
}

impl Backend {
    /// `TEST_BACKEND`: `postgres` (default) or `sqlite`.
    pub fn from_env() -> Self {
        match std::env::var("TEST_BACKEND").as_deref() {
            Ok("sqlite") => Self::Sqlite,
            Ok("postgres") | Err(_) => Self::Postgres,
            Ok(other) => panic!("TEST_BACKEND must be postgres or sqlite, not {other:?}"),
        }
    }
}

fn env(key: &str) -> String {
    std::env::var(key)
        .unwrap_or_else(|_| panic!("{key} is not set: run the tests with scripts/test.sh"))
}

/// A URL for a SQLite file that does not exist yet.
fn fresh_sqlite_file() -> String {
    let dir = std::env::var_os("TEST_SQLITE_DIR")
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    std::fs::create_dir_all(&dir).expect("the SQLite test directory can be created");
    let file = dir.join(format!("bookstore-test-{}.db", Uuid::new_v4().simple()));
    format!("sqlite://{}", file.display())
}

/// Creates an empty database and returns its URL.
async fn fresh_database() -> String {
    let admin_url = env("TEST_DATABASE_URL");
    let name = format!("bookstore_test_{}", Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("TEST_DATABASE_URL accepts connections");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .expect("creating the test database");
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url.as_str(), None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

pub mod process;
pub mod proxy;
pub mod topology;

/// Creates an empty database on the test PostgreSQL (`TEST_DATABASE_URL`) and returns its
/// URL, for a test that puts something between the server and the database.
pub async fn fresh_postgres_database() -> String {
    fresh_database().await
}
