//! Account rules: who is calling, who may see and change which account, passwords and
//! sessions, and the administrator accounts an operator manages.

use chrono::Utc;
use secrecy::SecretString;
use uuid::Uuid;

use super::AccountCache;
use super::model::{Caller, FullName, NewUser, Signup, User, UserChanges, UserPatch};
use super::repository::UserRepository;
use crate::auth::{
    Attempt, ClientAddr, LoginThrottle, PasswordHasher, SessionStore, SessionToken, SignupThrottle,
};
use crate::domain::{Email, Page, PageRequest, Password, Precondition};
use crate::error::AppError;

#[derive(Clone)]
pub struct UserService {
    users: UserRepository,
    /// The accounts `authenticate` reads; emptied by every change of an account.
    accounts: AccountCache,
    sessions: SessionStore,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    signups: SignupThrottle,
}

/// What an operator's command did to an administrator account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOutcome {
    Created,
    /// The account existed: it is now an active administrator with the new password.
    Promoted,
}

impl UserService {
    pub(super) fn new(
        users: UserRepository,
        accounts: AccountCache,
        sessions: SessionStore,
        hasher: PasswordHasher,
        throttle: LoginThrottle,
        signups: SignupThrottle,
    ) -> Self {
        Self {
            users,
            accounts,
            sessions,
            hasher,
            throttle,
            signups,
        }
    }

    /// How long a new session lives.
    pub fn session_ttl(&self) -> std::time::Duration {
        self.sessions.ttl()
    }

    /// The caller behind `token`: 401 unless the session is live, its account exists and
    /// is active, and the session began after the account's sessions were last revoked.
    /// Fails closed: if the store cannot be asked, the answer is 503, never
    /// "authenticated".
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AppError> {
        let session = self
            .sessions
            .lookup(token)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let account = self
            .accounts
            .read_through(session.user_id, || self.users.find(session.user_id))
            .await?
            .filter(|user| user.accepts_session(session.started))
            .ok_or(AppError::Unauthenticated)?;
        Ok(Caller { session, account })
    }

    /// Creates a customer's account; at most `SIGNUP_MAX_PER_CLIENT` a window from one
    /// client.
    pub async fn signup(&self, signup: Signup, client: ClientAddr) -> Result<User, AppError> {
        self.signups.admit(&client.key()).await?;
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
    /// its password has been proven. Guesses are throttled (see `auth::throttle`).
    pub async fn login(
        &self,
        email: &str,
        password: SecretString,
        client: ClientAddr,
    ) -> Result<(SessionToken, User), AppError> {
        // An address that would not pass as new can still be an account's: it is looked
        // up as it is normalised, and simply not found if no account has it.
        let email = Email::normalize(email);
        let admission = self
            .throttle
            .admit(Attempt::new(&email, &client.key()))
            .await?;
        // Text no database can hold (a NUL byte, say) is no account's.
        let user = if email.chars().any(char::is_control) {
            None
        } else {
            self.users.find_by_email(&email).await?
        };
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let verified = self.hasher.verify(password, hash).await?;
        let Some(user) = user.filter(|_| verified) else {
            self.throttle.failed(admission).await?;
            return Err(AppError::Unauthenticated);
        };
        self.throttle.succeeded(admission).await?;
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
        self.sessions.revoke(&caller.session).await
    }

    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<User, AppError> {
        authorize(caller, id)?;
        if id == caller.id() {
            // The account that authenticated this request.
            return Ok(caller.account.clone());
        }
        self.users.find(id).await?.ok_or(AppError::NotFound("user"))
    }

    pub async fn list(&self, caller: &Caller, page: PageRequest) -> Result<Page<User>, AppError> {
        caller.require_admin()?;
        self.users.list(page).await
    }

    /// Changes an account (if it meets `expected`). Changing one's own e-mail or password
    /// takes the current password, checked (and throttled) as a login is. A new password
    /// or a demotion ends the account's other sessions, a deactivation all of them.
    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: UserPatch,
        client: ClientAddr,
        expected: Precondition<User>,
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
        // Checked again with the write; checked now too, so that a stale request spends
        // no password check (nor a throttle place) before it is refused.
        if !expected.holds(&target) {
            return Err(AppError::PreconditionFailed);
        }

        let own = caller.id() == id;
        if own && (patch.password.is_some() || patch.email.is_some()) {
            let Some(current) = patch.current_password else {
                return Err(AppError::forbidden(
                    "current_password_required",
                    "Changing your own e-mail or password needs current_password.",
                ));
            };
            self.check_current_password(&target, current, client)
                .await?;
        }
        let password_hash = match &patch.password {
            Some(password) => Some(self.hasher.hash(password).await?),
            None => None,
        };
        // A demotion ends the sessions too: other servers may hold the account, still an
        // administrator, in their account caches for a moment, while ended sessions are
        // refused everywhere at once.
        let demoted = patch.is_admin == Some(false) && target.is_admin;
        let ends_sessions = patch.password.is_some() || patch.is_active == Some(false) || demoted;
        let changes = UserChanges {
            email: patch.email,
            full_name: patch.full_name,
            password_hash,
            is_active: patch.is_active,
            is_admin: patch.is_admin,
            sessions_valid_after: ends_sessions.then(Utc::now),
        };
        let updated = self
            .change(id, changes, &expected)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        if ends_sessions {
            // The caller keeps the session they changed their own account with.
            let keep = (own && updated.is_active).then_some(&caller.session);
            self.end_sessions(id, keep).await;
        }
        Ok(updated)
    }

    /// Deactivates an account (its orders stay), if it meets `expected`, and ends all its
    /// sessions.
    pub async fn deactivate(
        &self,
        caller: &Caller,
        id: Uuid,
        expected: Precondition<User>,
    ) -> Result<(), AppError> {
        authorize(caller, id)?;
        let changes = UserChanges {
            is_active: Some(false),
            sessions_valid_after: Some(Utc::now()),
            ..UserChanges::default()
        };
        self.change(id, changes, &expected)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        self.end_sessions(id, None).await;
        Ok(())
    }

    /// Creates the administrator configured for start-up unless an account has that
    /// e-mail already; start-up never changes an existing account. Returns the account,
    /// and whether it was created.
    pub async fn bootstrap_admin(
        &self,
        email: &str,
        password: Password,
    ) -> anyhow::Result<(User, bool)> {
        let email = Email::parse(email).map_err(|why| anyhow::anyhow!("ADMIN_EMAIL {why}"))?;
        if let Some(existing) = self.users.find_by_email(email.as_str()).await? {
            return Ok((existing, false));
        }
        let user = NewUser {
            email: email.clone(),
            full_name: administrator_name()?,
            password_hash: self.hasher.hash(&password).await?,
            is_admin: true,
        };
        if let Some(created) = self.users.insert_if_absent(user).await? {
            return Ok((created, true));
        }
        // Another replica created it meanwhile.
        let existing = self
            .users
            .find_by_email(email.as_str())
            .await?
            .ok_or_else(|| anyhow::anyhow!("the account {email} vanished during start-up"))?;
        Ok((existing, false))
    }

    /// An operator's command: makes the account of `email` an active administrator with
    /// `password`, creating it if there is none, and ends its sessions.
    pub async fn create_admin(
        &self,
        email: &Email,
        password: &Password,
    ) -> anyhow::Result<AdminOutcome> {
        let password_hash = self.hasher.hash(password).await?;
        let Some(existing) = self.users.find_by_email(email.as_str()).await? else {
            let user = NewUser {
                email: email.clone(),
                full_name: administrator_name()?,
                password_hash,
                is_admin: true,
            };
            self.users.insert(user).await?;
            return Ok(AdminOutcome::Created);
        };
        let changes = UserChanges {
            password_hash: Some(password_hash),
            is_active: Some(true),
            is_admin: Some(true),
            sessions_valid_after: Some(Utc::now()),
            ..UserChanges::default()
        };
        self.change(existing.id, changes, &Precondition::none())
            .await?;
        self.end_sessions(existing.id, None).await;
        Ok(AdminOutcome::Promoted)
    }

    /// An operator's command: gives the account of `email` a new password and ends its
    /// sessions.
    pub async fn reset_password(&self, email: &Email, password: &Password) -> anyhow::Result<()> {
        let existing = self
            .users
            .find_by_email(email.as_str())
            .await?
            .ok_or_else(|| anyhow::anyhow!("no account has the e-mail {email}"))?;
        let changes = UserChanges {
            password_hash: Some(self.hasher.hash(password).await?),
            sessions_valid_after: Some(Utc::now()),
            ..UserChanges::default()
        };
        self.change(existing.id, changes, &Precondition::none())
            .await?;
        self.end_sessions(existing.id, None).await;
        Ok(())
    }

    /// Changes account `id` if it meets `expected`, and forgets the accounts kept for
    /// authentication (the change's notification empties other servers' caches).
    async fn change(
        &self,
        id: Uuid,
        changes: UserChanges,
        expected: &Precondition<User>,
    ) -> Result<Option<User>, AppError> {
        let changed = self.users.update(id, changes, expected).await;
        self.accounts.after_write(&changed);
        changed
    }

    /// Checks the current password given with a change to one's own account, throttled
    /// as a login: 403 when it is wrong, 429 past the limits.
    async fn check_current_password(
        &self,
        account: &User,
        current: SecretString,
        client: ClientAddr,
    ) -> Result<(), AppError> {
        let admission = self
            .throttle
            .admit(Attempt::new(&account.email, &client.key()))
            .await?;
        let hash = Some(account.password_hash.clone());
        if self.hasher.verify(current, hash).await? {
            self.throttle.succeeded(admission).await
        } else {
            self.throttle.failed(admission).await?;
            Err(AppError::forbidden(
                "current_password_mismatch",
                "The current password is wrong.",
            ))
        }
    }

    /// Removes the account's sessions from the store, but `keep`, which is renewed so
    /// that it outlives the account's new `sessions_valid_after`. The account's row has
    /// already refused them all: if the store cannot be reached, this is logged and the
    /// change stands.
    async fn end_sessions(&self, user_id: Uuid, keep: Option<&crate::auth::Session>) {
        if let Some(session) = keep
            && let Err(err) = self.sessions.renew(session).await
        {
            tracing::warn!(error = %err, "the session the change was made with ended too");
        }
        let keep = keep.map(|session| session.digest.as_str());
        if let Err(err) = self.sessions.revoke_all(user_id, keep).await {
            tracing::warn!(
                error = %err,
                "ended sessions stay in the session store until they expire; the account refuses them"
            );
        }
    }
}

/// The name an administrator's account is created with.
fn administrator_name() -> anyhow::Result<FullName> {
    FullName::parse("Administrator").map_err(anyhow::Error::msg)
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
