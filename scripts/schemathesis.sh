#!/usr/bin/env bash
# Property-based contract testing: Schemathesis generates requests from the spec the real
# server serves and checks every answer against it.
#
#   scripts/schemathesis.sh                     # the whole run, as CI does it
#   SCHEMATHESIS_MAX_EXAMPLES=10 scripts/schemathesis.sh   # a quicker, shallower run
#   scripts/schemathesis.sh --seed 1234         # extra arguments go to every `st run`
#   BOOKSTORE_SERVER_BIN=path/to/api-server scripts/schemathesis.sh   # skip the cargo build
#
# It builds the server (debug), starts it on throwaway PostgreSQL and Redis
# (scripts/lib/services.sh) with a bootstrap administrator, signs up a regular user, then runs
# Schemathesis over every operation three times: as that user, as the administrator, and
# without credentials. Each run has every phase (examples, coverage, fuzzing, and the
# stateful phase, whose links between operations Schemathesis infers from the schemas) and
# every default check; the anonymous run adds a check of ours: an operation that declares
# bearerAuth answers 401 (scripts/schemathesis/hooks.py). Any failure fails the script.
#
# Schemathesis is installed from PyPI, at the version pinned below, into a virtual
# environment cached under ~/.cache (SCHEMATHESIS_VENV overrides where); it needs python3
# with the venv module. TEST_DATABASE_URL / TEST_REDIS_URL reuse running services as in
# scripts/test.sh. The server's log is printed when a run fails.
set -euo pipefail

readonly SCHEMATHESIS_VERSION=4.32.5
# Test cases per operation and phase. 100 finds what 25 finds and more (every finding of
# the first runs showed up by 25) and still finishes in a few minutes on two cores.
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-100}

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# shellcheck source-path=SCRIPTDIR source=lib/services.sh
source "$repo_root/scripts/lib/services.sh"

server_pid=""
server_log=""
database_created=""

# shellcheck disable=SC2317,SC2329 # invoked by the EXIT trap
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ $status -ne 0 && -n $server_log && -s $server_log ]]; then
        log "the server's log (last 40 lines):"
        tail -n 40 "$server_log" >&2 || true
    fi
    if [[ -n $database_created ]]; then
        psql_cmd "${TEST_DATABASE_URL}" -q -c "DROP DATABASE IF EXISTS \"$database_created\" WITH (FORCE)" \
            >/dev/null 2>&1 || true
    fi
    services_stop
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# psql from the PostgreSQL we start, else the one on PATH (for a TEST_DATABASE_URL).
psql_cmd() {
    if [[ -n $pg_bindir && -x $pg_bindir/psql ]]; then
        "$pg_bindir/psql" "$@"
    else
        psql "$@"
    fi
}

# Prints the path of a schemathesis executable at the pinned version, creating or updating
# the cached virtual environment when needed.
install_schemathesis() {
    local venv=${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/bookstore/schemathesis-$SCHEMATHESIS_VERSION}
    if [[ -x $venv/bin/st ]] && [[ $("$venv/bin/st" --version 2>/dev/null) == *" $SCHEMATHESIS_VERSION" ]]; then
        printf '%s' "$venv/bin/st"
        return
    fi
    command -v python3 >/dev/null 2>&1 || die "python3 is required to install Schemathesis"
    log "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    rm -rf -- "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" >&2 || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION" >&2
    printf '%s' "$venv/bin/st"
}

# POSTs a JSON body; prints the response body, fails unless the status is the expected one.
post_json() {
    local url=$1 body=$2 expected=$3 out status
    out=$(mktemp "$services_dir/response.XXXXXX")
    status=$(curl --silent --show-error --output "$out" --write-out '%{http_code}' \
        -H 'Content-Type: application/json' --data "$body" "$url")
    [[ $status == "$expected" ]] || die "POST $url answered $status: $(cat "$out")"
    cat "$out"
}

command -v curl >/dev/null 2>&1 || die "curl is required"
st=$(install_schemathesis)
log "schemathesis: $("$st" --version)"

if [[ -n ${BOOKSTORE_SERVER_BIN:-} ]]; then
    server_bin=$BOOKSTORE_SERVER_BIN
else
    log "building the server: cargo build -p api-server"
    cargo build --quiet -p api-server
    target_dir=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    server_bin=$target_dir/debug/api-server
fi
[[ -x $server_bin ]] || die "no server binary at $server_bin"

services_start

# A database of its own, so that a TEST_DATABASE_URL given from outside is not written to.
database_created="bookstore_schemathesis_$$_$RANDOM"
psql_cmd "$TEST_DATABASE_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$database_created\""
base=${TEST_DATABASE_URL%%\?*}
query=${TEST_DATABASE_URL#"$base"}
database_url="${base%/*}/$database_created$query"

admin_email=admin@bookstore.test
admin_password="admin-$RANDOM$RANDOM-password"
user_email=reader@example.com
user_password="reader-$RANDOM$RANDOM-password"

server_log="$services_dir/server.log"
# The fuzzer sends thousands of failing logins and sign-ups from one address; the
# throttles, which the end-to-end tests cover, would soon refuse them all (and the hooks'
# own logins) with 429. 0 turns each off.
for attempt in 1 2 3 4 5; do
    port=$(pick_port)
    DATABASE_URL=$database_url REDIS_URL=$TEST_REDIS_URL \
        REDIS_KEY_PREFIX="schemathesis-$$" HOST=127.0.0.1 PORT=$port BCRYPT_COST=4 \
        ADMIN_EMAIL=$admin_email ADMIN_PASSWORD=$admin_password RUST_LOG=warn \
        LOGIN_MAX_FAILURES=0 LOGIN_MAX_FAILURES_PER_CLIENT=0 SIGNUP_MAX_PER_CLIENT=0 \
        "$server_bin" >"$server_log" 2>&1 &
    server_pid=$!
    if await_ready "$server_pid" 300 \
        curl --silent --fail --output /dev/null "http://127.0.0.1:$port/health"; then
        break
    fi
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    log "the server did not start on port $port (attempt $attempt)"
done
[[ -n $server_pid ]] || die "could not start the server: $(tail -n 20 "$server_log")"
base_url="http://127.0.0.1:$port"
log "server ready on $base_url"

post_json "$base_url/api/v1/users/signup" \
    "{\"email\":\"$user_email\",\"password\":\"$user_password\",\"full_name\":\"A. Reader\"}" \
    201 >/dev/null
for who in "$user_email:$user_password" "$admin_email:$admin_password"; do
    post_json "$base_url/api/v1/users/login" \
        "{\"email\":\"${who%%:*}\",\"password\":\"${who#*:}\"}" 200 >/dev/null
done
log "signed up $user_email; both accounts log in"

export BOOKSTORE_URL=$base_url BOOKSTORE_DATABASE_URL=$database_url
BOOKSTORE_PSQL=$(if [[ -n $pg_bindir && -x $pg_bindir/psql ]]; then
    printf '%s' "$pg_bindir/psql"
else
    command -v psql
fi)
export BOOKSTORE_PSQL
export SCHEMATHESIS_HOOKS=hooks
export PYTHONPATH="$repo_root/scripts/schemathesis${PYTHONPATH:+:$PYTHONPATH}"

# Runs Schemathesis over every operation as one kind of caller. Every check is on by default;
# the few exceptions are per operation in schemathesis.toml (a `--checks` option here would
# override them).
run_as() {
    local role=$1 email=$2 password=$3
    shift 3
    log "schemathesis as $role: every operation, every phase, up to $max_examples examples each"
    BOOKSTORE_ROLE=$role BOOKSTORE_EMAIL=$email BOOKSTORE_PASSWORD=$password \
        "$st" --config-file "$repo_root/scripts/schemathesis/schemathesis.toml" \
        run "$base_url/openapi.json" \
        --max-examples "$max_examples" \
        --workers 1 \
        --request-timeout 30 \
        --generation-database none \
        --no-color \
        "$@"
}

started=$SECONDS
status=0
run_as user "$user_email" "$user_password" "$@" || status=1
run_as admin "$admin_email" "$admin_password" "$@" || status=1
run_as anonymous "" "" --generation-with-security-parameters false "$@" || status=1
log "three runs took $((SECONDS - started)) s"
exit "$status"
