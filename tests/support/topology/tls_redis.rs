//! A Redis server that takes TLS connections only, with passwords.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::ca::Ca;
use super::redis_node::{RedisNode, Role};
use super::run::{RunAs, Scratch};

/// The ACL user of a [`TlsRedis`] and its password.
pub const TLS_REDIS_USER: &str = "bookstore";
pub const TLS_REDIS_PASSWORD: &str = "bookstore-redis-secret";
/// The password of its `default` user (what `requirepass` sets).
pub const TLS_REDIS_DEFAULT_PASSWORD: &str = "bookstore-default-secret";

/// `redis-server --port 0 --tls-port N`: no plain-TCP port at all, a certificate of its
/// own [`Ca`], clients not asked for certificates (`tls-auth-clients no`). Two ways in,
/// both with a password: the ACL user [`TLS_REDIS_USER`] (`rediss://user:pass@…`), and the
/// `default` user, password-protected as `requirepass` does (`rediss://:pass@…`).
#[derive(Debug)]
pub struct TlsRedis {
    node: RedisNode,
    ca: Ca,
    _scratch: Scratch,
}

impl TlsRedis {
    pub async fn start() -> Result<Self> {
        let run_as = RunAs::servers()?;
        let scratch = Scratch::new(&run_as)?;
        let ca = Ca::create_in(&scratch.path().join("ca"), &run_as).await?;
        let server = ca.server();
        let ca_cert = ca.cert();
        let conf = |port: u16| {
            format!(
                "port 0\n\
                 tls-port {port}\n\
                 tls-cert-file {}\n\
                 tls-key-file {}\n\
                 tls-ca-cert-file {}\n\
                 tls-auth-clients no\n\
                 user default on >{TLS_REDIS_DEFAULT_PASSWORD} ~* &* +@all\n\
                 user {TLS_REDIS_USER} on >{TLS_REDIS_PASSWORD} ~* &* +@all\n",
                server.cert.display(),
                server.key.display(),
                ca_cert.display(),
            )
        };
        let node = RedisNode::start(
            "tls",
            scratch.path().join("redis"),
            Role::Server,
            &run_as,
            conf,
            user_url,
            Some(&ca_cert),
        )
        .await?;
        Ok(Self {
            node,
            ca,
            _scratch: scratch,
        })
    }

    /// `rediss://bookstore:…@127.0.0.1:{port}`: TLS as the ACL user.
    pub fn url(&self) -> String {
        user_url(self.node.port)
    }

    /// `rediss://:…@127.0.0.1:{port}`: TLS as the `default` user, by password alone.
    pub fn default_user_url(&self) -> String {
        format!(
            "rediss://:{TLS_REDIS_DEFAULT_PASSWORD}@127.0.0.1:{}",
            self.node.port
        )
    }

    /// `rediss://127.0.0.1:{port}`: TLS without a password, which commands refuse
    /// (NOAUTH).
    pub fn url_without_password(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.node.port)
    }

    /// `redis://bookstore:…@127.0.0.1:{port}`: plain TCP to the TLS port, which fails.
    pub fn plain_url(&self) -> String {
        format!(
            "redis://{TLS_REDIS_USER}:{TLS_REDIS_PASSWORD}@127.0.0.1:{}",
            self.node.port
        )
    }

    /// The CA that signed the server's certificate (`REDIS_CA_CERT`).
    pub fn ca_cert(&self) -> PathBuf {
        self.ca.cert()
    }

    pub fn ca(&self) -> &Ca {
        &self.ca
    }

    pub fn port(&self) -> u16 {
        self.node.port
    }

    pub fn dir(&self) -> &Path {
        self._scratch.path()
    }

    /// `TEST_REDIS_URL` (the ACL user over TLS), `TEST_REDIS_DEFAULT_USER_URL` and
    /// `TEST_REDIS_CA_CERT`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TEST_REDIS_URL", self.url()),
            ("TEST_REDIS_DEFAULT_USER_URL", self.default_user_url()),
            ("TEST_REDIS_CA_CERT", self.ca_cert().display().to_string()),
        ]
    }
}

fn user_url(port: u16) -> String {
    format!("rediss://{TLS_REDIS_USER}:{TLS_REDIS_PASSWORD}@127.0.0.1:{port}")
}
