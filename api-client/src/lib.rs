#![doc = include_str!("../README.md")]
//!
//! # The generated part
//!
//! Everything but [`authenticated`], [`InvalidToken`], [`Client::log_in`], the readers of
//! answer headers and the lists' `stream` (both below) is generated from the contract by
//! progenitor, into `src/generated.rs`: [`Client`] with one method per operation, named
//! after its `operationId`, each returning a builder for the operation's parameters and
//! body; the request and response bodies in [`types`]; and
//! [`CONTRACT_VERSION`], the contract's `info.version`, which is also this crate's version.
//!
//! A documented error answer arrives as [`Error::ErrorResponse`] holding a
//! [`types::Problem`]; an answer the contract does not declare arrives as
//! [`Error::UnexpectedResponse`].
//!
//! Money fields (`price`, `total_amount`) are exact decimal strings such as `"19.99"`.
//!
//! # Conditional requests and safe retries
//!
//! `GET`s take `.if_none_match(etag)`, `PATCH`es and `DELETE`s `.if_match(etag)`, and
//! `create_order` `.idempotency_key(key)`; [`etag`], [`not_modified`], [`replayed`] and
//! [`retry_after`] read the answers. The example `safe_writes` shows a safe-retry loop for
//! placing an order and an optimistic-update loop for a book.
//!
//! # Lists
//!
//! The builder of every list (`list_authors`, `list_books`, `list_orders`, `list_users`)
//! has a `stream` method besides `send`: every item of the list, with the builder's
//! filters, fetched page after page by cursor (see [`builder::ListBooks::stream`]).

use std::future::Future;
use std::time::Duration;

use futures::{Stream, TryStreamExt as _};

#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unused_imports
)]
#[rustfmt::skip]
mod generated;

pub use generated::*;

mod conditional;

pub use conditional::{etag, not_modified, replayed, retry_after};

/// How long a request may take before the client gives up.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The token could not be sent as an HTTP header (it holds characters a header cannot).
#[derive(Debug)]
pub struct InvalidToken;

impl std::fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the access token is not a valid HTTP header value")
    }
}

impl std::error::Error for InvalidToken {}

/// A client that sends `Authorization: Bearer <access_token>` with every request.
///
/// `access_token` is the `access_token` of a [`types::LoginResponse`]; [`Client::log_in`]
/// does both steps at once.
pub fn authenticated(base_url: &str, access_token: &str) -> Result<Client, InvalidToken> {
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {access_token}"))
        .map_err(|_| InvalidToken)?;
    value.set_sensitive(true);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, value);
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .timeout(TIMEOUT)
        .build()
        .map_err(|_| InvalidToken)?;
    Ok(Client::new_with_client(base_url, http))
}

impl Client {
    /// Logs in with `email` and `password`: a client of the same server that sends the
    /// new session's token with every request, and the login answer (its token, its
    /// lifetime and the account).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let anonymous = bookstore_api_client::Client::new("http://localhost:8080");
    /// let (me, session) = anonymous.log_in("reader@example.com", "correct horse battery").await?;
    /// println!("logged in as {} for {} s", session.user.email, session.expires_in);
    /// let orders = me.list_orders().send().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// A refused login arrives as [`Error::ErrorResponse`] with its problem (401 for wrong
    /// credentials, 403 for a deactivated account, 429 after too many failures).
    pub async fn log_in(
        &self,
        email: &str,
        password: &str,
    ) -> Result<(Client, ResponseValue<types::LoginResponse>), Error<types::Problem>> {
        let session = self
            .login()
            .body(types::LoginRequest {
                email: email.to_owned(),
                password: password.to_owned(),
            })
            .send()
            .await?;
        let client = authenticated(ClientInfo::baseurl(self), &session.access_token)
            .map_err(|err| Error::InvalidRequest(err.to_string()))?;
        Ok((client, session))
    }
}

/// Every item of a list, from the page `first` asks for on: each following page is asked
/// for by `after(request, cursor)`, with the `next_cursor` of the page before, until a page
/// has none. `parts` splits a page into its items and that cursor.
fn walk<'a, R, P, T, F>(
    first: R,
    after: fn(R, types::Cursor) -> R,
    send: impl Fn(R) -> F + 'a,
    parts: fn(P) -> (Vec<T>, Option<types::Cursor>),
) -> impl Stream<Item = Result<T, Error<types::Problem>>> + Unpin + 'a
where
    R: Clone + 'a,
    F: Future<Output = Result<ResponseValue<P>, Error<types::Problem>>> + 'a,
    P: 'a,
    T: 'a,
{
    let pages = futures::stream::try_unfold(Some(first), move |request| {
        let sent = request.clone().map(&send);
        async move {
            let (Some(request), Some(sent)) = (request, sent) else {
                return Ok::<_, Error<types::Problem>>(None);
            };
            let (items, next_cursor) = parts(sent.await?.into_inner());
            let following = next_cursor.map(|cursor| after(request, cursor));
            let items = items.into_iter().map(Ok::<T, Error<types::Problem>>);
            Ok(Some((futures::stream::iter(items), following)))
        }
    });
    Box::pin(pages.try_flatten())
}

/// `stream` on the builder of a list operation (see [`builder::ListBooks::stream`]).
macro_rules! stream {
    ($builder:ident, $page:ident, $item:ident, $list:literal) => {
        impl<'a> builder::$builder<'a> {
            #[doc = concat!("Every item of ", $list, ", oldest first, with this request's filters: the")]
            /// page this request asks for, then each page after it by its `next_cursor`,
            /// until the last. See [`builder::ListBooks::stream`].
            pub fn stream(
                self,
            ) -> impl Stream<Item = Result<types::$item, Error<types::Problem>>> + Unpin + 'a {
                walk(
                    self,
                    |request, cursor| request.offset(0).cursor(cursor),
                    Self::send,
                    |page: types::$page| (page.items, page.next_cursor),
                )
            }
        }
    };
}

stream!(ListAuthors, AuthorPage, Author, "the authors");
stream!(
    ListOrders,
    OrderPage,
    Order,
    "the orders the caller may see"
);
stream!(
    ListUsers,
    UserPage,
    User,
    "the accounts (administrators only)"
);

impl<'a> builder::ListBooks<'a> {
    /// Every book this request's filters match, oldest first: the page this request asks
    /// for, then each page after it by its `next_cursor`, until the last.
    ///
    /// Each page is one request with the builder's filters and `limit` (up to 100 items a
    /// page: the larger, the fewer requests); the first page starts where the builder
    /// says (its `cursor` and `offset`, if set), the following ones right after the page
    /// before, whatever its depth, at the same cost. Books added or deleted meanwhile
    /// never make the walk yield a book twice, nor miss one that was there all along. An
    /// error answer ends the stream with that error.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), bookstore_api_client::Error<bookstore_api_client::types::Problem>> {
    /// use futures::TryStreamExt as _;
    ///
    /// let client = bookstore_api_client::Client::new("http://localhost:8080");
    /// let mut books = client.list_books().q("darkness").limit(100).stream();
    /// while let Some(book) = books.try_next().await? {
    ///     println!("{} costs {}", book.title, *book.price);
    /// }
    /// // Or all at once:
    /// let all: Vec<_> = client.list_books().stream().try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn stream(
        self,
    ) -> impl Stream<Item = Result<types::Book, Error<types::Problem>>> + Unpin + 'a {
        walk(
            self,
            |request, cursor| request.offset(0).cursor(cursor),
            Self::send,
            |page: types::BookPage| (page.items, page.next_cursor),
        )
    }
}
