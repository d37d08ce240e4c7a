# shellcheck shell=bash
# Throwaway PostgreSQL and Redis servers for scripts that need real ones (scripts/test.sh,
# scripts/schemathesis.sh). Source it, then:
#
#   trap 'services_stop' EXIT   # or a cleanup of your own that calls it
#   services_start              # exports TEST_DATABASE_URL and TEST_REDIS_URL
#
# The servers live in a temporary directory ($services_dir), listen on free ports on
# 127.0.0.1 only, and services_stop stops them and deletes that directory, so runs never
# share state and never touch a developer's own databases. A service whose URL is already
# set (TEST_DATABASE_URL, a superuser URL; TEST_REDIS_URL) is used as it is, not started.
# PostgreSQL and Redis are installed with apt-get when they are missing and we are root.
# With services_topology_tools=1 set before services_start, so are the programs of the
# topology self-tests (tests/support/topology); services_topology_ready says whether they
# are all there.
#
# log and die print under the name of the script that sourced this file.

services_log_name=$(basename "$0")

log() { printf '%s: %s\n' "$services_log_name" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# The system user that owns the PostgreSQL data directory when we run as root: initdb and
# postgres refuse to run as root.
pg_os_user=postgres

pg_bindir=""
redis_server=""
services_topology_tools=""
services_topology_ready=""
services_dir=""
pg_data=""
pg_started=""
redis_pid=""

# Stops whatever services_start started and removes the temporary directory. Safe to call
# more than once and after a partial start; it prints nothing so that a test runner's
# summary stays the last output.
services_stop() {
    if [[ -n $redis_pid ]]; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
        redis_pid=""
    fi
    if [[ -n $pg_started ]]; then
        # Immediate mode: the data is thrown away anyway, so skip the shutdown checkpoint.
        as_pg_user "$pg_bindir/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true
        pg_started=""
    fi
    if [[ -n $services_dir ]]; then
        rm -rf -- "$services_dir"
        services_dir=""
    fi
}

# Runs the command after the first two arguments every 0.1 s, at most $2 times, while
# process $1 lives (an empty $1 watches no process). Succeeds as soon as the command does;
# fails when the process has exited or the tries run out.
await_ready() {
    local pid=$1 tries=$2 _
    shift 2
    for _ in $(seq 1 "$tries"); do
        "$@" && return 0
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.1
    done
    return 1
}

# Runs a command as the PostgreSQL owner: as $pg_os_user when we are root, as ourselves
# otherwise. It runs from the temporary directory because that user may not be allowed to
# enter the current one (a checkout under /root, say).
as_pg_user() {
    if [[ $EUID -ne 0 ]]; then
        (cd "$services_dir" && "$@")
    elif command -v runuser >/dev/null 2>&1; then
        (cd "$services_dir" && runuser -u "$pg_os_user" -- "$@")
    else
        (cd "$services_dir" && setpriv --reuid="$pg_os_user" --regid="$pg_os_user" --init-groups -- "$@")
    fi
}

# Prints the directory holding initdb, pg_ctl and postgres: the newest version under
# /usr/lib/postgresql (Debian and Ubuntu install versions side by side there, off PATH),
# else the one on PATH.
find_pg_bindir() {
    local dir newest=""
    for dir in /usr/lib/postgresql/*/bin; do
        if [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres ]]; then
            newest=$(printf '%s\n%s\n' "$newest" "$dir" | sed '/^$/d' | sort -V | tail -n 1)
        fi
    done
    if [[ -z $newest ]] && command -v initdb >/dev/null 2>&1 &&
        command -v pg_ctl >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
        newest=$(dirname "$(command -v initdb)")
    fi
    printf '%s' "$newest"
}

find_redis_server() {
    command -v redis-server 2>/dev/null || true
}

# The Debian packages of the topology self-tests' programs (tests/support/topology) that
# are missing, one a line: openssl makes the certificates; redis-tools has redis-cli, which
# creates a Redis Cluster; pgbouncer. They also need the PostgreSQL and Redis servers,
# whatever TEST_DATABASE_URL and TEST_REDIS_URL say. Sentinel is `redis-server --sentinel`,
# so the redis-sentinel package (a symlink and a system service) is not needed, and
# pg_stat_statements ships with the server package itself (postgresql-15), not contrib.
missing_topology_packages() {
    command -v openssl >/dev/null 2>&1 || echo openssl
    [[ -n $(find_pg_bindir) ]] || echo postgresql
    [[ -n $(find_redis_server) ]] || echo redis-server
    command -v redis-cli >/dev/null 2>&1 || echo redis-tools
    # Debian puts it in /usr/sbin, which a normal user's PATH may lack.
    command -v pgbouncer >/dev/null 2>&1 || [[ -x /usr/sbin/pgbouncer ]] || echo pgbouncer
}

# Finds the server binaries this run needs, installing the missing ones from Debian's
# packages when we are root on an apt-based system (a fresh CI machine), else explaining
# what to install. One apt-get update and one apt-get install cover everything missing,
# the topology self-tests' programs included when services_topology_tools is set; those
# are optional for a run that cannot install them (their tests skip).
# shellcheck disable=SC2034 # services_topology_ready is read by the sourcing script
find_or_install_servers() {
    local missing=() optional=() package
    if [[ -z ${TEST_DATABASE_URL:-} ]]; then
        pg_bindir=$(find_pg_bindir)
        [[ -n $pg_bindir ]] || missing+=(postgresql)
    fi
    if [[ -z ${TEST_REDIS_URL:-} ]]; then
        redis_server=$(find_redis_server)
        [[ -n $redis_server ]] || missing+=(redis-server)
    fi
    if [[ -n $services_topology_tools ]]; then
        while IFS= read -r package; do
            [[ " ${missing[*]} " == *" $package "* ]] || optional+=("$package")
        done < <(missing_topology_packages)
    fi
    if [[ ${#missing[@]} -eq 0 && ${#optional[@]} -eq 0 ]]; then
        [[ -z $services_topology_tools ]] || services_topology_ready=1
        return
    fi

    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing ${missing[*]} ${optional[*]} with apt-get"
        apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${missing[@]}" "${optional[@]}" >&2
        if [[ -z ${TEST_DATABASE_URL:-} ]]; then
            pg_bindir=$(find_pg_bindir)
            [[ -n $pg_bindir ]] || die "PostgreSQL is still missing after installing it"
        fi
        if [[ -z ${TEST_REDIS_URL:-} ]]; then
            redis_server=$(find_redis_server)
            [[ -n $redis_server ]] || die "redis-server is still missing after installing it"
        fi
        if [[ -n $services_topology_tools ]]; then
            package=$(missing_topology_packages | tr '\n' ' ')
            [[ -z $package ]] || die "still missing after installing them: $package"
            services_topology_ready=1
        fi
    elif [[ ${#missing[@]} -gt 0 ]]; then
        die "missing ${missing[*]}: install it with 'sudo apt-get install ${missing[*]}'" \
            "(Debian/Ubuntu names; the PostgreSQL server is initdb, pg_ctl and postgres)," \
            "or point TEST_DATABASE_URL / TEST_REDIS_URL at services already running"
    else
        log "the topology tests will be skipped: install ${optional[*]}" \
            "('sudo apt-get install ${optional[*]}') to run them"
    fi
}

# Picks a random port that nothing listens on. The range stays below Linux's ephemeral
# range (32768 and up) so that outgoing connections do not take it before our server binds
# it; a server that still fails to bind is retried on another port by its caller.
pick_port() {
    local port
    while true; do
        port=$((15000 + RANDOM % 15000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s' "$port"
            return
        fi
    done
}

start_postgres() {
    local port attempt
    log "PostgreSQL binaries: $pg_bindir"

    if [[ $EUID -eq 0 ]]; then
        if ! id -u "$pg_os_user" >/dev/null 2>&1; then
            log "creating system user $pg_os_user to own the test cluster"
            useradd --system --user-group --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin "$pg_os_user"
        fi
        chown "$pg_os_user:" "$services_dir"
    fi

    pg_data="$services_dir/pgdata"
    if ! as_pg_user "$pg_bindir/initdb" -D "$pg_data" --auth=trust -U postgres \
        --encoding=UTF8 --no-locale >"$services_dir/initdb.log" 2>&1; then
        cat "$services_dir/initdb.log" >&2
        die "initdb failed"
    fi

    # Durability is pointless for a cluster deleted at exit; dropping it makes the many
    # CREATE DATABASE calls of the suite (one per test) much faster. Each test holds a small
    # pool while tests run in parallel, hence the connection limit.
    cat >>"$pg_data/postgresql.conf" <<CONF

# Throwaway test cluster (scripts/lib/services.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$services_dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
CONF

    for attempt in 1 2 3 4 5; do
        port=$(pick_port)
        if as_pg_user "$pg_bindir/pg_ctl" -D "$pg_data" -l "$services_dir/postgres.log" \
            -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
            pg_started=1
            break
        fi
        log "PostgreSQL did not start on port $port (attempt $attempt)"
    done
    if [[ -z $pg_started ]]; then
        tail -n 20 "$services_dir/postgres.log" >&2 || true
        die "could not start PostgreSQL"
    fi

    # pg_ctl -w already waited for the server; this also proves the TCP listener answers.
    await_ready "" 50 "$pg_bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres ||
        die "PostgreSQL started but does not answer on 127.0.0.1:$port"
    export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    log "PostgreSQL ready on 127.0.0.1:$port"
}

# True once the Redis server on the given port answers PING.
redis_answers() {
    local port=$1 reply=""
    if command -v redis-cli >/dev/null 2>&1; then
        [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]
        return
    fi
    # Without redis-cli, speak the inline protocol over bash's /dev/tcp.
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
        printf 'PING\r\n' >&3
        IFS= read -r -t 1 reply <&3 || exit 1
        [[ $reply == $'+PONG\r' ]]
    ) 2>/dev/null
}

start_redis() {
    local port attempt
    log "Redis server: $redis_server"
    for attempt in 1 2 3 4 5; do
        port=$(pick_port)
        # No RDB snapshots and no AOF: nothing is written to disk.
        "$redis_server" --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
            --daemonize no --dir "$services_dir" --logfile "$services_dir/redis.log" &
        redis_pid=$!
        # It exits at once when the port is taken: then another one is tried.
        if await_ready "$redis_pid" 100 redis_answers "$port"; then
            export TEST_REDIS_URL="redis://127.0.0.1:$port"
            log "Redis ready on 127.0.0.1:$port"
            return
        fi
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
        redis_pid=""
        log "Redis did not start on port $port (attempt $attempt)"
    done
    tail -n 20 "$services_dir/redis.log" >&2 || true
    die "could not start Redis"
}

# Makes TEST_DATABASE_URL and TEST_REDIS_URL point at running servers: the given ones, or
# throwaway ones started here. Creates $services_dir, which the caller may use for files
# that should disappear with the services.
services_start() {
    find_or_install_servers

    # Under /tmp rather than $TMPDIR: the postgres user must be able to reach it, and the
    # unix socket path must stay short (about 100 bytes at most).
    services_dir=$(mktemp -d /tmp/bookstore-test.XXXXXX)

    if [[ -n ${TEST_DATABASE_URL:-} ]]; then
        log "using PostgreSQL from TEST_DATABASE_URL"
    else
        start_postgres
    fi
    if [[ -n ${TEST_REDIS_URL:-} ]]; then
        log "using Redis from TEST_REDIS_URL"
    else
        start_redis
    fi
}
