//! Security: the administrator bootstrap and its commands, throttling of password guesses
//! and sign-ups behind proxies, the users row as the authority over sessions, the last
//! administrator, e-mail look-alikes, TLS to PostgreSQL and Redis, and the server's own
//! limits (password-hashing queue, statement timeout, header timeout, connections).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use api_server::settings::AdminBootstrap;
use api_server::{Application, Settings};
use bookstore_tests::api_client::{Client, types};
use bookstore_tests::topology::{Ca, TlsPostgres, TlsRedis, Tool, available};
use bookstore_tests::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Backend, PASSWORD, TestApp, assert_problem, field_errors, problem,
    valid,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

fn unique_email() -> String {
    format!("reader-{}@example.com", Uuid::new_v4().simple())
}

fn update(password: Option<&str>, current: Option<&str>) -> types::UserUpdate {
    types::UserUpdate {
        password: password.map(valid),
        current_password: current.map(str::to_owned),
        ..types::UserUpdate::default()
    }
}

/// A server whose requests from 127.0.0.1 are trusted to name their client in
/// `X-Forwarded-For`, as behind a load balancer, with `overrides`.
async fn behind_a_proxy(overrides: &'static [(&'static str, &'static str)]) -> TestApp {
    TestApp::spawn_with(|key| {
        if key == "TRUSTED_PROXIES" {
            return Some("127.0.0.1/32".to_owned());
        }
        overrides
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
    })
    .await
}

// ----------------------------------------------------------------------------------------
// 1. The administrator bootstrap changes no existing account; operators use commands.
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn an_account_signed_up_with_the_admin_email_is_not_promoted_by_a_restart() {
    let app = TestApp::spawn().await;
    let squatter = "boss@example.com";
    app.signup(squatter, PASSWORD).await;
    let (squatter_client, _) = app.login(squatter, PASSWORD).await;
    let squatter_token = squatter_client.get_me().send().await.unwrap().into_inner();

    let app = app
        .restart_with(|settings| {
            settings.admin = Some(AdminBootstrap {
                email: squatter.to_owned(),
                password: SecretString::from("the operator's passphrase"),
            });
        })
        .await;

    let (client, session) = app.login(squatter, PASSWORD).await;
    assert!(
        !session.user.is_admin,
        "start-up promoted an existing account"
    );
    assert_eq!(client.get_me().send().await.unwrap().id, squatter_token.id);
    let operators = app
        .client
        .log_in(squatter, "the operator's passphrase")
        .await;
    assert_problem(operators.map(|(_, s)| s), 401, "unauthorized");
}

#[tokio::test]
async fn a_restart_keeps_the_admins_new_password_and_deactivation() {
    let app = TestApp::spawn().await;
    let (admin, session) = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let changed = admin
        .update_me()
        .body(update(Some("a brand new passphrase"), Some(ADMIN_PASSWORD)))
        .send()
        .await;
    assert!(changed.is_ok(), "{changed:?}");
    // A second administrator deactivates the first.
    let (deputy, deputy_user) = app.customer().await;
    let promoted = admin
        .update_user()
        .id(deputy_user.id)
        .body(types::UserUpdate {
            is_admin: Some(true),
            ..Default::default()
        })
        .send()
        .await;
    assert!(promoted.is_ok(), "{promoted:?}");
    let deactivated = deputy.delete_user().id(session.user.id).send().await;
    assert!(deactivated.is_ok(), "{deactivated:?}");

    let app = app.restart().await;

    let old_password = app.client.log_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_problem(old_password.map(|(_, s)| s), 401, "unauthorized");
    let new_password = app
        .client
        .log_in(ADMIN_EMAIL, "a brand new passphrase")
        .await;
    assert_problem(new_password.map(|(_, s)| s), 403, "account_inactive");
}

/// Runs `api-server admin <args>` against the database and session store of `app`, with
/// the password on standard input; its exit status, standard output and error.
async fn admin_command(app: &TestApp, args: &[&str], password: &str) -> (bool, String, String) {
    let settings = app.settings();
    let mut command = tokio::process::Command::new(bookstore_tests::process::api_server_bin());
    command
        .env_clear()
        .current_dir(std::env::temp_dir())
        .arg("admin")
        .args(args)
        .env(
            "DATABASE_URL",
            settings
                .database_url
                .as_ref()
                .map(|url| url.expose_secret().to_owned())
                .unwrap_or_default(),
        )
        .env("REDIS_KEY_PREFIX", &settings.redis_key_prefix)
        .env("BCRYPT_COST", "4")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(redis) = &settings.redis_url {
        command.env("REDIS_URL", redis.expose_secret());
    }
    // An operator runs the commands with the deployment's settings: through PgBouncer too.
    if let Some(url) = &settings.database_migration_url {
        command.env("DATABASE_MIGRATION_URL", url.expose_secret());
    }
    if settings.database_query_mode == api_server::settings::QueryMode::Simple {
        command.env("DATABASE_QUERY_MODE", "simple");
    }
    let nodes: Vec<&str> = settings
        .redis_cluster_nodes
        .iter()
        .map(|node| node.expose_secret())
        .collect();
    if !nodes.is_empty() {
        command.env("REDIS_CLUSTER_NODES", nodes.join(","));
    }
    let mut child = command.spawn().expect("api-server runs");
    let mut stdin = child.stdin.take().expect("a standard input");
    stdin
        .write_all(format!("{password}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.expect("api-server ends");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn admin_create_promotes_an_account_with_a_new_password_and_ends_its_sessions() {
    let app = TestApp::spawn().await;
    let (old_client, user) = app.customer().await;
    // The same command on a fresh e-mail creates the account.
    let fresh = unique_email();

    let (promoted, out, err) = admin_command(
        &app,
        &["create", "--email", &user.email],
        "an operator's passphrase",
    )
    .await;
    let (created, out2, err2) =
        admin_command(&app, &["create", "--email", &fresh], "another passphrase").await;

    assert!(promoted, "{out}{err}");
    assert!(created, "{out2}{err2}");
    assert!(!out.contains("passphrase") && !err.contains("passphrase"));
    assert_problem(old_client.get_me().send().await, 401, "unauthorized");
    let (_, session) = app.login(&user.email, "an operator's passphrase").await;
    assert!(session.user.is_admin && session.user.is_active);
    let (_, session) = app.login(&fresh, "another passphrase").await;
    assert!(session.user.is_admin);
}

#[tokio::test]
async fn admin_reset_password_replaces_the_password_and_ends_the_sessions() {
    let app = TestApp::spawn().await;
    let (old_client, user) = app.customer().await;

    let (ok, out, err) = admin_command(
        &app,
        &["reset-password", "--email", &user.email],
        "a reset passphrase",
    )
    .await;
    let (unknown, _, unknown_err) = admin_command(
        &app,
        &["reset-password", "--email", "nobody@example.com"],
        "a reset passphrase",
    )
    .await;

    assert!(ok, "{out}{err}");
    assert!(!unknown, "an unknown account is an error");
    assert!(unknown_err.contains("nobody@example.com"), "{unknown_err}");
    assert_problem(old_client.get_me().send().await, 401, "unauthorized");
    let old = app.client.log_in(&user.email, PASSWORD).await;
    assert_problem(old.map(|(_, s)| s), 401, "unauthorized");
    let (_, session) = app.login(&user.email, "a reset passphrase").await;
    assert!(
        !session.user.is_admin,
        "resetting a password promotes nobody"
    );
}

// ----------------------------------------------------------------------------------------
// 2. Login throttling that cannot lock people out.
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn failures_from_one_client_do_not_refuse_the_right_password_from_another() {
    let app = behind_a_proxy(&[]).await;
    let (_, user) = app.customer().await;
    for _ in 0..5 {
        let wrong = app
            .login_from("198.51.100.1", &user.email, "wrong password")
            .await;
        assert_problem(wrong, 401, "unauthorized");
    }

    let attacker = app.login_from("198.51.100.1", &user.email, PASSWORD).await;
    let owner = app.login_from("203.0.113.7", &user.email, PASSWORD).await;

    assert_problem(attacker, 429, "too_many_requests");
    assert!(owner.is_ok(), "the owner was refused: {owner:?}");
}

#[tokio::test]
async fn a_client_that_is_not_a_trusted_proxy_cannot_choose_its_address() {
    let app = TestApp::spawn().await;
    let (_, user) = app.customer().await;
    for n in 0..5 {
        let ip = format!("198.51.100.{n}");
        let wrong = app.login_from(&ip, &user.email, "wrong password").await;
        assert_problem(wrong, 401, "unauthorized");
    }

    let next = app.login_from("192.0.2.99", &user.email, PASSWORD).await;

    assert_problem(next, 429, "too_many_requests");
}

#[tokio::test]
async fn concurrent_wrong_guesses_take_at_most_the_allowed_places() {
    let app = TestApp::spawn().await;
    let (_, user) = app.customer().await;

    let guesses = (0..50).map(|_| app.client.log_in(&user.email, "wrong password"));
    let answers = futures::future::join_all(guesses).await;

    let statuses: Vec<u16> = answers
        .into_iter()
        .map(|answer| problem(answer.map(|(_, s)| s)).status as u16)
        .collect();
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        unauthorized <= 5,
        "{unauthorized} guesses were checked: {statuses:?}"
    );
    assert_eq!(unauthorized + throttled, 50, "{statuses:?}");
}

#[tokio::test]
async fn a_wrong_current_password_counts_as_a_failed_login() {
    let app = TestApp::spawn().await;
    let (client, user) = app.customer().await;
    for _ in 0..5 {
        let wrong = client
            .update_me()
            .body(update(Some("a new passphrase"), Some("not the password")))
            .send()
            .await;
        assert_problem(wrong, 403, "current_password_mismatch");
    }

    let sixth = client
        .update_me()
        .body(update(Some("a new passphrase"), Some(PASSWORD)))
        .send()
        .await;
    let login = app.client.log_in(&user.email, PASSWORD).await;

    assert_problem(sixth, 429, "too_many_requests");
    assert_problem(login.map(|(_, s)| s), 429, "too_many_requests");
}

#[tokio::test]
async fn changing_ones_own_email_takes_the_current_password_but_an_admins_change_does_not() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (client, user) = app.customer().await;
    let email = |e: &str, current: Option<&str>| types::UserUpdate {
        email: Some(valid(e)),
        current_password: current.map(str::to_owned),
        ..Default::default()
    };

    let missing = client
        .update_me()
        .body(email(&unique_email(), None))
        .send()
        .await;
    let wrong = client
        .update_me()
        .body(email(&unique_email(), Some("not the password")))
        .send()
        .await;
    let by_admin = admin
        .update_user()
        .id(user.id)
        .body(email(&unique_email(), None))
        .send()
        .await;

    assert_problem(missing, 403, "current_password_required");
    assert_problem(wrong, 403, "current_password_mismatch");
    assert!(by_admin.is_ok(), "{by_admin:?}");
}

#[tokio::test]
async fn sign_ups_are_throttled_per_client() {
    let app = behind_a_proxy(&[("SIGNUP_MAX_PER_CLIENT", "3")]).await;
    let signup = |ip: &'static str| {
        let client = app.client_from(ip);
        async move {
            client
                .signup()
                .body(types::SignupRequest {
                    email: valid(&unique_email()),
                    password: valid(PASSWORD),
                    full_name: valid("Mass Sign-up"),
                })
                .send()
                .await
        }
    };
    for _ in 0..3 {
        assert!(signup("198.51.100.1").await.is_ok());
    }

    let fourth = signup("198.51.100.1").await;
    let elsewhere = signup("203.0.113.7").await;

    assert_problem(fourth, 429, "too_many_requests");
    assert!(elsewhere.is_ok(), "{elsewhere:?}");
}

#[tokio::test]
async fn twenty_simultaneous_logins_from_one_address_are_all_served_with_the_defaults() {
    let app = TestApp::spawn_with(|key| (key == "BCRYPT_COST").then(|| "10".to_owned())).await;
    let mut emails = Vec::new();
    for _ in 0..20 {
        let email = unique_email();
        app.signup(&email, PASSWORD).await;
        emails.push(email);
    }

    let logins = emails
        .iter()
        .map(|email| app.client.log_in(email, PASSWORD));
    let answers = futures::future::join_all(logins).await;

    for answer in answers {
        assert!(answer.is_ok(), "{answer:?}");
    }
}

#[tokio::test]
async fn password_checks_past_the_queue_are_refused_not_left_waiting() {
    let app = TestApp::spawn_with(|key| match key {
        "BCRYPT_COST" => Some("10".to_owned()),
        "BCRYPT_WORKERS" => Some("1".to_owned()),
        "BCRYPT_QUEUE" => Some("2".to_owned()),
        "LOGIN_MAX_FAILURES" | "LOGIN_MAX_FAILURES_PER_CLIENT" => Some("0".to_owned()),
        _ => None,
    })
    .await;
    let (_, user) = app.customer().await;

    let logins = (0..12).map(|_| async {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/users/login", app.base_url))
            .json(&serde_json::json!({"email": user.email, "password": PASSWORD}))
            .send()
            .await
            .expect("an answer");
        let status = resp.status().as_u16();
        let retry_after = resp.headers().contains_key("retry-after");
        let body: serde_json::Value = resp.json().await.expect("a JSON body");
        (status, retry_after, body)
    });
    let answers = futures::future::join_all(logins).await;

    let busy: Vec<_> = answers
        .iter()
        .filter(|(status, ..)| *status == 503)
        .collect();
    assert!(!busy.is_empty(), "no login was refused: {answers:?}");
    assert!(
        answers
            .iter()
            .all(|(status, ..)| *status == 200 || *status == 503),
        "{answers:?}"
    );
    for (_, retry_after, body) in busy {
        assert!(retry_after, "a 503 without Retry-After");
        assert_eq!(body["code"], "overloaded", "{body}");
    }
}

// ----------------------------------------------------------------------------------------
// 5. The users row decides which sessions live; the session index stays bounded.
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn a_password_change_ends_old_sessions_even_if_the_store_still_has_them() {
    let app = TestApp::spawn().await;
    // It writes the store itself: one Redis server, not the in-process store or a cluster.
    if app.settings().redis_url.is_none() || !app.settings().redis_cluster_nodes.is_empty() {
        return;
    }
    let (_, user) = app.customer().await;
    let (keeper, _) = app.login(&user.email, PASSWORD).await;
    let (_, other) = app.login(&user.email, PASSWORD).await;
    let settings = app.settings();
    let redis_url = settings
        .redis_url
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();
    let mut redis = redis::Client::open(redis_url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // What the store holds of the other session, to put back as if revoking had failed.
    let digest = sha256_hex(&other.access_token);
    let key = format!(
        "{}:session:{{{}}}:{digest}",
        settings.redis_key_prefix, user.id
    );
    let value: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();

    let changed = keeper
        .update_me()
        .body(update(Some("a new passphrase"), Some(PASSWORD)))
        .send()
        .await;
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(&value)
        .arg("EX")
        .arg(600)
        .query_async(&mut redis)
        .await
        .unwrap();

    assert!(changed.is_ok(), "{changed:?}");
    let revived = app.with_token(&other.access_token).get_me().send().await;
    assert_problem(revived, 401, "unauthorized");
    assert!(
        keeper.get_me().send().await.is_ok(),
        "the changing session ended"
    );
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn past_the_cap_an_accounts_oldest_sessions_end() {
    let app = TestApp::spawn_with(|key| (key == "MAX_SESSIONS_PER_USER").then(|| "3".into())).await;
    let (_, user) = app.customer().await;
    let mut sessions = Vec::new();
    for _ in 0..4 {
        sessions.push(app.login(&user.email, PASSWORD).await.0);
    }

    assert_problem(sessions[0].get_me().send().await, 401, "unauthorized");
    for live in &sessions[1..] {
        assert!(live.get_me().send().await.is_ok());
    }
}

#[tokio::test]
async fn a_demoted_administrator_loses_every_session_but_not_the_account() {
    // Arrange: a customer made an administrator, with two sessions.
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (first, user) = app.customer().await;
    let set_admin = |is_admin| {
        admin
            .update_user()
            .id(user.id)
            .body(types::UserUpdate {
                is_admin: Some(is_admin),
                ..Default::default()
            })
            .send()
    };
    set_admin(true).await.unwrap();
    let (second, _) = app.login(&user.email, PASSWORD).await;
    second.list_users().send().await.expect("an administrator");

    // Act: another administrator demotes them.
    set_admin(false).await.unwrap();

    // Assert: both sessions ended (so no server acts on the old role), the demoter's
    // session stays, and a new login is a customer's.
    assert_problem(first.get_me().send().await, 401, "unauthorized");
    assert_problem(second.get_me().send().await, 401, "unauthorized");
    admin
        .list_users()
        .send()
        .await
        .expect("the demoter's session");
    let (again, _) = app.login(&user.email, PASSWORD).await;
    assert_problem(again.list_users().send().await, 403, "admin_required");
}

#[tokio::test]
async fn a_reactivated_account_does_not_revive_its_old_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (client, user) = app.customer().await;

    admin.delete_user().id(user.id).send().await.unwrap();
    admin
        .update_user()
        .id(user.id)
        .body(types::UserUpdate {
            is_active: Some(true),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();

    assert_problem(client.get_me().send().await, 401, "unauthorized");
    assert!(app.client.log_in(&user.email, PASSWORD).await.is_ok());
}

// ----------------------------------------------------------------------------------------
// 6. There is always an active administrator.
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn the_last_active_administrator_cannot_be_demoted_or_deactivated() {
    let app = TestApp::spawn().await;
    let (admin, session) = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let id = session.user.id;
    let flag = |is_admin: Option<bool>, is_active: Option<bool>| types::UserUpdate {
        is_admin,
        is_active,
        ..Default::default()
    };

    let demote = admin.update_me().body(flag(Some(false), None)).send().await;
    let deactivate = admin
        .update_user()
        .id(id)
        .body(flag(None, Some(false)))
        .send()
        .await;
    let delete_me = admin.delete_me().send().await;
    let delete = admin.delete_user().id(id).send().await;

    assert_problem(demote, 409, "last_admin");
    assert_problem(deactivate, 409, "last_admin");
    assert_problem(delete_me, 409, "last_admin");
    assert_problem(delete, 409, "last_admin");
    let me = admin.get_me().send().await.unwrap().into_inner();
    assert!(me.is_admin && me.is_active);
}

#[tokio::test]
async fn two_administrators_demoting_each_other_at_once_leave_one() {
    let app = TestApp::spawn().await;
    let (first, first_session) = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for _ in 0..5 {
        let (second, second_user) = app.customer().await;
        first
            .update_user()
            .id(second_user.id)
            .body(types::UserUpdate {
                is_admin: Some(true),
                ..Default::default()
            })
            .send()
            .await
            .unwrap();
        let demote = |client: Client, id: Uuid| async move {
            client
                .update_user()
                .id(id)
                .body(types::UserUpdate {
                    is_admin: Some(false),
                    ..Default::default()
                })
                .send()
                .await
        };

        let (a, b) = tokio::join!(
            demote(first.clone(), second_user.id),
            demote(second, first_session.user.id)
        );

        let succeeded = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(succeeded, 1, "{a:?} {b:?}");
        // Whoever is still an administrator goes on as `first`.
        if b.is_ok() {
            return;
        }
    }
}

// ----------------------------------------------------------------------------------------
// 7. E-mail look-alikes and invalid addresses.
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn look_alike_and_malformed_addresses_are_refused() {
    let app = TestApp::spawn().await;
    let app = &app;
    let signup = |email: &str| {
        let body = json!({ "email": email, "password": PASSWORD, "full_name": "Look Alike" });
        async move {
            app.send_json(reqwest::Method::POST, "/api/v1/users/signup", None, &body)
                .await
        }
    };
    assert_eq!(signup("alice@example.com").await.0, 201);
    assert_eq!(
        signup(" ALICE@example.com ").await.0,
        409,
        "case and spaces aside, taken"
    );

    for refused in [
        ".user@example.com",
        "user.@example.com",
        "<script>@example.com",
        "al\u{200B}ice@example.com",
        "alice\u{202E}@example.com",
        // Addresses are ASCII: a full-width form of a taken one is not another address.
        "ＡＬＩＣＥ@example.com",
    ] {
        let (status, problem) = signup(refused).await;
        assert_eq!(status, 422, "{refused:?}");
        let (code, errors) = field_errors(&problem);
        assert_eq!(code, "invalid_request", "{refused:?}");
        assert_eq!(
            errors,
            [(
                "email",
                "must be an e-mail address such as name@example.com"
            )],
            "{refused:?}"
        );
    }
    // Log-in still finds an account by a look-alike form of its address.
    assert!(
        app.client
            .log_in("ＡＬＩＣＥ@EXAMPLE.COM", PASSWORD)
            .await
            .is_ok()
    );
}

// ----------------------------------------------------------------------------------------
// 3. TLS to PostgreSQL and Redis, with a Redis ACL user.
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn the_server_runs_on_tls_postgres_and_tls_redis_with_an_acl_user() {
    // Its own servers, whatever the backend pair: once is enough.
    if Backend::from_env() != Backend::Postgres
        || !available(&[Tool::Openssl, Tool::Postgres, Tool::RedisServer])
    {
        return;
    }
    let (pg, redis) = tokio::join!(TlsPostgres::start(), TlsRedis::start());
    let (pg, redis) = (pg.expect("TLS PostgreSQL"), redis.expect("TLS Redis"));
    let (database, redis_url, ca) = (pg.url(), redis.url(), redis.ca_cert());
    let app = TestApp::spawn_with(move |key| match key {
        "DATABASE_URL" => Some(database.clone()),
        "REDIS_URL" => Some(redis_url.clone()),
        "REDIS_CA_CERT" => Some(ca.display().to_string()),
        _ => None,
    })
    .await;

    let admin = app.admin().await;
    let book = app.book(&admin, "The Left Hand of Darkness", "9.99").await;
    let (customer, _) = app.customer().await;
    let order = customer
        .create_order()
        .body(types::OrderCreate {
            book_id: book.id,
            quantity: 2.try_into().unwrap(),
        })
        .send()
        .await;
    let ready = app.client.ready().send().await;

    assert!(order.is_ok(), "{order:?}");
    assert!(ready.is_ok(), "{ready:?}");
}

/// Starts the server with `overrides` and returns why it did not start.
async fn start_up_error(overrides: Vec<(&'static str, String)>) -> String {
    let settings = Settings::from_lookup(|key| {
        overrides
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .or_else(|| match key {
                "HOST" => Some("127.0.0.1".to_owned()),
                "PORT" => Some("0".to_owned()),
                "BCRYPT_COST" => Some("4".to_owned()),
                _ => None,
            })
    })
    .expect("the settings are valid");
    if std::env::var_os("TEST_LOG").is_some() {
        api_server::telemetry::init();
    }
    match Application::build(settings).await {
        Ok(_) => format!("the server started with {overrides:?}"),
        Err(err) => format!("{err:#}"),
    }
}

#[tokio::test]
async fn a_certificate_that_does_not_verify_stops_start_up_naming_the_setting() {
    if Backend::from_env() != Backend::Postgres
        || !available(&[Tool::Openssl, Tool::Postgres, Tool::RedisServer])
    {
        return;
    }
    let (pg, redis) = tokio::join!(TlsPostgres::start(), TlsRedis::start());
    let (pg, redis) = (pg.expect("TLS PostgreSQL"), redis.expect("TLS Redis"));
    let stranger = Ca::create().await.expect("another CA");
    let stranger = stranger.cert();

    let database = start_up_error(vec![(
        "DATABASE_URL",
        pg.url_with("verify-full", Some(&stranger)),
    )])
    .await;
    let plaintext = start_up_error(vec![("DATABASE_URL", pg.plain_url())]).await;
    let sessions = start_up_error(vec![
        ("DATABASE_URL", pg.url()),
        ("REDIS_URL", redis.url()),
        ("REDIS_CA_CERT", stranger.display().to_string()),
    ])
    .await;

    assert!(database.contains("DATABASE_URL"), "{database}");
    assert!(
        database.to_lowercase().contains("certificate"),
        "{database}"
    );
    assert!(plaintext.contains("DATABASE_URL"), "{plaintext}");
    assert!(sessions.contains("REDIS_URL"), "{sessions}");
    assert!(sessions.contains("certificate"), "{sessions}");
}

// ----------------------------------------------------------------------------------------
// 4. The server's own limits.
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn a_client_trickling_its_headers_is_disconnected_after_the_header_timeout() {
    let app =
        TestApp::spawn_with(|key| (key == "HEADER_READ_TIMEOUT_SECONDS").then(|| "1".to_owned()))
            .await;
    let address = app.base_url.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let started = Instant::now();

    let head = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    let mut closed_after = None;
    for byte in head
        .iter()
        .chain(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter())
    {
        if stream.write_all(&[*byte]).await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => {
                closed_after = Some(started.elapsed());
                break;
            }
            Ok(Ok(n)) => {
                let answer = String::from_utf8_lossy(&buf[..n]);
                assert!(
                    !answer.starts_with("HTTP/1.1 2"),
                    "the server answered a request whose headers never ended: {answer}"
                );
                closed_after = Some(started.elapsed());
                break;
            }
            Err(_) => {}
        }
    }

    let closed_after = closed_after.expect("the server kept the trickling connection open");
    assert!(closed_after < Duration::from_secs(3), "{closed_after:?}");
}

#[tokio::test]
async fn past_the_connection_cap_new_connections_wait() {
    let app = TestApp::spawn_with(|key| (key == "MAX_CONNECTIONS").then(|| "2".to_owned())).await;
    let address = app.base_url.trim_start_matches("http://").to_owned();
    let first = TcpStream::connect(&address).await.unwrap();
    let second = TcpStream::connect(&address).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/health", app.base_url);

    let waiting = tokio::time::timeout(Duration::from_millis(500), http.get(&url).send()).await;
    drop(first);
    let served = tokio::time::timeout(Duration::from_secs(5), http.get(&url).send()).await;

    assert!(
        waiting.is_err(),
        "a third connection was served: {waiting:?}"
    );
    assert!(
        matches!(served, Ok(Ok(ref resp)) if resp.status() == 200),
        "{served:?}"
    );
    drop(second);
}

#[tokio::test]
async fn postgres_stops_a_statement_the_server_gave_up_on() {
    // Behind PgBouncer the statement timeout is the deployment's (see the README).
    if Backend::from_env() != Backend::Postgres || bookstore_tests::through_pgbouncer() {
        return;
    }
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let book = app.book(&admin, "Locked", "1.00").await;
    let database = app
        .settings()
        .database_url
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();
    let mut locker = sqlx::PgConnection::connect(&database).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE books IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();

    let blocked = app.client.get_book().id(book.id).send().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut observer = sqlx::PgConnection::connect(&database).await.unwrap();
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%books%'",
    )
    .fetch_one(&mut observer)
    .await
    .unwrap();

    assert_problem(blocked, 503, "service_unavailable");
    assert_eq!(
        waiting, 0,
        "the abandoned statement still waits in PostgreSQL"
    );
}

// ----------------------------------------------------------------------------------------
// 8. Metrics on their own listener; the client address in the request log.
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_when_it_is_set() {
    let app =
        TestApp::spawn_with(|key| (key == "METRICS_ADDR").then(|| "127.0.0.1:0".to_owned())).await;
    let port = app.metrics_port.expect("a metrics listener");

    let on_api = reqwest::get(format!("{}/metrics", app.base_url))
        .await
        .unwrap();
    let on_own = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();

    assert_eq!(on_api.status(), 404);
    assert_eq!(on_own.status(), 200);
    assert!(
        on_own
            .text()
            .await
            .unwrap()
            .contains("bookstore_build_info")
    );
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_with_an_ipv6_network_counted_as_one() {
    let app = behind_a_proxy(&[]).await;
    let (_, user) = app.customer().await;
    for n in 1..=5 {
        let ip = format!("2001:db8:1:2::{n}");
        let wrong = app.login_from(&ip, &user.email, "wrong password").await;
        assert_problem(wrong, 401, "unauthorized");
    }

    let same_network = app
        .login_from("2001:db8:1:2::99", &user.email, PASSWORD)
        .await;
    let other_network = app
        .login_from("2001:db8:1:3::1", &user.email, PASSWORD)
        .await;

    assert_problem(same_network, 429, "too_many_requests");
    assert!(other_network.is_ok(), "{other_network:?}");
}

// ----------------------------------------------------------------------------------------
// Statements sent as text (DATABASE_QUERY_MODE=simple, for PgBouncer before 1.21).
// ----------------------------------------------------------------------------------------

#[tokio::test]
async fn text_sent_with_its_values_written_in_is_stored_and_matched_exactly() {
    if Backend::from_env() != Backend::Postgres {
        return;
    }
    let app =
        TestApp::spawn_with(|key| (key == "DATABASE_QUERY_MODE").then(|| "simple".into())).await;
    let admin = app.admin().await;
    let tricky = [
        "O'Brien",
        "'; DROP TABLE books; --",
        r"back\slash \' \\' E'\x41'",
        "$$ dollar $tag$ quoting $$",
        "new\nline\ttab\r",
        "ünïcödé ☃ 𝕏 \u{202F}",
        "%_ wildcards_%",
    ];

    for name in tricky {
        let author = app.author(&admin, name).await;
        let fetched = app.client.get_author().id(author.id).send().await.unwrap();
        assert_eq!(fetched.name, name.trim(), "{name:?}");
        let book = app.book_by(&admin, author.id, name, "1.00").await;
        let found = app
            .client
            .list_books()
            .q(name.trim().to_owned())
            .send()
            .await
            .unwrap();
        assert!(found.items.iter().any(|b| b.id == book.id), "{name:?}");
    }
    let authors = app
        .client
        .list_authors()
        .limit(std::num::NonZeroU64::new(100).unwrap())
        .send()
        .await;
    assert!(authors.is_ok(), "{authors:?}");
}
