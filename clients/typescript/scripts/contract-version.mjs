// Keeps this package's version equal to the contract's `info.version` (see clients/README.md,
// "Versions").
//
//   node scripts/contract-version.mjs           prints the contract's version
//   node scripts/contract-version.mjs --check   fails when package.json differs from it
//   node scripts/contract-version.mjs --write   sets package.json and package-lock.json to it
//
// The contract is ../../openapi.yaml, or the file named by BOOKSTORE_CONTRACT.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const contractPath = resolve(process.env.BOOKSTORE_CONTRACT ?? resolve(packageDir, "../../openapi.yaml"));

// A release version as npm and semver know it: MAJOR.MINOR.PATCH with an optional
// pre-release part. Build metadata (+…) is refused because npm ignores it when comparing
// versions, so two packages differing only there could not both be published.
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

function fail(message) {
  console.error(`contract-version: ${message}`);
  process.exit(1);
}

// Reads `info.version` without a YAML parser, so that this check needs no dependency: the
// value is the first-level `version:` key of the top-level `info:` block. Anything it cannot
// read this way fails loudly rather than guessing.
function readContractVersion(text) {
  let inInfo = false;
  let childIndent = null;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const indent = line.length - line.trimStart().length;
    if (indent === 0) {
      if (inInfo) break;
      inInfo = /^info:\s*(#.*)?$/.test(line);
      continue;
    }
    if (!inInfo) continue;
    childIndent ??= indent;
    if (indent !== childIndent) continue;
    const match = /^\s*version:\s*(?:"([^"]*)"|'([^']*)'|([^\s#]+))\s*(#.*)?$/.exec(line);
    if (match) return match[1] ?? match[2] ?? match[3];
  }
  return null;
}

let text;
try {
  text = readFileSync(contractPath, "utf8");
} catch (error) {
  fail(`cannot read the contract ${contractPath}: ${error.message}`);
}
const version = readContractVersion(text);
if (version === null) fail(`no info.version in ${contractPath}`);
if (!SEMVER.test(version)) {
  fail(`info.version ${JSON.stringify(version)} in ${contractPath} is not MAJOR.MINOR.PATCH[-PRERELEASE]`);
}

const mode = process.argv[2] ?? "--print";
const packageJsonPath = resolve(packageDir, "package.json");
const packageLockPath = resolve(packageDir, "package-lock.json");
const packageJson = JSON.parse(readFileSync(packageJsonPath, "utf8"));

if (mode === "--print") {
  console.log(version);
} else if (mode === "--check") {
  if (packageJson.version !== version) {
    fail(
      `package.json has version ${packageJson.version} but the contract is ${version}: ` +
        "run `npm run version:sync` in clients/typescript and commit the result",
    );
  }
  console.log(`contract-version: ${packageJson.name}@${version} matches the contract`);
} else if (mode === "--write") {
  if (packageJson.version === version) process.exit(0);
  const before = packageJson.version;
  packageJson.version = version;
  writeFileSync(packageJsonPath, `${JSON.stringify(packageJson, null, 2)}\n`);
  const lock = JSON.parse(readFileSync(packageLockPath, "utf8"));
  lock.version = version;
  if (lock.packages?.[""]) lock.packages[""].version = version;
  writeFileSync(packageLockPath, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`contract-version: ${packageJson.name} ${before} -> ${version} (from ${contractPath})`);
} else {
  fail(`unknown argument ${mode}; use --check, --write or nothing`);
}
