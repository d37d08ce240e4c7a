// The breaking-change gate of the contract, run by scripts/lint-openapi.sh (see its header and
// clients/README.md, "The breaking-change gate").
//
//   node gate.mjs check --spec openapi.yaml --released openapi/released [--changelog CHANGELOG.md]
//   node gate.mjs self-test --released openapi/released
//
// `check` compares the spec with the newest contract in the released directory (files named
// VERSION.yaml) and fails, naming each one, on changes that break that release's clients:
// what Optic's `diff --check` reports (its breaking-changes rules) plus the gate's own checks
// for what Optic lets through (checks.mjs). Breaking changes are allowed, and still listed,
// when info.version is a new major version of the release; for 0.x versions the minor
// number is the major one, as semver's 0.x rule has it (0.1.0 -> 0.2.0 may break,
// 0.1.0 -> 0.1.1 may not). With --changelog, it also fails when the changelog has no
// section for the spec's version.
//
// `self-test` plants each kind of breaking change in a copy of the newest release and expects
// the gate to fail naming it, and expects compatible changes and a major bump to pass.
//
// The npm packages (Optic, yaml) are read from CONTRACT_GATE_MODULES, the directory where
// lint-openapi.sh ran `npm ci` for this directory's package.json.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { ownChecks } from "./checks.mjs";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const modulesDir = process.env.CONTRACT_GATE_MODULES;
if (!modulesDir) {
  console.error("gate.mjs: CONTRACT_GATE_MODULES is not set (run it through scripts/lint-openapi.sh)");
  process.exit(2);
}
const requireModule = createRequire(join(modulesDir, "package.json"));
const YAML = requireModule("yaml");
const OPTIC = join(modulesDir, "node_modules", ".bin", "optic");
const OPTIC_TIMEOUT_MS = 180_000;

// ---- versions ---------------------------------------------------------------------------

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

export function parseVersion(text) {
  const match = SEMVER.exec(String(text));
  if (!match) return null;
  return { text: String(text), major: +match[1], minor: +match[2], patch: +match[3], pre: match[4]?.split(".") ?? [] };
}

// Semver precedence: numbers first, then a version without pre-release above one with.
export function compareVersions(a, b) {
  for (const key of ["major", "minor", "patch"]) {
    if (a[key] !== b[key]) return a[key] < b[key] ? -1 : 1;
  }
  if (a.pre.length === 0 || b.pre.length === 0) return b.pre.length - a.pre.length;
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i += 1) {
    const x = a.pre[i];
    const y = b.pre[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    if (x === y) continue;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) return +x < +y ? -1 : 1;
    if (xn !== yn) return xn ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

// Whether `head` may break clients of `released`: a higher major version, or for 0.x a higher
// minor one (semver: "Major version zero is for initial development"; the convention of npm's
// caret ranges and Cargo makes 0.MINOR the compatibility line).
export function isNewMajor(released, head) {
  if (head.major !== released.major) return head.major > released.major;
  return released.major === 0 && head.minor > released.minor;
}

// The lowest version that may break clients of `released`, for the error message.
function nextMajor(released) {
  return released.major === 0 ? `0.${released.minor + 1}.0` : `${released.major + 1}.0.0`;
}

// ---- documents --------------------------------------------------------------------------

function readDocument(path) {
  const text = readFileSync(path, "utf8");
  const doc = YAML.parse(text);
  if (!doc || typeof doc !== "object") throw new Error(`${path} is not an OpenAPI document`);
  return doc;
}

// The newest contract in the released directory, by the version in its file name, which must
// equal its info.version.
function newestRelease(releasedDir) {
  const releases = readdirSync(releasedDir)
    .filter((name) => name.endsWith(".yaml"))
    .map((name) => {
      const version = parseVersion(name.slice(0, -".yaml".length));
      if (!version) throw new Error(`${join(releasedDir, name)}: the file name is not VERSION.yaml`);
      return { path: join(releasedDir, name), version };
    });
  if (releases.length === 0) throw new Error(`no released contract (VERSION.yaml) in ${releasedDir}`);
  releases.sort((a, b) => compareVersions(a.version, b.version));
  const newest = releases[releases.length - 1];
  const inside = readDocument(newest.path).info?.version;
  if (inside !== newest.version.text) {
    throw new Error(`${newest.path} has info.version ${inside}, not the ${newest.version.text} of its name`);
  }
  return newest;
}

function changelogHasSection(changelogPath, version) {
  const escaped = version.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^##\\s+\\[?v?${escaped}\\]?(\\s|$)`, "m").test(readFileSync(changelogPath, "utf8"));
}

function display(path) {
  const relativePath = relative(process.cwd(), path);
  return relativePath.startsWith("..") ? path : relativePath;
}

// ---- Optic --------------------------------------------------------------------------------

function run(command, args, options) {
  return new Promise((resolvePromise) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), OPTIC_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      resolvePromise({ code: -1, output: `${output}\n${error.message}` });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: signal ? -1 : code, output });
    });
  });
}

const ANSI = /\u001b\[[0-9;]*m/g;
const OPERATION = /^\S*\s*(GET|PUT|POST|DELETE|OPTIONS|HEAD|PATCH|TRACE)\s+(\S+?):\s*(\S*)\s*$/;
const ISSUE = /^\s+x \[([^\]]+)\] (.*?)\s*(?:This is a breaking change\.)?\s*$/;
const LOCATION = /^\s+at (\S+?):(\d+):\d+\s*$/;

// Reads Optic's text report into findings. Under a removed operation Optic also lists every
// response and property that went with it; those are counted, not listed.
export function parseOpticReport(text) {
  const findings = [];
  let operation = "";
  let removed = false;
  let hidden = 0;
  let last = null;
  const flushHidden = () => {
    if (hidden > 0 && last) last.what += ` (and ${hidden} more findings inside it)`;
    hidden = 0;
  };
  for (const line of text.replace(ANSI, "").split(/\r?\n/)) {
    const header = OPERATION.exec(line);
    if (header) {
      flushHidden();
      operation = `${header[1]} ${header[2]}`;
      removed = header[3] === "removed";
      last = null;
      continue;
    }
    const issue = ISSUE.exec(line);
    if (issue) {
      if (removed && last) {
        hidden += 1;
        continue;
      }
      last = { where: operation || "(document)", what: `${issue[2].replace(/\.$/, "")} [${issue[1]}]` };
      findings.push(last);
      continue;
    }
    const location = LOCATION.exec(line);
    if (location && last && !last.at) last.at = `${location[1]}:${location[2]}`;
  }
  flushHidden();
  return findings;
}

// The self-test asks about the same change under several versions; Optic's answer does not
// depend on info.version, so it is asked once per change.
const opticMemo = new Map();

async function opticFindings(basePath, headPath, headDoc) {
  const key = `${basePath}\n${JSON.stringify({ ...headDoc, info: { ...headDoc.info, version: null } })}`;
  if (!opticMemo.has(key)) opticMemo.set(key, runOptic(basePath, headPath));
  return opticMemo.get(key);
}

async function runOptic(basePath, headPath) {
  // Optic runs in a directory of its own: with CI set it writes ci-run-details.json into its
  // working directory, which must not be the checkout.
  const cwd = mkdtempSync(join(tmpdir(), "contract-gate-optic-"));
  let result;
  try {
    result = await run(OPTIC, ["diff", basePath, headPath, "--check"], {
      cwd,
      env: { ...process.env, OPTIC_TELEMETRY_LEVEL: "off", NO_COLOR: "1", FORCE_COLOR: "0" },
    });
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
  const { code, output } = result;
  const findings = parseOpticReport(output).map((finding) =>
    finding.at ? { ...finding, at: display(resolve(cwd, finding.at)) } : finding,
  );
  // Optic exits 1 both for breaking changes and when it crashes: a report is recognised by its
  // summary line, and a failure without findings is the tool's, not the contract's.
  const reported = /^Operations:/m.test(output.replace(ANSI, ""));
  if (!reported || (code !== 0 && findings.length === 0)) {
    throw new Error(`optic diff failed (exit ${code}):\n${output.trim()}`);
  }
  return findings;
}

// ---- the gate -----------------------------------------------------------------------------

/**
 * Runs the gate for one spec; resolves to { ok, lines }, the lines being its report. Throws
 * when it cannot decide (a tool failed, a document cannot be read).
 */
export async function gate({ specPath, releasedDir, changelogPath }) {
  const lines = [];
  const problems = [];
  const release = newestRelease(releasedDir);
  const spec = readDocument(specPath);
  const head = parseVersion(spec.info?.version);
  if (!head) {
    return { ok: false, lines: [`error: info.version ${JSON.stringify(spec.info?.version)} is not MAJOR.MINOR.PATCH[-PRERELEASE]`] };
  }
  lines.push(`${display(specPath)} (${head.text}) against the newest release, ${display(release.path)}`);

  if (compareVersions(head, release.version) < 0) {
    problems.push(`info.version ${head.text} is lower than the released ${release.version.text}`);
  }
  if (changelogPath && !changelogHasSection(changelogPath, head.text)) {
    problems.push(`${display(changelogPath)} has no section "## ${head.text}" for the contract's version`);
  }

  const base = readDocument(release.path);
  const withoutVersion = (doc) => JSON.stringify({ ...doc, info: { ...doc.info, version: null } });
  const found = [];
  // Nothing but the version changed (the usual state between releases): nothing to diff.
  if (withoutVersion(base) !== withoutVersion(spec)) {
    found.push(...(await opticFindings(release.path, specPath, spec)).map((finding) => ({ ...finding, by: "optic" })));
    found.push(...ownChecks(base, spec).map((finding) => ({ ...finding, by: "gate" })));
  }
  // Optic repeats a finding for each place a shared schema appears in one operation.
  const findings = found.filter(
    (finding, index) =>
      found.findIndex((other) => other.by === finding.by && other.where === finding.where && other.what === finding.what) === index,
  );
  const allowed = isNewMajor(release.version, head);
  if (findings.length === 0) {
    lines.push(`no breaking change for clients of ${release.version.text}`);
  } else {
    lines.push(
      allowed
        ? `${findings.length} breaking change(s), allowed: ${head.text} is a new major version of ${release.version.text}`
        : `${findings.length} breaking change(s) for clients of ${release.version.text}:`,
    );
    for (const finding of findings) {
      lines.push(`  [${finding.by}] ${finding.where}: ${finding.what}${finding.at ? ` (${finding.at})` : ""}`);
    }
    if (!allowed) {
      problems.push(
        `${display(specPath)} breaks clients of ${release.version.text}. Make the change compatible, or release ` +
          `it as a new major version: info.version ${nextMajor(release.version)} or later (for 0.x, the minor ` +
          "number is the major one), with its section in CHANGELOG.md",
      );
    }
  }
  for (const problem of problems) lines.push(`error: ${problem}`);
  return { ok: problems.length === 0, lines };
}

// ---- self-test ----------------------------------------------------------------------------

const schemas = (doc) => doc.components.schemas;
const operation = (doc, path, method) => doc.paths[path][method];

// Each case changes a copy of the newest release. `fails` says whether the gate must refuse
// it; `mentions` are texts its report must contain (what names the change).
const CASES = [
  {
    name: "a removed path",
    fails: true,
    mentions: ["GET /api/v1/authors/{id}", "PATCH /api/v1/authors/{id}", "DELETE /api/v1/authors/{id}", "cannot remove an operation"],
    change: (doc) => delete doc.paths["/api/v1/authors/{id}"],
  },
  {
    name: "a removed operation",
    fails: true,
    mentions: ["DELETE /api/v1/books/{id}: cannot remove an operation"],
    change: (doc) => delete doc.paths["/api/v1/books/{id}"].delete,
  },
  {
    name: "a removed optional response field",
    fails: true,
    mentions: ["cannot remove response property 'description'"],
    change: (doc) => delete schemas(doc).Book.properties.description,
  },
  {
    name: "a removed required response field",
    fails: true,
    mentions: ["cannot remove response property 'title'"],
    change: (doc) => {
      delete schemas(doc).Book.properties.title;
      schemas(doc).Book.required = schemas(doc).Book.required.filter((name) => name !== "title");
    },
  },
  {
    name: "a new required request field",
    fails: true,
    mentions: ["POST /api/v1/books", "cannot add a required request property 'isbn'"],
    change: (doc) => {
      schemas(doc).BookCreate.properties.isbn = { type: "string" };
      schemas(doc).BookCreate.required.push("isbn");
    },
  },
  {
    name: "a new required parameter",
    fails: true,
    mentions: ["GET /api/v1/books", "cannot add required query parameter currency"],
    change: (doc) =>
      operation(doc, "/api/v1/books", "get").parameters.push({ name: "currency", in: "query", required: true, schema: { type: "string" } }),
  },
  {
    name: "an optional parameter made required",
    fails: true,
    mentions: ["cannot make optional query parameter 'author_id' required"],
    change: (doc) => {
      operation(doc, "/api/v1/books", "get").parameters.find((p) => p.name === "author_id").required = true;
    },
  },
  {
    name: "a narrowed request field type",
    fails: true,
    mentions: ["POST /api/v1/orders", "request body property 'quantity' not to be narrowed"],
    change: (doc) => (schemas(doc).OrderCreate.properties.quantity = { type: "string" }),
  },
  {
    name: "a request field that drops one of its types (anyOf)",
    fails: true,
    mentions: ["POST /api/v1/books request body (application/json).price: no longer accepts number (double)"],
    change: (doc) => (schemas(doc).BookCreate.properties.price = { $ref: "#/components/schemas/Money" }),
  },
  {
    name: "a changed response field type",
    fails: true,
    mentions: ["response body property 'quantity' not to be expanded"],
    change: (doc) => (schemas(doc).Order.properties.quantity = { type: "string" }),
  },
  {
    name: "a narrowed query parameter type",
    fails: true,
    mentions: ["expected query parameter 'q' not be narrowed"],
    change: (doc) => {
      operation(doc, "/api/v1/books", "get").parameters.find((p) => p.name === "q").schema = { type: "integer" };
    },
  },
  {
    name: "an enum value removed from requests and responses",
    fails: true,
    mentions: ["cannot remove enum option 'cancelled'", 'components/schemas/OrderStatus', 'enum value "cancelled" removed from a response'],
    change: (doc) => (schemas(doc).OrderStatus.enum = schemas(doc).OrderStatus.enum.filter((value) => value !== "cancelled")),
  },
  {
    name: "an enum value removed from a response only",
    fails: true,
    mentions: ["components/schemas/DependencyStatus", 'enum value "down" removed from a response'],
    change: (doc) => (schemas(doc).DependencyStatus.enum = ["up"]),
  },
  {
    name: "an enum value added to a response",
    fails: true,
    mentions: ["cannot add enum option 'degraded'"],
    change: (doc) => schemas(doc).DependencyStatus.enum.push("degraded"),
  },
  {
    name: "a changed success status code",
    fails: true,
    mentions: ["POST /api/v1/users/signup", "must not remove response status code 201"],
    change: (doc) => {
      const responses = operation(doc, "/api/v1/users/signup", "post").responses;
      responses["200"] = responses["201"];
      delete responses["201"];
    },
  },
  {
    name: "a removed success status code",
    fails: true,
    mentions: ["POST /api/v1/users/logout", "must not remove response status code 204"],
    change: (doc) => delete operation(doc, "/api/v1/users/logout", "post").responses["204"],
  },
  {
    name: "a tightened request bound",
    fails: true,
    mentions: ["OrderCreate/properties/quantity", "request bound maximum tightened from 1000 to 10"],
    change: (doc) => (schemas(doc).OrderCreate.properties.quantity.maximum = 10),
  },
  {
    name: "a public operation that now needs credentials",
    fails: true,
    mentions: ["GET /api/v1/books security: needs credentials now"],
    change: (doc) => (operation(doc, "/api/v1/books", "get").security = [{ bearerAuth: [] }]),
  },
  {
    name: "compatible additions (optional request field, response field, optional parameter, new path)",
    fails: false,
    mentions: ["no breaking change"],
    change: (doc) => {
      schemas(doc).BookCreate.properties.isbn = { type: "string", nullable: true };
      schemas(doc).Book.properties.isbn = { type: "string", nullable: true };
      operation(doc, "/api/v1/books", "get").parameters.push({ name: "isbn", in: "query", schema: { type: "string" } });
      doc.paths["/api/v1/books/{id}/reviews"] = {
        get: {
          tags: ["books"],
          operationId: "list_reviews",
          parameters: [{ $ref: "#/components/parameters/Id" }],
          responses: { 200: { description: "OK", content: { "application/json": { schema: { type: "array", items: { type: "string" } } } } } },
        },
      };
    },
  },
  {
    name: "a breaking change in a new major version",
    fails: false,
    mentions: ["allowed", "cannot remove an operation"],
    version: (release) => nextMajor(release),
    change: (doc) => delete doc.paths["/api/v1/books/{id}"].delete,
  },
  {
    name: "a breaking change in a patch version",
    fails: true,
    mentions: ["cannot remove an operation", "breaks clients of"],
    version: (release) => `${release.major}.${release.minor}.${release.patch + 1}`,
    change: (doc) => delete doc.paths["/api/v1/books/{id}"].delete,
  },
  {
    name: "a version lower than the release",
    fails: true,
    mentions: ["is lower than the released"],
    version: (release) => `${release.major}.${release.minor}.${release.patch}-alpha.1`,
    change: () => {},
  },
];

// The version rule on its own, with 1.x cases the releases cannot show yet.
function versionRuleChecks() {
  const cases = [
    ["0.1.0", "0.2.0", true],
    ["0.1.0", "0.1.1", false],
    ["0.1.0", "1.0.0", true],
    ["0.1.3", "0.2.0-rc.1", true],
    ["1.2.0", "1.9.0", false],
    ["1.2.0", "2.0.0", true],
    ["1.2.0", "2.0.0-rc.1", true],
  ];
  const failures = cases
    .filter(([from, to, expected]) => isNewMajor(parseVersion(from), parseVersion(to)) !== expected)
    .map(([from, to, expected]) => `${from} -> ${to} should ${expected ? "" : "not "}be a new major version`);
  if (compareVersions(parseVersion("1.0.0-rc.1"), parseVersion("1.0.0")) >= 0) failures.push("1.0.0-rc.1 should precede 1.0.0");
  if (compareVersions(parseVersion("1.0.0-rc.2"), parseVersion("1.0.0-rc.10")) >= 0) failures.push("rc.2 should precede rc.10");
  return failures;
}

async function selfTest(releasedDir) {
  const release = newestRelease(releasedDir);
  const dir = mkdtempSync(join(tmpdir(), "contract-gate-"));
  let passed = 0;
  let failed = 0;
  const note = (ok, text, details = []) => {
    if (ok) passed += 1;
    else failed += 1;
    console.log(`${ok ? "ok  " : "FAIL"} ${text}`);
    for (const line of details) console.log(`       ${line}`);
  };
  try {
    const ruleFailures = versionRuleChecks();
    note(ruleFailures.length === 0, "the version rule (semver, 0.MINOR as the major for 0.x)", ruleFailures);

    const results = new Array(CASES.length);
    let next = 0;
    // Two at a time: Optic takes most of a core for several seconds.
    const worker = async () => {
      while (next < CASES.length) {
        const index = next++;
        const item = CASES[index];
        const doc = readDocument(release.path);
        item.change(doc);
        if (item.version) doc.info.version = item.version(release.version);
        const path = join(dir, `case-${index}.yaml`);
        writeFileSync(path, YAML.stringify(doc));
        try {
          results[index] = await gate({ specPath: path, releasedDir });
        } catch (error) {
          results[index] = { error };
        }
      }
    };
    await Promise.all([worker(), worker()]);

    CASES.forEach((item, index) => {
      const result = results[index];
      const expectation = item.fails ? "is refused" : "passes";
      if (result.error) {
        note(false, `${item.name}: the gate could not run`, String(result.error.message ?? result.error).split("\n"));
        return;
      }
      const report = result.lines.join("\n");
      const missing = item.mentions.filter((text) => !report.includes(text));
      const ok = result.ok === !item.fails && missing.length === 0;
      const details = ok
        ? result.lines.filter((line) => line.startsWith("  [")).slice(0, 4)
        : [
            `expected: ${expectation}, naming ${item.mentions.map((text) => JSON.stringify(text)).join(", ")}`,
            ...(missing.length ? [`missing: ${missing.map((text) => JSON.stringify(text)).join(", ")}`] : []),
            ...result.lines,
          ];
      note(ok, `${item.name}: ${expectation}`, details);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`contract gate self-test: ${passed} passed, ${failed} failed`);
  return failed === 0;
}

// ---- command line -------------------------------------------------------------------------

function option(args, name) {
  const index = args.indexOf(name);
  return index === -1 ? undefined : args[index + 1];
}

async function main(args) {
  const [command, ...rest] = args;
  const releasedDir = resolve(option(rest, "--released") ?? join(repoRoot, "openapi", "released"));
  if (command === "check") {
    const specPath = resolve(option(rest, "--spec") ?? join(repoRoot, "openapi.yaml"));
    const changelog = option(rest, "--changelog");
    const result = await gate({ specPath, releasedDir, changelogPath: changelog && resolve(changelog) });
    for (const line of result.lines) console.log(`contract gate: ${line}`);
    return result.ok;
  }
  if (command === "self-test") return selfTest(releasedDir);
  console.error(`usage: ${basename(process.argv[1])} check --spec FILE --released DIR [--changelog FILE] | self-test --released DIR`);
  return false;
}

main(process.argv.slice(2)).then(
  (ok) => process.exit(ok ? 0 : 1),
  (error) => {
    console.error(`contract gate: error: ${error.message}`);
    process.exit(1);
  },
);
