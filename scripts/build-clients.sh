#!/usr/bin/env bash
# Packs the three clients of openapi.yaml: the Rust crate, and the TypeScript and Python
# packages, which it generates from the contract first.
#
#   scripts/build-clients.sh              # artifacts in target/clients/
#   scripts/build-clients.sh OUT_DIR      # artifacts in OUT_DIR
#
# Writes OUT_DIR/bookstore-api-client-VERSION.crate (cargo package of api-client, with its
# verification build), OUT_DIR/bookstore-api-client-VERSION.tgz (npm pack of
# clients/typescript) and OUT_DIR/bookstore_api_client-VERSION-py3-none-any.whl
# (openapi-python-client, then pip wheel), VERSION being the contract's info.version, and
# prints their paths. Each artifact's version must be the contract's, or it fails. The Rust
# client's generated code is committed (scripts/lint-openapi.sh checks it); the others'
# is not: see clients/README.md.
#
# Needs cargo, Node.js 20+ with npm, and python3 with the venv module. The crate's
# verification build compiles into the workspace's target directory (CARGO_TARGET_DIR when
# set), so a second run only recompiles the crate. npm packages come from
# clients/typescript/package-lock.json; the Python generator and its build backend from
# clients/python/requirements.txt, installed into a virtual environment cached under
# ~/.cache (BOOKSTORE_PYGEN_VENV overrides where). Downloads stay in npm's and pip's caches.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# A relative OUT_DIR is relative to where the command is run.
out_dir=${1:-$repo_root/target/clients}
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
cd "$repo_root"

# shellcheck source-path=SCRIPTDIR source=lib/services.sh
source "$repo_root/scripts/lib/services.sh"

ts_dir=$repo_root/clients/typescript
py_dir=$repo_root/clients/python

work_dir=""
# shellcheck disable=SC2317,SC2329 # invoked by the EXIT trap
cleanup() {
    if [[ -n $work_dir ]]; then
        rm -rf -- "$work_dir"
    fi
}
trap cleanup EXIT

# Prints the path of a virtual environment holding exactly clients/python/requirements.txt,
# creating it when missing. Its name carries a hash of that file, so a change of pins gets a
# new environment instead of an upgrade in place.
python_generator_venv() {
    local hash venv
    hash=$(sha256sum "$py_dir/requirements.txt" | cut -c1-12)
    venv=${BOOKSTORE_PYGEN_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/bookstore/python-client-generator-$hash}
    # The marker is written last: an environment whose install was interrupted has none.
    if [[ -f $venv/.installed && -x $venv/bin/openapi-python-client ]]; then
        printf '%s' "$venv"
        return
    fi
    log "installing the Python client generator into $venv"
    rm -rf -- "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" >&2 || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$py_dir/requirements.txt" >&2
    touch "$venv/.installed"
    printf '%s' "$venv"
}

# Packs the Rust crate with `cargo package`, whose verification build compiles the crate from
# the package alone, outside the workspace. The version in api-client/Cargo.toml must be the
# contract's (`cargo run -p api-client-codegen` sets it); --locked also refuses a Cargo.lock
# that does not record it. --allow-dirty lets it run on uncommitted changes, as the other two
# do; `cargo publish` itself refuses them.
build_rust() {
    local crate_version target_dir crate
    crate_version=$(cargo metadata --format-version 1 --no-deps | python3 -c '
import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "bookstore-api-client"))')
    [[ $crate_version == "$version" ]] ||
        die "api-client/Cargo.toml has version $crate_version, the contract $version: run \`cargo run -p api-client-codegen\` and commit the result"
    target_dir=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    log "Rust client: cargo package -p bookstore-api-client (with its verification build)"
    rm -f -- "$out_dir"/bookstore-api-client-*.crate
    cargo package --quiet --locked --allow-dirty -p bookstore-api-client >&2
    crate=$target_dir/package/bookstore-api-client-$version.crate
    [[ -f $crate ]] || die "cargo package wrote no $crate"
    cp "$crate" "$out_dir/"
    printf '%s\n' "$out_dir/$(basename "$crate")"
}

# Builds the npm tarball in clients/typescript: `npm ci`, then `npm pack`, whose prepack
# script generates the types from the contract and compiles them (see package.json).
build_typescript() {
    local tarball
    log "TypeScript client: npm ci, npm pack"
    (cd "$ts_dir" && node scripts/contract-version.mjs --check >&2) ||
        die "the TypeScript package's version does not match the contract (see above)"
    (cd "$ts_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    rm -f -- "$out_dir/bookstore-api-client-$version.tgz"
    tarball=$(cd "$ts_dir" && npm pack --silent --pack-destination "$out_dir" 2>/dev/null | tail -n 1)
    [[ -f $out_dir/$tarball ]] || die "npm pack wrote no tarball (got '$tarball')"
    [[ $tarball == "bookstore-api-client-$version.tgz" ]] ||
        die "npm pack wrote $tarball, expected bookstore-api-client-$version.tgz"
    printf '%s\n' "$out_dir/$tarball"
}

# Generates the Python package into a temporary directory and builds its wheel there with the
# pinned backend (no build isolation, so that nothing unpinned is fetched).
build_python() {
    local venv project wheel
    venv=$(python_generator_venv)
    project=$work_dir/bookstore-api-client
    log "Python client: openapi-python-client $("$venv/bin/python" -c \
        'import importlib.metadata as m; print(m.version("openapi-python-client"))'), pip wheel"
    # The generator formats its output with ruff, which it runs from PATH.
    (cd "$work_dir" && PATH="$venv/bin:$PATH" "$venv/bin/openapi-python-client" generate \
        --path "$repo_root/openapi.yaml" --config "$py_dir/config.yaml" --meta pdm \
        --output-path "$project" --fail-on-warning >&2)
    rm -f -- "$out_dir"/bookstore_api_client-*.whl
    "$venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
        --no-build-isolation --wheel-dir "$out_dir" "$project" >&2
    wheel=$(find "$out_dir" -maxdepth 1 -name 'bookstore_api_client-*.whl' -print -quit)
    [[ -n $wheel ]] || die "pip wheel wrote no wheel into $out_dir"
    # PEP 440 spells some versions differently from semver (1.0.0-rc.1 is 1.0.0rc1): compare
    # them as versions, not as strings.
    "$venv/bin/python" - "$version" "$wheel" <<'PY' || die "the wheel's version is not the contract's"
import sys
from packaging.utils import parse_wheel_filename
from packaging.version import Version

contract, wheel = Version(sys.argv[1]), parse_wheel_filename(sys.argv[2].rsplit("/", 1)[-1])[1]
if wheel != contract:
    sys.exit(f"build-clients.sh: the wheel is version {wheel}, the contract {contract}")
PY
    printf '%s\n' "$wheel"
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    die "Node.js 20+ and npm are required"
fi
command -v python3 >/dev/null 2>&1 || die "python3 is required"
command -v cargo >/dev/null 2>&1 || die "cargo is required"

version=$(node "$ts_dir/scripts/contract-version.mjs")
log "contract version $version; artifacts go to $out_dir"
work_dir=$(mktemp -d "${TMPDIR:-/tmp}/bookstore-clients.XXXXXX")

build_rust
build_typescript
build_python
