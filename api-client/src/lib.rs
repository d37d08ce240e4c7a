#![doc = include_str!("../README.md")]
//!
//! # The generated part
//!
//! Everything but [`authenticated`], [`InvalidToken`] and [`Client::log_in`] is generated
//! from the contract by progenitor, into `src/generated.rs`: [`Client`] with one method per
//! operation, named after its `operationId`, each returning a builder for the operation's
//! parameters and body; the request and response bodies in [`types`]; and
//! [`CONTRACT_VERSION`], the contract's `info.version`, which is also this crate's version.
//!
//! A documented error answer arrives as [`Error::ErrorResponse`] holding a
//! [`types::Problem`]; an answer the contract does not declare arrives as
//! [`Error::UnexpectedResponse`].

use std::time::Duration;

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
