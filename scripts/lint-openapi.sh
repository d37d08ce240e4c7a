#!/usr/bin/env bash
# Lints the OpenAPI contract with Redocly CLI, using the rules in redocly.yaml, then runs the
# breaking-change gate against the newest released contract (openapi/released/VERSION.yaml).
#
#   scripts/lint-openapi.sh                  # lints and gates openapi.yaml at the repository root
#   scripts/lint-openapi.sh path/to/doc.yaml # the same for another document
#   scripts/lint-openapi.sh --self-test      # proves the gate: each kind of breaking change,
#                                            # planted in a copy of the release, must fail it
#
# The lint fails on any error; warnings are printed but do not fail. The gate fails, naming
# each one, on a change that breaks clients of the newest release: a removed path, operation
# or response field, a new required request field or parameter, a narrowed type, a removed
# enum value, a changed or removed status code and more (scripts/contract-gate/checks.mjs
# lists what is checked, and by what). It lets them through, still listed, when info.version
# is a new major version of that release, the minor number counting as the major one for 0.x
# (0.1.0 -> 0.2.0). For openapi.yaml it also requires a section for info.version in
# CHANGELOG.md. clients/README.md explains how to read its report and cut a release.
#
# For openapi.yaml it last checks the Rust client, whose generated code is committed:
# `cargo run -p api-client-codegen -- --check` fails, showing the difference and naming the
# command that fixes it, when api-client/src/generated.rs is not what the contract generates
# or api-client/Cargo.toml's version is not info.version.
#
# Needs Node.js (20.19+ on the 20 line, or 22.12+) and npm. npx fetches the pinned Redocly CLI
# into npm's cache on first use; the gate's tools (Optic, a YAML parser) are installed from
# scripts/contract-gate/package-lock.json into a directory cached under ~/.cache
# (CONTRACT_GATE_TOOLS_DIR overrides where).
set -euo pipefail

# Pinned so that a new release cannot fail the lint on its own. 2.77.0 is the newest
# release and still supports Node.js 20.19+ (its `engines` field); it prints a notice that
# later releases will require Node.js 22.
readonly REDOCLY_CLI_VERSION=2.77.0

log() {
    printf 'lint-openapi.sh: %s\n' "$*" >&2
}

die() {
    printf 'lint-openapi.sh: error: %s\n' "$*" >&2
    exit 1
}

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
gate_dir=$repo_root/scripts/contract-gate
released_dir=$repo_root/openapi/released

# Installs the gate's npm packages, exactly as locked, into a cache directory named after
# the lockfile's hash (a change of pins gets a fresh directory), and prints that directory.
install_gate_tools() {
    local hash dir
    hash=$(sha256sum "$gate_dir/package-lock.json" | cut -c1-12)
    dir=${CONTRACT_GATE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bookstore/contract-gate-$hash}
    # The marker is written last: a directory whose install was interrupted has none.
    if [[ -f $dir/.installed ]] && cmp -s "$gate_dir/package-lock.json" "$dir/package-lock.json"; then
        printf '%s' "$dir"
        return
    fi
    log "installing the breaking-change gate's tools into $dir"
    mkdir -p "$dir"
    rm -rf -- "$dir/node_modules" "$dir/.installed"
    cp "$gate_dir/package.json" "$gate_dir/package-lock.json" "$dir/"
    # No install scripts: these packages need none, and two of Optic's dependencies would
    # report the installation over the network.
    (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2) ||
        die "npm ci of scripts/contract-gate failed"
    touch "$dir/.installed"
    printf '%s' "$dir"
}

if ! command -v node >/dev/null 2>&1 || ! command -v npx >/dev/null 2>&1; then
    die "Node.js and npm are required (e.g. 'sudo apt-get install nodejs npm')"
fi

# Checked here because npm only warns about an unsupported engine and the CLI then fails
# in obscure ways.
node_version=$(node --version)
node_version=${node_version#v}
IFS=. read -r node_major node_minor _ <<<"$node_version"
if ! { [[ $node_major -eq 20 && $node_minor -ge 19 ]] ||
    [[ $node_major -eq 22 && $node_minor -ge 12 ]] || [[ $node_major -gt 22 ]]; }; then
    die "Redocly CLI $REDOCLY_CLI_VERSION needs Node.js 20.19+ or 22.12+, found $node_version"
fi

if [[ ${1:-} == --self-test ]]; then
    tools=$(install_gate_tools)
    CONTRACT_GATE_MODULES=$tools node "$gate_dir/gate.mjs" self-test --released "$released_dir"
    exit
fi

# A path given on the command line is relative to where the command is run; the default
# is the contract at the repository root.
spec=${1:-$repo_root/openapi.yaml}
[[ -f $spec ]] || die "no such file: $spec"

# No telemetry and no update check: the lint must not depend on anything but the registry.
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true

status=0
npx --yes "@redocly/cli@$REDOCLY_CLI_VERSION" lint --config "$repo_root/redocly.yaml" "$spec" ||
    status=1

# The changelog rule is about the repository's own contract, not any document linted.
changelog=()
if [[ $# -eq 0 ]]; then
    changelog=(--changelog "$repo_root/CHANGELOG.md")
fi
tools=$(install_gate_tools)
# From the repository root, so that the report names files as the repository does.
spec=$(cd "$(dirname "$spec")" && pwd)/$(basename "$spec")
(cd "$repo_root" && CONTRACT_GATE_MODULES=$tools node "$gate_dir/gate.mjs" check \
    --spec "$spec" --released "$released_dir" "${changelog[@]}") || status=1

# Like the changelog rule, only for the repository's own contract.
if [[ $# -eq 0 ]]; then
    command -v cargo >/dev/null 2>&1 || die "cargo is required to check the Rust client"
    log "the Rust client against the contract: cargo run -p api-client-codegen -- --check"
    (cd "$repo_root" && cargo run --quiet -p api-client-codegen -- --check) || status=1
fi
exit "$status"
