//! The real `api-server` binary as a child process, for what only a process shows: a
//! SIGKILL, a SIGTERM, two replicas side by side.
//!
//! The binary is `API_SERVER_BIN` when set, else `debug/api-server` in the target
//! directory (`CARGO_TARGET_DIR`, else `target/` in the workspace); `scripts/test.sh`
//! builds it before running the tests.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use api_client::{Client, types};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use uuid::Uuid;

use crate::{ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD};

/// How long a process may take to answer `/health` after it starts.
const STARTUP: Duration = Duration::from_secs(30);

/// What several server processes share: one PostgreSQL database and one Redis key prefix,
/// as replicas of one deployment do.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub database_url: String,
    pub redis_url: String,
    pub redis_key_prefix: String,
}

impl Deployment {
    /// A fresh database on the test PostgreSQL and a unique prefix on the test Redis.
    pub async fn fresh() -> Self {
        Self {
            database_url: crate::fresh_postgres_database().await,
            redis_url: crate::env("TEST_REDIS_URL"),
            redis_key_prefix: format!("test-{}", Uuid::new_v4().simple()),
        }
    }

    /// Starts a server process of this deployment on a free port and waits until it
    /// answers. `extra` sets (or, with an empty value, unsets) further variables.
    pub async fn start(&self, extra: &[(&str, &str)]) -> ServerProcess {
        // The port is free when picked but may be taken before the child binds it: then
        // the child exits at once, and another port is tried.
        for _ in 0..3 {
            let mut server = self.spawn(free_port(), extra);
            match server.wait_until_up().await {
                Ok(()) => return server,
                Err(status) => eprintln!("api-server exited during start-up ({status}); retrying"),
            }
        }
        panic!("api-server did not start; run with TEST_LOG=1 to see its log")
    }

    fn spawn(&self, port: u16, extra: &[(&str, &str)]) -> ServerProcess {
        let mut command = Command::new(api_server_bin());
        // Nothing from the test's own environment (or a `.env` file) leaks in.
        command
            .env_clear()
            .current_dir(std::env::temp_dir())
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("DATABASE_URL", &self.database_url)
            .env("REDIS_URL", &self.redis_url)
            .env("REDIS_KEY_PREFIX", &self.redis_key_prefix)
            .env("BCRYPT_COST", "4")
            .env("SIGNUP_MAX_PER_CLIENT", "0")
            .env("ADMIN_EMAIL", ADMIN_EMAIL)
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if std::env::var_os("TEST_LOG").is_some() {
            command.env("RUST_LOG", "info");
        } else {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let child = command.spawn().unwrap_or_else(|err| {
            panic!(
                "starting {}: {err} (build it with `cargo build -p api-server`)",
                api_server_bin().display()
            )
        });
        let base_url = format!("http://127.0.0.1:{port}");
        ServerProcess {
            client: Client::new(&base_url),
            base_url,
            port,
            child,
        }
    }
}

/// A running `api-server` process; killed when dropped.
pub struct ServerProcess {
    pub base_url: String,
    pub port: u16,
    /// An anonymous client.
    pub client: Client,
    child: Child,
}

impl ServerProcess {
    /// Waits until the process answers `/health`; its exit status if it exits first.
    async fn wait_until_up(&mut self) -> Result<(), ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be polled") {
                return Err(status);
            }
            if self.client.health().send().await.is_ok() {
                return Ok(());
            }
            assert!(
                started.elapsed() < STARTUP,
                "api-server did not answer /health within {STARTUP:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) {
        let pid = self.child.id().expect("the process is still running");
        let pid = Pid::from_raw(i32::try_from(pid).expect("a pid fits in i32"));
        kill(pid, signal).expect("the signal is delivered");
    }

    /// Kills the process at once (SIGKILL), as a crash or the OOM killer would, and waits
    /// until it is gone.
    pub async fn kill(mut self) {
        self.signal(Signal::SIGKILL);
        self.child
            .wait()
            .await
            .expect("the killed process is reaped");
    }

    /// Waits for the process to exit, at most `limit`.
    pub async fn exit_within(&mut self, limit: Duration) -> ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("api-server still runs {limit:?} later"))
            .expect("the process is reaped")
    }

    /// Logs in and returns an authenticated client with its login answer.
    pub async fn login(&self, email: &str, password: &str) -> (Client, types::LoginResponse) {
        crate::log_in(&self.client, email, password).await
    }

    /// A client logged in as the bootstrap administrator.
    pub async fn admin(&self) -> Client {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.0
    }

    /// Signs up a customer with a unique e-mail and [`PASSWORD`] and logs in.
    pub async fn customer(&self) -> (Client, types::LoginResponse) {
        let email = self.signup().await;
        self.login(&email, PASSWORD).await
    }

    /// Signs up an account with a unique e-mail and [`PASSWORD`]; returns the e-mail.
    pub async fn signup(&self) -> String {
        let email = format!("reader-{}@example.com", Uuid::new_v4().simple());
        self.client
            .signup()
            .body(types::SignupRequest {
                email: crate::valid(&email),
                password: crate::valid(PASSWORD),
                full_name: crate::valid("Test Reader"),
            })
            .send()
            .await
            .expect("signup succeeds");
        email
    }

    /// A client of this process that authenticates with `token`.
    pub fn with_token(&self, token: &str) -> Client {
        crate::with_token(&self.base_url, token)
    }
}

/// The `api-server` binary the tests run.
pub fn api_server_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("API_SERVER_BIN") {
        return bin.into();
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .to_owned();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), |dir| workspace.join(dir));
    target.join("debug").join("api-server")
}

/// A port nothing listens on right now. A child process cannot report the port it bound
/// to 0, so it is given one picked here.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
