//! The bearer security scheme of every protected operation. The token is checked once,
//! before the handler runs, against the session store and the account it belongs to; the
//! handler receives the [`Caller`].

use std::sync::Arc;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

use super::model::Caller;
use super::service::UserService;
use crate::error::AppError;
use crate::http::ApiError;
use crate::http::problem::UNAUTHORIZED;

/// An opaque session token obtained from `POST /api/v1/users/login`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", rename = "bearerAuth", checker = "authenticate")]
pub struct BearerAuth(pub Caller);

/// The caller behind the token: 401 for a token that is unknown, expired or revoked, or
/// whose account is gone or deactivated; 503 when the session store cannot be asked.
async fn authenticate(req: &Request, bearer: Bearer) -> poem::Result<Caller> {
    let Some(users) = req.data::<Arc<UserService>>() else {
        let missing = anyhow::anyhow!("the user service is not attached to the request");
        return Err(ApiError::<UNAUTHORIZED>(AppError::internal(missing)).into());
    };
    users
        .authenticate(&bearer.token)
        .await
        .map_err(|err| ApiError::<UNAUTHORIZED>(err).into())
}
