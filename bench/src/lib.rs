//! Shared helpers of the benchmark programs started by `scripts/bench.sh`.
//!
//! The programs take `--name value` flags only; a dependency on a full argument parser
//! would cost every CI build more than these few lines.

use std::collections::HashMap;
use std::str::FromStr;

use anyhow::{Context, bail};

pub mod report;

/// The `--name value` flags a program was started with.
#[derive(Debug)]
pub struct Args {
    values: HashMap<String, String>,
}

impl Args {
    /// Reads the process arguments. `known` lists the accepted flag names (without the
    /// dashes); `--help` prints `usage` and exits.
    pub fn parse(usage: &str, known: &[&str]) -> anyhow::Result<Self> {
        Self::from_iter(std::env::args().skip(1), usage, known)
    }

    fn from_iter(
        args: impl IntoIterator<Item = String>,
        usage: &str,
        known: &[&str],
    ) -> anyhow::Result<Self> {
        let mut values = HashMap::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                println!("{usage}");
                std::process::exit(0);
            }
            let Some(name) = arg.strip_prefix("--").filter(|n| known.contains(n)) else {
                bail!("unknown argument {arg:?}\n\n{usage}");
            };
            let value = args
                .next()
                .with_context(|| format!("--{name} needs a value\n\n{usage}"))?;
            values.insert(name.to_owned(), value);
        }
        Ok(Self { values })
    }

    /// The value of `--name`, or `default` when it was not given.
    pub fn get<T>(&self, name: &str, default: T) -> anyhow::Result<T>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.values.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|err| anyhow::anyhow!("--{name} {raw:?}: {err}")),
        }
    }

    /// The value of `--name`, which must be given.
    pub fn required(&self, name: &str) -> anyhow::Result<String> {
        self.values
            .get(name)
            .cloned()
            .with_context(|| format!("--{name} is required (see --help)"))
    }

    /// The value of `--name`, if given.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::Args;

    fn parse(args: &[&str]) -> anyhow::Result<Args> {
        Args::from_iter(
            args.iter().map(|a| (*a).to_owned()),
            "usage",
            &["books", "out"],
        )
    }

    #[test]
    fn flags_take_the_next_argument_as_their_value() -> anyhow::Result<()> {
        let args = parse(&["--books", "5000", "--out", "data"])?;
        assert_eq!(args.get("books", 1)?, 5000);
        assert_eq!(args.required("out")?, "data");
        Ok(())
    }

    #[test]
    fn absent_flags_take_their_default() -> anyhow::Result<()> {
        let args = parse(&[])?;
        assert_eq!(args.get("books", 7)?, 7);
        assert!(args.required("out").is_err());
        assert_eq!(args.optional("out"), None);
        Ok(())
    }

    #[test]
    fn unknown_flags_missing_values_and_bad_numbers_are_errors() {
        assert!(parse(&["--authors", "1"]).is_err());
        assert!(parse(&["--books"]).is_err());
        assert!(parse(&["--books", "many"]).is_ok_and(|a| a.get("books", 1).is_err()));
    }
}
