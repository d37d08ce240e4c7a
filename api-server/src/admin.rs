//! Operator commands on administrator accounts: what `api-server admin …` runs.
//!
//! Start-up only ever creates the administrator of `ADMIN_EMAIL` when no account has that
//! e-mail; these commands are how an operator makes an existing account an administrator
//! or gives one a new password. Both end the account's sessions.

use secrecy::{ExposeSecret, SecretString};

use crate::auth::SessionStore;
use crate::db::Db;
use crate::domain::{Email, Password};
use crate::settings::Settings;
use crate::users::{self, AccountCache, AdminOutcome};

/// What to do to the account of an e-mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    /// Make it an active administrator with the password, creating it if there is none.
    Create,
    /// Give it the password.
    ResetPassword,
}

/// Runs `action` on the account of `email` against the database and session store of
/// `settings`, and says what it did.
pub async fn run(
    settings: &Settings,
    action: AdminAction,
    email: &str,
    password: &SecretString,
) -> anyhow::Result<String> {
    let email = Email::parse(email).map_err(|why| anyhow::anyhow!("--email {why}"))?;
    let password = Password::parse(password.expose_secret().to_owned())
        .map_err(|why| anyhow::anyhow!("the password {why}"))?;
    let db = Db::connect_lazy(settings)?;
    db.migrate().await?;
    let sessions = SessionStore::new(settings)?;
    // A process of its own: the running servers hear of its changes (`crate::cache`).
    let users = users::service(db.clone(), sessions, AccountCache::off(), settings)?;
    let message = match action {
        AdminAction::Create => match users.create_admin(&email, &password).await? {
            AdminOutcome::Created => format!("created the administrator {email}"),
            AdminOutcome::Promoted => format!(
                "{email} is now an active administrator with the new password; its sessions ended"
            ),
        },
        AdminAction::ResetPassword => {
            users.reset_password(&email, &password).await?;
            format!("{email} has the new password; its sessions ended")
        }
    };
    db.close().await;
    Ok(message)
}
