//! Account rules: who is calling, who may see and change which account, passwords and
//! sessions.

use std::net::IpAddr;

use secrecy::ExposeSecret;
use uuid::Uuid;

use super::model::{Caller, FullName, NewUser, Signup, User, UserChanges, UserPatch};
use super::repository::UserRepository;
use crate::auth::{Attempt, LoginThrottle, PasswordHasher, SessionStore, SessionToken};
use crate::domain::{Email, Page, PageRequest, Password};
use crate::error::AppError;
use crate::settings::AdminBootstrap;

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

    /// The caller behind `token`: 401 unless the session is live and its account exists
    /// and is active. Fails closed: if the store cannot be asked, the answer is 503,
    /// never "authenticated".
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AppError> {
        let (user_id, session) = self
            .sessions
            .lookup(token)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let account = self
            .users
            .find(user_id)
            .await?
            .filter(|user| user.is_active)
            .ok_or(AppError::Unauthenticated)?;
        Ok(Caller { session, account })
    }

    pub async fn signup(&self, signup: Signup) -> Result<User, AppError> {
        let user = NewUser {
            email: signup.email,
            full_name: signup.full_name,
            password_hash: self.hasher.hash(&signup.password).await?,
            is_admin: false,
        };
        self.users.insert(user).await
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
    ) -> Result<(SessionToken, User), AppError> {
        let attempt = Attempt::new(email, client);
        self.throttle.admit(&attempt).await?;
        let user = match Email::parse(email) {
            Ok(email) => self.users.find_by_email(&email).await?,
            Err(_) => None,
        };
        let hash = user.as_ref().map(|u| u.password_hash.clone());
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

    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<User, AppError> {
        authorize(caller, id)?;
        if id == caller.id() {
            // Read moments ago, within this request, to authenticate it.
            return Ok(caller.account.clone());
        }
        self.users.find(id).await?.ok_or(AppError::NotFound("user"))
    }

    pub async fn list(&self, caller: &Caller, page: PageRequest) -> Result<Page<User>, AppError> {
        caller.require_admin()?;
        self.users.list(page).await
    }

    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: UserPatch,
    ) -> Result<User, AppError> {
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
        if own && patch.password.is_some() {
            let Some(current) = patch.current_password else {
                return Err(AppError::invalid(
                    "current_password",
                    "is required to change your own password",
                ));
            };
            if !self
                .hasher
                .verify(current, Some(target.password_hash))
                .await?
            {
                return Err(AppError::forbidden(
                    "current_password_mismatch",
                    "The current password is wrong.",
                ));
            }
        }
        let password_hash = match &patch.password {
            Some(password) => Some(self.hasher.hash(password).await?),
            None => None,
        };
        let changes = UserChanges {
            email: patch.email,
            full_name: patch.full_name,
            password_hash,
            is_active: patch.is_active,
            is_admin: patch.is_admin,
        };
        let updated = self
            .users
            .update(id, changes)
            .await?
            .ok_or(AppError::NotFound("user"))?;

        if !updated.is_active {
            self.sessions.revoke_all(id, None).await?;
        } else if patch.password.is_some() {
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
    pub async fn ensure_admin(&self, admin: &AdminBootstrap) -> anyhow::Result<User> {
        let email =
            Email::parse(&admin.email).map_err(|why| anyhow::anyhow!("ADMIN_EMAIL {why}"))?;
        let password = Password::parse(admin.password.expose_secret().to_owned())
            .map_err(|why| anyhow::anyhow!("ADMIN_PASSWORD {why}"))?;
        let user = NewUser {
            email,
            full_name: FullName::parse("Administrator").map_err(anyhow::Error::msg)?,
            password_hash: self.hasher.hash(&password).await?,
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
