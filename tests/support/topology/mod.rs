//! Throwaway topologies of real servers, for what one PostgreSQL and one Redis cannot show:
//! TLS to both ([`TlsPostgres`], [`TlsRedis`], with a [`Ca`] of their own), a
//! [`RedisCluster`], Redis [`Sentinel`], a PostgreSQL streaming replica ([`PgReplica`]) and
//! [`PgBouncer`] in front of PostgreSQL.
//!
//! Each topology runs the system's own programs (Debian packages `postgresql`,
//! `redis-server`, `redis-tools`, `pgbouncer`, `openssl`) on free ports of 127.0.0.1, in a
//! private directory under /tmp, and when it is dropped, a test's panic included, it stops
//! them and deletes that directory. Every server also dies with the thread that started it
//! (a parent-death signal), so not even a test process killed outright leaves one behind.
//!
//! PostgreSQL and PgBouncer refuse to run as root: when the tests run as root (as CI does),
//! every server of a topology runs as the `postgres` system user, which owns its directory.
//!
//! A test first asks [`available`] for the programs it needs: when one is missing it prints
//! why and the test returns early, unless `TEST_REQUIRE_TOPOLOGY` is set, in which case it
//! fails. `scripts/test.sh` sets it once it has installed the packages.
//!
//! The `bookstore-topology` binary starts one topology for a whole test run and prints its
//! [`env`](TlsPostgres::env) variables (support/bin/topology.rs).

mod ca;
mod cluster;
mod pgbouncer;
mod postgres;
mod redis_node;
mod run;
mod sentinel;
mod tls_redis;

pub use ca::{Ca, CertPair};
pub use cluster::{CLUSTER_NODE_TIMEOUT, ClusterNode, RedisCluster};
pub use pgbouncer::{PgBouncer, PgBouncerOptions, PoolMode, pgbouncer_version};
pub use postgres::{PgReplica, Postgres, ReplayLag, TLS_POSTGRES_PASSWORD, TlsPostgres};
pub use redis_node::{client as redis_client, connect as redis_connect};
pub use run::{Tool, available};
pub use sentinel::{SENTINEL_DOWN_AFTER, SENTINEL_MASTER, Sentinel};
pub use tls_redis::{TLS_REDIS_DEFAULT_PASSWORD, TLS_REDIS_PASSWORD, TLS_REDIS_USER, TlsRedis};
