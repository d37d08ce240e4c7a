"""Smoke test of the installed Python client (bookstore-api-client) against a running server.

Run it with the interpreter of a virtual environment where the wheel is installed, from
outside the repository, so that `import bookstore_api_client` can only find the installed
package. BOOKSTORE_URL, BOOKSTORE_ADMIN_EMAIL and BOOKSTORE_ADMIN_PASSWORD say which server
and administrator to use. The steps share state and run in order; each asserts on statuses
and problem codes, never on message text. It prints one line per step and a closing
"N passed, N failed" line, and exits non-zero when any step failed.
"""

import os
import sys
import traceback
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import bookstore_api_client
from bookstore_api_client import AuthenticatedClient, Client
from bookstore_api_client.api.authors import create_author
from bookstore_api_client.api.books import create_book, get_book, list_books
from bookstore_api_client.api.orders import create_order
from bookstore_api_client.api.users import get_me, login, signup
from bookstore_api_client.models import (
    Author,
    AuthorCreate,
    Book,
    BookCreate,
    LoginRequest,
    LoginResponse,
    Order,
    OrderCreate,
    OrderStatus,
    Problem,
    SignupRequest,
    User,
)
from bookstore_api_client.types import Response


def setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"smoke_test.py: {name} is not set")
    return value


BASE_URL = setting("BOOKSTORE_URL")
ADMIN_EMAIL = setting("BOOKSTORE_ADMIN_EMAIL")
ADMIN_PASSWORD = setting("BOOKSTORE_ADMIN_PASSWORD")
CUSTOMER_EMAIL = f"py-smoke-{uuid.uuid4()}@example.com"
CUSTOMER_PASSWORD = "correct horse battery staple"

anonymous = Client(base_url=BASE_URL, raise_on_unexpected_status=True)
state: dict[str, Any] = {}


def as_user(token: str) -> AuthenticatedClient:
    return AuthenticatedClient(base_url=BASE_URL, token=token, raise_on_unexpected_status=True)


def expect(response: Response[Any], status: int, kind: type) -> Any:
    """Asserts the status and the type of the parsed body, and returns the body."""
    assert response.status_code == HTTPStatus(status), f"status {response.status_code}: {response.content!r}"
    assert isinstance(response.parsed, kind), f"expected {kind.__name__}, got {response.parsed!r}"
    return response.parsed


def expect_problem(response: Response[Any], status: int, code: str) -> Problem:
    problem = expect(response, status, Problem)
    assert problem.status == status, problem
    assert problem.code == code, f"code {problem.code!r}, expected {code!r}"
    return problem


def log_in(email: str, password: str) -> str:
    session = expect(login.sync_detailed(client=anonymous, body=LoginRequest(email=email, password=password)), 200, LoginResponse)
    assert session.token_type == "bearer"
    return session.access_token


def the_installed_package_is_used() -> None:
    # Run from the source tree, Python could import a generated copy lying there instead.
    assert "site-packages" in bookstore_api_client.__file__, bookstore_api_client.__file__


def a_customer_signs_up() -> None:
    body = SignupRequest(email=CUSTOMER_EMAIL, password=CUSTOMER_PASSWORD, full_name="Python Smoke")
    user = expect(signup.sync_detailed(client=anonymous, body=body), 201, User)
    assert user.email == CUSTOMER_EMAIL
    assert user.is_admin is False


def the_customer_logs_in_and_reads_their_account() -> None:
    state["customer"] = as_user(log_in(CUSTOMER_EMAIL, CUSTOMER_PASSWORD))
    me = expect(get_me.sync_detailed(client=state["customer"]), 200, User)
    assert me.email == CUSTOMER_EMAIL


def anyone_lists_books() -> None:
    page = list_books.sync(client=anonymous, limit=5)
    assert page is not None and not isinstance(page, Problem), page
    assert isinstance(page.items, list)
    assert page.limit == 5 and page.offset == 0


def the_administrator_adds_an_author_and_a_book() -> None:
    admin = as_user(log_in(ADMIN_EMAIL, ADMIN_PASSWORD))
    author = expect(create_author.sync_detailed(client=admin, body=AuthorCreate(name="Ada Smoke")), 201, Author)
    book = expect(
        create_book.sync_detailed(client=admin, body=BookCreate(title="Typed Requests", author_id=author.id, price="12.50")),
        201,
        Book,
    )
    assert book.author_id == author.id
    assert book.price == "12.50"
    state["book"] = book


def the_customer_orders_the_book() -> None:
    book: Book = state["book"]
    order = expect(create_order.sync_detailed(client=state["customer"], body=OrderCreate(book_id=book.id, quantity=2)), 201, Order)
    assert order.book_id == book.id
    assert order.quantity == 2
    assert order.total_amount == "25.00"
    assert order.status == OrderStatus.PENDING


def an_unknown_book_is_a_not_found_problem() -> None:
    expect_problem(get_book.sync_detailed(uuid.uuid4(), client=anonymous), 404, "not_found")


def an_invalid_email_is_a_problem_naming_the_field() -> None:
    body = SignupRequest(email="not-an-email", password=CUSTOMER_PASSWORD, full_name="Nobody")
    problem = expect_problem(signup.sync_detailed(client=anonymous, body=body), 422, "invalid_request")
    errors = [(error.field, error.message) for error in problem.errors or []]
    assert errors == [("email", "must be an e-mail address such as name@example.com")], errors


def an_order_of_no_copies_is_refused_naming_the_quantity() -> None:
    book: Book = state["book"]
    response = create_order.sync_detailed(client=state["customer"], body=OrderCreate(book_id=book.id, quantity=0))
    problem = expect_problem(response, 422, "invalid_request")
    errors = [(error.field, error.message) for error in problem.errors or []]
    assert errors == [("quantity", "must be at least 1")], errors


STEPS: list[Callable[[], None]] = [
    the_installed_package_is_used,
    a_customer_signs_up,
    the_customer_logs_in_and_reads_their_account,
    anyone_lists_books,
    the_administrator_adds_an_author_and_a_book,
    the_customer_orders_the_book,
    an_unknown_book_is_a_not_found_problem,
    an_invalid_email_is_a_problem_naming_the_field,
    an_order_of_no_copies_is_refused_naming_the_quantity,
]


def main() -> int:
    passed = failed = 0
    for step in STEPS:
        name = step.__name__.replace("_", " ")
        try:
            step()
        except Exception:  # noqa: BLE001 - every failure is reported, then the next step runs
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
