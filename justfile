# Everyday commands (https://just.systems). Each recipe is a plain command too: read it and
# run that instead if you do not use `just`.

# Settings from .env (see .env.example) apply to every recipe, as they do to the server.
set dotenv-load

# Recipe arguments reach commands as "$@", quoted as given.
set positional-arguments

# Lists the recipes.
default:
    @just --list

# Runs the server (reads .env; embedded SQLite and in-process sessions unless configured).
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

# Empties the database of DATABASE_URL (the SQLite file by default); the server recreates it.
db-reset:
    scripts/db-reset.sh

# Regenerates the Rust client (api-client/src/generated.rs and its version) from openapi.yaml.
codegen:
    cargo run -p api-client-codegen

# Formatting, Clippy and the OpenAPI linter, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    scripts/lint-openapi.sh
