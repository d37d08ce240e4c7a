/**
 * Typed client for the Bookstore API.
 *
 * The types are generated from the contract (`openapi.yaml`) by openapi-typescript; requests
 * go through openapi-fetch, which checks paths, parameters and bodies against them at
 * compile time and adds no code of its own per operation.
 *
 * ```ts
 * import { createClient } from "@bookstore-api/client";
 *
 * const api = createClient("http://localhost:8080", { token });
 * const { data, error, response } = await api.GET("/api/v1/books/{id}", {
 *   params: { path: { id } },
 * });
 * if (error) console.log(response.status, error.code); // error is a Problem
 * ```
 */
import createFetchClient, { type Client, type ClientOptions } from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";

export type { components, operations, paths } from "./generated/schema.js";

/** Every 4xx and 5xx answer of the API: match on `code`, which is stable; `detail` is for people. */
export type Problem = components["schemas"]["Problem"];

/** One field's reason in a `Problem` of code `validation_failed` or `invalid_request`. */
export type FieldError = components["schemas"]["FieldError"];

/** A schema of the contract by name, e.g. `Schema<"Book">`. */
export type Schema<Name extends keyof components["schemas"]> = components["schemas"][Name];

/** The client `createClient` returns: openapi-fetch's, typed by the contract's paths. */
export type BookstoreClient = Client<paths>;

export interface BookstoreClientOptions extends Omit<ClientOptions, "baseUrl"> {
  /**
   * A session token from `POST /api/v1/users/login`. When set, every request carries
   * `Authorization: Bearer <token>` unless it sets its own `Authorization` header.
   */
  token?: string;
}

/**
 * A client for the API at `baseUrl` (e.g. `"https://bookstore.example.com"`; the paths of the
 * contract, `/api/v1/...`, are appended to it). Other options go to openapi-fetch as they are,
 * e.g. `fetch` for a custom fetch implementation or `headers` sent with every request.
 */
export function createClient(baseUrl: string, options: BookstoreClientOptions = {}): BookstoreClient {
  const { token, ...fetchOptions } = options;
  const client = createFetchClient<paths>({ ...fetchOptions, baseUrl: baseUrl.replace(/\/+$/, "") });
  if (token !== undefined) {
    // A middleware rather than a default header, so that a request's own Authorization
    // header (another user's token, say) is left alone.
    client.use({
      onRequest({ request }) {
        if (!request.headers.has("authorization")) {
          request.headers.set("authorization", `Bearer ${token}`);
        }
        return request;
      },
    });
  }
  return client;
}
