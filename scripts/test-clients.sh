#!/usr/bin/env bash
# Packs the Rust, TypeScript and Python clients of openapi.yaml, installs each packed
# artifact into a clean project of its own and runs its smoke test against a real server.
#
#   scripts/test-clients.sh
#   BOOKSTORE_SERVER_BIN=path/to/api-server scripts/test-clients.sh   # skip the cargo build
#
# It builds the server (cargo build -p api-server, debug) and starts it on a free port on
# 127.0.0.1 with a throwaway SQLite file and in-process sessions in a temporary directory,
# with an administrator; runs scripts/build-clients.sh into that directory (cargo package of
# the crate, with its verification build; npm pack; the wheel); installs the npm tarball
# into a fresh npm project (a copy of clients/typescript/smoke) and the wheel into a fresh
# virtual environment, and unpacks the crate outside the workspace; then runs
# clients/typescript/smoke/smoke.test.ts (type-checked against the package's declarations,
# run by node --test), clients/python/smoke_test.py, and the crate's own quickstart example
# built from the package's Cargo.lock. The server is stopped and the directory removed on
# exit; any failure fails the script and prints the end of the server's log.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# shellcheck source-path=SCRIPTDIR source=lib/services.sh
source "$repo_root/scripts/lib/services.sh"

work_dir=""
server_pid=""
server_log=""

# Stops the server and removes the temporary directory, on success, failure or interrupt
# alike; on failure it first shows what the server logged.
# shellcheck disable=SC2317,SC2329 # invoked by the EXIT trap
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ $status -ne 0 && -n $server_log ]]; then
        if [[ -s $server_log ]]; then
            log "last lines of the server log (RUST_LOG=warn):"
            tail -n 40 "$server_log" >&2 || true
        else
            log "the server logged nothing (RUST_LOG=warn)"
        fi
    fi
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ -n $work_dir ]]; then
        rm -rf -- "$work_dir"
    fi
    exit "$status"
}
trap cleanup EXIT
# A signal becomes an ordinary exit (128 + signal number), which runs the EXIT trap once.
trap 'exit 130' INT
trap 'exit 143' TERM

# Prints the path of the server binary: BOOKSTORE_SERVER_BIN when set, else a fresh debug
# build in Cargo's target directory (which honours CARGO_TARGET_DIR).
server_binary() {
    local target_dir
    if [[ -n ${BOOKSTORE_SERVER_BIN:-} ]]; then
        [[ -x $BOOKSTORE_SERVER_BIN ]] || die "BOOKSTORE_SERVER_BIN=$BOOKSTORE_SERVER_BIN is not executable"
        printf '%s' "$BOOKSTORE_SERVER_BIN"
        return
    fi
    log "building the server: cargo build -p api-server"
    cargo build --quiet -p api-server >&2
    target_dir=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    [[ -x $target_dir/debug/api-server ]] || die "no server binary at $target_dir/debug/api-server"
    printf '%s' "$target_dir/debug/api-server"
}

# Starts the server on a free port with its own SQLite file, retrying on another port when
# the chosen one was taken meanwhile; sets server_pid and base_url.
start_server() {
    local binary=$1 port attempt
    server_log=$work_dir/server.log
    for attempt in 1 2 3 4 5; do
        port=$(pick_port)
        # The working directory is the temporary one, so that no .env of a checkout is read
        # and no file lands in the repository. A signup throttle would refuse the smoke
        # tests' sign-ups, which all come from one address: SIGNUP_MAX_PER_CLIENT=0 keeps it
        # off.
        (cd "$work_dir" && exec env -u REDIS_URL \
            DATABASE_URL="sqlite://$work_dir/bookstore.db" HOST=127.0.0.1 PORT="$port" \
            ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password" BCRYPT_COST=4 \
            RUST_LOG=warn SIGNUP_MAX_PER_CLIENT=0 "$binary") >"$server_log" 2>&1 &
        server_pid=$!
        if await_ready "$server_pid" 300 \
            curl --silent --fail --output /dev/null "http://127.0.0.1:$port/health"; then
            base_url="http://127.0.0.1:$port"
            log "server ready on $base_url"
            return
        fi
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
        log "the server did not start on port $port (attempt $attempt)"
    done
    die "could not start the server"
}

# Installs the npm tarball into a fresh project made from clients/typescript/smoke and runs
# its test there, so that only the packed files are used.
test_typescript() {
    local tarball=$1 project=$work_dir/ts-consumer installed
    log "TypeScript: installing $(basename "$tarball") into a fresh npm project"
    mkdir -p "$project"
    cp "$repo_root/clients/typescript/smoke/"{package.json,package-lock.json,tsconfig.json,smoke.test.ts} \
        "$project/"
    (cd "$project" && npm ci --no-audit --no-fund --loglevel=error >&2 &&
        npm install --no-save --no-audit --no-fund --loglevel=error "$tarball" >&2)
    installed=$(cd "$project" &&
        node -p 'JSON.parse(require("fs").readFileSync("node_modules/@bookstore-api/client/package.json")).version')
    [[ $installed == "$version" ]] || die "installed @bookstore-api/client $installed, expected $version"
    log "TypeScript: smoke test (tsc, then node --test)"
    (cd "$project" && BOOKSTORE_URL=$base_url BOOKSTORE_ADMIN_EMAIL=$admin_email \
        BOOKSTORE_ADMIN_PASSWORD=$admin_password npm test --silent)
}

# Installs the wheel into a fresh virtual environment and runs the smoke test from a
# directory outside the repository, so that only the installed package can be imported.
test_python() {
    local wheel=$1 venv=$work_dir/py-consumer run_dir=$work_dir/py-smoke
    log "Python: installing $(basename "$wheel") into a fresh virtual environment"
    python3 -m venv "$venv" >&2 || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" >&2
    mkdir -p "$run_dir"
    cp "$repo_root/clients/python/smoke_test.py" "$run_dir/"
    log "Python: smoke test"
    (cd "$run_dir" && BOOKSTORE_URL=$base_url BOOKSTORE_ADMIN_EMAIL=$admin_email \
        BOOKSTORE_ADMIN_PASSWORD=$admin_password "$venv/bin/python" -I smoke_test.py)
}

# Unpacks the crate into a directory of its own, outside any workspace, and runs the example
# it ships, examples/quickstart.rs (sign up, log in, list books, order one, log out), built
# from the package alone with the versions of its Cargo.lock. Cargo's target directory is
# the workspace's, so the dependencies the verification build compiled are reused.
test_rust() {
    local crate=$1 project target_dir
    project=$work_dir/$(basename "$crate" .crate)
    log "Rust: unpacking $(basename "$crate") and running its quickstart example"
    tar -xzf "$crate" -C "$work_dir"
    [[ -f $project/Cargo.toml ]] || die "$(basename "$crate") holds no $(basename "$project")/Cargo.toml"
    target_dir=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    (cd "$project" && CARGO_TARGET_DIR=$target_dir cargo run --quiet --locked \
        --example quickstart -- "$base_url")
}

command -v curl >/dev/null 2>&1 || die "curl is required"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    die "Node.js 20+ and npm are required"
fi
command -v python3 >/dev/null 2>&1 || die "python3 is required"

started=$SECONDS
work_dir=$(mktemp -d "${TMPDIR:-/tmp}/bookstore-clients-test.XXXXXX")
admin_email=admin@bookstore.test
admin_password="admin-$RANDOM$RANDOM-password"
base_url=""
version=$(node "$repo_root/clients/typescript/scripts/contract-version.mjs")

start_server "$(server_binary)"

bash "$repo_root/scripts/build-clients.sh" "$work_dir/artifacts"
crate=$work_dir/artifacts/bookstore-api-client-$version.crate
tarball=$work_dir/artifacts/bookstore-api-client-$version.tgz
wheel=$(find "$work_dir/artifacts" -maxdepth 1 -name 'bookstore_api_client-*.whl' -print -quit)
[[ -f $crate && -f $tarball && -n $wheel ]] || die "build-clients.sh did not produce the three artifacts"

# Each test runs in a subshell with errexit of its own, so that the Python test still runs
# when the TypeScript one failed (errexit would be off inside a function called as `f || x`).
set +e
(set -e && test_typescript "$tarball")
ts_status=$?
(set -e && test_python "$wheel")
py_status=$?
(set -e && test_rust "$crate")
rs_status=$?
set -e
kill -0 "$server_pid" 2>/dev/null || die "the server exited during the smoke tests"
[[ $ts_status -eq 0 ]] || log "the TypeScript client's smoke test failed"
[[ $py_status -eq 0 ]] || log "the Python client's smoke test failed"
[[ $rs_status -eq 0 ]] || log "the Rust client's smoke test failed"
[[ $ts_status -eq 0 && $py_status -eq 0 && $rs_status -eq 0 ]] || die "a client smoke test failed"
log "the three clients passed their smoke tests against the server (contract $version, $((SECONDS - started)) s)"
