//! Prints the results table of a benchmark run and writes it as Markdown.
//!
//! Exits non-zero when any scenario had an answer other than 2xx: such a run measured
//! something else than the server working.

use std::path::PathBuf;

use anyhow::Context;
use bench::Args;
use bench::report::{Run, replace_between_markers};

const USAGE: &str = "\
bench-report: the results table of a scripts/bench.sh run.

  --dir DIR         the run's directory (required)
  --markdown FILE   write the table there too
  --readme FILE     replace the part of FILE between <!-- bench:start --> and
                    <!-- bench:end --> with the table";

fn main() -> anyhow::Result<()> {
    let args = Args::parse(USAGE, &["dir", "markdown", "readme"])?;
    let dir = PathBuf::from(args.required("dir")?);
    let run = Run::load(&dir)?;

    let failures = run.failures();
    if !failures.is_empty() {
        anyhow::bail!(
            "FAILED: answers other than 2xx during the run:\n  {}",
            failures.join("\n  ")
        );
    }

    let table = run.markdown();
    println!("{table}");
    if let Some(path) = args.optional("markdown") {
        std::fs::write(&path, &table).with_context(|| format!("writing {path}"))?;
    }
    if let Some(path) = args.optional("readme") {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let updated = replace_between_markers(&text, &table).with_context(|| path.clone())?;
        std::fs::write(&path, updated).with_context(|| format!("writing {path}"))?;
        println!("bench-report: updated the results in {path}");
    }
    Ok(())
}
