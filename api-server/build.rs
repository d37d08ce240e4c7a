//! Rebuilds the server when a migration changes: `sqlx::migrate!` embeds the files of
//! `migrations/` when the crate compiles, and cargo does not watch them by itself.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
