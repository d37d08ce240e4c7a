//! The results table: reads what one run of `scripts/bench.sh` measured and renders each
//! scenario next to its ceiling, as Markdown.
//!
//! Files of a run directory: `meta.env` (`key=value` lines: machine and settings),
//! `<scenario>.json` (written by `bench/wrk/common.lua`), `pgbench-select.txt` and
//! `pgbench-write.txt` (pgbench's own output), `pgbench-page.txt` (pgbench running the
//! list page's statement, as PostgreSQL logged it), `bcrypt.json` (bench-bcrypt),
//! `<step>.cpu` (`key=value` CPU times of each process during a step),
//! `server-status.txt` (the server's `/proc/<pid>/status` at the end) and, when the peer
//! was measured, `peer_<scenario>.json` (its results, as for the server).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The server's peak resident set must stay under this many MiB.
pub const RSS_TARGET_MIB: f64 = 64.0;

/// Above this share of the machine's CPU taken by other processes during a step, the
/// report warns that the run was disturbed.
const NOISE_SHARE: f64 = 0.1;

/// What bounds a scenario from above.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ceiling {
    /// `pgbench -S -M prepared`: one-row reads, transactions per second.
    Select,
    /// `pgbench -N -M prepared`: small write transactions per second.
    Write,
    /// bcrypt verifications per second on all cores.
    Bcrypt,
}

/// One measured scenario: a wrk run against the server.
#[derive(Debug)]
pub struct Scenario {
    /// File stem of its results, as `scripts/bench.sh` names them.
    pub key: &'static str,
    pub label: &'static str,
    pub ceiling: Ceiling,
    /// The least acceptable ratio of its req/s to the ceiling.
    pub target: f64,
}

/// The scenarios of the issue, in the order of the table.
pub const SCENARIOS: [Scenario; 7] = [
    Scenario {
        key: "health",
        label: "`GET /health`",
        ceiling: Ceiling::Select,
        target: 1.0,
    },
    Scenario {
        key: "book",
        label: "`GET /api/v1/books/{id}`",
        ceiling: Ceiling::Select,
        target: 1.5,
    },
    Scenario {
        key: "book_uncached",
        label: "`GET /api/v1/books/{id}`, catalogue cache off",
        ceiling: Ceiling::Select,
        target: 0.5,
    },
    Scenario {
        key: "books_page",
        label: "`GET /api/v1/books?limit=20&offset=…`",
        ceiling: Ceiling::Select,
        target: 0.5,
    },
    Scenario {
        key: "me",
        label: "`GET /api/v1/users/me`",
        ceiling: Ceiling::Select,
        target: 0.6,
    },
    Scenario {
        key: "order",
        label: "`POST /api/v1/orders`",
        ceiling: Ceiling::Write,
        target: 0.75,
    },
    Scenario {
        key: "login",
        label: "`POST /api/v1/users/login`",
        ceiling: Ceiling::Bcrypt,
        target: 0.95,
    },
];

/// A scenario measured on the peer too (`../shared/peers/axum-min`, a minimal hand-written
/// server on the same database and data), right after the server.
#[derive(Debug)]
pub struct PeerScenario {
    /// The peer's results are `peer_<key>.json`, measured with `bench/wrk/<key>.lua`.
    pub key: &'static str,
    /// The key in [`SCENARIOS`] of the server's results it is compared with.
    pub ours: &'static str,
    /// The least acceptable ratio of the server's req/s to the peer's.
    pub target: f64,
}

/// The scenarios the peer serves.
pub const PEER_SCENARIOS: [PeerScenario; 2] = [
    PeerScenario {
        key: "health",
        ours: "health",
        target: 0.8,
    },
    // The peer reads the database for every request: it is compared with the server
    // without its catalogue cache.
    PeerScenario {
        key: "book",
        ours: "book_uncached",
        target: 0.9,
    },
];

/// What wrk measured, as `bench/wrk/common.lua` writes it.
#[derive(Debug, Deserialize)]
pub struct WrkResult {
    pub requests: u64,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub non_2xx: u64,
    pub errors: WrkErrors,
    pub first_bad: String,
}

#[derive(Debug, Deserialize)]
pub struct WrkErrors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub timeout: u64,
}

impl WrkResult {
    /// Every answer was 2xx and no connection failed.
    pub fn clean(&self) -> bool {
        let e = &self.errors;
        self.requests > 0 && self.non_2xx + e.connect + e.read + e.write + e.timeout == 0
    }
}

/// What pgbench printed.
#[derive(Debug, PartialEq)]
pub struct Pgbench {
    pub tps: f64,
    pub latency_ms: Option<f64>,
}

impl Pgbench {
    /// Reads `tps = …` and `latency average = … ms` from pgbench's output.
    pub fn parse(output: &str) -> anyhow::Result<Self> {
        let number_after = |prefix: &str| {
            output.lines().find_map(|line| {
                let rest = line.trim().strip_prefix(prefix)?;
                rest.split_whitespace().next()?.parse::<f64>().ok()
            })
        };
        Ok(Self {
            tps: number_after("tps = ").context("pgbench printed no \"tps = \" line")?,
            latency_ms: number_after("latency average = "),
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct BcryptResult {
    pub cost: u32,
    pub threads: u32,
    pub per_second: f64,
}

/// CPU time each process used during one step, and the machine's busy share.
#[derive(Debug, Default)]
pub struct CpuUse {
    pub seconds: HashMap<String, f64>,
    pub wall_s: f64,
    pub busy_pct: f64,
}

impl CpuUse {
    /// Reads the `key=value` lines `scripts/bench.sh` writes: `clk_tck`, `wall_s`,
    /// `busy_pct` and clock ticks per process (`server`, `postgres`, `redis`, `client`),
    /// of the kernel's threads (`kernel`), of the whole machine (`machine`) and taken by
    /// the hypervisor (`steal`).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let pairs = key_values(text);
        let number = |key: &str| -> anyhow::Result<f64> {
            pairs
                .get(key)
                .with_context(|| format!("no {key}"))?
                .parse()
                .with_context(|| format!("{key} is not a number"))
        };
        let tck = number("clk_tck")?;
        let mut seconds = HashMap::new();
        let whos = [
            "server", "postgres", "redis", "client", "kernel", "steal", "machine",
        ];
        for who in whos {
            if pairs.contains_key(who) {
                seconds.insert(who.to_owned(), number(who)? / tck);
            }
        }
        Ok(Self {
            seconds,
            wall_s: number("wall_s")?,
            busy_pct: number("busy_pct")?,
        })
    }
}

/// `key=value` lines; blank lines and `#` comments are skipped.
pub fn key_values(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The peak resident set (`VmHWM`) from a `/proc/<pid>/status`, in MiB.
pub fn peak_rss_mib(status: &str) -> anyhow::Result<f64> {
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .context("no VmHWM line")?
        .parse()?;
    Ok(kib / 1024.0)
}

/// Everything one run measured.
#[derive(Debug)]
pub struct Run {
    pub meta: HashMap<String, String>,
    pub scenarios: Vec<(&'static Scenario, WrkResult)>,
    /// The peer's results, when it was measured.
    pub peers: Vec<(&'static PeerScenario, WrkResult)>,
    pub select: Pgbench,
    pub write: Pgbench,
    /// pgbench running the list page's own statement, when measured.
    pub page: Option<Pgbench>,
    pub bcrypt: BcryptResult,
    pub rss_mib: f64,
    /// CPU use per step (scenario keys, `pgbench-select`, `pgbench-write`), when recorded.
    pub cpu: Vec<(String, CpuUse)>,
}

impl Run {
    /// Reads a run directory.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
        };
        let mut scenarios = Vec::new();
        for scenario in &SCENARIOS {
            let file = format!("{}.json", scenario.key);
            let result: WrkResult =
                serde_json::from_str(&read(&file)?).with_context(|| format!("parsing {file}"))?;
            scenarios.push((scenario, result));
        }
        let mut peers = Vec::new();
        for peer in &PEER_SCENARIOS {
            let file = format!("peer_{}.json", peer.key);
            if let Ok(text) = read(&file) {
                let result: WrkResult =
                    serde_json::from_str(&text).with_context(|| format!("parsing {file}"))?;
                peers.push((peer, result));
            }
        }
        let mut cpu = Vec::new();
        let steps = ["pgbench-select", "pgbench-write", "pgbench-page"]
            .into_iter()
            .map(str::to_owned);
        // The peer's steps right after the server's they are compared with, as they run.
        let scenario_steps = SCENARIOS.iter().flat_map(|s| {
            let peer = PEER_SCENARIOS.iter().find(|p| p.ours == s.key);
            std::iter::once(s.key.to_owned()).chain(peer.map(|p| format!("peer_{}", p.key)))
        });
        for step in steps.chain(scenario_steps) {
            if let Ok(text) = read(&format!("{step}.cpu")) {
                cpu.push((step, CpuUse::parse(&text)?));
            }
        }
        Ok(Self {
            meta: key_values(&read("meta.env").unwrap_or_default()),
            scenarios,
            peers,
            select: Pgbench::parse(&read("pgbench-select.txt")?)?,
            write: Pgbench::parse(&read("pgbench-write.txt")?)?,
            page: match read("pgbench-page.txt") {
                Ok(text) => Some(Pgbench::parse(&text)?),
                Err(_) => None,
            },
            bcrypt: serde_json::from_str(&read("bcrypt.json")?).context("parsing bcrypt.json")?,
            rss_mib: peak_rss_mib(&read("server-status.txt")?)?,
            cpu,
        })
    }

    /// The scenarios that broke the rule that every answer is 2xx.
    pub fn failures(&self) -> Vec<String> {
        let server = self.scenarios.iter().map(|(s, r)| (s.label.to_owned(), r));
        let peer = self
            .peers
            .iter()
            .map(|(p, r)| (format!("{} on the peer", label_of(p.ours)), r));
        server
            .chain(peer)
            .filter(|(_, result)| !result.clean())
            .map(|(label, r)| {
                format!(
                    "{label}: {} of {} answers not 2xx, socket errors {:?}; first: {}",
                    r.non_2xx, r.requests, r.errors, r.first_bad
                )
            })
            .collect()
    }

    /// The server's and the peer's results of each scenario the peer was measured in.
    fn side_by_side(&self) -> impl Iterator<Item = (&PeerScenario, &WrkResult, &WrkResult)> {
        self.peers.iter().filter_map(|(peer, peer_result)| {
            let (_, ours) = self.scenarios.iter().find(|(s, _)| s.key == peer.ours)?;
            Some((*peer, ours, peer_result))
        })
    }

    fn ceiling(&self, ceiling: Ceiling) -> (f64, String) {
        match ceiling {
            Ceiling::Select => (
                self.select.tps,
                format!("pgbench -S {} tps", thousands(self.select.tps)),
            ),
            Ceiling::Write => (
                self.write.tps,
                format!("pgbench -N {} tps", thousands(self.write.tps)),
            ),
            Ceiling::Bcrypt => (
                self.bcrypt.per_second,
                format!("bcrypt {:.2}/s", self.bcrypt.per_second),
            ),
        }
    }

    /// The labels of the targets this run missed (the RSS one included).
    pub fn missed(&self) -> Vec<&'static str> {
        let mut missed: Vec<_> = self
            .scenarios
            .iter()
            .filter(|(s, r)| r.rps / self.ceiling(s.ceiling).0 < s.target)
            .map(|(s, _)| s.label)
            .collect();
        if self.rss_mib >= RSS_TARGET_MIB {
            missed.push("server peak RSS");
        }
        for (peer, ours, theirs) in self.side_by_side() {
            if ours.rps / theirs.rps < peer.target {
                missed.push(match peer.key {
                    "health" => "`GET /health` beside the peer",
                    _ => "`GET /api/v1/books/{id}` (catalogue cache off) beside the peer",
                });
            }
        }
        missed
    }

    /// The whole report: settings, the results table, the ceilings, CPU per request.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        self.write_header(&mut out);
        self.write_table(&mut out);
        self.write_peer(&mut out);
        self.write_ceilings(&mut out);
        self.write_cpu(&mut out);
        self.write_budgets(&mut out);
        out
    }

    fn meta(&self, key: &str) -> &str {
        self.meta.get(key).map_or("?", String::as_str)
    }

    fn write_header(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "Server at commit {}. Machine: {} cores (`nproc`), {}; {}. Command: `{}`: {} s a \
             scenario after {} s of warm-up, {} connections ({} for login) from wrk {} with {} \
             threads on the same machine; PostgreSQL {}, Redis {}, `BCRYPT_COST={}`, \
             `DATABASE_MAX_CONNECTIONS={}`; load average {} before the start.\n",
            self.meta("commit"),
            self.meta("nproc"),
            self.meta("cpu_model"),
            self.meta("date"),
            self.meta("command"),
            self.meta("duration_s"),
            self.meta("warmup_s"),
            self.meta("connections"),
            self.meta("login_connections"),
            self.meta("wrk_version"),
            self.meta("wrk_threads"),
            self.meta("postgres_version"),
            self.meta("redis_version"),
            self.meta("bcrypt_cost"),
            self.meta("db_pool"),
            self.meta("load_before"),
        );
    }

    fn write_table(&self, out: &mut String) {
        out.push_str("| scenario | req/s | p50 | p99 | ceiling | ratio | target | met? |\n");
        out.push_str("|---|--:|--:|--:|---|--:|--:|:-:|\n");
        for (scenario, result) in &self.scenarios {
            let (ceiling, ceiling_label) = self.ceiling(scenario.ceiling);
            let ratio = result.rps / ceiling;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.2} | ≥ {:.2} | {} |",
                scenario.label,
                thousands(result.rps),
                millis(result.p50_us),
                millis(result.p99_us),
                ceiling_label,
                ratio,
                scenario.target,
                yes_no(ratio >= scenario.target),
            );
        }
        let _ = writeln!(
            out,
            "| server peak RSS (VmHWM) | {:.1} MiB | | | | | < {RSS_TARGET_MIB:.0} MiB | {} |",
            self.rss_mib,
            yes_no(self.rss_mib < RSS_TARGET_MIB),
        );
        let missed = self.missed();
        if missed.is_empty() {
            out.push_str("\nEvery target met.\n");
        } else {
            let _ = writeln!(out, "\nTargets missed: {}.", missed.join(", "));
        }
    }

    /// The scenarios the peer was measured in, the server's rate beside the peer's.
    fn write_peer(&self, out: &mut String) {
        if self.peers.is_empty() {
            return;
        }
        out.push_str(
            "\nSide by side with the peer (`../shared/peers/axum-min`: axum, tokio-postgres with \
             cached prepared statements and a pool of the server's size, mimalloc; no logging, \
             metrics, request ids or security headers), loaded right after the server in the \
             same run, on the same database and data:\n\n\
             | scenario | this server | peer | ratio | target | met? |\n\
             |---|--:|--:|--:|--:|:-:|\n",
        );
        for (peer, ours, theirs) in self.side_by_side() {
            let ratio = ours.rps / theirs.rps;
            let _ = writeln!(
                out,
                "| {} | {} req/s | {} req/s | {ratio:.2} | ≥ {:.2} | {} |",
                label_of(peer.ours),
                thousands(ours.rps),
                thousands(theirs.rps),
                peer.target,
                yes_no(ratio >= peer.target),
            );
        }
    }

    fn write_ceilings(&self, out: &mut String) {
        let latency = |p: &Pgbench| {
            p.latency_ms
                .map(|ms| format!(", latency average {ms:.2} ms"))
                .unwrap_or_default()
        };
        let _ = writeln!(
            out,
            "\nCeilings, same run: `pgbench -S -M prepared` {} tps{} and `pgbench -N -M prepared` \
             {} tps{} ({} clients, `-j 2`, scale {}, over TCP like the server); bcrypt cost {} \
             {:.2} verifications/s on {} threads.",
            thousands(self.select.tps),
            latency(&self.select),
            thousands(self.write.tps),
            latency(&self.write),
            self.meta("connections"),
            self.meta("pgbench_scale"),
            self.bcrypt.cost,
            self.bcrypt.per_second,
            self.bcrypt.threads,
        );
        if let (Some(page), Some((_, served))) = (
            &self.page,
            self.scenarios.iter().find(|(s, _)| s.key == "books_page"),
        ) {
            let _ = writeln!(
                out,
                "\nThe list page's own SQL statement (as PostgreSQL logged it: the 20 rows at \
                 a random offset and the total), run by pgbench the same way: {} tps{}, {:.2} × \
                 `pgbench -S`. That is the most the database can give this scenario; the server \
                 served {:.2} of it.",
                thousands(page.tps),
                latency(page),
                page.tps / self.select.tps,
                served.rps / page.tps,
            );
        }
    }

    fn write_cpu(&self, out: &mut String) {
        if self.cpu.is_empty() {
            return;
        }
        out.push_str(
            "\nCPU time per request (pgbench: per transaction) in µs, summed over cores. \
             Kernel threads are mostly ksoftirqd, the loopback network under load; steal is \
             time the hypervisor gave to other machines; \"other\" is every other process:\n\n\
             | step | server | PostgreSQL | Redis | load generator | kernel threads | steal | other | machine busy |\n\
             |---|--:|--:|--:|--:|--:|--:|--:|--:|\n",
        );
        let cores: f64 = self.meta("nproc").parse().unwrap_or(1.0);
        let mut noisy = Vec::new();
        for (step, cpu) in &self.cpu {
            let count = self.count(step, cpu).filter(|n| *n > 0.0);
            let per = |seconds: Option<f64>| match (seconds, count) {
                (Some(s), Some(n)) => format!("{:.0}", (s * 1e6 / n).max(0.0)),
                _ => "–".to_owned(),
            };
            let own = |who: &str| cpu.seconds.get(who).copied();
            let known: f64 = ["server", "postgres", "redis", "client", "kernel", "steal"]
                .iter()
                .filter_map(|who| own(who))
                .sum();
            let other = own("machine").map(|machine| (machine - known).max(0.0));
            if let Some(other) = other {
                let share = other / (cpu.wall_s * cores);
                if share > NOISE_SHARE {
                    noisy.push(format!("{step} {:.0} %", share * 100.0));
                }
            }
            let _ = writeln!(
                out,
                "| {step} | {} | {} | {} | {} | {} | {} | {} | {:.0} % |",
                per(own("server")),
                per(own("postgres")),
                per(own("redis")),
                per(own("client")),
                per(own("kernel")),
                per(own("steal")),
                per(other),
                cpu.busy_pct,
            );
        }
        if !noisy.is_empty() {
            let _ = writeln!(
                out,
                "\n**Other processes took CPU from this run** (share of the machine: {}): its \
                 ratios are less reliable; run it again on a quiet machine.",
                noisy.join(", ")
            );
        }
    }

    /// For each missed target: the CPU a request may take, all processes together, for
    /// the machine to serve the target rate; what the database, Redis, the load generator
    /// and the kernel's threads took of it; and so what is left for the server.
    fn write_budgets(&self, out: &mut String) {
        let cores: f64 = self.meta("nproc").parse().unwrap_or(1.0);
        let per_request = |key: &str, who: &[&str]| -> Option<f64> {
            let (_, cpu) = self.cpu.iter().find(|(step, _)| step == key)?;
            let n = self.count(key, cpu).filter(|n| *n > 0.0)?;
            let seconds: f64 = who.iter().filter_map(|w| cpu.seconds.get(*w)).sum();
            Some(seconds * 1e6 / n)
        };
        let health = per_request("health", &["server"]);
        let mut rows = String::new();
        for (scenario, result) in &self.scenarios {
            let (ceiling, _) = self.ceiling(scenario.ceiling);
            if result.rps / ceiling >= scenario.target || scenario.ceiling == Ceiling::Bcrypt {
                continue;
            }
            let others = per_request(scenario.key, &["postgres", "redis", "client", "kernel"]);
            let (Some(others), Some(server)) = (others, per_request(scenario.key, &["server"]))
            else {
                continue;
            };
            let budget = cores * 1e6 / (scenario.target * ceiling);
            let _ = writeln!(
                rows,
                "| {} | {} req/s | {budget:.0} | {others:.0} | {:.0} | {server:.0} |",
                scenario.label,
                thousands(scenario.target * ceiling),
                budget - others,
            );
        }
        if rows.is_empty() {
            return;
        }
        let _ = write!(
            out,
            "\nWhat a missed target leaves for the server, in µs of CPU per request: at the \
             target rate the {cores:.0} cores give each request the budget; PostgreSQL, Redis, \
             the load generator and the kernel's threads used what \"used by the rest\" says \
             (measured above, at the rate reached); what remains is the server's share. For \
             scale, the server spends {} µs on `GET /health`, which reads no data.\n\n\
             | scenario | target rate | budget | used by the rest | left for the server | server used |\n\
             |---|--:|--:|--:|--:|--:|\n{rows}",
            health.map_or_else(|| "?".to_owned(), |h| format!("{h:.0}")),
        );
    }

    /// How many requests or transactions a step completed.
    fn count(&self, step: &str, cpu: &CpuUse) -> Option<f64> {
        match step {
            "pgbench-select" => Some(self.select.tps * cpu.wall_s),
            "pgbench-write" => Some(self.write.tps * cpu.wall_s),
            "pgbench-page" => self.page.as_ref().map(|p| p.tps * cpu.wall_s),
            _ if step.starts_with("peer_") => self
                .peers
                .iter()
                .find(|(p, _)| step.strip_prefix("peer_") == Some(p.key))
                .map(|(_, r)| r.requests as f64),
            _ => self
                .scenarios
                .iter()
                .find(|(s, _)| s.key == step)
                .map(|(_, r)| r.requests as f64),
        }
    }
}

/// The label of the scenario of `key`.
fn label_of(key: &str) -> &'static str {
    SCENARIOS
        .iter()
        .find(|s| s.key == key)
        .map_or("?", |s| s.label)
}

fn yes_no(met: bool) -> &'static str {
    if met { "yes" } else { "**no**" }
}

/// A rate rounded to a whole number, with thousands separated: `12,345`; below 100 with
/// one decimal.
pub fn thousands(value: f64) -> String {
    if value < 100.0 {
        return format!("{value:.1}");
    }
    let digits = format!("{value:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds as milliseconds with about three significant digits.
pub fn millis(us: f64) -> String {
    let ms = us / 1000.0;
    match ms {
        ms if ms < 10.0 => format!("{ms:.2} ms"),
        ms if ms < 100.0 => format!("{ms:.1} ms"),
        ms => format!("{ms:.0} ms"),
    }
}

/// Puts `table` between the markers `<!-- bench:start -->` and `<!-- bench:end -->`.
pub fn replace_between_markers(text: &str, table: &str) -> anyhow::Result<String> {
    const START: &str = "<!-- bench:start -->";
    const END: &str = "<!-- bench:end -->";
    let (Some(start), Some(end)) = (text.find(START), text.find(END)) else {
        bail!("no {START} … {END} markers");
    };
    if end < start {
        bail!("{END} comes before {START}");
    }
    Ok(format!(
        "{}\n{}{}",
        &text[..start + START.len()],
        table,
        &text[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbench_output_gives_tps_and_latency() -> anyhow::Result<()> {
        let output = "transaction type: <builtin: select only>\nnumber of failed \
                      transactions: 0 (0.000%)\nlatency average = 2.345 ms\n\
                      initial connection time = 40.1 ms\n\
                      tps = 27291.123456 (without initial connection time)\n";
        assert_eq!(
            Pgbench::parse(output)?,
            Pgbench {
                tps: 27291.123456,
                latency_ms: Some(2.345)
            }
        );
        assert!(Pgbench::parse("aborted").is_err());
        Ok(())
    }

    #[test]
    fn peak_rss_comes_from_vmhwm() -> anyhow::Result<()> {
        let status = "Name:\tapi-server\nVmHWM:\t   30720 kB\nVmRSS:\t   20480 kB\n";
        assert!((peak_rss_mib(status)? - 30.0).abs() < 1e-9);
        Ok(())
    }

    #[test]
    fn cpu_ticks_become_seconds() -> anyhow::Result<()> {
        let cpu = CpuUse::parse("clk_tck=100\nwall_s=15.0\nbusy_pct=97\nserver=1200\n")?;
        assert_eq!(cpu.seconds.get("server"), Some(&12.0));
        assert_eq!(cpu.seconds.get("redis"), None);
        Ok(())
    }

    #[test]
    fn a_missed_target_shows_what_it_leaves_for_the_server() -> anyhow::Result<()> {
        let wrk = |requests: u64, rps: f64| WrkResult {
            requests,
            rps,
            p50_us: 1000.0,
            p99_us: 2000.0,
            non_2xx: 0,
            errors: WrkErrors {
                connect: 0,
                read: 0,
                write: 0,
                timeout: 0,
            },
            first_bad: String::new(),
        };
        let cpu =
            |text: &str| CpuUse::parse(&format!("clk_tck=100\nwall_s=10\nbusy_pct=99\n{text}"));
        let run = Run {
            meta: key_values("nproc=2\n"),
            // book_uncached: 10,000 req/s against 40,000 tps, target 0.5 (20,000 req/s).
            scenarios: SCENARIOS
                .iter()
                .map(|s| match s.key {
                    "book_uncached" => (s, wrk(100_000, 10_000.0)),
                    _ => (s, wrk(1, 1e9)),
                })
                .collect(),
            peers: vec![
                (&PEER_SCENARIOS[0], wrk(1, 2e9)),
                (&PEER_SCENARIOS[1], wrk(1, 11_000.0)),
            ],
            select: Pgbench {
                tps: 40_000.0,
                latency_ms: None,
            },
            write: Pgbench {
                tps: 1.0,
                latency_ms: None,
            },
            page: None,
            bcrypt: BcryptResult {
                cost: 12,
                threads: 2,
                per_second: 1.0,
            },
            rss_mib: 10.0,
            // 100,000 requests: 6 s of server = 60 µs each; 4 s of the rest = 40 µs.
            cpu: vec![
                (
                    "book_uncached".to_owned(),
                    cpu("server=600\npostgres=300\nclient=100\n")?,
                ),
                ("health".to_owned(), cpu("server=1")?),
            ],
        };

        let report = run.markdown();

        // 2 cores at 20,000 req/s: 100 µs a request, 40 µs of it used, 60 left.
        assert!(
            report.contains(
                "| `GET /api/v1/books/{id}`, catalogue cache off | 20,000 req/s | 100 | 40 | 60 | 60 |"
            ),
            "{report}"
        );
        // The peer served twice the server's /health: half of it, short of 0.8.
        assert!(
            report.contains(
                "| `GET /health` | 1,000,000,000 req/s | 2,000,000,000 req/s | 0.50 | ≥ 0.80 | **no** |"
            ),
            "{report}"
        );
        assert!(run.missed().contains(&"`GET /health` beside the peer"));
        // The peer reads the database every time: beside it, the server without its cache.
        assert!(
            report.contains(
                "| `GET /api/v1/books/{id}`, catalogue cache off | 10,000 req/s | 11,000 req/s | 0.91 | ≥ 0.90 | yes |"
            ),
            "{report}"
        );
        Ok(())
    }

    #[test]
    fn numbers_read_easily() {
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(thousands(999.6), "1,000");
        assert_eq!(thousands(7.25), "7.2");
        assert_eq!(millis(850.0), "0.85 ms");
        assert_eq!(millis(12_340.0), "12.3 ms");
        assert_eq!(millis(1_234_000.0), "1234 ms");
    }

    #[test]
    fn the_table_replaces_what_is_between_the_markers() -> anyhow::Result<()> {
        let text = "# A\n<!-- bench:start -->\nold\n<!-- bench:end -->\nrest\n";
        assert_eq!(
            replace_between_markers(text, "new\n")?,
            "# A\n<!-- bench:start -->\nnew\n<!-- bench:end -->\nrest\n"
        );
        assert!(replace_between_markers("no markers", "x").is_err());
        Ok(())
    }
}
