//! Seeds the data set of the load benchmark through the public API only, with the
//! generated client: authors and books created by the bootstrap administrator, customers
//! who sign up and log in, so that each has a live session.
//!
//! Writes what the load generator needs into `--out`, one value a line:
//! `books.txt` (book ids), `tokens.txt` (the customers' bearer tokens) and `users.tsv`
//! (e-mail, tab, password: the customers' credentials).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use api_client::{Client, types};
use bench::Args;
use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt, stream};
use uuid::Uuid;

const USAGE: &str = "\
bench-seed: seeds the benchmark data set through the API.

  --base-url URL          the server, e.g. http://127.0.0.1:8080 (required)
  --admin-email EMAIL     the bootstrap administrator (required)
  --admin-password PASS   (required)
  --out DIR               where the id and token files go (required)
  --authors N             authors to create (default 200)
  --books N               books to create, spread over the authors (default 5000)
  --users N               customers to sign up and log in (default 200)
  --concurrency N         requests in flight at once (default 32)";

/// Words that titles are made of, so that titles differ and a `q` filter finds some.
const ADJECTIVES: [&str; 12] = [
    "Silent", "Crimson", "Hidden", "Last", "Distant", "Broken", "Golden", "Winter", "Lost",
    "Burning", "Quiet", "Endless",
];
const NOUNS: [&str; 12] = [
    "Harbour", "Garden", "Archive", "Frontier", "Lantern", "River", "Empire", "Orchard", "Mirror",
    "Voyage", "Citadel", "Meadow",
];

/// What to create, and where.
struct Plan {
    base_url: String,
    admin_email: String,
    admin_password: String,
    out: PathBuf,
    authors: usize,
    books: usize,
    users: usize,
    concurrency: usize,
}

/// A customer with a live session.
struct Customer {
    email: String,
    password: String,
    token: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse(
        USAGE,
        &[
            "base-url",
            "admin-email",
            "admin-password",
            "out",
            "authors",
            "books",
            "users",
            "concurrency",
        ],
    )?;
    let plan = Plan {
        base_url: args.required("base-url")?,
        admin_email: args.required("admin-email")?,
        admin_password: args.required("admin-password")?,
        out: PathBuf::from(args.required("out")?),
        authors: args.get("authors", 200)?,
        books: args.get("books", 5000)?,
        users: args.get("users", 200)?,
        concurrency: args.get::<usize>("concurrency", 32)?.max(1),
    };
    anyhow::ensure!(plan.authors > 0, "--authors must be at least 1");
    seed(&plan).await
}

async fn seed(plan: &Plan) -> anyhow::Result<()> {
    std::fs::create_dir_all(&plan.out)
        .with_context(|| format!("creating {}", plan.out.display()))?;
    let anonymous = Client::new(&plan.base_url);
    let admin_token = login(&anonymous, &plan.admin_email, &plan.admin_password)
        .await
        .context("logging in as the bootstrap administrator")?;
    let admin = api_client::authenticated(&plan.base_url, &admin_token)?;

    let authors = timed("authors", plan.authors, create_authors(&admin, plan)).await?;
    let books = timed("books", plan.books, create_books(&admin, &authors, plan)).await?;
    let customers = timed("customers", plan.users, create_customers(&anonymous, plan)).await?;

    write_lines(&plan.out, "books.txt", books.iter().map(Uuid::to_string))?;
    write_lines(
        &plan.out,
        "tokens.txt",
        customers.iter().map(|c| c.token.clone()),
    )?;
    write_lines(
        &plan.out,
        "users.tsv",
        customers
            .iter()
            .map(|c| format!("{}\t{}", c.email, c.password)),
    )?;
    println!("seed: wrote ids and tokens to {}", plan.out.display());
    Ok(())
}

/// Runs one seeding step and reports how long it took.
async fn timed<T>(
    what: &str,
    count: usize,
    step: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let started = Instant::now();
    let value = step.await.with_context(|| format!("seeding {what}"))?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "seed: {count} {what} in {seconds:.1} s ({:.0}/s)",
        count as f64 / seconds.max(1e-9)
    );
    Ok(value)
}

async fn create_authors(admin: &Client, plan: &Plan) -> anyhow::Result<Vec<Uuid>> {
    stream::iter(0..plan.authors)
        .map(|i| async move {
            let author = admin
                .create_author()
                .body(types::AuthorCreate {
                    name: field(&format!("Author {i:04}"))?,
                    bio: Some(field(&format!(
                        "Author {i:04} has written {} novels and lives by the sea.",
                        i % 17 + 1
                    ))?),
                })
                .send()
                .await?
                .into_inner();
            anyhow::Ok(author.id)
        })
        .buffered(plan.concurrency)
        .try_collect()
        .await
}

async fn create_books(admin: &Client, authors: &[Uuid], plan: &Plan) -> anyhow::Result<Vec<Uuid>> {
    stream::iter(0..plan.books)
        .map(|i| async move {
            let book = admin
                .create_book()
                .body(book(i, authors[i % authors.len()])?)
                .send()
                .await?
                .into_inner();
            anyhow::Ok(book.id)
        })
        .buffered(plan.concurrency)
        .try_collect()
        .await
}

/// `text` as the client's type for a field with rules (`types::Name`, `types::Title`…),
/// which checks them as the contract states them.
fn field<T>(text: &str) -> anyhow::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|err| anyhow::anyhow!("{text:?} breaks the contract's rules: {err}"))
}

/// The `i`th book: varied titles, prices, dates and a description of a few hundred bytes.
fn book(i: usize, author_id: Uuid) -> anyhow::Result<types::BookCreate> {
    let title = format!(
        "The {} {} {}",
        ADJECTIVES[i % ADJECTIVES.len()],
        NOUNS[(i / ADJECTIVES.len()) % NOUNS.len()],
        i + 1
    );
    let cents = 499 + (i * 7919) % 4500;
    let year = i32::try_from(1950 + i % 75)?;
    let month = u32::try_from(i % 12 + 1)?;
    let day = u32::try_from(i % 28 + 1)?;
    Ok(types::BookCreate {
        description: Some(field(&format!(
            "{title} follows a cartographer who maps a coast that changes every night. \
             A story of patience, tides and the people who wait for them; \
             edition {}, with notes and an afterword.",
            i % 9 + 1
        ))?),
        title: field(&title)?,
        author_id,
        price: format!("{}.{:02}", cents / 100, cents % 100)
            .parse()
            .map_err(|err| anyhow::anyhow!("price of book {i}: {err}"))?,
        published_at: NaiveDate::from_ymd_opt(year, month, day),
    })
}

/// Signs up and logs in `plan.users` customers. E-mails carry a per-run tag, so seeding
/// twice against the same server does not collide.
async fn create_customers(anonymous: &Client, plan: &Plan) -> anyhow::Result<Vec<Customer>> {
    let run = Uuid::new_v4().simple().to_string();
    let run = &run[..8];
    stream::iter(0..plan.users)
        .map(|i| async move {
            let email = format!("reader-{i:04}-{run}@bench.example.com");
            let password = format!("bench password {i:04}");
            anonymous
                .signup()
                .body(types::SignupRequest {
                    email: field(&email)?,
                    password: field(&password)?,
                    full_name: field(&format!("Reader {i:04}"))?,
                })
                .send()
                .await?;
            let token = login(anonymous, &email, &password).await?;
            anyhow::Ok(Customer {
                email,
                password,
                token,
            })
        })
        .buffered(plan.concurrency)
        .try_collect()
        .await
}

async fn login(client: &Client, email: &str, password: &str) -> anyhow::Result<String> {
    let (_, session) = client.log_in(email, password).await?;
    Ok(session.into_inner().access_token)
}

fn write_lines(dir: &Path, name: &str, lines: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let path = dir.join(name);
    let text: String = lines.map(|line| line + "\n").collect();
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}
