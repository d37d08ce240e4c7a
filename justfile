# Everyday commands (https://just.systems). Each recipe is a plain command too: read it and
# run that instead if you do not use `just`.

# Settings from .env (see .env.example) apply to every recipe, as they do to the server.
set dotenv-load

# Recipe arguments reach commands as "$@", quoted as given.
set positional-arguments

# Lists the recipes.
default:
    @just --list

# Runs the server (reads .env; needs PostgreSQL and Redis, see .env.example).
start:
    cargo run -p api-server

# Runs the whole test suite with throwaway PostgreSQL and Redis; arguments go to the runner.
test *args:
    scripts/test.sh "$@"

# Restarts the server whenever a source file changes (installs cargo-watch if needed).
watch:
    #!/usr/bin/env bash
    set -euo pipefail
    if ! cargo watch --version >/dev/null 2>&1; then
        cargo install cargo-watch --locked
    fi
    exec cargo watch -x 'run -p api-server'

# Drops and recreates the database named in DATABASE_URL; the server migrates it at start.
db-reset:
    #!/usr/bin/env bash
    set -euo pipefail
    url=${DATABASE_URL:-postgres://postgres:postgres@localhost:5432/bookstore}
    # A database cannot be dropped over a connection to itself, so connect to the
    # `postgres` maintenance database of the same server, keeping any ?query options.
    base=${url%%\?*}
    query=${url#"$base"}
    db=${base##*/}
    [[ -n $db && $db != "$base" ]] || { echo "DATABASE_URL names no database: $url" >&2; exit 1; }
    [[ $db != postgres ]] || { echo "refusing to drop the maintenance database" >&2; exit 1; }
    # WITH (FORCE) ends other sessions still connected to it (PostgreSQL 13+).
    psql "${base%/*}/postgres${query}" -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS \"${db}\" WITH (FORCE)" \
        -c "CREATE DATABASE \"${db}\""
    echo "database ${db} recreated"

# Formatting, Clippy and the OpenAPI linter, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    scripts/lint-openapi.sh
