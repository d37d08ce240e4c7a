#!/usr/bin/env bash
# Load benchmark: the release server against the ceilings of the machine it runs on.
#
#   scripts/bench.sh                      # the whole benchmark, about 5 minutes
#   scripts/bench.sh --update-readme      # also put the results table into README.md
#   BENCH_DURATION=30 scripts/bench.sh    # longer measurements
#
# In one run, on throwaway PostgreSQL and Redis servers (scripts/lib/services.sh) with
# PostgreSQL set up like a small production server (durable: fsync and synchronous commit
# on), it:
#   1. builds the release api-server and the bench programs (bench/) into the target
#      directory (CARGO_TARGET_DIR, else target/);
#   2. measures the ceilings: `pgbench -S -M prepared` and `pgbench -N -M prepared` on a
#      scratch database (bcrypt verifications per second on all cores, the login
#      scenario's, are measured just before that scenario);
#   3. starts the server (RUST_LOG=warn) and seeds it through the API with bench-seed:
#      200 authors, 5,000 books, 200 customers with live sessions;
#   4. vacuums and analyzes the seeded database, takes the list page's own SQL statement
#      from PostgreSQL's log of one request (bench/page_statement.py) and measures it with
#      pgbench: the database's ceiling for that scenario;
#   5. loads the server with wrk (bench/wrk/*.lua), one scenario after the other; `/health`
#      and `GET /api/v1/books/{id}` are each followed by the same load on the peer
#      (../shared/peers/axum-min, a minimal hand-written server over the same database
#      and data), so that the table puts the two side by side; `GET /api/v1/books/{id}`
#      is also measured on a second server with the catalogue cache off (book_uncached),
#      the one compared with the peer, which reads the database every time;
#   6. prints the results table (bench-report) with the server's peak RSS.
# Every answer must be 2xx: any other status, a timeout or a broken connection stops the
# benchmark with an error. Measurements, logs and the table (results.md) are kept in
# target/bench/<time>/; target/bench/results.md is the latest table.
#
# Settings, from the environment:
#   BENCH_DURATION=15           seconds each measurement lasts
#   BENCH_WARMUP=3              seconds of unmeasured load before each measurement
#   BENCH_CONNECTIONS=64        connections of wrk, clients of pgbench
#   BENCH_LOGIN_CONNECTIONS=8   connections of the login scenario
#   BENCH_WRK_THREADS=2         threads of wrk and pgbench (-j)
#   BENCH_PGBENCH_SCALE=10      pgbench scale factor (10 = 1,000,000 accounts)
#   BCRYPT_COST=12              the server's bcrypt cost, and the ceiling's
#   DATABASE_MAX_CONNECTIONS    the server's pool size (server default when unset), and
#                               the peer's
#   BENCH_PEER_DIR              the peer's sources (default ../shared/peers/axum-min from
#                               the repository); when they are missing, no peer is measured
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# shellcheck source-path=SCRIPTDIR source=lib/services.sh
source "$repo_root/scripts/lib/services.sh"

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

update_readme=""
case ${1:-} in
    "") ;;
    --update-readme) update_readme=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        exit 2
        ;;
esac

# Where cargo puts the release build.
release=${CARGO_TARGET_DIR:-$repo_root/target}/release
duration=${BENCH_DURATION:-15}
warmup=${BENCH_WARMUP:-3}
connections=${BENCH_CONNECTIONS:-64}
login_connections=${BENCH_LOGIN_CONNECTIONS:-8}
threads=${BENCH_WRK_THREADS:-2}
pgbench_scale=${BENCH_PGBENCH_SCALE:-10}
bcrypt_cost=${BCRYPT_COST:-12}
peer_dir=${BENCH_PEER_DIR:-$repo_root/../shared/peers/axum-min}
# The peer is built into a directory of its own beside the server's build: it has its own
# Cargo.lock and versions, and the folder it lives in may be read-only.
peer_bin=${CARGO_TARGET_DIR:-$repo_root/target}/axum-min/release/axum-min

admin_email=admin@bench.example.com
admin_password="bench admin password"

# The ceilings only mean something against the very PostgreSQL the server uses, so the
# benchmark always starts its own servers rather than reusing the tests' ones.
unset TEST_DATABASE_URL TEST_REDIS_URL

server_pid=""
server_port=""
peer_pid=""
peer_port=""
uncached_pid=""
launched_pid=""
launched_port=""
out_dir=""

# Stops the process whose pid the variable named $1 holds, and clears the variable.
stop_pid() {
    local -n pid_of=$1
    if [[ -n $pid_of ]]; then
        kill -TERM "$pid_of" 2>/dev/null || true
        wait "$pid_of" 2>/dev/null || true
        pid_of=""
    fi
}

# shellcheck disable=SC2317,SC2329 # invoked by the EXIT trap
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_pid peer_pid
    stop_pid uncached_pid
    stop_pid server_pid
    services_stop
    if [[ $status -ne 0 && -n $out_dir ]]; then
        log "failed; what was measured and the logs are in $out_dir"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wrk comes from Debian's packages; installed with apt-get when missing and we are root.
find_or_install_wrk() {
    command -v wrk >/dev/null 2>&1 && return
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing wrk with apt-get"
        apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >&2
        command -v wrk >/dev/null 2>&1 || die "wrk is still missing after installing it"
    else
        die "missing wrk: install it with 'sudo apt-get install wrk'"
    fi
}

pg() {
    "$pg_bindir/$1" -h 127.0.0.1 -p "$pg_port" -U postgres "${@:2}"
}

# services.sh sets its cluster up for tests, trading durability for speed. A benchmark
# against the database's own ceiling wants a normal server: durable commits, and memory
# sized for this machine. ALTER SYSTEM overrides postgresql.conf; the restart applies
# shared_buffers.
tune_postgres() {
    local setting
    for setting in "fsync = on" "synchronous_commit = on" "full_page_writes = on" \
        "shared_buffers = '1GB'" "effective_cache_size = '8GB'" "work_mem = '16MB'" \
        "maintenance_work_mem = '256MB'" "max_wal_size = '4GB'" \
        "checkpoint_timeout = '30min'" "random_page_cost = 1.1"; do
        pg psql -q -X -d postgres -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET $setting" >/dev/null
    done
    as_pg_user "$pg_bindir/pg_ctl" -D "$pg_data" -l "$services_dir/postgres.log" -w -t 60 \
        restart >/dev/null
    [[ $(pg psql -X -At -d postgres -c "SHOW fsync") == on ]] ||
        die "PostgreSQL did not take the benchmark settings"
    pg_tuning="fsync, synchronous_commit and full_page_writes on; shared_buffers 1GB;"
    pg_tuning+=" effective_cache_size 8GB; work_mem 16MB; max_wal_size 4GB and"
    pg_tuning+=" checkpoint_timeout 30min (no checkpoint during a measurement);"
    pg_tuning+=" random_page_cost 1.1; max_connections 300"
    log "PostgreSQL tuned: $pg_tuning"
}

# --- CPU accounting: where the time goes during each measurement ----------------------

# Clock ticks of CPU used by a process and the children it has reaped (0 once it is gone).
proc_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
        echo 0
        return
    }
    # Fields after "(comm) ": utime, stime, cutime, cstime are the 12th to 15th.
    # shellcheck disable=SC2086 # split on purpose
    set -- ${stat##*) }
    echo $((${12} + ${13} + ${14} + ${15}))
}

# The postmaster and its backends: backends that ended are in the postmaster's cutime.
postgres_ticks() {
    local total pid
    total=$(proc_ticks "$pg_pid")
    for pid in $(pgrep -P "$pg_pid"); do
        total=$((total + $(proc_ticks "$pid")))
    done
    echo "$total"
}

# Kernel threads (children of kthreadd), such as ksoftirqd, which carries much of the
# loopback network's work under load.
kernel_ticks() {
    local total=0 pid
    for pid in $(pgrep -P 2); do
        total=$((total + $(proc_ticks "$pid")))
    done
    echo "$total"
}

# The load generator: this shell's reaped children (wrk, pgbench), nothing else of note.
client_ticks() {
    local stat
    stat=$(cat "/proc/$$/stat")
    # shellcheck disable=SC2086 # split on purpose
    set -- ${stat##*) }
    echo $((${14} + ${15}))
}

# Busy, total and stolen (by the hypervisor) jiffies of the whole machine.
machine_ticks() {
    awk '/^cpu / { total = $2+$3+$4+$5+$6+$7+$8+$9; print total - $5 - $6, total, $9 }' /proc/stat
}

# The process under load: the server, or the peer while it is measured.
measured_pid() {
    echo "${measured_pid:-$server_pid}"
}

# Waits (at most 5 s) until the measured server is idle: work the warmup left behind (a
# login's bcrypt verification runs to its end after its client has gone) must not take
# the cores from the measurement that follows.
settle() {
    local pid before after i
    pid=$(measured_pid)
    [[ -n $pid ]] || return 0
    for ((i = 0; i < 50; i++)); do
        before=$(proc_ticks "$pid")
        sleep 0.1
        after=$(proc_ticks "$pid")
        ((after - before <= 1)) && return 0
    done
    log "warning: the server was still busy 5 s after the warmup"
}

# Waits (at most 10 s) until the whole machine is idle (under 10 % busy over 0.2 s): what
# the last scenario set off (PostgreSQL's autovacuum after the orders, say) must not take
# the cores from a ceiling measured alone.
settle_machine() {
    local busy total busy2 total2 i
    for ((i = 0; i < 50; i++)); do
        read -r busy total _ < <(machine_ticks)
        sleep 0.2
        read -r busy2 total2 _ < <(machine_ticks)
        ((10 * (busy2 - busy) <= total2 - total)) && return 0
    done
    log "warning: the machine was still busy 10 s after the last scenario"
}

cpu_begin() {
    cpu_start_wall=$(date +%s.%N)
    cpu_start_server=$([[ -n $(measured_pid) ]] && proc_ticks "$(measured_pid)" || echo 0)
    cpu_start_postgres=$(postgres_ticks)
    cpu_start_redis=$(proc_ticks "$redis_pid")
    cpu_start_client=$(client_ticks)
    cpu_start_kernel=$(kernel_ticks)
    read -r cpu_start_busy cpu_start_total cpu_start_steal < <(machine_ticks)
}

# Writes the CPU used since cpu_begin to $out_dir/$1.cpu.
cpu_end() {
    local busy total steal
    read -r busy total steal < <(machine_ticks)
    {
        echo "clk_tck=$(getconf CLK_TCK)"
        echo "wall_s=$(awk -v a="$cpu_start_wall" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
        echo "busy_pct=$(awk -v b=$((busy - cpu_start_busy)) -v t=$((total - cpu_start_total)) \
            'BEGIN { printf "%.1f", (t > 0 ? 100 * b / t : 0) }')"
        echo "machine=$((busy - cpu_start_busy))"
        echo "steal=$((steal - cpu_start_steal))"
        if [[ -n $(measured_pid) ]]; then
            echo "server=$(($(proc_ticks "$(measured_pid)") - cpu_start_server))"
        fi
        echo "postgres=$(($(postgres_ticks) - cpu_start_postgres))"
        echo "redis=$(($(proc_ticks "$redis_pid") - cpu_start_redis))"
        echo "client=$(($(client_ticks) - cpu_start_client))"
        echo "kernel=$(($(kernel_ticks) - cpu_start_kernel))"
    } >"$out_dir/$1.cpu"
}

# --- the ceilings ------------------------------------------------------------------------

# pgbench with $1 (-S or -N) at the benchmark's concurrency; output in pgbench-$2.txt.
run_pgbench() {
    local mode=$1 name=$2
    local args=("$mode" -M prepared -c "$connections" -j "$threads" pgbench)
    pg pgbench -T "$warmup" "${args[@]}" >"$out_dir/pgbench-$name.warmup.txt" 2>&1 ||
        die "pgbench $mode failed: see $out_dir/pgbench-$name.warmup.txt"
    cpu_begin
    pg pgbench -T "$duration" "${args[@]}" >"$out_dir/pgbench-$name.txt" 2>&1 ||
        die "pgbench $mode failed: see $out_dir/pgbench-$name.txt"
    cpu_end "pgbench-$name"
    log "pgbench $mode -M prepared: $(grep -m1 '^tps' "$out_dir/pgbench-$name.txt")"
}

measure_ceilings() {
    pg createdb pgbench
    log "pgbench -i -s $pgbench_scale"
    pg pgbench -i -q -s "$pgbench_scale" pgbench >"$out_dir/pgbench-init.txt" 2>&1 ||
        die "pgbench -i failed: see $out_dir/pgbench-init.txt"
    run_pgbench -S select
    run_pgbench -N write
}

# The login scenario's ceiling, bcrypt verifications per second on all cores: measured
# just before that scenario, so that the two see the same machine.
measure_bcrypt() {
    settle_machine
    log "bcrypt at cost $bcrypt_cost on $(nproc) threads, ${duration} s"
    "$release/bench-bcrypt" --cost "$bcrypt_cost" --seconds "$duration" \
        --out "$out_dir/bcrypt.json"
}

# --- the server under test -----------------------------------------------------------------

# Whether the server (or the server on port $1) answers /health.
server_answers() {
    local port=${1:-$server_port}
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
        printf 'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
        IFS= read -r -t 2 line <&3 || exit 1
        [[ $line == "HTTP/1.1 200"* ]]
    ) 2>/dev/null
}

# Writes a pgbench script of the statement the server sends for one list page, at a random
# offset, to $out_dir/books_page.sql: PostgreSQL logs the statements of one request, and
# bench/page_statement.py turns the logged one into the script.
capture_page_statement() {
    local log_file=$services_dir/postgres.log from
    from=$(($(stat -c %s "$log_file") + 1))
    pg psql -q -X -d postgres -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET log_statement = 'all'" \
        -c "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
    (
        exec 3<>"/dev/tcp/127.0.0.1/$server_port"
        printf 'GET /api/v1/books?limit=20&offset=40 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
        cat <&3 >/dev/null
    )
    pg psql -q -X -d postgres -v ON_ERROR_STOP=1 -c "ALTER SYSTEM RESET log_statement" \
        -c "SELECT pg_reload_conf()" >/dev/null
    tail -c "+$from" "$log_file" | python3 bench/page_statement.py --offset 40 \
        --max-offset 4980 >"$out_dir/books_page.sql" ||
        die "the list page's statement is not in PostgreSQL's log ($log_file)"
}

# Starts a server on the bookstore database with the extra settings "$@" (NAME=value),
# logging to server.log; sets launched_pid and launched_port.
launch_server() {
    local attempt
    for attempt in 1 2 3; do
        launched_port=$(pick_port)
        # From the temporary directory, so that no developer's .env is read.
        (
            cd "$services_dir" &&
                exec env DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/bookstore" \
                    REDIS_URL="$TEST_REDIS_URL" REDIS_KEY_PREFIX=bench \
                    HOST=127.0.0.1 PORT="$launched_port" RUST_LOG=warn \
                    BCRYPT_COST="$bcrypt_cost" ACCESS_TOKEN_EXPIRE_MINUTES=240 \
                    SIGNUP_MAX_PER_CLIENT=0 \
                    ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password" \
                    "$@" "$release/api-server"
        ) >>"$out_dir/server.log" 2>&1 &
        launched_pid=$!
        if await_ready "$launched_pid" 150 server_answers "$launched_port"; then
            log "server ready on 127.0.0.1:$launched_port (pid $launched_pid${1:+, $*})"
            return
        fi
        stop_pid launched_pid
        log "the server did not start on port $launched_port (attempt $attempt)"
    done
    tail -n 20 "$out_dir/server.log" >&2 || true
    die "could not start the server"
}

start_server() {
    pg createdb bookstore
    launch_server
    server_pid=$launched_pid
    server_port=$launched_port
}

# `GET /api/v1/books/{id}` from a second server with the catalogue cache off, measured as
# book_uncached: what a read costs through the request path and the database, as the
# peer's does. The first server is idle meanwhile.
run_uncached_book() {
    launch_server CATALOGUE_CACHE=off
    uncached_pid=$launched_pid
    target_port=$launched_port measured_pid=$uncached_pid run_scenario book "$1" book_uncached
    stop_pid uncached_pid
}

# The peer, on the server's database once it is seeded, with a pool of the server's size.
start_peer() {
    local attempt
    for attempt in 1 2 3; do
        peer_port=$(pick_port)
        DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/bookstore" PORT="$peer_port" \
            POOL="${DATABASE_MAX_CONNECTIONS:-10}" "$peer_bin" >>"$out_dir/peer.log" 2>&1 &
        peer_pid=$!
        if await_ready "$peer_pid" 50 server_answers "$peer_port"; then
            log "peer ready on 127.0.0.1:$peer_port (pid $peer_pid)"
            return
        fi
        stop_pid peer_pid
        log "the peer did not start on port $peer_port (attempt $attempt)"
    done
    tail -n 20 "$out_dir/peer.log" >&2 || true
    die "could not start the peer"
}

# --- the scenarios ---------------------------------------------------------------------------

# wrk with bench/wrk/$1.lua over $2 connections, for $3 seconds; results in $out_dir/$4.*.
# A fifth argument marks a warm-up, which may end before any (slow) request completes.
# The port is the server's unless target_port is set (to the peer's).
wrk_run() {
    local script=$1 conns=$2 seconds=$3 name=$4 warmup_run=${5:-}
    BENCH_DATA="$out_dir/data" BENCH_RESULT="$out_dir/$name.json" \
        BENCH_WARMUP_RUN=$warmup_run wrk -t "$threads" -c "$conns" -d "${seconds}s" --timeout 10s --latency \
        -s "bench/wrk/$script.lua" "http://127.0.0.1:${target_port:-$server_port}" >"$out_dir/$name.txt" 2>&1 || {
        cat "$out_dir/$name.txt" >&2
        die "scenario $script: not every answer was 2xx (output above, server log in" \
            "$out_dir/server.log)"
    }
}

# Scenario $1 (bench/wrk/$1.lua) over $2 connections, measured as $3 (default $1).
run_scenario() {
    local script=$1 conns=$2 name=${3:-$1}
    wrk_run "$script" "$conns" "$warmup" "$name.warmup" warmup
    settle
    cpu_begin
    wrk_run "$script" "$conns" "$duration" "$name"
    cpu_end "$name"
    log "$(printf '%-11s' "$name") $(grep -m1 'Requests/sec' "$out_dir/$name.txt")"
}

# Scenario $1 on the peer right after the server, measured as peer_$1; the server is idle
# meanwhile.
run_peer_scenario() {
    [[ -n $peer_pid ]] || return 0
    target_port=$peer_port measured_pid=$peer_pid run_scenario "$1" "$2" "peer_$1"
}

write_meta() {
    local command="scripts/bench.sh" var
    for var in BENCH_DURATION BENCH_WARMUP BENCH_CONNECTIONS BENCH_LOGIN_CONNECTIONS \
        BENCH_WRK_THREADS BENCH_PGBENCH_SCALE BCRYPT_COST DATABASE_MAX_CONNECTIONS; do
        if [[ -n ${!var:-} ]]; then
            command="$var=${!var} $command"
        fi
    done
    local commit
    commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    if ! git diff --quiet HEAD -- api-server migrations 2>/dev/null; then
        commit+=" with local changes"
    fi
    cat >"$out_dir/meta.env" <<META
commit=$commit
date=$(date -u +%Y-%m-%d)
nproc=$(nproc)
cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
command=$command
duration_s=$duration
warmup_s=$warmup
connections=$connections
login_connections=$login_connections
wrk_threads=$threads
wrk_version=$(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')
postgres_version=$("$pg_bindir/postgres" --version | awk '{ print $3 }')
redis_version=$("$redis_server" --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
bcrypt_cost=$bcrypt_cost
db_pool=${DATABASE_MAX_CONNECTIONS:-10}
pgbench_scale=$pgbench_scale
pg_tuning=$pg_tuning
load_before=$load
META
}

# --- the run -------------------------------------------------------------------------------

started=$(date +%s)
read -r load _ </proc/loadavg
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    log "warning: load average $load before the start; other work skews the results"
fi

find_or_install_wrk
log "building the release server and the bench programs"
cargo build --release -p api-server -p bench
if [[ -f $peer_dir/Cargo.toml ]]; then
    log "building the peer ($peer_dir)"
    cargo build --release --locked --manifest-path "$peer_dir/Cargo.toml" \
        --target-dir "${peer_bin%/release/axum-min}"
else
    log "warning: no peer at $peer_dir (BENCH_PEER_DIR): the table shows no peer"
    peer_bin=""
fi

out_dir="target/bench/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out_dir/data"

services_start
pg_port=${TEST_DATABASE_URL##*:}
pg_port=${pg_port%%/*}
tune_postgres
pg_pid=$(head -n 1 "$pg_data/postmaster.pid")
write_meta

measure_ceilings

start_server
"$release/bench-seed" --base-url "http://127.0.0.1:$server_port" \
    --admin-email "$admin_email" --admin-password "$admin_password" --out "$out_dir/data"

# A catalogue at rest, as after any bulk load: statistics current and the visibility map
# set (so that index-only scans skip the table), no autovacuum run during a measurement.
pg psql -q -X -d bookstore -v ON_ERROR_STOP=1 -c "VACUUM (ANALYZE)" -c "CHECKPOINT" >/dev/null

# The list page's own statement, straight from pgbench: what the database alone can do.
capture_page_statement
args=(-n -M prepared -f "$out_dir/books_page.sql" -c "$connections" -j "$threads" bookstore)
pg pgbench -T "$warmup" "${args[@]}" >"$out_dir/pgbench-page.warmup.txt" 2>&1 ||
    die "pgbench of the list page's statement failed: see $out_dir/pgbench-page.warmup.txt"
cpu_begin
pg pgbench -T "$duration" "${args[@]}" >"$out_dir/pgbench-page.txt" 2>&1 ||
    die "pgbench of the list page's statement failed: see $out_dir/pgbench-page.txt"
cpu_end pgbench-page
log "pgbench, the list page's statement: $(grep -m1 '^tps' "$out_dir/pgbench-page.txt")"

if [[ -n $peer_bin ]]; then
    start_peer
fi
run_scenario health "$connections"
run_peer_scenario health "$connections"
run_scenario book "$connections"
run_uncached_book "$connections"
run_peer_scenario book "$connections"
stop_pid peer_pid
run_scenario books_page "$connections"
run_scenario me "$connections"
run_scenario order "$connections"
measure_bcrypt
run_scenario login "$login_connections"

cp "/proc/$server_pid/status" "$out_dir/server-status.txt"
stop_pid server_pid

"$release/bench-report" --dir "$out_dir" --markdown "$out_dir/results.md" \
    ${update_readme:+--readme README.md}
cp "$out_dir/results.md" target/bench/results.md
log "done in $(($(date +%s) - started)) s; measurements and logs in $out_dir"
