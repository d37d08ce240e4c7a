//! `/api/v1/users`: sign-up, login, logout, profiles and account administration.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::bearer::BearerAuth;
use super::service::UserService;
use super::wire::{
    self, LoginRequest, LoginResponse, SignupRequest, TokenType, User, UserPage, UserUpdate,
};
use crate::auth::ClientAddr;
use crate::http::conditional::{IfMatch, IfNoneMatch};
use crate::http::page::{Cursor, Limit, Offset, page_request};
use crate::http::problem::{
    CONFLICT, FORBIDDEN, NOT_FOUND, PRECONDITION_FAILED, TOO_MANY_REQUESTS, UNAUTHORIZED,
    UNPROCESSABLE,
};
use crate::http::tagged::{Cacheable, Caching, Tagged};
use crate::http::{ApiResult, ApiTags, Created, NoContent};

pub struct UsersApi {
    /// Shared with the bearer scheme's checker, which authenticates with it.
    pub users: Arc<UserService>,
}

#[OpenApi(prefix_path = "/api/v1/users", tag = "ApiTags::Users")]
impl UsersApi {
    /// Create an account.
    ///
    /// At most `SIGNUP_MAX_PER_CLIENT` sign-ups from one client address within
    /// `SIGNUP_WINDOW_SECONDS` (20 an hour unless the operator says otherwise); past that,
    /// 429 with `Retry-After`.
    #[oai(path = "/signup", method = "post", operation_id = "signup")]
    async fn signup(
        &self,
        client: Data<&ClientAddr>,
        body: Json<SignupRequest>,
    ) -> ApiResult<Created<User>, { CONFLICT | UNPROCESSABLE | TOO_MANY_REQUESTS }> {
        let user = self.users.signup(body.0.into(), **client).await?;
        Ok(Created::Ok(Json(user.into())))
    }

    /// Exchange e-mail and password for a bearer token.
    ///
    /// A wrong e-mail and a wrong password get the same 401; a deactivated account 403.
    /// Failed guesses are counted per account and client address, and per client
    /// address: at the limit (5 and 50 within 15 minutes unless the operator says
    /// otherwise), that client's guesses at that account, or all its guesses, are refused
    /// with 429 and `Retry-After` until the window passes, even with the right password.
    /// Failures at an account from other clients only slow a login, never refuse it.
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        client: Data<&ClientAddr>,
        body: Json<LoginRequest>,
    ) -> ApiResult<
        Json<LoginResponse>,
        { UNAUTHORIZED | FORBIDDEN | UNPROCESSABLE | TOO_MANY_REQUESTS },
    > {
        let LoginRequest { email, password } = body.0;
        let (token, user) = self.users.login(&email.0, password.0, **client).await?;
        Ok(Json(LoginResponse {
            access_token: token.token,
            token_type: TokenType::Bearer,
            expires_in: i64::try_from(self.users.session_ttl().as_secs()).unwrap_or(i64::MAX),
            user: user.into(),
        }))
    }

    /// End the current session; its token stops working at once.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(&self, auth: BearerAuth) -> ApiResult<NoContent, { UNAUTHORIZED }> {
        self.users.logout(&auth.0).await?;
        Ok(NoContent::Done)
    }

    /// The caller's own account.
    #[oai(path = "/me", method = "get", operation_id = "get_me")]
    async fn get_me(
        &self,
        auth: BearerAuth,
        /// The account's `ETag` from an earlier answer: 304 if it is still current.
        #[oai(name = "If-None-Match")]
        if_none_match: IfNoneMatch,
    ) -> ApiResult<Cacheable<User>, { UNAUTHORIZED }> {
        let caller = auth.0;
        let user = self.users.get(&caller, caller.id()).await?;
        Ok(Cacheable::new(
            &user.into(),
            &if_none_match,
            Caching::Private,
        ))
    }

    /// Change the caller's own account.
    ///
    /// A new e-mail or password needs `current_password`, whose guesses are throttled as
    /// logins are (429). A new password ends every other session of the account.
    #[oai(path = "/me", method = "patch", operation_id = "update_me")]
    async fn update_me(
        &self,
        auth: BearerAuth,
        client: Data<&ClientAddr>,
        /// Change the account only if its `ETag` is still this one (else 412).
        #[oai(name = "If-Match")]
        if_match: IfMatch,
        body: Json<UserUpdate>,
    ) -> ApiResult<
        Tagged<User>,
        {
            UNAUTHORIZED
                | FORBIDDEN
                | CONFLICT
                | UNPROCESSABLE
                | TOO_MANY_REQUESTS
                | PRECONDITION_FAILED
        },
    > {
        let caller = auth.0;
        let patch = body.0.into();
        let expected = if_match.precondition(wire::etag);
        let user = self
            .users
            .update(&caller, caller.id(), patch, **client, expected);
        Ok(Tagged::new(&user.await?.into()))
    }

    /// Deactivate the caller's own account and end all its sessions. The last active
    /// administrator cannot (409 `last_admin`).
    #[oai(path = "/me", method = "delete", operation_id = "delete_me")]
    async fn delete_me(
        &self,
        auth: BearerAuth,
        /// Deactivate the account only if its `ETag` is still this one (else 412).
        #[oai(name = "If-Match")]
        if_match: IfMatch,
    ) -> ApiResult<NoContent, { UNAUTHORIZED | CONFLICT | PRECONDITION_FAILED }> {
        let caller = auth.0;
        let expected = if_match.precondition(wire::etag);
        self.users
            .deactivate(&caller, caller.id(), expected)
            .await?;
        Ok(NoContent::Done)
    }

    /// List accounts (administrators only).
    #[oai(path = "/", method = "get", operation_id = "list_users")]
    async fn list_users(
        &self,
        auth: BearerAuth,
        /// Items per page.
        #[oai(default)]
        limit: Query<Limit>,
        /// Items to skip: from the beginning, or from `cursor`.
        #[oai(default)]
        offset: Query<Offset>,
        /// Start after this position: the `next_cursor` of the page before.
        cursor: Query<Option<Cursor>>,
    ) -> ApiResult<Json<UserPage>, { UNAUTHORIZED | FORBIDDEN | UNPROCESSABLE }> {
        let page = page_request(limit.0, offset.0, cursor.0);
        Ok(Json(self.users.list(&auth.0, page).await?.into()))
    }

    /// One account: the caller's own, or any for administrators.
    #[oai(path = "/:id", method = "get", operation_id = "get_user")]
    async fn get_user(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        /// The account's `ETag` from an earlier answer: 304 if it is still current.
        #[oai(name = "If-None-Match")]
        if_none_match: IfNoneMatch,
    ) -> ApiResult<Cacheable<User>, { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | UNPROCESSABLE }> {
        let user = self.users.get(&auth.0, id.0).await?;
        Ok(Cacheable::new(
            &user.into(),
            &if_none_match,
            Caching::Private,
        ))
    }

    /// Change an account: the caller's own, or any for administrators.
    ///
    /// Only administrators may set `is_active` or `is_admin`; the last active
    /// administrator cannot be demoted or deactivated (409 `last_admin`). Changing one's
    /// own e-mail or password needs `current_password` (throttled as logins are: 429); an
    /// administrator changing another account's does not. A new password, or the end of
    /// an administrator's role (`is_admin` false), ends the account's other sessions;
    /// deactivation ends all of them.
    #[oai(path = "/:id", method = "patch", operation_id = "update_user")]
    async fn update_user(
        &self,
        auth: BearerAuth,
        client: Data<&ClientAddr>,
        id: Path<Uuid>,
        /// Change the account only if its `ETag` is still this one (else 412).
        #[oai(name = "If-Match")]
        if_match: IfMatch,
        body: Json<UserUpdate>,
    ) -> ApiResult<
        Tagged<User>,
        {
            UNAUTHORIZED
                | FORBIDDEN
                | NOT_FOUND
                | CONFLICT
                | UNPROCESSABLE
                | TOO_MANY_REQUESTS
                | PRECONDITION_FAILED
        },
    > {
        let patch = body.0.into();
        let expected = if_match.precondition(wire::etag);
        let user = self.users.update(&auth.0, id.0, patch, **client, expected);
        Ok(Tagged::new(&user.await?.into()))
    }

    /// Deactivate an account (its order history is kept) and end all its sessions. The
    /// last active administrator cannot be deactivated (409 `last_admin`).
    #[oai(path = "/:id", method = "delete", operation_id = "delete_user")]
    async fn delete_user(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        /// Deactivate the account only if its `ETag` is still this one (else 412).
        #[oai(name = "If-Match")]
        if_match: IfMatch,
    ) -> ApiResult<
        NoContent,
        { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE | PRECONDITION_FAILED },
    > {
        let expected = if_match.precondition(wire::etag);
        self.users.deactivate(&auth.0, id.0, expected).await?;
        Ok(NoContent::Done)
    }
}
