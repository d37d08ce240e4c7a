//! Sign-up, login, logout and profiles.

use bookstore_tests::api_client::types;
use bookstore_tests::{PASSWORD, TestApp, assert_problem};

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
            email: "BOB@example.com".into(),
            password: PASSWORD.into(),
            full_name: "Bob".into(),
        })
        .send()
        .await;

    assert_problem(again, 409, "email_taken");
}
