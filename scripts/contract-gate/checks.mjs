// The gate's own checks: the breaking changes that Optic (the diff tool the gate runs first)
// does not report. Each finding is { where, what }: where names the operation and the place
// in it, what says what changed and why it breaks a client. The split, proven by the
// self-test (gate.mjs --self-test):
//
//   Optic reports: removed paths and operations; removed response properties and properties
//   made optional or nullable in responses; new required request properties; new required
//   parameters and optional parameters made required; type changes of request and response
//   properties and of parameters; enum values removed from requests or added to responses;
//   removed response status codes.
//
//   These checks report:
//   - an enum value removed from a response. A client that matches on the value (the
//     generated Rust, Python and TypeScript clients all spell out the enum) can no longer be
//     sure the API means the same thing; Optic accepts this as harmless;
//   - a request schema that drops an alternative of its anyOf/oneOf (a request field that
//     took a string or a number takes only a string now), and a response schema that gains
//     one (a response can now have a shape the client does not know);
//   - a request bound tightened: maximum/minimum, maxLength/minLength, maxItems/minItems,
//     or a new pattern, on a request property or parameter;
//   - an operation that needed no credentials now needs them.
//
// Only local references (#/components/...) are followed: the contract is one file.

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

// Annotations that do not change what a schema accepts, ignored when two anyOf/oneOf
// alternatives are compared.
const ANNOTATIONS = new Set(["description", "title", "example", "examples", "externalDocs", "deprecated"]);

function resolve(doc, node) {
  let current = node;
  const seen = new Set();
  while (current && typeof current === "object" && typeof current.$ref === "string") {
    const ref = current.$ref;
    if (!ref.startsWith("#/")) throw new Error(`only local $ref are supported, found ${ref}`);
    if (seen.has(ref)) throw new Error(`circular $ref ${ref}`);
    seen.add(ref);
    current = ref
      .slice(2)
      .split("/")
      .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
      .reduce((at, key) => (at === undefined ? undefined : at[key]), doc);
  }
  return current;
}

// A canonical form of a schema with every reference inlined and annotations dropped, used to
// tell whether an anyOf/oneOf alternative of the old document is still offered by the new one.
function canonical(doc, node, depth = 0) {
  if (depth > 32) return "…";
  const schema = resolve(doc, node);
  if (Array.isArray(schema)) return `[${schema.map((item) => canonical(doc, item, depth + 1)).join(",")}]`;
  if (!schema || typeof schema !== "object") return JSON.stringify(schema);
  const keys = Object.keys(schema)
    .filter((key) => !ANNOTATIONS.has(key))
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(doc, schema[key], depth + 1)}`).join(",")}}`;
}

function describe(doc, node) {
  const ref = node && typeof node === "object" && node.$ref;
  if (ref) return ref.split("/").pop();
  const schema = resolve(doc, node) ?? {};
  return schema.type ? `${schema.type}${schema.format ? ` (${schema.format})` : ""}` : canonical(doc, node);
}

function alternatives(schema) {
  return schema.anyOf ?? schema.oneOf ?? null;
}

// Compares one schema of the old document (b) with the same-placed schema of the new one (h).
// direction is "request" (the client sends it) or "response" (the client reads it); where
// says how the operation reaches the schema; anchor names the schema itself (its component
// when it is one), so that a change to a shared component is reported once.
function compareSchemas(ctx, b, h, direction, where, anchor) {
  const base = resolve(ctx.base, b);
  const head = resolve(ctx.head, h);
  if (!base || !head || typeof base !== "object" || typeof head !== "object") return;
  if (typeof b?.$ref === "string") anchor = b.$ref.slice(2);
  const report = (what) => ctx.report(anchor, where, what);

  // Shared components are reached from many places; each pair is compared once per direction.
  const key = `${direction}|${b?.$ref ?? where}|${h?.$ref ?? where}`;
  if (ctx.seen.has(key)) return;
  ctx.seen.add(key);

  if (direction === "response" && Array.isArray(base.enum) && Array.isArray(head.enum)) {
    for (const value of base.enum) {
      if (!head.enum.some((other) => JSON.stringify(other) === JSON.stringify(value))) {
        report(`enum value ${JSON.stringify(value)} removed from a response`);
      }
    }
  }

  const baseAlternatives = alternatives(base);
  const headAlternatives = alternatives(head);
  if (baseAlternatives || headAlternatives) {
    // A schema without anyOf/oneOf is its own single alternative.
    const olds = baseAlternatives ?? [b];
    const news = headAlternatives ?? [h];
    const newForms = news.map((alt) => canonical(ctx.head, alt));
    const oldForms = olds.map((alt) => canonical(ctx.base, alt));
    if (direction === "request") {
      olds.forEach((alt, index) => {
        const at = newForms.indexOf(oldForms[index]);
        if (at === -1) {
          report(`no longer accepts ${describe(ctx.base, alt)} (an alternative of its anyOf/oneOf was removed)`);
        } else {
          compareSchemas(ctx, alt, news[at], direction, where, anchor);
        }
      });
    } else {
      news.forEach((alt, index) => {
        const at = oldForms.indexOf(newForms[index]);
        if (at === -1) {
          report(`may now be ${describe(ctx.head, alt)} (a new alternative of its anyOf/oneOf)`);
        } else {
          compareSchemas(ctx, olds[at], alt, direction, where, anchor);
        }
      });
    }
  }

  // Bounds are compared between like schemas only; a schema that gained or lost its
  // alternatives was compared alternative by alternative above.
  if (direction === "request" && !baseAlternatives && !headAlternatives) compareBounds(base, head, report);

  if (base.properties && head.properties) {
    for (const [name, property] of Object.entries(base.properties)) {
      if (head.properties[name] !== undefined) {
        compareSchemas(ctx, property, head.properties[name], direction, `${where}.${name}`, `${anchor}/properties/${name}`);
      }
    }
  }
  if (base.items && head.items) compareSchemas(ctx, base.items, head.items, direction, `${where}[]`, `${anchor}/items`);
  if (typeof base.additionalProperties === "object" && typeof head.additionalProperties === "object") {
    compareSchemas(ctx, base.additionalProperties, head.additionalProperties, direction, `${where}{}`, `${anchor}/additionalProperties`);
  }
}

// Bounds whose tightening refuses requests that were valid: [keyword, tighter(old, new)].
const UPPER = (old, now) => now !== undefined && (old === undefined || now < old);
const LOWER = (old, now) => now !== undefined && (old === undefined || now > old);
const BOUNDS = [
  ["maximum", UPPER],
  ["minimum", LOWER],
  ["maxLength", UPPER],
  ["minLength", LOWER],
  ["maxItems", UPPER],
  ["minItems", LOWER],
];

function compareBounds(base, head, report) {
  for (const [keyword, tighter] of BOUNDS) {
    if (tighter(base[keyword], head[keyword])) {
      const from = base[keyword] === undefined ? "none" : base[keyword];
      report(`request bound ${keyword} tightened from ${from} to ${head[keyword]}`);
    }
  }
  for (const keyword of ["exclusiveMaximum", "exclusiveMinimum"]) {
    if (head[keyword] === true && base[keyword] !== true) {
      report(`request bound ${keyword} turned on`);
    }
  }
  // A changed pattern may accept more or less; only a new one is sure to refuse something.
  if (head.pattern !== undefined && base.pattern === undefined) {
    report(`request values must now match the pattern ${head.pattern}`);
  }
}

function effectiveSecurity(doc, operation) {
  return operation.security ?? doc.security ?? [];
}

// True when an operation can be called without credentials: no requirement at all, or an
// empty alternative ({}) among them.
function isPublic(requirements) {
  return requirements.length === 0 || requirements.some((requirement) => Object.keys(requirement).length === 0);
}

function parameterList(doc, pathItem, operation) {
  const byKey = new Map();
  for (const parameter of [...(pathItem.parameters ?? []), ...(operation.parameters ?? [])]) {
    const resolved = resolve(doc, parameter);
    if (resolved) byKey.set(`${resolved.in}:${resolved.name}`, resolved);
  }
  return byKey;
}

/**
 * Returns the findings of these checks for a change from document `base` to document `head`:
 * [{ where, what }], one per changed schema and kind of change, where naming the schema and
 * the first operation found to use it (and how many more do).
 */
export function ownChecks(base, head) {
  const found = new Map();
  const ctx = {
    base,
    head,
    seen: new Set(),
    operation: "",
    report(anchor, where, what) {
      const key = `${anchor}|${what}`;
      const seenAt = found.get(key);
      const at = `${ctx.operation} ${where}`.trim();
      if (seenAt) {
        if (!seenAt.operations.has(ctx.operation)) seenAt.operations.add(ctx.operation);
      } else {
        found.set(key, { anchor, at, what, operations: new Set([ctx.operation]) });
      }
    },
  };
  for (const [path, basePathItem] of Object.entries(base.paths ?? {})) {
    const headPathItem = head.paths?.[path];
    if (!headPathItem) continue;
    for (const method of METHODS) {
      const baseOperation = basePathItem[method];
      const headOperation = headPathItem[method];
      if (!baseOperation || !headOperation) continue;
      ctx.operation = `${method.toUpperCase()} ${path}`;
      ctx.seen = new Set();
      const root = (where) => `${ctx.operation} ${where}`;

      if (isPublic(effectiveSecurity(base, baseOperation)) && !isPublic(effectiveSecurity(head, headOperation))) {
        ctx.report(root("security"), "security", "needs credentials now; it was public");
      }

      const baseParameters = parameterList(base, basePathItem, baseOperation);
      const headParameters = parameterList(head, headPathItem, headOperation);
      for (const [key, parameter] of baseParameters) {
        const other = headParameters.get(key);
        if (other && parameter.schema && other.schema) {
          const where = `${parameter.in} parameter ${parameter.name}`;
          compareSchemas(ctx, parameter.schema, other.schema, "request", where, root(where));
        }
      }

      const baseBody = resolve(base, baseOperation.requestBody);
      const headBody = resolve(head, headOperation.requestBody);
      for (const [mediaType, content] of Object.entries(baseBody?.content ?? {})) {
        const other = headBody?.content?.[mediaType];
        if (other?.schema && content.schema) {
          const where = `request body (${mediaType})`;
          compareSchemas(ctx, content.schema, other.schema, "request", where, root(where));
        }
      }

      for (const [status, response] of Object.entries(baseOperation.responses ?? {})) {
        const baseResponse = resolve(base, response);
        const headResponse = resolve(head, headOperation.responses?.[status]);
        for (const [mediaType, content] of Object.entries(baseResponse?.content ?? {})) {
          const other = headResponse?.content?.[mediaType];
          if (other?.schema && content.schema) {
            const where = `response ${status} (${mediaType})`;
            compareSchemas(ctx, content.schema, other.schema, "response", where, root(where));
          }
        }
      }
    }
  }
  return [...found.values()].map(({ anchor, at, what, operations }) => {
    const others = operations.size - 1;
    const schema = anchor.startsWith(at.split(" ").slice(0, 2).join(" ")) ? "" : `${anchor}: `;
    return { where: `${schema}${at}${others > 0 ? ` (and ${others} more operation${others > 1 ? "s" : ""})` : ""}`, what };
  });
}
