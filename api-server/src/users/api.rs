//! `/api/v1/users`: sign-up, login, logout, profiles and account administration.

use poem::web::RemoteAddr;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::bearer::BearerAuth;
use super::service::UserService;
use super::wire::{
    LoginRequest, LoginResponse, SignupRequest, TokenType, User, UserPage, UserUpdate,
};
use crate::http::page::{Limit, Offset, page_request};
use crate::http::problem::{
    CONFLICT, FORBIDDEN, NOT_FOUND, TOO_MANY_REQUESTS, UNAUTHORIZED, UNPROCESSABLE,
};
use crate::http::{ApiResult, ApiTags, Created, NoContent};

pub struct UsersApi {
    pub users: UserService,
}

#[OpenApi(prefix_path = "/api/v1/users", tag = "ApiTags::Users")]
impl UsersApi {
    /// Create an account.
    #[oai(path = "/signup", method = "post", operation_id = "signup")]
    async fn signup(
        &self,
        body: Json<SignupRequest>,
    ) -> ApiResult<Created<User>, { CONFLICT | UNPROCESSABLE }> {
        let user = self.users.signup(body.0.try_into()?).await?;
        Ok(Created::Ok(Json(user.into())))
    }

    /// Exchange e-mail and password for a bearer token.
    ///
    /// A wrong e-mail and a wrong password get the same 401; a deactivated account 403.
    /// Repeated failures for one account or from one client address are slowed, then
    /// refused with 429 and `Retry-After` until their window passes, even with the right
    /// password; a successful login clears the account's count.
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        remote: &RemoteAddr,
        body: Json<LoginRequest>,
    ) -> ApiResult<
        Json<LoginResponse>,
        { UNAUTHORIZED | FORBIDDEN | UNPROCESSABLE | TOO_MANY_REQUESTS },
    > {
        let LoginRequest { email, password } = body.0;
        let client = remote.as_socket_addr().map(|addr| addr.ip());
        let (token, user) = self.users.login(&email.0, password.0, client).await?;
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
    async fn get_me(&self, auth: BearerAuth) -> ApiResult<Json<User>, { UNAUTHORIZED }> {
        let caller = auth.0;
        Ok(Json(self.users.get(&caller, caller.id()).await?.into()))
    }

    /// Change the caller's own account.
    #[oai(path = "/me", method = "patch", operation_id = "update_me")]
    async fn update_me(
        &self,
        auth: BearerAuth,
        body: Json<UserUpdate>,
    ) -> ApiResult<Json<User>, { UNAUTHORIZED | FORBIDDEN | CONFLICT | UNPROCESSABLE }> {
        let caller = auth.0;
        let patch = body.0.try_into()?;
        Ok(Json(
            self.users.update(&caller, caller.id(), patch).await?.into(),
        ))
    }

    /// Deactivate the caller's own account and end all its sessions.
    #[oai(path = "/me", method = "delete", operation_id = "delete_me")]
    async fn delete_me(&self, auth: BearerAuth) -> ApiResult<NoContent, { UNAUTHORIZED }> {
        let caller = auth.0;
        self.users.deactivate(&caller, caller.id()).await?;
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
        /// Items to skip.
        #[oai(default)]
        offset: Query<Offset>,
    ) -> ApiResult<Json<UserPage>, { UNAUTHORIZED | FORBIDDEN | UNPROCESSABLE }> {
        let page = page_request(limit.0, offset.0);
        Ok(Json(self.users.list(&auth.0, page).await?.into()))
    }

    /// One account: the caller's own, or any for administrators.
    #[oai(path = "/:id", method = "get", operation_id = "get_user")]
    async fn get_user(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<User>, { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | UNPROCESSABLE }> {
        Ok(Json(self.users.get(&auth.0, id.0).await?.into()))
    }

    /// Change an account: the caller's own, or any for administrators.
    ///
    /// Only administrators may set `is_active` or `is_admin`. A new password ends the
    /// account's other sessions; deactivation ends all of them.
    #[oai(path = "/:id", method = "patch", operation_id = "update_user")]
    async fn update_user(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: Json<UserUpdate>,
    ) -> ApiResult<Json<User>, { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE }>
    {
        let patch = body.0.try_into()?;
        Ok(Json(self.users.update(&auth.0, id.0, patch).await?.into()))
    }

    /// Deactivate an account (its order history is kept) and end all its sessions.
    #[oai(path = "/:id", method = "delete", operation_id = "delete_user")]
    async fn delete_user(
        &self,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, { UNAUTHORIZED | FORBIDDEN | NOT_FOUND | UNPROCESSABLE }> {
        self.users.deactivate(&auth.0, id.0).await?;
        Ok(NoContent::Done)
    }
}
