#!/usr/bin/env bash
# Runs the whole test suite: every test on PostgreSQL + Redis (throwaway servers), then the
# end-to-end tests again on the embedded pair (a SQLite file per test, in-process sessions),
# and once more through PgBouncer (transaction pooling) with sessions on a Redis Cluster.
#
#   scripts/test.sh                 # every test in the workspace, on both backend pairs
#   scripts/test.sh signup          # arguments go to `cargo nextest run` (or `cargo test`)
#
# The servers live in a temporary directory, listen on free ports on 127.0.0.1 only, and are
# stopped and deleted on exit, so runs never share state and never touch a developer's own
# databases. To reuse services that are already running, set TEST_DATABASE_URL (a superuser
# URL: the tests create one database per test) and/or TEST_REDIS_URL; that service is then
# not started here. See scripts/lib/services.sh.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# shellcheck source-path=SCRIPTDIR source=lib/services.sh
source "$repo_root/scripts/lib/services.sh"

topology_pids=()

# Stops whatever was started and removes the temporary directory, on success, failure or
# interrupt alike.
# shellcheck disable=SC2317,SC2329 # invoked by the EXIT trap
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${topology_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    services_stop
    exit "$status"
}
trap cleanup EXIT
# A signal becomes an ordinary exit (128 + signal number), which runs the EXIT trap once.
trap 'exit 130' INT
trap 'exit 143' TERM

# The topology self-tests (tests/api/topology.rs) need openssl, pgbouncer and redis-cli
# too: installed along with the servers, after which a missing one fails those tests
# rather than skipping them.
services_topology_tools=1
services_start
if [[ -n $services_topology_ready ]]; then
    export TEST_REQUIRE_TOPOLOGY="${TEST_REQUIRE_TOPOLOGY:-1}"
fi

export TEST_SQLITE_DIR="$services_dir/sqlite"

# The resilience tests run the api-server binary itself (to kill it, to run two).
log "building the api-server binary: cargo build -p api-server"
cargo build -p api-server --quiet

# The resilience tests need PostgreSQL and Redis; on SQLite they would only skip. The
# topology self-tests and the scaling tests start servers of their own whatever the
# backend: once is enough.
sqlite_filter=()
sqlite_shown=""
if [[ $# -eq 0 ]]; then
    sqlite_filter=(-E 'not binary(resilience) and not binary(topology) and not binary(scaling)')
    sqlite_shown=" -E 'not binary(resilience) and not binary(topology) and not binary(scaling)'"
fi

# Starts `bookstore-topology $@` in the background and exports the variables it prints
# once its servers are up (see tests/support/bin/topology.rs).
start_topology() {
    local name=$1 env_file
    env_file="$services_dir/$name.env"
    "$topology_bin" "$@" --until-signal >"$env_file" 2>"$services_dir/$name.log" &
    topology_pids+=("$!")
    await_ready "$!" 600 grep -q '^TOPOLOGY_READY=1$' "$env_file" || {
        cat "$services_dir/$name.log" >&2
        die "the $name topology did not start"
    }
    set -a
    # shellcheck disable=SC1090 # written by bookstore-topology
    source "$env_file"
    set +a
}

# The end-to-end tests of the third pass: those that start no servers of their own.
e2e_binaries='binary(users) | binary(catalogue) | binary(orders) | binary(paging) | binary(retries) | binary(robustness) | binary(operations) | binary(security)'

status=0
if cargo nextest --version >/dev/null 2>&1; then
    # nextest does not run documentation examples; cargo test does, so run them first
    # (only for a full run: arguments are nextest filters).
    if [[ $# -eq 0 ]]; then
        log "running: cargo test --workspace --doc"
        cargo test --workspace --doc --quiet || status=$?
    fi
    log "running on PostgreSQL + Redis: cargo nextest run --workspace --no-fail-fast${*:+ $*}"
    TEST_BACKEND=postgres cargo nextest run --workspace --no-fail-fast "$@" || status=$?
    log "running on SQLite + in-process sessions: cargo nextest run -p bookstore-tests --no-fail-fast$sqlite_shown${*:+ $*}"
    TEST_BACKEND=sqlite cargo nextest run -p bookstore-tests --no-fail-fast "${sqlite_filter[@]}" "$@" || status=$?
    if [[ $# -eq 0 && -n ${services_topology_ready:-} ]]; then
        cargo build -p bookstore-tests --bin bookstore-topology --quiet
        topology_bin=${CARGO_TARGET_DIR:-$repo_root/target}/debug/bookstore-topology
        (
            # A subshell, so that the variables of this pass stay in it; its topologies
            # stop with it.
            trap 'for pid in "${topology_pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done' EXIT
            start_topology pgbouncer --upstream "$TEST_DATABASE_URL"
            start_topology redis-cluster
            export TEST_DATABASE_QUERY_MODE=simple
            log "running through PgBouncer (transaction pooling, DATABASE_QUERY_MODE=simple) on a Redis Cluster: cargo nextest run -p bookstore-tests --no-fail-fast -E '$e2e_binaries'"
            TEST_BACKEND=postgres cargo nextest run -p bookstore-tests --no-fail-fast -E "$e2e_binaries"
        ) || status=$?
    fi
else
    log "running on PostgreSQL + Redis: cargo test --workspace --no-fail-fast${*:+ $*} (cargo-nextest not found)"
    TEST_BACKEND=postgres cargo test --workspace --no-fail-fast "$@" || status=$?
    log "running on SQLite + in-process sessions: cargo test -p bookstore-tests --no-fail-fast${*:+ $*}"
    TEST_BACKEND=sqlite cargo test -p bookstore-tests --no-fail-fast "$@" || status=$?
fi
exit "$status"
