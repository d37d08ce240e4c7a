//! Generates the client from `openapi.yaml` at the repository root with progenitor.
//! The output goes to `OUT_DIR` and is never edited by hand; it is regenerated whenever
//! the contract changes.

use std::error::Error;
use std::path::Path;
use std::{env, fs};

use progenitor::{GenerationSettings, Generator, InterfaceStyle};

const CONTRACT: &str = "../openapi.yaml";

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed={CONTRACT}");
    let text = fs::read_to_string(CONTRACT)?;
    let spec: openapiv3::OpenAPI = serde_yaml::from_str(&text)?;

    let mut settings = GenerationSettings::default();
    settings.with_interface(InterfaceStyle::Builder);
    // `PriceInput` is what the server accepts for a price: a decimal string or a JSON
    // number. This client always sends the exact string form, so it uses `Money` there.
    settings.with_replacement("PriceInput", "crate::types::Money", std::iter::empty());
    let tokens = Generator::new(&settings).generate_tokens(&spec)?;
    let code = prettyplease::unparse(&syn::parse2(tokens)?);

    let out = Path::new(&env::var("OUT_DIR")?).join("bookstore_client.rs");
    fs::write(out, code)?;
    Ok(())
}
