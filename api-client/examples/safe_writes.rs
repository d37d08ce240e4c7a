//! Writes that survive a lost answer and a concurrent edit: placing an order with an
//! `Idempotency-Key`, retried until it is answered, and changing a book with `If-Match`,
//! read again and retried when someone else changed it first. The README shows both
//! loops.
//!
//! Start a server with an administrator (`ADMIN_EMAIL=admin@example.com
//! ADMIN_PASSWORD='a long passphrase' cargo run -p api-server`), then:
//!
//! ```sh
//! cargo run -p api-client --example safe_writes -- http://localhost:8080 admin@example.com 'a long passphrase'
//! ```

use std::num::NonZeroU32;
use std::time::Duration;

use bookstore_api_client::{Client, Error, types};
use uuid::Uuid;

/// Places an order, retrying when the answer is lost or the server is briefly unable to
/// answer, and never placing it twice: every attempt carries the same `Idempotency-Key`,
/// so a retry of an order that was placed gets that order back.
async fn place_order(
    client: &Client,
    order: types::OrderCreate,
) -> Result<types::Order, Error<types::Problem>> {
    // One key per order the customer means to place, made before the first attempt.
    let key = Uuid::new_v4().to_string();
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let sent = client
            .create_order()
            .idempotency_key(key.as_str())
            .body(order.clone())
            .send()
            .await;
        match sent {
            // A replay (`bookstore_api_client::replayed(&created)`) is the order that the
            // first attempt placed.
            Ok(created) => return Ok(created.into_inner()),
            Err(err) if attempt < 5 && worth_retrying(&err) => {
                let backoff = Duration::from_millis(100 << attempt);
                let wait =
                    bookstore_api_client::retry_after(&err).map_or(backoff, Duration::from_secs);
                tokio::time::sleep(wait).await;
            }
            Err(err) => return Err(err),
        }
    }
}

/// A timeout or a lost connection (the order may or may not exist: the key finds out),
/// 409 `idempotency_key_in_flight` (the first attempt is still being processed), or a 5xx.
fn worth_retrying<E>(err: &Error<E>) -> bool {
    match err {
        Error::CommunicationError(_) => true,
        _ => err
            .status()
            .is_some_and(|status| status.as_u16() == 409 || status.is_server_error()),
    }
}

/// Appends `suffix` to a book's title without overwriting anyone else's change: the
/// change is sent with the `ETag` of the version it was made from, and when the book
/// changed meanwhile (412) it is read again and the change made anew.
async fn append_to_title(
    admin: &Client,
    book_id: Uuid,
    suffix: &str,
) -> Result<types::Book, Error<types::Problem>> {
    loop {
        let current = admin.get_book().id(book_id).send().await?;
        let etag = bookstore_api_client::etag(&current)
            .unwrap_or("*")
            .to_owned();
        let title = format!("{}{suffix}", current.title.as_str())
            .parse::<types::Title>()
            .map_err(|err| Error::InvalidRequest(err.to_string()))?;
        let change = types::BookUpdate {
            title: Some(title),
            ..Default::default()
        };
        let sent = admin
            .update_book()
            .id(book_id)
            .if_match(etag)
            .body(change)
            .send()
            .await;
        match sent {
            Ok(updated) => return Ok(updated.into_inner()),
            Err(err) if err.status().is_some_and(|s| s.as_u16() == 412) => continue,
            Err(err) => return Err(err),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base_url = args
        .next()
        .unwrap_or_else(|| "http://localhost:8080".to_owned());
    let (email, password) = (
        args.next().ok_or("admin e-mail")?,
        args.next().ok_or("password")?,
    );
    let (admin, _) = Client::new(&base_url).log_in(&email, &password).await?;

    let author = admin
        .create_author()
        .body(types::AuthorCreate {
            name: "Ursula K. Le Guin".parse()?,
            bio: None,
        })
        .send()
        .await?;
    let book = admin
        .create_book()
        .body(types::BookCreate {
            title: "The Lathe of Heaven".parse()?,
            author_id: author.id,
            description: None,
            price: "14.00".parse()?,
            published_at: None,
        })
        .send()
        .await?;

    let order = types::OrderCreate {
        book_id: book.id,
        quantity: NonZeroU32::new(1).ok_or("1 is not zero")?,
    };
    let placed = place_order(&admin, order).await?;
    println!(
        "order {} placed once, total {}",
        placed.id, *placed.total_amount
    );

    let (first, second) = tokio::join!(
        append_to_title(&admin, book.id, " (first edition)"),
        append_to_title(&admin, book.id, " (signed)"),
    );
    first?;
    second?;
    let now = admin.get_book().id(book.id).send().await?;
    println!("both changes kept: {:?}", now.title);
    Ok(())
}
