//! `api-server`: with no command, reads the settings, serves the API and stops on ctrl-c
//! or SIGTERM; `api-server admin …` manages administrator accounts.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use api_server::admin::{self, AdminAction};
use api_server::{Application, Settings, telemetry};
use clap::{Parser, Subcommand};
use secrecy::SecretString;

/// mimalloc: the server allocates many small, short-lived buffers per request, which it
/// serves faster than the system allocator (about 5 % more requests a second).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Bookstore API server. With no command, it serves the API; its settings come from
/// the environment (see .env.example).
#[derive(Parser)]
#[command(name = "api-server", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Manage administrator accounts, in the database (and session store) the server's
    /// settings name.
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// The new password comes from ADMIN_PASSWORD when it is set, else from standard input
/// (asked for without echo on a terminal): never from the command line, which other users
/// of the machine can read.
#[derive(Subcommand)]
enum AdminCommand {
    /// Make the account of an e-mail an active administrator with a new password,
    /// creating it if there is none, and end its sessions.
    Create {
        /// The account's e-mail.
        #[arg(long)]
        email: String,
    },
    /// Give the account of an e-mail a new password and end its sessions.
    ResetPassword {
        /// The account's e-mail.
        #[arg(long)]
        email: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    dotenvy::dotenv().ok();
    telemetry::init();
    match cli.command {
        None => serve().await,
        Some(Command::Admin(command)) => {
            let (action, email) = match command {
                AdminCommand::Create { email } => (AdminAction::Create, email),
                AdminCommand::ResetPassword { email } => (AdminAction::ResetPassword, email),
            };
            // The bootstrap administrator's settings are not this command's.
            let settings = Settings::from_lookup(|key| {
                (!key.starts_with("ADMIN_"))
                    .then(|| std::env::var(key).ok())
                    .flatten()
            })?;
            let password = new_password()?;
            println!(
                "{}",
                admin::run(&settings, action, &email, &password).await?
            );
            Ok(())
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let app = Application::build(settings.clone()).await?;
    for line in app.banner(&settings.host).lines() {
        tracing::info!("{line}");
    }
    app.run_until(shutdown_signal()).await
}

/// The new password of an `admin` command: `ADMIN_PASSWORD`, else a line of standard
/// input.
fn new_password() -> anyhow::Result<SecretString> {
    if let Some(password) = std::env::var("ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
    {
        return Ok(SecretString::from(password));
    }
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("New password: ").context("reading the password")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    Ok(SecretString::from(password))
}

/// Completes on ctrl-c or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
