// Smoke test of the packed TypeScript client against a running server. It imports the
// package by its name, so it exercises what a user installs: the ES module, its declarations
// (this file is type-checked against them) and the runtime dependency.
//
// BOOKSTORE_URL, BOOKSTORE_ADMIN_EMAIL and BOOKSTORE_ADMIN_PASSWORD say which server and
// administrator to use. The steps share state and run in order; each asserts on statuses
// and problem codes, never on message text.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { createClient, type Problem, type Schema } from "@bookstore-api/client";

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const baseUrl = setting("BOOKSTORE_URL");
const adminEmail = setting("BOOKSTORE_ADMIN_EMAIL");
const adminPassword = setting("BOOKSTORE_ADMIN_PASSWORD");

const anonymous = createClient(baseUrl);
const customerEmail = `ts-smoke-${randomUUID()}@example.com`;
const customerPassword = "correct horse battery staple";

let customerToken = "";
let adminToken = "";
let book: Schema<"Book"> | undefined;

// Asserts that a failed call answered `status` with a problem of `code`, and returns it.
function expectProblem(
  result: { error?: Problem | undefined; response: Response },
  status: number,
  code: string,
): Problem {
  assert.equal(result.response.status, status);
  assert.ok(result.error, `expected a problem body with status ${status}`);
  assert.equal(result.error.status, status);
  assert.equal(result.error.code, code);
  return result.error;
}

async function login(email: string, password: string): Promise<string> {
  const { data, response } = await anonymous.POST("/api/v1/users/login", { body: { email, password } });
  assert.equal(response.status, 200);
  assert.ok(data);
  assert.equal(data.token_type, "bearer");
  return data.access_token;
}

test("a customer signs up", async () => {
  const { data, response } = await anonymous.POST("/api/v1/users/signup", {
    body: { email: customerEmail, password: customerPassword, full_name: "TypeScript Smoke" },
  });
  assert.equal(response.status, 201);
  assert.ok(data);
  assert.equal(data.email, customerEmail);
  assert.equal(data.is_admin, false);
});

test("the customer logs in and reads their own account", async () => {
  customerToken = await login(customerEmail, customerPassword);
  const { data, response } = await createClient(baseUrl, { token: customerToken }).GET("/api/v1/users/me");
  assert.equal(response.status, 200);
  assert.equal(data?.email, customerEmail);
});

test("anyone lists books", async () => {
  const { data, response } = await anonymous.GET("/api/v1/books", { params: { query: { limit: 5 } } });
  assert.equal(response.status, 200);
  assert.ok(data);
  assert.ok(Array.isArray(data.items));
  assert.equal(data.limit, 5);
  assert.equal(data.offset, 0);
});

test("the administrator adds an author and a book", async () => {
  adminToken = await login(adminEmail, adminPassword);
  const admin = createClient(baseUrl, { token: adminToken });
  const author = await admin.POST("/api/v1/authors", { body: { name: "Ada Smoke", bio: null } });
  assert.equal(author.response.status, 201);
  assert.ok(author.data);
  const created = await admin.POST("/api/v1/books", {
    body: { title: "Typed Requests", author_id: author.data.id, price: "12.50", published_at: "2024-05-01" },
  });
  assert.equal(created.response.status, 201);
  assert.ok(created.data);
  assert.equal(created.data.author_id, author.data.id);
  assert.equal(created.data.price, "12.50");
  book = created.data;
});

test("the customer may not add a book", async () => {
  assert.ok(book);
  const result = await createClient(baseUrl, { token: customerToken }).POST("/api/v1/books", {
    body: { title: "Not Mine", author_id: book.author_id, price: 1 },
  });
  expectProblem(result, 403, "admin_required");
});

test("the customer orders the book", async () => {
  assert.ok(book);
  const { data, response } = await createClient(baseUrl, { token: customerToken }).POST("/api/v1/orders", {
    body: { book_id: book.id, quantity: 2 },
  });
  assert.equal(response.status, 201);
  assert.ok(data);
  assert.equal(data.book_id, book.id);
  assert.equal(data.quantity, 2);
  assert.equal(data.total_amount, "25.00");
  assert.equal(data.status, "pending");
});

test("an unknown book is a not_found problem", async () => {
  const result = await anonymous.GET("/api/v1/books/{id}", { params: { path: { id: randomUUID() } } });
  expectProblem(result, 404, "not_found");
});

test("an invalid e-mail is an invalid_request problem naming the field", async () => {
  const result = await anonymous.POST("/api/v1/users/signup", {
    body: { email: "not-an-email", password: customerPassword, full_name: "Nobody" },
  });
  const problem = expectProblem(result, 422, "invalid_request");
  assert.deepEqual(problem.errors, [
    { field: "email", message: "must be an e-mail address such as name@example.com" },
  ]);
});

test("an order of no copies is refused naming the quantity", async () => {
  assert.ok(book);
  const result = await createClient(baseUrl, { token: customerToken }).POST("/api/v1/orders", {
    body: { book_id: book.id, quantity: 0 },
  });
  const problem = expectProblem(result, 422, "invalid_request");
  assert.deepEqual(problem.errors, [{ field: "quantity", message: "must be at least 1" }]);
});

test("without a token, my account is an unauthorized problem", async () => {
  const result = await anonymous.GET("/api/v1/users/me");
  expectProblem(result, 401, "unauthorized");
});
