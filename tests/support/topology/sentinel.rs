//! Redis Sentinel: a master, a replica and three sentinels that fail over between them.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use super::redis_node::{RedisNode, Role, connect, info_field};
use super::run::{RunAs, Scratch, wait_until};

/// The name the sentinels monitor the master under (`REDIS_SENTINEL_MASTER`).
pub const SENTINEL_MASTER: &str = "bookstore";

/// `down-after-milliseconds`: how long the master may be unreachable before a sentinel
/// thinks it down. Short, so that a failover takes seconds.
pub const SENTINEL_DOWN_AFTER: Duration = Duration::from_millis(1000);

/// `failover-timeout`, which also spaces out failover attempts: short for the same reason.
const FAILOVER_TIMEOUT: Duration = Duration::from_millis(3000);

/// How long the sentinels may take to find the replica and one another.
const DISCOVERY: Duration = Duration::from_secs(30);

/// A Redis master, its replica and three sentinels (`redis-server --sentinel`, each with
/// its own configuration file, which Sentinel rewrites) that monitor the master as
/// [`SENTINEL_MASTER`] with a quorum of 2.
#[derive(Debug)]
pub struct Sentinel {
    /// The sentinels first, so that they are stopped before the servers they watch.
    sentinels: Vec<RedisNode>,
    /// The master and the replica, as started: index 0 began as the master.
    servers: Vec<RedisNode>,
    _scratch: Scratch,
}

impl Sentinel {
    pub async fn start() -> Result<Self> {
        let run_as = RunAs::servers()?;
        let scratch = Scratch::new(&run_as)?;
        let dir = scratch.path();
        let url = |port: u16| format!("redis://127.0.0.1:{port}");
        let master = RedisNode::start(
            "master",
            dir.join("server0"),
            Role::Server,
            &run_as,
            |_| String::new(),
            url,
            None,
        )
        .await?;
        let master_port = master.port;
        let replica = RedisNode::start(
            "replica",
            dir.join("server1"),
            Role::Server,
            &run_as,
            |_| format!("replicaof 127.0.0.1 {master_port}\n"),
            url,
            None,
        )
        .await?;
        // The sentinels learn of the replica from the master's INFO: have it linked first.
        let linked = &replica;
        wait_until(
            "the replica linked to the master",
            DISCOVERY,
            &[],
            || async move {
                let mut conn = linked.connect().await.ok()?;
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query_async(&mut conn)
                    .await
                    .ok()?;
                (info_field(&info, "master_link_status") == Some("up")).then_some(())
            },
        )
        .await?;

        let mut sentinels = Vec::new();
        for index in 0..3 {
            let conf = |_| {
                format!(
                    "sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {master_port} 2\n\
                     sentinel down-after-milliseconds {SENTINEL_MASTER} {}\n\
                     sentinel failover-timeout {SENTINEL_MASTER} {}\n\
                     sentinel parallel-syncs {SENTINEL_MASTER} 1\n",
                    SENTINEL_DOWN_AFTER.as_millis(),
                    FAILOVER_TIMEOUT.as_millis(),
                )
            };
            sentinels.push(
                RedisNode::start(
                    &format!("sentinel-{index}"),
                    dir.join(format!("sentinel{index}")),
                    Role::Sentinel,
                    &run_as,
                    conf,
                    url,
                    None,
                )
                .await?,
            );
        }
        let topology = Self {
            sentinels,
            servers: vec![master, replica],
            _scratch: scratch,
        };
        topology.wait_for_discovery().await?;
        Ok(topology)
    }

    /// Waits until every sentinel knows the replica and the two other sentinels: before
    /// that, they could not agree on a failover.
    async fn wait_for_discovery(&self) -> Result<()> {
        let sentinels = &self.sentinels;
        wait_until(
            "the sentinels finding the replica and one another",
            DISCOVERY,
            &[],
            || async move {
                for sentinel in sentinels {
                    let master = sentinel_master(sentinel).await.ok()?;
                    let count = |field: &str| master.get(field).map(String::as_str);
                    if count("num-slaves") != Some("1") || count("num-other-sentinels") != Some("2")
                    {
                        return None;
                    }
                }
                Some(())
            },
        )
        .await
    }

    /// `redis://127.0.0.1:{port}` of every sentinel (`REDIS_SENTINELS`).
    pub fn sentinel_urls(&self) -> Vec<String> {
        self.sentinels.iter().map(RedisNode::url).collect()
    }

    /// [`SENTINEL_MASTER`].
    pub fn master_name(&self) -> &'static str {
        SENTINEL_MASTER
    }

    /// The Redis servers' URLs, as started: the master first, then the replica.
    pub fn server_urls(&self) -> Vec<String> {
        self.servers.iter().map(RedisNode::url).collect()
    }

    pub fn dir(&self) -> &Path {
        self._scratch.path()
    }

    /// `host:port` of the master, as the first sentinel that answers tells it
    /// (`SENTINEL get-master-addr-by-name`).
    pub async fn current_master(&self) -> Result<String> {
        let mut last_error = None;
        for sentinel in self.sentinels.iter().filter(|node| node.is_running()) {
            match master_addr(sentinel).await {
                Ok(addr) => return Ok(addr),
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no sentinel is up")))
    }

    /// Kills the current master at once (SIGKILL); answers its `host:port`.
    pub async fn kill_master(&mut self) -> Result<String> {
        let addr = self.current_master().await?;
        let server = self
            .servers
            .iter_mut()
            .find(|server| server.addr() == addr)
            .with_context(|| format!("the master {addr} is none of this topology's servers"))?;
        server.kill();
        Ok(addr)
    }

    /// Waits until every sentinel that is up names a master other than `old` (`host:port`)
    /// and that server says it is a master, at most `limit`. Answers the new master's
    /// `host:port`.
    pub async fn wait_for_failover(&self, old: &str, limit: Duration) -> Result<String> {
        let sentinels = &self.sentinels;
        wait_until(
            &format!("the sentinels failing over from {old}"),
            limit,
            &[],
            || async move {
                let mut new = None;
                for sentinel in sentinels.iter().filter(|node| node.is_running()) {
                    let addr = master_addr(sentinel).await.ok()?;
                    if addr == old || new.as_ref().is_some_and(|new| *new != addr) {
                        return None;
                    }
                    new = Some(addr);
                }
                let new = new?;
                let mut conn = connect(&format!("redis://{new}"), None).await.ok()?;
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query_async(&mut conn)
                    .await
                    .ok()?;
                (info_field(&info, "role") == Some("master")).then_some(new)
            },
        )
        .await
    }

    /// `TEST_REDIS_SENTINELS` (comma-separated) and `TEST_REDIS_SENTINEL_MASTER`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TEST_REDIS_SENTINELS", self.sentinel_urls().join(",")),
            ("TEST_REDIS_SENTINEL_MASTER", SENTINEL_MASTER.to_owned()),
        ]
    }
}

async fn sentinel_master(sentinel: &RedisNode) -> Result<HashMap<String, String>> {
    let mut conn = sentinel.connect().await?;
    Ok(redis::cmd("SENTINEL")
        .arg("MASTER")
        .arg(SENTINEL_MASTER)
        .query_async(&mut conn)
        .await?)
}

async fn master_addr(sentinel: &RedisNode) -> Result<String> {
    let mut conn = sentinel.connect().await?;
    let (host, port): (String, u16) = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(SENTINEL_MASTER)
        .query_async(&mut conn)
        .await?;
    Ok(format!("{host}:{port}"))
}
