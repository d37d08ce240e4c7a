"""Schemathesis hooks of scripts/schemathesis.sh: who the run acts as, and one check of our own.

The script runs Schemathesis once per caller, naming it in BOOKSTORE_ROLE:

- ``user`` and ``admin``: every request carries ``Authorization: Bearer <token>`` of a live
  session of that kind. Fuzzing is free to end its own session (log out, deactivate or
  demote its own account, change its e-mail), so the provider below checks the session again
  whenever an answer was 401 or 403 and, if it is gone, opens a new one: logging in again
  when the account still can, else signing up a fresh account (promoted to administrator
  directly in the database for ``admin``, as the API only lets an administrator do that).
  Without this, one early ``POST /users/logout`` would turn the rest of the run into 401s.
- ``anonymous``: no request carries credentials (a hook strips any that Schemathesis would
  add), and the check below demands that every operation that declares ``bearerAuth``
  answers 401 with ``WWW-Authenticate: Bearer`` and the ``unauthorized`` problem.

Environment: BOOKSTORE_URL (the server's base URL), BOOKSTORE_ROLE, BOOKSTORE_EMAIL and
BOOKSTORE_PASSWORD (the account to act as first), and for ``admin`` BOOKSTORE_DATABASE_URL
and BOOKSTORE_PSQL (how to promote a fresh account).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid

import schemathesis

BASE_URL = os.environ["BOOKSTORE_URL"].rstrip("/")
ROLE = os.environ.get("BOOKSTORE_ROLE", "anonymous")


def call(method: str, path: str, body: dict | None = None, token: str | None = None):
    """Sends one request to the server; returns the status and the decoded JSON body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{BASE_URL}{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, (json.loads(raw) if raw else None)


class Session:
    """A live session of ROLE, replaced when fuzzing ends it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.email = os.environ["BOOKSTORE_EMAIL"]
        self.password = os.environ["BOOKSTORE_PASSWORD"]
        self.token: str | None = None
        self.replaced = 0

    def current(self) -> str:
        with self.lock:
            if self.token is None or not self._usable(self.token):
                self.token = self._log_in() or self._fresh_account()
            return self.token

    def _usable(self, token: str) -> bool:
        status, me = call("GET", "/api/v1/users/me", token=token)
        return status == 200 and (ROLE != "admin" or me["is_admin"])

    def _log_in(self) -> str | None:
        status, body = call(
            "POST", "/api/v1/users/login", {"email": self.email, "password": self.password}
        )
        if status == 200 and self._usable(body["access_token"]):
            return body["access_token"]
        return None

    def _fresh_account(self) -> str:
        self.replaced += 1
        self.email = f"fuzz-{ROLE}-{uuid.uuid4().hex}@example.com"
        self.password = uuid.uuid4().hex
        status, user = call(
            "POST",
            "/api/v1/users/signup",
            {"email": self.email, "password": self.password, "full_name": f"Fuzzing {ROLE}"},
        )
        if status != 201:
            raise RuntimeError(f"signing up a fresh {ROLE} failed with {status}: {user}")
        if ROLE == "admin":
            # The id is a UUID the server generated, so it is safe to put in SQL as it is.
            subprocess.run(
                [
                    os.environ["BOOKSTORE_PSQL"],
                    os.environ["BOOKSTORE_DATABASE_URL"],
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    f"UPDATE users SET is_admin = true WHERE id = '{uuid.UUID(user['id'])}'",
                ],
                check=True,
            )
        token = self._log_in()
        if token is None:
            raise RuntimeError(f"logging in as the fresh {ROLE} {self.email} failed")
        return token


if ROLE in ("user", "admin"):
    SESSION = Session()

    @schemathesis.auth(retry_on=[401, 403])
    class BearerSession:
        def get(self, case, ctx):
            return SESSION.current()

        def set(self, case, data, ctx):
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"


if ROLE == "anonymous":

    @schemathesis.hook
    def before_call(context, case, kwargs):
        """Sends no credentials at all: Schemathesis would otherwise make up a bearer token
        for secured operations, or reuse one that a login answer of the stateful phase gave."""
        for name in [name for name in (case.headers or {}) if name.lower() == "authorization"]:
            del case.headers[name]


def literal_paths() -> set[str]:
    """The paths of the served spec that have no template segment, e.g. /api/v1/users/login."""
    global _LITERAL_PATHS
    if _LITERAL_PATHS is None:
        _, spec = call("GET", "/openapi.json")
        _LITERAL_PATHS = {path for path in spec["paths"] if "{" not in path}
    return _LITERAL_PATHS


_LITERAL_PATHS: set[str] | None = None


def shadowed_by_literal_path(response) -> bool:
    """Whether the request, made for a templated operation, landed on a literal path.

    Fuzzing `PATCH /api/v1/users/{id}` with the id `login` asks for `/api/v1/users/login`.
    OpenAPI matches a concrete path before a templated one, so that request belongs to the
    login path, which does not serve PATCH: 405 with Allow is its right answer, not the
    templated operation's 401 or another of its statuses.
    """
    path = urllib.parse.urlsplit(response.request.url).path
    return response.status_code == 405 and path in literal_paths()


@schemathesis.check
def anonymous_calls_are_unauthorized(ctx, response, case):
    """Without credentials, an operation that declares bearerAuth answers 401 and nothing else."""
    if ROLE != "anonymous" or not case.operation.definition.raw.get("security"):
        return None
    # A probe with a method the path does not serve is answered 405 whoever asks; the
    # built-in `unsupported_method` check judges those.
    if (response.request.method or "").lower() != case.operation.method.lower():
        return None
    if shadowed_by_literal_path(response):
        return None
    if "authorization" in {name.lower() for name in response.request.headers}:
        raise AssertionError("the anonymous run sent an Authorization header")
    if response.status_code != 401:
        raise AssertionError(
            f"{case.operation.label} without credentials answered {response.status_code}, not 401"
        )
    challenge = response.headers.get("www-authenticate") or []
    if challenge != ["Bearer"]:
        raise AssertionError(f"401 with WWW-Authenticate {challenge!r}, not ['Bearer']")
    code = (response.json() or {}).get("code")
    if code != "unauthorized":
        raise AssertionError(f"401 with problem code {code!r}, not 'unauthorized'")
    return None


#: The one rule of the input a schema cannot state: an id in a request body must name
#: something that exists (the operations' descriptions say so). Schemathesis makes up ids,
#: so a request valid by the contract may name no author or book; the server answers 422
#: `validation_failed` naming exactly these fields, and that answer is no finding.
REFERENCES = {"author_id", "book_id"}


def names_a_missing_reference(response) -> bool:
    """Whether the answer is the documented refusal of an id that names nothing."""
    if response.status_code != 422:
        return False
    try:
        problem = response.json()
    except ValueError:
        return False
    errors = problem.get("errors") if isinstance(problem, dict) else None
    return (
        problem.get("code") == "validation_failed"
        and bool(errors)
        and all(error.get("field") in REFERENCES for error in errors)
    )


#: Answers that depend on state no single request shows, documented for valid input: 412
#: ``precondition_failed`` to an ``If-Match`` that names no current ETag (any string is a
#: well-formed one, but only the resource's own tag matches it), and 422
#: ``idempotency_key_reused`` to an ``Idempotency-Key`` sent earlier in the run with another
#: body.
STATEFUL_REFUSALS = {(412, "precondition_failed"), (422, "idempotency_key_reused")}


def is_a_stateful_refusal(response) -> bool:
    """Whether the answer is one of ``STATEFUL_REFUSALS``."""
    try:
        problem = response.json()
    except ValueError:
        return False
    code = problem.get("code") if isinstance(problem, dict) else None
    return (response.status_code, code) in STATEFUL_REFUSALS


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keeps every failure but three: valid input refused only because an id in it names
    nothing (see ``REFERENCES``) or because of state no single request shows (see
    ``STATEFUL_REFUSALS``), and a 405 of a literal path reached through a templated
    operation (see ``shadowed_by_literal_path``).

    Every other rule of the input is in the contract, so any other refusal of input
    Schemathesis generated as valid is a finding: the contract states a rule the server
    does not keep, or the server keeps one the contract does not state.
    """
    code = getattr(failure, "code", None)
    if code == "ST103" and shadowed_by_literal_path(response):
        return False
    if code == "ST202" and (
        names_a_missing_reference(response) or is_a_stateful_refusal(response)
    ):
        return False
    return True
