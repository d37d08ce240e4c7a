//! Account rules: who may see and change which account, passwords and sessions.

use secrecy::ExposeSecret;
use uuid::Uuid;

use super::repository::{NewUser, UserChanges, UserRecord, UserRepository};
use std::net::IpAddr;

use crate::auth::{Attempt, Caller, LoginThrottle, PasswordHasher, SessionStore, SessionToken};
use crate::db::DbError;
use crate::domain::{Email, Page, PageRequest, Password, text};
use crate::error::{AppError, Violations};
use crate::settings::AdminBootstrap;

const MAX_NAME_CHARS: usize = 200;

/// A sign-up as received, not yet validated.
pub struct Signup {
    pub email: String,
    pub password: String,
    pub full_name: String,
}

/// Requested changes to an account, not yet validated or authorized.
pub struct UserPatch {
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub password: Option<String>,
    pub current_password: Option<String>,
    pub is_active: Option<bool>,
    pub is_admin: Option<bool>,
}

#[derive(Clone)]
pub struct UserService {
    users: UserRepository,
    sessions: SessionStore,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
}

impl UserService {
    pub fn new(
        users: UserRepository,
        sessions: SessionStore,
        hasher: PasswordHasher,
        throttle: LoginThrottle,
    ) -> Self {
        Self {
            users,
            sessions,
            hasher,
            throttle,
        }
    }

    /// How long a new session lives.
    pub fn session_ttl(&self) -> std::time::Duration {
        self.sessions.ttl()
    }

    pub async fn signup(&self, signup: Signup) -> Result<UserRecord, AppError> {
        let mut v = Violations::new();
        let email = v.check("email", Email::parse(&signup.email));
        let password = v.check("password", Password::parse(signup.password));
        let full_name = v.check(
            "full_name",
            text::required(&signup.full_name, MAX_NAME_CHARS),
        );
        let (email, password, full_name) = v.finish(|| Some((email?, password?, full_name?)))?;
        let hashed_password = self.hasher.hash(&password).await?;
        let user = NewUser {
            email,
            full_name,
            hashed_password,
            is_admin: false,
        };
        self.users.insert(user).await.map_err(email_conflict)
    }

    /// Exchanges credentials for a session. Wrong e-mail and wrong password get the same
    /// answer after the same amount of work; a deactivated account is refused only once
    /// its password has been proven.
    ///
    /// Failed attempts are counted per account and per client address: past the limits
    /// of `LoginThrottle` the answer is 429 (even for the right password) until the
    /// window passes.
    pub async fn login(
        &self,
        email: &str,
        password: String,
        client: Option<IpAddr>,
    ) -> Result<(SessionToken, UserRecord), AppError> {
        let attempt = Attempt::new(email, client);
        self.throttle.admit(&attempt).await?;
        let user = match Email::parse(email) {
            Ok(email) => self.users.find_by_email(&email).await?,
            Err(_) => None,
        };
        let hash = user.as_ref().map(|u| u.hashed_password.clone());
        let verified = self.hasher.verify(password, hash).await?;
        let Some(user) = user.filter(|_| verified) else {
            self.throttle.failed(&attempt).await?;
            return Err(AppError::Unauthenticated);
        };
        self.throttle.succeeded(&attempt).await?;
        if !user.is_active {
            return Err(AppError::forbidden(
                "account_inactive",
                "This account is deactivated.",
            ));
        }
        let token = self.sessions.create(user.id).await?;
        Ok((token, user))
    }

    pub async fn logout(&self, caller: &Caller) -> Result<(), AppError> {
        self.sessions.revoke(caller.id(), &caller.session).await
    }

    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<UserRecord, AppError> {
        authorize(caller, id)?;
        if id == caller.id() {
            // Read moments ago, within this request, to authenticate it.
            return Ok(caller.account.clone());
        }
        self.users.find(id).await?.ok_or(AppError::NotFound("user"))
    }

    pub async fn list(
        &self,
        caller: &Caller,
        page: PageRequest,
    ) -> Result<Page<UserRecord>, AppError> {
        caller.require_admin()?;
        Ok(self.users.list(page).await?)
    }

    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: UserPatch,
    ) -> Result<UserRecord, AppError> {
        authorize(caller, id)?;
        if !caller.is_admin() && (patch.is_admin.is_some() || patch.is_active.is_some()) {
            return Err(AppError::forbidden(
                "admin_required",
                "Only administrators may change is_active or is_admin.",
            ));
        }
        let target = self
            .users
            .find(id)
            .await?
            .ok_or(AppError::NotFound("user"))?;

        let own = caller.id() == id;
        let mut v = Violations::new();
        if own && patch.password.is_some() && patch.current_password.is_none() {
            v.push(
                "current_password",
                "is required to change your own password",
            );
        }
        let email = patch.email.and_then(|e| v.check("email", Email::parse(&e)));
        let full_name = patch
            .full_name
            .and_then(|n| v.check("full_name", text::required(&n, MAX_NAME_CHARS)));
        let password = patch
            .password
            .and_then(|p| v.check("password", Password::parse(p)));
        v.into_result()?;

        if let (true, Some(_), Some(current)) = (own, &password, patch.current_password)
            && !self
                .hasher
                .verify(current, Some(target.hashed_password))
                .await?
        {
            return Err(AppError::forbidden(
                "current_password_mismatch",
                "The current password is wrong.",
            ));
        }
        let hashed_password = match &password {
            Some(password) => Some(self.hasher.hash(password).await?),
            None => None,
        };
        let changes = UserChanges {
            email,
            full_name,
            hashed_password,
            is_active: patch.is_active,
            is_admin: patch.is_admin,
        };
        let updated = self
            .users
            .update(id, changes)
            .await
            .map_err(email_conflict)?
            .ok_or(AppError::NotFound("user"))?;

        if !updated.is_active {
            self.sessions.revoke_all(id, None).await?;
        } else if password.is_some() {
            // The caller keeps the session they changed their password with.
            let keep = own.then_some(caller.session.as_str());
            self.sessions.revoke_all(id, keep).await?;
        }
        Ok(updated)
    }

    /// Deactivates an account (its orders stay) and ends all its sessions.
    pub async fn deactivate(&self, caller: &Caller, id: Uuid) -> Result<(), AppError> {
        authorize(caller, id)?;
        let changes = UserChanges {
            is_active: Some(false),
            ..UserChanges::default()
        };
        self.users
            .update(id, changes)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        self.sessions.revoke_all(id, None).await
    }

    /// Makes sure the configured administrator exists, is active and has the configured
    /// password.
    pub async fn ensure_admin(&self, admin: &AdminBootstrap) -> anyhow::Result<UserRecord> {
        let email =
            Email::parse(&admin.email).map_err(|why| anyhow::anyhow!("ADMIN_EMAIL {why}"))?;
        let password = Password::parse(admin.password.expose_secret().to_owned())
            .map_err(|why| anyhow::anyhow!("ADMIN_PASSWORD {why}"))?;
        let user = NewUser {
            email,
            full_name: "Administrator".to_owned(),
            hashed_password: self.hasher.hash(&password).await?,
            is_admin: true,
        };
        Ok(self.users.upsert_admin(user).await?)
    }
}

/// Users may act on their own account; administrators on any.
fn authorize(caller: &Caller, id: Uuid) -> Result<(), AppError> {
    if caller.may_manage(id) {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "forbidden",
            "You may only access your own account.",
        ))
    }
}

fn email_conflict(err: DbError) -> AppError {
    match err {
        DbError::Unique(_) => {
            AppError::conflict("email_taken", "An account with this e-mail already exists.")
        }
        other => other.into(),
    }
}
