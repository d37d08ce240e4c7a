//! The bcrypt ceiling of the login benchmark: how many password verifications per
//! second this machine manages on all cores at the server's cost. A login costs one
//! verification, so no server can log people in faster than this.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use bench::Args;

const USAGE: &str = "\
bench-bcrypt: bcrypt verifications per second on N threads.

  --cost N       bcrypt cost, as BCRYPT_COST (default 12)
  --seconds S    how long to measure (default 15)
  --threads N    threads (default: one per core)
  --out FILE     also write the result as JSON to FILE";

const PASSWORD: &str = "correct horse battery staple";

fn main() -> anyhow::Result<()> {
    let args = Args::parse(USAGE, &["cost", "seconds", "threads", "out"])?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let cost: u32 = args.get("cost", 12)?;
    let seconds: f64 = args.get("seconds", 15.0)?;
    let threads: usize = args.get::<usize>("threads", cores)?.max(1);
    let out = args.optional("out").map(PathBuf::from);

    let hash = bcrypt::hash(PASSWORD, cost).context("hashing the reference password")?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let per_thread = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| verify_until(&hash, deadline)))
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .map_err(|_| anyhow::anyhow!("a worker thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;

    // Each thread's own rate, summed: a thread that overran the deadline by most of a
    // hash is not counted as faster than it was.
    let verifications: u64 = per_thread.iter().map(|(n, _)| n).sum();
    let per_second: f64 = per_thread
        .iter()
        .map(|(n, elapsed)| *n as f64 / elapsed.as_secs_f64())
        .sum();
    println!(
        "bcrypt cost {cost}: {per_second:.2} verifications/s on {threads} threads \
         ({verifications} in {seconds} s)"
    );
    if let Some(out) = out {
        let json = serde_json::json!({
            "cost": cost,
            "threads": threads,
            "verifications": verifications,
            "seconds": seconds,
            "per_second": per_second,
        });
        std::fs::write(&out, format!("{json:#}\n"))
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

/// Verifies the password against `hash` until `deadline`; at least once.
fn verify_until(hash: &str, deadline: Instant) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let mut count = 0;
    loop {
        anyhow::ensure!(bcrypt::verify(PASSWORD, hash)?, "the password must verify");
        count += 1;
        if Instant::now() >= deadline {
            return Ok((count, started.elapsed()));
        }
    }
}
