//! Signs up, logs in, browses the catalogue and orders the first book.
//!
//! Start a server (`cargo run -p api-server`, with an administrator who has added a few
//! books), then:
//!
//! ```sh
//! cargo run -p bookstore-api-client --example quickstart -- http://localhost:8080
//! ```

use bookstore_api_client::{Client, Error, types};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base_url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://localhost:8080".to_owned());
    let client = Client::new(&base_url);
    println!(
        "bookstore-api-client for contract {}",
        bookstore_api_client::CONTRACT_VERSION
    );

    let email = format!("reader-{}@example.com", std::process::id());
    let password = "correct horse battery".to_owned();
    let signup = client
        .signup()
        // The types of fields with rules check them as the contract states them.
        .body(types::SignupRequest {
            email: email.parse()?,
            password: password.parse()?,
            full_name: "A. Reader".parse()?,
        })
        .send()
        .await;
    match signup {
        Ok(user) => println!("signed up as {} ({})", user.email, user.id),
        // The contract's problem body: match on its stable `code`.
        Err(Error::ErrorResponse(problem)) if problem.code == "email_taken" => {
            println!("{email} already has an account; logging in");
        }
        Err(err) => return Err(err.into()),
    }

    let session = client
        .login()
        .body(types::LoginRequest { email, password })
        .send()
        .await?
        .into_inner();
    println!("logged in; the token expires in {} s", session.expires_in);
    let me = bookstore_api_client::authenticated(&base_url, &session.access_token)?;

    let books = client.list_books().limit(5).send().await?.into_inner();
    println!(
        "{} books in the catalogue, first {}:",
        books.total,
        books.items.len()
    );
    for book in &books.items {
        println!("  {} — {}", book.title, *book.price);
    }

    let Some(book) = books.items.first() else {
        println!("nothing to order yet");
        return Ok(());
    };
    let order = me
        .create_order()
        .body(types::OrderCreate {
            book_id: book.id,
            quantity: std::num::NonZeroU32::new(2).ok_or("2 is not zero")?,
        })
        .send()
        .await?
        .into_inner();
    println!(
        "ordered 2 × {}: total {} ({:?})",
        book.title, *order.total_amount, order.status
    );

    me.logout().send().await?;
    Ok(())
}
