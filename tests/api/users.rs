//! Users: sign-up, login, logout, profiles, account administration and sessions.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use bookstore_tests::api_client::{self, ClientInfo, types};
use bookstore_tests::{
    ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, TestApp, assert_problem, field_errors, valid,
};
use reqwest::Method;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::json;
use uuid::Uuid;

type ApiResult<T> = Result<api_client::ResponseValue<T>, api_client::Error<types::Problem>>;

/// A sign-up body with the given fields.
fn signup_body(email: &str, password: &str, full_name: &str) -> types::SignupRequest {
    types::SignupRequest {
        email: valid(email),
        password: valid(password),
        full_name: valid(full_name),
    }
}

/// Signs up with fields the client's types would refuse to send; the status and the answer.
async fn signup_raw(
    app: &TestApp,
    email: &str,
    password: &str,
    full_name: &str,
) -> (u16, serde_json::Value) {
    let body = json!({ "email": email, "password": password, "full_name": full_name });
    app.send_json(Method::POST, "/api/v1/users/signup", None, &body)
        .await
}

/// A unique, valid e-mail address.
fn unique_email() -> String {
    format!("reader-{}@example.com", Uuid::new_v4().simple())
}

/// Attempts a login; unlike `TestApp::login` it does not expect success.
async fn try_login(app: &TestApp, email: &str, password: &str) -> ApiResult<types::LoginResponse> {
    let (_, session) = app.client.log_in(email, password).await?;
    Ok(session)
}

/// The field names a validation problem reports, sorted.
fn fields(problem: &types::Problem) -> Vec<&str> {
    let mut names: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
    names.sort_unstable();
    names
}

/// Asserts that `result` is 401 `unauthorized` with a `WWW-Authenticate: Bearer` challenge
/// and returns its problem.
#[track_caller]
fn assert_unauthorized<T: std::fmt::Debug>(result: ApiResult<T>) -> types::Problem {
    match result {
        Err(api_client::Error::ErrorResponse(resp)) => {
            assert_eq!(resp.status().as_u16(), 401);
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(challenge.as_deref(), Some("Bearer"));
            let problem = resp.into_inner();
            assert_eq!(
                (problem.status, problem.code.as_str()),
                (401, "unauthorized")
            );
            problem
        }
        other => panic!("expected a documented 401, got {other:?}"),
    }
}

/// A change of one's own password from `current` to `new`.
fn password_change(current: Option<&str>, new: &str) -> types::UserUpdate {
    types::UserUpdate {
        password: Some(valid(new)),
        current_password: current.map(str::to_owned),
        ..types::UserUpdate::default()
    }
}

// ---------------------------------------------------------------------------------------
// Sign-up
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn signup_then_login_returns_a_working_token() {
    let app = TestApp::spawn().await;

    let user = app.signup("  Alice@Example.COM ", PASSWORD).await;
    let (client, session) = app.login("alice@example.com", PASSWORD).await;
    let me = client.get_me().send().await.unwrap().into_inner();

    assert_eq!(user.email, "alice@example.com");
    assert!(!user.is_admin && user.is_active);
    assert_eq!(session.token_type, types::TokenType::Bearer);
    assert_eq!(session.expires_in, 30 * 60);
    assert!(session.access_token.len() >= 43);
    assert_eq!(me.id, user.id);
}

#[tokio::test]
async fn signup_with_taken_email_in_other_case_is_a_conflict() {
    let app = TestApp::spawn().await;
    app.signup("bob@example.com", PASSWORD).await;

    let again = app
        .client
        .signup()
        .body(types::SignupRequest {
            email: valid("BOB@example.com"),
            password: valid(PASSWORD),
            full_name: valid("Bob"),
        })
        .send()
        .await;

    assert_problem(again, 409, "email_taken");
}

#[tokio::test]
async fn signup_answers_201_with_the_normalised_account() {
    let app = TestApp::spawn().await;

    let resp = app
        .client
        .signup()
        .body(signup_body(
            " Carol@Example.ORG ",
            PASSWORD,
            "  Carol Shields ",
        ))
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status().as_u16(), 201);
    let user = resp.into_inner();
    assert_eq!(user.email, "carol@example.org");
    assert_eq!(user.full_name, "Carol Shields");
    assert!(user.is_active && !user.is_admin);
}

#[tokio::test]
async fn signup_answer_carries_no_password_field() {
    // The typed client drops unknown fields, so the raw JSON is read through its own
    // HTTP client to see everything the server sends.
    let app = TestApp::spawn().await;
    let url = format!("{}/api/v1/users/signup", app.client.baseurl());

    let resp = app
        .client
        .client()
        .post(url)
        .json(&signup_body(&unique_email(), PASSWORD, "Dora"))
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status().as_u16(), 201);
    let body: serde_json::Value = resp.json().await.unwrap();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "email",
            "full_name",
            "id",
            "is_active",
            "is_admin",
            "updated_at"
        ]
    );
    assert!(!body.to_string().contains(PASSWORD));
}

#[tokio::test]
async fn signup_with_an_invalid_email_names_the_email_field() {
    let app = TestApp::spawn().await;

    for email in [
        "not-an-email",
        "a@b",
        "@example.com",
        "two words@example.com",
        "tab\t@example.com",
        "josé@example.com",
        "",
    ] {
        let (status, problem) = signup_raw(&app, email, PASSWORD, "Eve").await;

        assert_eq!(status, 422, "{email:?}");
        assert_eq!(
            field_errors(&problem),
            (
                "invalid_request",
                vec![(
                    "email",
                    "must be an e-mail address such as name@example.com"
                )]
            ),
            "{email:?}"
        );
    }
}

#[tokio::test]
async fn signup_refuses_passwords_too_short_or_too_long() {
    let app = TestApp::spawn().await;

    for (password, message) in [
        ("a".repeat(7), "must be at least 8 characters long"),
        // Eight bytes, but four characters.
        ("éééé".to_owned(), "must be at least 8 characters long"),
        ("a".repeat(1025), "must be at most 1024 characters long"),
        ("password\0".to_owned(), "must not contain NUL characters"),
    ] {
        let (status, problem) = signup_raw(&app, &unique_email(), &password, "Frank").await;

        assert_eq!(status, 422, "{} characters", password.chars().count());
        assert_eq!(
            field_errors(&problem),
            ("invalid_request", vec![("password", message)])
        );
    }
}

#[tokio::test]
async fn signup_accepts_a_password_of_exactly_72_bytes_of_multibyte_text() {
    let app = TestApp::spawn().await;
    let email = unique_email();
    let password = "€".repeat(24);
    assert_eq!(password.len(), 72);

    let user = app.signup(&email, &password).await;
    let (client, _) = app.login(&email, &password).await;

    assert_eq!(client.get_me().send().await.unwrap().id, user.id);
    // Every byte counts: the same text one character shorter is another password.
    assert_problem(
        try_login(&app, &email, &"€".repeat(23)).await,
        401,
        "unauthorized",
    );
}

#[tokio::test]
async fn every_character_of_a_password_longer_than_bcrypt_reads_counts() {
    let app = TestApp::spawn().await;
    let email = unique_email();
    // 1024 characters, 3072 bytes: far more than the 72 bytes bcrypt reads.
    let password = "€".repeat(1024);

    let user = app.signup(&email, &password).await;
    let (client, _) = app.login(&email, &password).await;

    assert_eq!(client.get_me().send().await.unwrap().id, user.id);
    // The same first 72 bytes, or all but the last character, are other passwords.
    for other in [
        "€".repeat(24),
        "€".repeat(1023),
        format!("{}x", "€".repeat(1023)),
    ] {
        assert_problem(try_login(&app, &email, &other).await, 401, "unauthorized");
    }
}

#[tokio::test]
async fn signup_with_a_blank_full_name_names_the_full_name_field() {
    let app = TestApp::spawn().await;

    for blank in ["   ", "\u{3000}\t"] {
        let (status, problem) = signup_raw(&app, &unique_email(), PASSWORD, blank).await;

        assert_eq!(status, 422);
        assert_eq!(
            field_errors(&problem),
            (
                "invalid_request",
                vec![(
                    "full_name",
                    "must contain a character other than white space, and no NUL character"
                )]
            )
        );
    }
}

#[tokio::test]
async fn signup_reports_every_bad_field_at_once() {
    let app = TestApp::spawn().await;

    let (status, problem) = signup_raw(&app, "nobody", "short", "").await;

    assert_eq!(status, 422);
    let (code, errors) = field_errors(&problem);
    assert_eq!(code, "invalid_request");
    let mut named: Vec<&str> = errors.iter().map(|(field, _)| *field).collect();
    named.sort_unstable();
    assert_eq!(named, ["email", "full_name", "password"]);
}

#[tokio::test]
async fn simultaneous_signups_with_one_email_create_exactly_one_account() {
    let app = TestApp::spawn().await;
    let email = unique_email();

    let attempts = (0..20).map(|i| {
        app.client
            .signup()
            .body(signup_body(&email, PASSWORD, &format!("Twin {i}")))
            .send()
    });
    let results = futures::future::join_all(attempts).await;

    let mut created = 0;
    for result in results {
        match result {
            Ok(resp) => {
                assert_eq!(resp.status().as_u16(), 201);
                created += 1;
            }
            Err(err) => {
                assert_problem::<()>(Err(err), 409, "email_taken");
            }
        }
    }
    assert_eq!(created, 1);
    let users = app.admin().await.list_users().send().await.unwrap();
    assert_eq!(users.items.iter().filter(|u| u.email == email).count(), 1);
}

// ---------------------------------------------------------------------------------------
// Login and logout
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn login_answers_a_bearer_token_for_thirty_minutes_with_the_account() {
    let app = TestApp::spawn().await;
    let email = unique_email();
    let user = app.signup(&email, PASSWORD).await;

    let resp = try_login(&app, &email.to_uppercase(), PASSWORD)
        .await
        .unwrap();

    assert_eq!(resp.status().as_u16(), 200);
    let session = resp.into_inner();
    assert_eq!(session.token_type, types::TokenType::Bearer);
    assert_eq!(session.expires_in, 1800);
    assert_eq!(session.user.id, user.id);
    assert_eq!(session.user.email, email);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_401() {
    let app = TestApp::spawn().await;
    let email = unique_email();
    app.signup(&email, PASSWORD).await;

    let wrong_password = try_login(&app, &email, "not the password").await;
    let unknown_email = try_login(&app, &unique_email(), PASSWORD).await;

    let wrong_password = assert_unauthorized(wrong_password);
    let unknown_email = assert_unauthorized(unknown_email);
    assert_eq!(
        serde_json::to_value(wrong_password).unwrap(),
        serde_json::to_value(unknown_email).unwrap()
    );
}

#[tokio::test]
async fn a_deactivated_account_is_refused_with_403_only_given_the_right_password() {
    let app = TestApp::spawn().await;
    let (client, user) = app.customer().await;
    client.delete_me().send().await.unwrap();

    let right = try_login(&app, &user.email, PASSWORD).await;
    let wrong = try_login(&app, &user.email, "not the password").await;

    assert_problem(right, 403, "account_inactive");
    assert_problem(wrong, 401, "unauthorized");
}

#[tokio::test]
async fn session_lifetime_follows_access_token_expire_minutes() {
    let app =
        TestApp::spawn_with(|key| (key == "ACCESS_TOKEN_EXPIRE_MINUTES").then(|| "1".to_owned()))
            .await;
    let email = unique_email();
    app.signup(&email, PASSWORD).await;

    let (_, session) = app.login(&email, PASSWORD).await;

    assert_eq!(session.expires_in, 60);
}

#[tokio::test]
async fn logout_revokes_its_token_at_once_and_leaves_other_sessions_alone() {
    let app = TestApp::spawn().await;
    let (first, user) = app.customer().await;
    let (second, _) = app.login(&user.email, PASSWORD).await;

    let resp = first.logout().send().await.unwrap();

    assert_eq!(resp.status().as_u16(), 204);
    assert_unauthorized(first.get_me().send().await);
    assert_unauthorized(first.logout().send().await);
    assert_eq!(second.get_me().send().await.unwrap().id, user.id);
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    // The right length and alphabet for a token, but never issued.
    let unknown = format!(
        "{}{}",
        Uuid::new_v4().simple(),
        &Uuid::new_v4().simple().to_string()[..11]
    );

    assert_unauthorized(app.client.get_me().send().await);
    assert_unauthorized(app.with_token(&unknown).get_me().send().await);
    assert_unauthorized(app.with_token("garbage").get_me().send().await);
    assert_unauthorized(app.with_token("").list_users().send().await);
    assert_unauthorized(app.client.logout().send().await);
}

// ---------------------------------------------------------------------------------------
// The caller's own account: /users/me
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn get_me_returns_the_callers_account() {
    let app = TestApp::spawn().await;
    let (client, user) = app.customer().await;

    let me = client.get_me().send().await.unwrap().into_inner();

    assert_eq!(
        (me.id, me.email, me.full_name, me.is_active, me.is_admin),
        (user.id, user.email, user.full_name, true, false)
    );
}

#[tokio::test]
async fn update_me_changes_full_name_and_email() {
    let app = TestApp::spawn().await;
    let (client, user) = app.customer().await;
    let new_email = unique_email();

    let updated = client
        .update_me()
        .body(types::UserUpdate {
            full_name: Some(valid("  Grace Paley ")),
            email: Some(valid(&format!(" {} ", new_email.to_uppercase()))),
            current_password: Some(PASSWORD.into()),
            ..types::UserUpdate::default()
        })
        .send()
        .await
        .unwrap()
        .into_inner();

    assert_eq!(updated.id, user.id);
    assert_eq!(updated.full_name, "Grace Paley");
    assert_eq!(updated.email, new_email);
    assert!(updated.updated_at > user.updated_at);
    assert_eq!(client.get_me().send().await.unwrap().email, new_email);
    app.login(&new_email, PASSWORD).await;
    assert_problem(
        try_login(&app, &user.email, PASSWORD).await,
        401,
        "unauthorized",
    );
}

#[tokio::test]
async fn update_me_to_a_taken_email_is_a_conflict_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (_, other) = app.customer().await;
    let (client, user) = app.customer().await;

    let result = client
        .update_me()
        .body(types::UserUpdate {
            email: Some(valid(&other.email.to_uppercase())),
            full_name: Some(valid("Changed")),
            current_password: Some(PASSWORD.into()),
            ..types::UserUpdate::default()
        })
        .send()
        .await;

    assert_problem(result, 409, "email_taken");
    let me = client.get_me().send().await.unwrap().into_inner();
    assert_eq!((me.email, me.full_name), (user.email, user.full_name));
}

#[tokio::test]
async fn update_me_with_invalid_fields_names_them() {
    let app = TestApp::spawn().await;
    let (_, user) = app.customer().await;
    let (client, session) = app.login(&user.email, PASSWORD).await;

    let (status, problem) = app
        .send_json(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&session.access_token),
            &json!({ "email": "nobody", "full_name": " ", "current_password": PASSWORD }),
        )
        .await;

    assert_eq!(status, 422);
    assert_eq!(
        field_errors(&problem),
        (
            "invalid_request",
            vec![
                (
                    "email",
                    "must be an e-mail address such as name@example.com"
                ),
                (
                    "full_name",
                    "must contain a character other than white space, and no NUL character"
                ),
            ]
        )
    );
    let me = client.get_me().send().await.unwrap().into_inner();
    assert_eq!((me.email, me.full_name), (user.email, user.full_name));
}

#[tokio::test]
async fn delete_me_deactivates_the_account_and_ends_every_session() {
    let app = TestApp::spawn().await;
    let (client, user) = app.customer().await;
    let (other_session, _) = app.login(&user.email, PASSWORD).await;

    let resp = client.delete_me().send().await.unwrap();

    assert_eq!(resp.status().as_u16(), 204);
    assert_unauthorized(client.get_me().send().await);
    assert_unauthorized(other_session.get_me().send().await);
    assert_problem(
        try_login(&app, &user.email, PASSWORD).await,
        403,
        "account_inactive",
    );
    let admin = app.admin().await;
    let stored = admin.get_user().id(user.id).send().await.unwrap();
    assert!(!stored.is_active);
}

// ---------------------------------------------------------------------------------------
// Listing accounts
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn admin_lists_every_account_oldest_first() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let mut expected = vec![app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.1.user.id];
    for _ in 0..3 {
        expected.push(app.signup(&unique_email(), PASSWORD).await.id);
    }

    let resp = admin.list_users().send().await.unwrap();

    assert_eq!(resp.status().as_u16(), 200);
    let page = resp.into_inner();
    assert_eq!((page.total, page.limit, page.offset), (4, 20, 0));
    let ids: Vec<Uuid> = page.items.iter().map(|u| u.id).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn list_users_honours_limit_and_offset() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(app.signup(&unique_email(), PASSWORD).await.id);
    }

    let page = admin
        .list_users()
        .limit(2)
        .offset(2)
        .send()
        .await
        .unwrap()
        .into_inner();
    let tail = admin
        .list_users()
        .offset(4)
        .send()
        .await
        .unwrap()
        .into_inner();

    // Five accounts in all: the administrator first, then the four sign-ups.
    assert_eq!((page.total, page.limit, page.offset), (5, 2, 2));
    let page_ids: Vec<Uuid> = page.items.iter().map(|u| u.id).collect();
    assert_eq!(page_ids, ids[1..3]);
    assert_eq!((tail.total, tail.offset), (5, 4));
    assert_eq!(
        tail.items.iter().map(|u| u.id).collect::<Vec<_>>(),
        [ids[3]]
    );
}

#[tokio::test]
async fn list_users_refuses_a_limit_above_100_and_a_negative_offset() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    let too_many = admin.list_users().limit(101).send().await;
    let negative = admin.list_users().offset(-1).send().await;
    let at_most = admin.list_users().limit(100).send().await.unwrap();

    assert_eq!(
        fields(&assert_problem(too_many, 422, "invalid_request")),
        ["limit"]
    );
    assert_eq!(
        fields(&assert_problem(negative, 422, "invalid_request")),
        ["offset"]
    );
    assert_eq!(at_most.limit, 100);
}

#[tokio::test]
async fn customers_may_not_list_accounts() {
    let app = TestApp::spawn().await;
    let (client, _) = app.customer().await;

    let result = client.list_users().send().await;

    assert_problem(result, 403, "admin_required");
}

// ---------------------------------------------------------------------------------------
// Accounts by id
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn users_may_read_change_and_deactivate_their_own_account_by_id() {
    let app = TestApp::spawn().await;
    let (client, user) = app.customer().await;

    let read = client.get_user().id(user.id).send().await.unwrap();
    let changed = client
        .update_user()
        .id(user.id)
        .body(types::UserUpdate {
            full_name: Some(valid("Ada")),
            ..types::UserUpdate::default()
        })
        .send()
        .await
        .unwrap();
    let deleted = client.delete_user().id(user.id).send().await.unwrap();

    assert_eq!(read.id, user.id);
    assert_eq!(changed.full_name, "Ada");
    assert_eq!(deleted.status().as_u16(), 204);
    assert_unauthorized(client.get_me().send().await);
    assert_problem(
        try_login(&app, &user.email, PASSWORD).await,
        403,
        "account_inactive",
    );
}

#[tokio::test]
async fn users_may_not_read_change_or_deactivate_another_account() {
    let app = TestApp::spawn().await;
    let (_, victim) = app.customer().await;
    let (intruder, _) = app.customer().await;

    let read = intruder.get_user().id(victim.id).send().await;
    let changed = intruder
        .update_user()
        .id(victim.id)
        .body(types::UserUpdate {
            full_name: Some(valid("Owned")),
            ..types::UserUpdate::default()
        })
        .send()
        .await;
    let deleted = intruder.delete_user().id(victim.id).send().await;

    assert_problem(read, 403, "forbidden");
    assert_problem(changed, 403, "forbidden");
    assert_problem(deleted, 403, "forbidden");
    let stored = app
        .admin()
        .await
        .get_user()
        .id(victim.id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (stored.full_name.as_str(), stored.is_active),
        (victim.full_name.as_str(), true)
    );
}

#[tokio::test]
async fn admin_may_read_and_change_any_account() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (client, user) = app.customer().await;
    let new_email = unique_email();

    let read = admin.get_user().id(user.id).send().await.unwrap();
    let changed = admin
        .update_user()
        .id(user.id)
        .body(types::UserUpdate {
            full_name: Some(valid("Renamed")),
            email: Some(valid(&new_email)),
            ..types::UserUpdate::default()
        })
        .send()
        .await
        .unwrap();

    assert_eq!(read.email, user.email);
    assert_eq!(
        (changed.full_name.as_str(), changed.email.as_str()),
        ("Renamed", new_email.as_str())
    );
    // Changing a profile (not the password) leaves the user's sessions alone.
    assert_eq!(client.get_me().send().await.unwrap().email, new_email);
}

#[tokio::test]
async fn admin_changing_an_email_to_a_taken_one_is_a_conflict() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (_, user) = app.customer().await;

    let result = admin
        .update_user()
        .id(user.id)
        .body(types::UserUpdate {
            email: Some(valid(&ADMIN_EMAIL.to_uppercase())),
            ..types::UserUpdate::default()
        })
        .send()
        .await;

    assert_problem(result, 409, "email_taken");
}

#[tokio::test]
async fn admin_acting_on_a_missing_account_gets_404() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let missing = Uuid::now_v7();

    let read = admin.get_user().id(missing).send().await;
    let changed = admin
        .update_user()
        .id(missing)
        .body(types::UserUpdate {
            full_name: Some(valid("Ghost")),
            ..types::UserUpdate::default()
        })
        .send()
        .await;
    let deleted = admin.delete_user().id(missing).send().await;

    assert_problem(read, 404, "not_found");
    assert_problem(changed, 404, "not_found");
    assert_problem(deleted, 404, "not_found");
}

// ---------------------------------------------------------------------------------------
// Privileges: is_admin and is_active
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn customers_may_not_set_is_admin_or_is_active_even_on_themselves() {
    let app = TestApp::spawn().await;
    let (client, user) = app.customer().await;
    let promote = types::UserUpdate {
        is_admin: Some(true),
        full_name: Some(valid("Root")),
        ..types::UserUpdate::default()
    };
    let toggle = types::UserUpdate {
        is_active: Some(true),
        ..types::UserUpdate::default()
    };

    let via_me = client.update_me().body(promote.clone()).send().await;
    let via_id = client.update_user().id(user.id).body(promote).send().await;
    let active = client.update_me().body(toggle).send().await;

    assert_problem(via_me, 403, "admin_required");
    assert_problem(via_id, 403, "admin_required");
    assert_problem(active, 403, "admin_required");
    let me = client.get_me().send().await.unwrap().into_inner();
    assert_eq!(
        (me.is_admin, me.is_active, me.full_name),
        (false, true, user.full_name)
    );
    assert_problem(client.list_users().send().await, 403, "admin_required");
}

#[tokio::test]
async fn admin_may_promote_a_customer_who_then_has_admin_rights() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (client, user) = app.customer().await;

    let promoted = admin
        .update_user()
        .id(user.id)
        .body(types::UserUpdate {
            is_admin: Some(true),
            ..types::UserUpdate::default()
        })
        .send()
        .await
        .unwrap();

    assert!(promoted.is_admin);
    // Rights are read per request, so the existing session has them at once.
    let page = client.list_users().send().await.unwrap();
    assert_eq!(page.total, 2);
}

#[tokio::test]
async fn admin_deactivating_an_account_ends_all_its_sessions_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (first, user) = app.customer().await;
    let (second, _) = app.login(&user.email, PASSWORD).await;

    let deactivated = admin
        .update_user()
        .id(user.id)
        .body(types::UserUpdate {
            is_active: Some(false),
            ..types::UserUpdate::default()
        })
        .send()
        .await
        .unwrap();

    assert!(!deactivated.is_active);
    assert_unauthorized(first.get_me().send().await);
    assert_unauthorized(second.get_me().send().await);
    assert_problem(
        try_login(&app, &user.email, PASSWORD).await,
        403,
        "account_inactive",
    );
}

#[tokio::test]
async fn admin_deleting_an_account_deactivates_it_and_ends_its_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (client, user) = app.customer().await;

    let resp = admin.delete_user().id(user.id).send().await.unwrap();

    assert_eq!(resp.status().as_u16(), 204);
    assert_unauthorized(client.get_me().send().await);
    let stored = admin.get_user().id(user.id).send().await.unwrap();
    assert!(!stored.is_active);
}

#[tokio::test]
async fn admin_may_reactivate_a_deactivated_account() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (client, user) = app.customer().await;
    client.delete_me().send().await.unwrap();

    let reactivated = admin
        .update_user()
        .id(user.id)
        .body(types::UserUpdate {
            is_active: Some(true),
            ..types::UserUpdate::default()
        })
        .send()
        .await
        .unwrap();

    assert!(reactivated.is_active);
    let (client, _) = app.login(&user.email, PASSWORD).await;
    assert_eq!(client.get_me().send().await.unwrap().id, user.id);
}

// ---------------------------------------------------------------------------------------
// Password changes
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn changing_ones_own_password_requires_the_current_one() {
    let app = TestApp::spawn().await;
    let (client, user) = app.customer().await;

    let via_me = client
        .update_me()
        .body(password_change(None, "a brand new password"))
        .send()
        .await;
    let via_id = client
        .update_user()
        .id(user.id)
        .body(password_change(None, "a brand new password"))
        .send()
        .await;

    assert_problem(via_me, 403, "current_password_required");
    assert_problem(via_id, 403, "current_password_required");
    app.login(&user.email, PASSWORD).await;
}

#[tokio::test]
async fn changing_ones_own_password_with_a_wrong_current_one_is_forbidden() {
    let app = TestApp::spawn().await;
    let (client, user) = app.customer().await;
    let (other_session, _) = app.login(&user.email, PASSWORD).await;

    let result = client
        .update_me()
        .body(password_change(
            Some("not the password"),
            "a brand new password",
        ))
        .send()
        .await;

    assert_problem(result, 403, "current_password_mismatch");
    app.login(&user.email, PASSWORD).await;
    assert_eq!(other_session.get_me().send().await.unwrap().id, user.id);
}

#[tokio::test]
async fn an_invalid_new_password_is_refused_naming_the_password_field() {
    let app = TestApp::spawn().await;
    let (_, user) = app.customer().await;
    let (_, session) = app.login(&user.email, PASSWORD).await;

    let (status, problem) = app
        .send_json(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&session.access_token),
            &json!({ "password": "seven77", "current_password": PASSWORD }),
        )
        .await;

    assert_eq!(status, 422);
    assert_eq!(
        field_errors(&problem),
        (
            "invalid_request",
            vec![("password", "must be at least 8 characters long")]
        )
    );
    app.login(&user.email, PASSWORD).await;
}

#[tokio::test]
async fn changing_ones_own_password_keeps_this_session_and_ends_the_others() {
    let app = TestApp::spawn().await;
    let (client, user) = app.customer().await;
    let (other_session, _) = app.login(&user.email, PASSWORD).await;
    let new_password = "a brand new password";

    let resp = client
        .update_me()
        .body(password_change(Some(PASSWORD), new_password))
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(client.get_me().send().await.unwrap().id, user.id);
    assert_unauthorized(other_session.get_me().send().await);
    assert_problem(
        try_login(&app, &user.email, PASSWORD).await,
        401,
        "unauthorized",
    );
    app.login(&user.email, new_password).await;
}

#[tokio::test]
async fn admin_changing_another_users_password_needs_no_current_one_and_ends_all_their_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (first, user) = app.customer().await;
    let (second, _) = app.login(&user.email, PASSWORD).await;
    let new_password = "set by the administrator";

    admin
        .update_user()
        .id(user.id)
        .body(password_change(None, new_password))
        .send()
        .await
        .unwrap();

    assert_unauthorized(first.get_me().send().await);
    assert_unauthorized(second.get_me().send().await);
    assert_problem(
        try_login(&app, &user.email, PASSWORD).await,
        401,
        "unauthorized",
    );
    app.login(&user.email, new_password).await;
    // The administrator's own session is untouched.
    admin.get_me().send().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// Administrator bootstrap
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_bootstrap_administrator_exists_and_may_list_accounts() {
    let app = TestApp::spawn().await;

    let (admin, session) = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = admin.list_users().send().await.unwrap().into_inner();

    assert_eq!(session.user.email, ADMIN_EMAIL);
    assert!(session.user.is_admin && session.user.is_active);
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].id, session.user.id);
}

#[tokio::test]
async fn the_service_answers_health_docs_and_its_spec() {
    let app = TestApp::spawn().await;

    let health = app.client.health().send().await.unwrap().into_inner();
    let http = app.client.client();
    let get = |path: &str| http.get(format!("{}{path}", app.base_url)).send();
    let docs = get("/docs").await.unwrap();
    let json: serde_json::Value = get("/openapi.json").await.unwrap().json().await.unwrap();
    let yaml = get("/openapi.yaml").await.unwrap();

    assert_eq!(health.status, types::HealthStatus::Ok);
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
    assert_eq!(
        json["paths"]["/api/v1/books"]["get"]["operationId"],
        "list_books"
    );
    assert_eq!(yaml.status(), 200);
    assert!(
        yaml.text()
            .await
            .unwrap()
            .contains("operationId: create_order")
    );
}

/// A server whose login throttle allows `max` failures per account and `per_client` per
/// client address within `window_seconds`.
async fn throttled(max: u64, per_client: u64, window_seconds: u64) -> TestApp {
    TestApp::spawn_with(move |key| match key {
        "LOGIN_MAX_FAILURES" => Some(max.to_string()),
        "LOGIN_MAX_FAILURES_PER_CLIENT" => Some(per_client.to_string()),
        "LOGIN_THROTTLE_WINDOW_SECONDS" => Some(window_seconds.to_string()),
        _ => None,
    })
    .await
}

/// Asserts a 429 `too_many_requests` whose `Retry-After` lies within the window.
#[track_caller]
fn assert_throttled<T: std::fmt::Debug>(result: ApiResult<T>, window_seconds: u64) {
    match result {
        Err(api_client::Error::ErrorResponse(resp)) => {
            assert_eq!(resp.status().as_u16(), 429);
            let retry_after: u64 = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .expect("a Retry-After header in seconds");
            assert!((1..=window_seconds).contains(&retry_after), "{retry_after}");
            assert_eq!(resp.into_inner().code, "too_many_requests");
        }
        other => panic!("expected a documented 429, got {other:?}"),
    }
}

#[tokio::test]
async fn repeated_failed_logins_are_refused_even_with_the_right_password() {
    let app = throttled(3, 100, 600).await;
    let user = app.signup("target@example.com", PASSWORD).await;

    for _ in 0..3 {
        assert_unauthorized(try_login(&app, &user.email, "wrong password").await);
    }
    let right = try_login(&app, &user.email, PASSWORD).await;

    assert_throttled(right, 600);
}

#[tokio::test]
async fn a_successful_login_clears_the_accounts_failures() {
    let app = throttled(3, 100, 600).await;
    let user = app.signup("forgetful@example.com", PASSWORD).await;

    for _ in 0..2 {
        assert_unauthorized(try_login(&app, &user.email, "wrong password").await);
    }
    try_login(&app, &user.email, PASSWORD).await.unwrap();
    for _ in 0..2 {
        assert_unauthorized(try_login(&app, &user.email, "wrong password").await);
    }

    try_login(&app, &user.email, PASSWORD).await.unwrap();
}

#[tokio::test]
async fn unknown_emails_are_throttled_exactly_like_wrong_passwords() {
    let app = throttled(2, 100, 600).await;
    app.signup("known@example.com", PASSWORD).await;

    let mut answers = Vec::new();
    for email in ["known@example.com", "nobody@example.com"] {
        let first = assert_unauthorized(try_login(&app, email, "wrong password").await);
        let second = assert_unauthorized(try_login(&app, email, "wrong password").await);
        assert_throttled(try_login(&app, email, "wrong password").await, 600);
        answers.push((first.detail, second.detail));
    }

    assert_eq!(answers[0], answers[1]);
}

#[tokio::test]
async fn failures_from_one_client_are_limited_across_accounts() {
    let app = throttled(100, 3, 600).await;
    let user = app.signup("innocent@example.com", PASSWORD).await;

    for n in 0..3 {
        let email = format!("guess-{n}@example.com");
        assert_unauthorized(try_login(&app, &email, "wrong password").await);
    }

    assert_throttled(try_login(&app, &user.email, PASSWORD).await, 600);
}

#[tokio::test]
async fn the_refusal_ends_when_the_window_passes() {
    let app = throttled(2, 100, 1).await;
    let user = app.signup("patient@example.com", PASSWORD).await;
    for _ in 0..2 {
        assert_unauthorized(try_login(&app, &user.email, "wrong password").await);
    }
    assert_throttled(try_login(&app, &user.email, PASSWORD).await, 1);

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    try_login(&app, &user.email, PASSWORD).await.unwrap();
}

#[tokio::test]
async fn failures_past_half_the_limit_slow_the_next_attempt() {
    let app = throttled(4, 100, 600).await;
    let user = app.signup("slowed@example.com", PASSWORD).await;
    for _ in 0..3 {
        assert_unauthorized(try_login(&app, &user.email, "wrong password").await);
    }

    let started = std::time::Instant::now();
    try_login(&app, &user.email, PASSWORD).await.unwrap();

    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
}
