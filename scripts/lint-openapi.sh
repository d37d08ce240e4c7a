#!/usr/bin/env bash
# Lints the OpenAPI contract with Redocly CLI, using the rules in redocly.yaml.
#
#   scripts/lint-openapi.sh                  # lints openapi.yaml at the repository root
#   scripts/lint-openapi.sh path/to/doc.yaml
#
# Fails on any error; warnings are printed but do not fail. Needs Node.js (20.19+ on the
# 20 line, or 22.12+) and npm; npx fetches the pinned CLI into npm's cache on first use.
set -euo pipefail

# Pinned so that a new release cannot fail the lint on its own. 2.77.0 is the newest
# release and still supports Node.js 20.19+ (its `engines` field); it prints a notice that
# later releases will require Node.js 22.
readonly REDOCLY_CLI_VERSION=2.77.0

die() {
    printf 'lint-openapi.sh: error: %s\n' "$*" >&2
    exit 1
}

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# A path given on the command line is relative to where the command is run; the default
# is the contract at the repository root.
spec=${1:-$repo_root/openapi.yaml}
[[ -f $spec ]] || die "no such file: $spec"

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

# No telemetry and no update check: the lint must not depend on anything but the registry.
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true

exec npx --yes "@redocly/cli@$REDOCLY_CLI_VERSION" lint \
    --config "$repo_root/redocly.yaml" "$spec"
