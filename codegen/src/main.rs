//! Generates the Rust client's code, `api-client/src/generated.rs`, from the contract,
//! `openapi.yaml`, with progenitor, and keeps the client's package version
//! (`api-client/Cargo.toml`) equal to the contract's `info.version`.
//!
//! ```sh
//! cargo run -p api-client-codegen              # rewrites whichever of the two is stale
//! cargo run -p api-client-codegen -- --check   # changes nothing; fails, showing the
//!                                              # difference, when either is stale
//! ```
//!
//! Run it after every change to `openapi.yaml` and commit what it changes; CI runs the check
//! (`scripts/lint-openapi.sh`). The output depends only on the contract and on the
//! generator's version in `Cargo.lock`, so a progenitor upgrade shows up as a change of the
//! generated code too.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::{env, fs};

use progenitor::{GenerationSettings, Generator, InterfaceStyle};

/// The command that brings the client up to date, as the messages name it.
const REGENERATE: &str = "cargo run -p api-client-codegen";

/// Where the generated code goes, and the client's manifest, relative to the repository root.
const GENERATED: &str = "api-client/src/generated.rs";
const MANIFEST: &str = "api-client/Cargo.toml";
const CONTRACT: &str = "openapi.yaml";

/// Lines of a stale file's difference shown by `--check`.
const DIFF_LINES: usize = 60;

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let check = match env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => {
            eprintln!(
                "api-client-codegen: unknown argument {other:?}; usage: {REGENERATE} [-- --check]"
            );
            return ExitCode::from(2);
        }
    };
    match run(check) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("api-client-codegen: error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Generates, then writes or checks; false when `--check` found something stale.
fn run(check: bool) -> Result<bool, Error> {
    let root = repository_root()?;
    let contract = fs::read_to_string(root.join(CONTRACT))
        .map_err(|err| format!("cannot read {CONTRACT}: {err}"))?;
    let (version, code) = generate(&contract)?;

    let generated_path = root.join(GENERATED);
    let current_code = fs::read_to_string(&generated_path).unwrap_or_default();
    let manifest_path = root.join(MANIFEST);
    let manifest = fs::read_to_string(&manifest_path)
        .map_err(|err| format!("cannot read {MANIFEST}: {err}"))?;
    let current_version = package_version(&manifest)?;

    let code_stale = current_code != code;
    let version_stale = current_version != version;

    if check {
        if code_stale {
            eprintln!("api-client-codegen: {GENERATED} differs from what {CONTRACT} generates:");
            eprint!("{}", difference(&current_code, &code));
        }
        if version_stale {
            eprintln!(
                "api-client-codegen: {MANIFEST} has version {current_version}, the contract's info.version is {version}"
            );
        }
        if code_stale || version_stale {
            eprintln!(
                "api-client-codegen: error: the Rust client is stale: run `{REGENERATE}` and commit the result"
            );
            return Ok(false);
        }
        println!("api-client-codegen: the Rust client is up to date with {CONTRACT} ({version})");
        return Ok(true);
    }

    if code_stale {
        fs::write(&generated_path, &code)
            .map_err(|err| format!("cannot write {GENERATED}: {err}"))?;
        println!("api-client-codegen: wrote {GENERATED} (contract {version})");
    }
    if version_stale {
        fs::write(&manifest_path, set_package_version(&manifest, &version)?)
            .map_err(|err| format!("cannot write {MANIFEST}: {err}"))?;
        println!("api-client-codegen: {MANIFEST}: version {current_version} -> {version}");
        update_lockfile(&root);
    }
    if !code_stale && !version_stale {
        println!("api-client-codegen: the Rust client is up to date with {CONTRACT} ({version})");
    }
    Ok(true)
}

/// The workspace root: this crate's parent directory. `cargo run` says where the crate is
/// at run time; the directory it was compiled in is the fallback. The two differ when
/// checkouts share a target directory, and the binary was last built from another one.
fn repository_root() -> Result<PathBuf, Error> {
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| "the codegen crate has no parent directory".into())
}

/// The contract's `info.version` and the client's code for it, as it is committed.
fn generate(contract: &str) -> Result<(String, String), Error> {
    let spec: openapiv3::OpenAPI = serde_yaml::from_str(contract)
        .map_err(|err| format!("{CONTRACT} is not OpenAPI 3.0: {err}"))?;
    let version = spec.info.version.clone();
    check_version(&version)?;

    let mut settings = GenerationSettings::default();
    settings.with_interface(InterfaceStyle::Builder);
    // `PriceInput` is what the server accepts for a price: a decimal string or a JSON
    // number. This client always sends the exact string form, so it uses `Money` there.
    settings.with_replacement("PriceInput", "crate::types::Money", std::iter::empty());
    let tokens = Generator::new(&settings).generate_tokens(&spec)?;
    let body = prettyplease::unparse(&syn::parse2(tokens)?);

    let mut code = String::new();
    writeln!(
        code,
        "// @generated by `{REGENERATE}` from {CONTRACT} (info.version {version}) with\n\
         // progenitor. Do not edit: change the contract and run that command again.\n"
    )?;
    writeln!(
        code,
        "/// The `info.version` of the contract, `openapi.yaml`, this client was generated from.\n\
         /// The crate's own version is the same.\n\
         pub const CONTRACT_VERSION: &str = {version:?};\n"
    )?;
    code.push_str(&body);
    Ok((version, code))
}

/// Accepts `MAJOR.MINOR.PATCH` with an optional pre-release (`0.2.0-rc.1`), the versions
/// every client's registry can carry; build metadata (`+…`) is refused, as the TypeScript
/// client's check refuses it (clients/README.md, "Versions").
fn check_version(version: &str) -> Result<(), Error> {
    let (release, pre) = match version.split_once('-') {
        Some((release, pre)) => (release, Some(pre)),
        None => (version, None),
    };
    let numbers: Vec<&str> = release.split('.').collect();
    let number_ok = |n: &&str| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && (n.len() == 1 || !n.starts_with('0'))
    };
    let identifier_ok =
        |id: &str| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if numbers.len() == 3
        && numbers.iter().all(number_ok)
        && pre.is_none_or(|pre| pre.split('.').all(identifier_ok))
    {
        Ok(())
    } else {
        Err(
            format!("info.version {version:?} in {CONTRACT} is not MAJOR.MINOR.PATCH[-PRERELEASE]")
                .into(),
        )
    }
}

/// The `version = "…"` of the manifest's `[package]` table.
fn package_version(manifest: &str) -> Result<String, Error> {
    let (_, value) = version_line(manifest)?;
    Ok(value)
}

/// The manifest with its package version set to `version`, everything else as it was.
fn set_package_version(manifest: &str, version: &str) -> Result<String, Error> {
    let (index, _) = version_line(manifest)?;
    let mut out = String::with_capacity(manifest.len());
    for (i, line) in manifest.split_inclusive('\n').enumerate() {
        if i == index {
            out.push_str(&format!("version = {version:?}\n"));
        } else {
            out.push_str(line);
        }
    }
    Ok(out)
}

/// The index and value of the `version = "…"` line of the `[package]` table.
fn version_line(manifest: &str) -> Result<(usize, String), Error> {
    let mut in_package = false;
    for (index, line) in manifest.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if !in_package {
            continue;
        }
        let Some(rest) = line.strip_prefix("version") else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(value) = rest.strip_prefix('=') {
            let value = value.trim();
            if let Some(value) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                return Ok((index, value.to_owned()));
            }
        }
        return Err(format!(
            "{MANIFEST} must set its own version as `version = \"X.Y.Z\"` (the contract's), found `{line}`"
        )
        .into());
    }
    Err(format!("{MANIFEST} has no version in its [package] table").into())
}

/// A unified difference of the two texts, at most `DIFF_LINES` lines of it, from `diff -u`.
fn difference(old: &str, new: &str) -> String {
    let dir = env::temp_dir().join(format!("api-client-codegen-{}", std::process::id()));
    let shown = (|| -> Result<String, Error> {
        fs::create_dir_all(&dir)?;
        let (old_path, new_path) = (dir.join("committed.rs"), dir.join("generated.rs"));
        fs::write(&old_path, old)?;
        fs::write(&new_path, new)?;
        let output = Command::new("diff")
            .args(["-u", "--label", &format!("{GENERATED} (committed)")])
            .args(["--label", &format!("{GENERATED} (from {CONTRACT})")])
            .arg(&old_path)
            .arg(&new_path)
            .output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let total = text.lines().count();
        let mut shown: String = text
            .lines()
            .take(DIFF_LINES)
            .flat_map(|l| [l, "\n"])
            .collect();
        if total > DIFF_LINES {
            shown.push_str(&format!(
                "… {} more lines of difference\n",
                total - DIFF_LINES
            ));
        }
        Ok(shown)
    })();
    let _ = fs::remove_dir_all(&dir);
    shown.unwrap_or_else(|err| format!("(no difference shown: diff failed: {err})\n"))
}

/// Records the client's new version in Cargo.lock, which otherwise changes on the next cargo
/// command; a failure only warns, for that reason.
fn update_lockfile(root: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["update", "--workspace", "--offline", "--quiet"])
        .current_dir(root)
        .status();
    match status {
        Ok(status) if status.success() => println!("api-client-codegen: Cargo.lock updated"),
        _ => eprintln!(
            "api-client-codegen: warning: `cargo update --workspace` failed; Cargo.lock takes the new version on the next cargo command"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_every_registry_takes() {
        for ok in ["0.1.0", "1.20.3", "0.2.0-rc.1", "1.0.0-alpha-2"] {
            assert!(check_version(ok).is_ok(), "{ok}");
        }
        for bad in [
            "0.1",
            "0.1.0.1",
            "01.0.0",
            "0.1.0+build",
            "0.1.0-",
            "0.1.0-rc..1",
            "v0.1.0",
            "",
        ] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_package_version_is_read_and_set_in_place() -> Result<(), Error> {
        let manifest =
            "[package]\nname = \"x\"\nversion = \"0.1.0\"\n\n[dependencies]\nversion = \"9\"\n";
        assert_eq!(package_version(manifest)?, "0.1.0");
        let bumped = set_package_version(manifest, "0.2.0-rc.1")?;
        assert_eq!(bumped, manifest.replace("\"0.1.0\"", "\"0.2.0-rc.1\""));
        assert!(package_version("[package]\nversion.workspace = true\n").is_err());
        assert!(package_version("[dependencies]\nversion = \"1\"\n").is_err());
        Ok(())
    }
}
