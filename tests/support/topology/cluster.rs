//! A Redis Cluster: masters with replicas, and the operations failure tests need.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use redis::aio::MultiplexedConnection;

use super::redis_node::{RedisNode, Role, info_field};
use super::run::{RunAs, Scratch, Tool, free_ports, run, wait_until};

/// `cluster-node-timeout`: how long a node may be unreachable before it is failed over.
/// Short, so that a test of a killed master takes seconds rather than the default 15 s.
pub const CLUSTER_NODE_TIMEOUT: Duration = Duration::from_millis(2000);

/// How long the cluster may take to agree again after a change.
const SETTLE: Duration = Duration::from_secs(30);

/// A Redis Cluster on 127.0.0.1: `masters` masters sharing the 16384 slots, each with
/// `replicas` replicas, every node a redis-server of its own (`cluster-enabled yes`) with
/// its own directory, created with `redis-cli --cluster create`.
///
/// Nodes are named by their index in [`RedisCluster::urls`], which never changes; which of
/// them are masters does (after [`RedisCluster::failover`], or a kill).
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisNode>,
    _scratch: Scratch,
}

/// One node as a cluster node sees it (a line of `CLUSTER NODES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    /// Its index in [`RedisCluster::urls`].
    pub index: usize,
    pub id: String,
    pub master: bool,
    /// The id of its master, for a replica.
    pub master_of: Option<String>,
    /// Flagged `fail` (or `fail?`, suspected) by the node asked.
    pub failing: bool,
    /// The slot ranges it serves, for a master.
    pub slots: Vec<(u16, u16)>,
}

impl RedisCluster {
    /// Three masters with one replica each.
    pub async fn start() -> Result<Self> {
        Self::start_with(3, 1).await
    }

    pub async fn start_with(masters: usize, replicas: usize) -> Result<Self> {
        let redis_cli = Tool::RedisCli.require()?;
        if masters < 3 {
            bail!("a Redis Cluster needs at least 3 masters");
        }
        let run_as = RunAs::servers()?;
        let scratch = Scratch::new(&run_as)?;
        let timeout_ms = CLUSTER_NODE_TIMEOUT.as_millis();
        let mut nodes = Vec::new();
        for index in 0..masters * (1 + replicas) {
            // The cluster bus port is given explicitly: the default, port + 10000, may be
            // taken or past 65535.
            let conf = |port: u16| {
                let bus = free_ports::<2>()
                    .ok()
                    .and_then(|ports| ports.into_iter().find(|bus| *bus != port))
                    .unwrap_or_default();
                format!(
                    "cluster-enabled yes\n\
                     cluster-config-file nodes.conf\n\
                     cluster-port {bus}\n\
                     cluster-node-timeout {timeout_ms}\n\
                     # A replica may take over however long its link was down.\n\
                     cluster-replica-validity-factor 0\n"
                )
            };
            let node = RedisNode::start(
                &format!("cluster-{index}"),
                scratch.path().join(format!("node{index}")),
                Role::Server,
                &run_as,
                conf,
                |port| format!("redis://127.0.0.1:{port}"),
                None,
            )
            .await?;
            nodes.push(node);
        }

        let mut create = run_as.command(redis_cli);
        create.args(["--cluster", "create"]);
        create.args(nodes.iter().map(RedisNode::addr));
        create.args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"]);
        run(
            "redis-cli --cluster create",
            create,
            Duration::from_secs(120),
        )
        .await?;

        let cluster = Self {
            nodes,
            _scratch: scratch,
        };
        cluster.wait_until_ok().await?;
        cluster.wait_for_replica_links().await?;
        Ok(cluster)
    }

    /// `redis://127.0.0.1:{port}` of every node, by index.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisNode::url).collect()
    }

    pub fn url(&self, node: usize) -> String {
        self.nodes[node].url()
    }

    pub fn port(&self, node: usize) -> u16 {
        self.nodes[node].port
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn dir(&self) -> &Path {
        self._scratch.path()
    }

    pub fn is_running(&self, node: usize) -> bool {
        self.nodes[node].is_running()
    }

    /// `TEST_REDIS_CLUSTER_NODES`: every node's URL, comma-separated.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("TEST_REDIS_CLUSTER_NODES", self.urls().join(","))]
    }

    /// A connection to node `node` alone (no redirections followed).
    pub async fn connect(&self, node: usize) -> Result<MultiplexedConnection> {
        self.nodes[node].connect().await
    }

    /// The slot of `key`, as the cluster computes it.
    pub async fn key_slot(&self, key: &str) -> Result<u16> {
        let mut conn = self.connect(self.any_running()?).await?;
        Ok(redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut conn)
            .await?)
    }

    /// The cluster as node `node` sees it.
    pub async fn view_from(&self, node: usize) -> Result<Vec<ClusterNode>> {
        let mut conn = self.connect(node).await?;
        let text: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query_async(&mut conn)
            .await?;
        Ok(self.parse_nodes(&text))
    }

    /// The master serving `slot`, as a running node sees it.
    pub async fn master_of_slot(&self, slot: u16) -> Result<usize> {
        let view = self.view_from(self.any_running()?).await?;
        owner(&view, slot).with_context(|| format!("no master serves slot {slot}"))
    }

    /// The masters that are up, by the first slot they serve.
    pub async fn masters(&self) -> Result<Vec<usize>> {
        let view = self.view_from(self.any_running()?).await?;
        let mut masters: Vec<&ClusterNode> = view
            .iter()
            .filter(|node| node.master && !node.failing && !node.slots.is_empty())
            .collect();
        masters.sort_by_key(|node| node.slots.first().copied());
        Ok(masters.iter().map(|node| node.index).collect())
    }

    /// The replicas of master `master` that are up.
    pub async fn replicas_of(&self, master: usize) -> Result<Vec<usize>> {
        // The master itself knows best: its replicas are connected to it.
        let asked = if self.nodes[master].is_running() {
            master
        } else {
            self.any_running()?
        };
        let view = self.view_from(asked).await?;
        let id = &view
            .iter()
            .find(|node| node.index == master)
            .context("no such node")?
            .id;
        Ok(view
            .iter()
            .filter(|node| node.master_of.as_ref() == Some(id) && !node.failing)
            .filter(|node| self.nodes[node.index].is_running())
            .map(|node| node.index)
            .collect())
    }

    /// A manual failover of master `master`: `CLUSTER FAILOVER` on one of its replicas,
    /// then waits until the two have switched roles and every node agrees. Answers the
    /// promoted replica.
    pub async fn failover(&self, master: usize) -> Result<usize> {
        let replica = *self
            .replicas_of(master)
            .await?
            .first()
            .with_context(|| format!("node {master} has no replica that is up"))?;
        let mut conn = self.connect(replica).await?;
        redis::cmd("CLUSTER")
            .arg("FAILOVER")
            .query_async::<()>(&mut conn)
            .await
            .context("CLUSTER FAILOVER")?;
        let servers: Vec<_> = [master, replica]
            .iter()
            .filter_map(|node| self.nodes[*node].server())
            .collect();
        wait_until(
            &format!("node {replica} taking over from node {master}"),
            SETTLE,
            &servers,
            || async move {
                let promoted = self.view_from(replica).await.ok()?;
                let demoted = self.view_from(master).await.ok()?;
                let me = |view: &[ClusterNode], node| {
                    view.iter().find(|entry| entry.index == node).cloned()
                };
                (me(&promoted, replica)?.master && !me(&demoted, master)?.master).then_some(())
            },
        )
        .await?;
        self.wait_until_ok().await?;
        Ok(replica)
    }

    /// Moves `slot` from master `from` to master `to` the standard way: `to` IMPORTING,
    /// `from` MIGRATING, every key of the slot MIGRATEd, then `CLUSTER SETSLOT … NODE` on
    /// both and on every other master; waits until every node agrees. Answers how many keys
    /// moved.
    pub async fn migrate_slot(&self, slot: u16, from: usize, to: usize) -> Result<usize> {
        let mut source = self.connect(from).await?;
        let mut target = self.connect(to).await?;
        let from_id = my_id(&mut source).await?;
        let to_id = my_id(&mut target).await?;
        setslot(&mut target, slot, &["IMPORTING", &from_id]).await?;
        setslot(&mut source, slot, &["MIGRATING", &to_id]).await?;
        let mut moved = 0;
        loop {
            let keys: Vec<Vec<u8>> = redis::cmd("CLUSTER")
                .arg("GETKEYSINSLOT")
                .arg(slot)
                .arg(100)
                .query_async(&mut source)
                .await?;
            if keys.is_empty() {
                break;
            }
            moved += keys.len();
            redis::cmd("MIGRATE")
                .arg("127.0.0.1")
                .arg(self.nodes[to].port)
                .arg("")
                .arg(0)
                .arg(5000)
                .arg("KEYS")
                .arg(&keys)
                .query_async::<()>(&mut source)
                .await
                .context("MIGRATE")?;
        }
        // The target first: once the source lets go, clients are sent there.
        setslot(&mut target, slot, &["NODE", &to_id]).await?;
        setslot(&mut source, slot, &["NODE", &to_id]).await?;
        for other in self.masters().await? {
            if other != from && other != to {
                let mut conn = self.connect(other).await?;
                setslot(&mut conn, slot, &["NODE", &to_id]).await?;
            }
        }
        wait_until(
            &format!("every node seeing slot {slot} on node {to}"),
            SETTLE,
            &[],
            || async move {
                for node in self.running() {
                    let view = self.view_from(node).await.ok()?;
                    if owner(&view, slot)? != to {
                        return None;
                    }
                }
                Some(())
            },
        )
        .await?;
        Ok(moved)
    }

    /// Kills node `node` at once (SIGKILL). A killed master is failed over by its replicas
    /// after [`CLUSTER_NODE_TIMEOUT`]; [`RedisCluster::wait_until_ok`] waits for that.
    pub fn kill(&mut self, node: usize) {
        self.nodes[node].kill();
    }

    /// Starts a killed node again, with its port and cluster state; it rejoins.
    pub async fn restart(&mut self, node: usize) -> Result<()> {
        self.nodes[node].restart().await?;
        self.wait_until_ok().await
    }

    /// Waits until every running node reports `cluster_state:ok`, sees all 16384 slots
    /// served by masters that are up, and agrees with the others on which masters serve
    /// which slots and which master each running replica follows.
    pub async fn wait_until_ok(&self) -> Result<()> {
        wait_until(
            "the cluster agreeing on cluster_state:ok",
            SETTLE,
            &[],
            || async move {
                let mut agreed: Option<Agreement> = None;
                for node in self.running() {
                    let mut conn = self.connect(node).await.ok()?;
                    let info: String = redis::cmd("CLUSTER")
                        .arg("INFO")
                        .query_async(&mut conn)
                        .await
                        .ok()?;
                    if info_field(&info, "cluster_state") != Some("ok") {
                        return None;
                    }
                    let seen = self.agreement(&self.view_from(node).await.ok()?)?;
                    match &agreed {
                        Some(agreed) if *agreed != seen => return None,
                        _ => agreed = Some(seen),
                    }
                }
                agreed.map(drop)
            },
        )
        .await
    }

    /// What `view` says the nodes must agree on, when it is complete: all 16384 slots served
    /// by masters that are up, and every running replica following a master it knows.
    fn agreement(&self, view: &[ClusterNode]) -> Option<Agreement> {
        let slots: BTreeMap<(u16, u16), usize> = view
            .iter()
            .filter(|entry| entry.master && !entry.failing)
            .flat_map(|entry| entry.slots.iter().map(|range| (*range, entry.index)))
            .collect();
        if slots.values().any(|owner| !self.nodes[*owner].is_running()) {
            return None;
        }
        let covered: u32 = slots
            .keys()
            .map(|(first, last)| u32::from(*last) - u32::from(*first) + 1)
            .sum();
        if covered != 16384 {
            return None;
        }
        let mut followed = BTreeMap::new();
        for entry in view {
            if entry.master || !self.nodes[entry.index].is_running() {
                continue;
            }
            let id = entry.master_of.as_ref()?;
            let master = view.iter().find(|other| other.id == *id)?;
            followed.insert(entry.index, master.index);
        }
        Some((slots, followed))
    }

    /// Waits until every replica that is up has its link to its master up.
    async fn wait_for_replica_links(&self) -> Result<()> {
        wait_until(
            "every replica linked to its master",
            SETTLE,
            &[],
            || async move {
                for node in self.running() {
                    let mut conn = self.connect(node).await.ok()?;
                    let info: String = redis::cmd("INFO")
                        .arg("replication")
                        .query_async(&mut conn)
                        .await
                        .ok()?;
                    if info_field(&info, "role") == Some("slave")
                        && info_field(&info, "master_link_status") != Some("up")
                    {
                        return None;
                    }
                }
                Some(())
            },
        )
        .await
    }

    fn running(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|node| self.nodes[*node].is_running())
    }

    fn any_running(&self) -> Result<usize> {
        self.running()
            .next()
            .context("no node of the cluster is up")
    }

    fn parse_nodes(&self, text: &str) -> Vec<ClusterNode> {
        text.lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let (id, addr, flags, master) = (
                    fields.first()?,
                    fields.get(1)?,
                    fields.get(2)?,
                    fields.get(3)?,
                );
                // 127.0.0.1:30001@40001[,hostname]
                let port: u16 = addr
                    .split(['@', ','])
                    .next()?
                    .rsplit(':')
                    .next()?
                    .parse()
                    .ok()?;
                let index = self.nodes.iter().position(|node| node.port == port)?;
                let flags: Vec<&str> = flags.split(',').collect();
                let slots = fields
                    .iter()
                    .skip(8)
                    // "[5461->-id]" and "[5461-<-id]": a slot being migrated or imported.
                    .filter(|slot| !slot.starts_with('['))
                    .filter_map(|slot| match slot.split_once('-') {
                        Some((first, last)) => Some((first.parse().ok()?, last.parse().ok()?)),
                        None => {
                            let slot = slot.parse().ok()?;
                            Some((slot, slot))
                        }
                    })
                    .collect();
                Some(ClusterNode {
                    index,
                    id: (*id).to_owned(),
                    master: flags.contains(&"master"),
                    master_of: (*master != "-").then(|| (*master).to_owned()),
                    failing: flags.iter().any(|flag| flag.starts_with("fail")),
                    slots,
                })
            })
            .collect()
    }
}

/// What the nodes must agree on: the master serving each slot range, and the master each
/// running replica follows.
type Agreement = (BTreeMap<(u16, u16), usize>, BTreeMap<usize, usize>);

/// The master that serves `slot` in `view`.
fn owner(view: &[ClusterNode], slot: u16) -> Option<usize> {
    view.iter()
        .filter(|node| node.master && !node.failing)
        .find(|node| {
            node.slots
                .iter()
                .any(|(first, last)| (*first..=*last).contains(&slot))
        })
        .map(|node| node.index)
}

async fn my_id(conn: &mut MultiplexedConnection) -> Result<String> {
    Ok(redis::cmd("CLUSTER").arg("MYID").query_async(conn).await?)
}

async fn setslot(conn: &mut MultiplexedConnection, slot: u16, args: &[&str]) -> Result<()> {
    redis::cmd("CLUSTER")
        .arg("SETSLOT")
        .arg(slot)
        .arg(args)
        .query_async::<()>(conn)
        .await
        .with_context(|| format!("CLUSTER SETSLOT {slot} {}", args.join(" ")))
}
