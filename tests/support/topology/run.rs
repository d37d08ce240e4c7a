//! What every topology shares: finding the programs, the private directory, the user the
//! servers run as, the server processes themselves and waiting for them.

use std::ffi::OsStr;
use std::fmt;
use std::fs::{DirBuilder, File};
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Gid, Pid, Uid, User};
use tokio::process::{Child, Command};
use uuid::Uuid;

/// A program a topology needs, found on `PATH` or where Debian installs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `openssl`, which makes the certificates.
    Openssl,
    /// The PostgreSQL server programs: `initdb`, `postgres`, `pg_basebackup`.
    Postgres,
    /// `redis-server`, which also runs Sentinel (`--sentinel`).
    RedisServer,
    /// `redis-cli`, which creates a Redis Cluster (`--cluster create`).
    RedisCli,
    /// `pgbouncer`.
    PgBouncer,
}

impl Tool {
    /// The program's name.
    pub fn program(self) -> &'static str {
        match self {
            Self::Openssl => "openssl",
            Self::Postgres => "initdb, postgres and pg_basebackup",
            Self::RedisServer => "redis-server",
            Self::RedisCli => "redis-cli",
            Self::PgBouncer => "pgbouncer",
        }
    }

    /// The Debian package that installs it.
    pub fn package(self) -> &'static str {
        match self {
            Self::Openssl => "openssl",
            Self::Postgres => "postgresql",
            Self::RedisServer => "redis-server",
            Self::RedisCli => "redis-tools",
            Self::PgBouncer => "pgbouncer",
        }
    }

    /// Where the program is (for [`Tool::Postgres`], the directory of the server programs).
    pub fn path(self) -> Option<PathBuf> {
        match self {
            Self::Openssl => find_program("openssl"),
            Self::Postgres => pg_bindir(),
            Self::RedisServer => find_program("redis-server"),
            Self::RedisCli => find_program("redis-cli"),
            Self::PgBouncer => find_program("pgbouncer"),
        }
    }

    /// Where the program is, or an error that names the package to install.
    pub fn require(self) -> Result<PathBuf> {
        self.path().with_context(|| {
            format!(
                "{} not found (Debian package {})",
                self.program(),
                self.package()
            )
        })
    }
}

/// Whether a test that needs `tools` can run. When one is missing, it prints why and answers
/// `false`, so that the test returns early; but when `TEST_REQUIRE_TOPOLOGY` is set (to
/// anything but `0`), it panics instead, so that a machine that should have them (CI) fails
/// rather than skips.
pub fn available(tools: &[Tool]) -> bool {
    let missing: Vec<String> = tools
        .iter()
        .filter(|tool| tool.path().is_none())
        .map(|tool| format!("{} (Debian package {})", tool.program(), tool.package()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(", ");
    assert!(
        !required(),
        "TEST_REQUIRE_TOPOLOGY is set but {missing} is missing"
    );
    eprintln!(
        "skipped: {missing} not found; install it to run this test \
         (TEST_REQUIRE_TOPOLOGY=1 makes this a failure)"
    );
    false
}

fn required() -> bool {
    std::env::var_os("TEST_REQUIRE_TOPOLOGY").is_some_and(|value| !value.is_empty() && value != "0")
}

/// `program` on `PATH`, or in the system directories a normal user's `PATH` may lack
/// (Debian puts `pgbouncer` in /usr/sbin).
fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// The directory of the PostgreSQL server programs: the newest version under
/// /usr/lib/postgresql (Debian installs versions side by side there, off `PATH`), else the
/// one on `PATH`.
fn pg_bindir() -> Option<PathBuf> {
    static BINDIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    BINDIR
        .get_or_init(|| {
            let complete = |dir: &Path| {
                ["initdb", "postgres", "pg_basebackup"]
                    .iter()
                    .all(|program| is_executable(&dir.join(program)))
            };
            let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| {
                    let version = entry.file_name().to_str()?.parse().ok()?;
                    let bin = entry.path().join("bin");
                    complete(&bin).then_some((version, bin))
                })
                .collect();
            versions.sort();
            versions.pop().map(|(_, bin)| bin).or_else(|| {
                let initdb = find_program("initdb")?;
                let dir = initdb.parent()?.to_owned();
                complete(&dir).then_some(dir)
            })
        })
        .clone()
}

/// The user the servers run as: ourselves, except as root, where it is the `postgres`
/// system user, because PostgreSQL and PgBouncer refuse to run as root. Every server of a
/// topology runs as that one user, which owns the topology's directory.
#[derive(Debug, Clone)]
pub struct RunAs {
    user: Option<(Uid, Gid)>,
}

/// The system user that runs the servers when the tests run as root.
const SYSTEM_USER: &str = "postgres";

impl RunAs {
    pub fn servers() -> Result<Self> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(Self { user: None });
        }
        let user = match User::from_name(SYSTEM_USER)? {
            Some(user) => user,
            None => {
                // A machine with PostgreSQL from Debian has it; make it like
                // scripts/lib/services.sh does otherwise. Another test may be making it at
                // the same time, so look again rather than trust useradd's answer.
                std::process::Command::new("useradd")
                    .args(["--system", "--user-group", "--no-create-home"])
                    .args(["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"])
                    .arg(SYSTEM_USER)
                    .status()
                    .ok();
                User::from_name(SYSTEM_USER)?
                    .with_context(|| format!("creating the system user {SYSTEM_USER}"))?
            }
        };
        Ok(Self {
            user: Some((user.uid, user.gid)),
        })
    }

    /// Makes `path` belong to the servers' user.
    pub fn own(&self, path: &Path) -> Result<()> {
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(path, Some(uid.as_raw()), Some(gid.as_raw()))
                .with_context(|| format!("chown {}", path.display()))?;
        }
        Ok(())
    }

    /// A command that runs `program` as the servers' user, with a clean environment, from
    /// `/` (the user may not enter the current directory) and killed when dropped.
    ///
    /// It goes through `setpriv` (util-linux), which switches the user and then execs the
    /// program, so the child is the server itself: its pid is the one to signal, which
    /// `runuser` (a parent that stays) would not give. `--pdeathsig KILL` makes the kernel
    /// kill it when the thread that started it ends, so that not even a test process killed
    /// outright (where no destructor runs) leaves servers behind. That thread must live as
    /// long as the server: start servers from async code, never from `spawn_blocking`.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = match find_program("setpriv") {
            Some(setpriv) => {
                let mut command = Command::new(setpriv);
                if let Some((uid, gid)) = self.user {
                    command
                        .arg(format!("--reuid={uid}"))
                        .arg(format!("--regid={gid}"))
                        .arg("--init-groups");
                }
                command.args(["--pdeathsig", "KILL", "--"]).arg(program);
                command
            }
            None => {
                let mut command = Command::new(program);
                if let Some((uid, gid)) = self.user {
                    command.uid(uid.as_raw()).gid(gid.as_raw());
                }
                command
            }
        };
        command
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("LC_ALL", "C")
            .current_dir("/")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }
}

/// A private directory under /tmp, deleted when dropped. Under /tmp rather than the
/// system's temporary directory, with a short name, because the servers' user must reach
/// it and unix socket paths are limited to about 100 bytes.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Makes the directory, owned by `run_as`'s user and closed to others.
    pub fn new(run_as: &RunAs) -> Result<Self> {
        for _ in 0..10 {
            let name = Uuid::new_v4().simple().to_string();
            let path = PathBuf::from(format!("/tmp/bt-{}", &name[..10]));
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    let scratch = Self { path };
                    run_as.own(&scratch.path)?;
                    return Ok(scratch);
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(err).context("creating a directory under /tmp"),
            }
        }
        bail!("no free directory name under /tmp")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.path).ok();
    }
}

/// A server process; stopped when dropped, by its stop signal, then by SIGKILL if it is
/// still there a few seconds later.
pub struct Server {
    name: String,
    child: Mutex<Child>,
    pid: Pid,
    log: PathBuf,
    stop_signal: Signal,
}

/// How long a dropped server gets to stop before SIGKILL.
const DROP_GRACE: Duration = Duration::from_secs(5);

impl Server {
    /// Starts `command`, its output appended to `log`. `stop_signal` is what stops it
    /// quickly when it is dropped (e.g. SIGQUIT, PostgreSQL's immediate shutdown).
    pub fn spawn(
        name: impl Into<String>,
        mut command: Command,
        log: &Path,
        stop_signal: Signal,
    ) -> Result<Self> {
        let name = name.into();
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        command.stdout(out.try_clone()?).stderr(out);
        let child = command
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let pid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .with_context(|| format!("{name} has no pid"))?;
        Ok(Self {
            name,
            child: Mutex::new(child),
            pid: Pid::from_raw(pid),
            log: log.to_owned(),
            stop_signal,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its exit status, once it has exited.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        let mut child = self
            .child
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        child.try_wait().ok().flatten()
    }

    pub fn is_running(&self) -> bool {
        self.exit_status().is_none()
    }

    /// Sends `signal`, unless it has exited already.
    pub fn signal(&self, signal: Signal) {
        if self.is_running() {
            kill(self.pid, signal).ok();
        }
    }

    /// Sends `signal` and waits until it has exited, at most `grace`, then kills it.
    pub async fn stop(&self, signal: Signal, grace: Duration) {
        self.signal(signal);
        let started = Instant::now();
        while self.is_running() && started.elapsed() < grace {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.kill_now();
    }

    /// Kills it at once (SIGKILL), as a crash would, and reaps it.
    pub fn kill_now(&self) {
        self.signal(Signal::SIGKILL);
        // SIGKILL cannot be ignored; reaping takes a moment.
        let started = Instant::now();
        while self.is_running() && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The last `lines` lines of its log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.is_running() {
            return;
        }
        self.signal(self.stop_signal);
        let started = Instant::now();
        while self.is_running() && started.elapsed() < DROP_GRACE {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.kill_now();
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("name", &self.name)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

/// The last `lines` lines of the file at `path` (at most its last 64 KiB).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |meta| meta.len());
    file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))
        .ok();
    let mut text = String::new();
    file.read_to_string(&mut text).ok();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A server that exited while it was being waited for: a port taken between picking and
/// binding it, typically, which is worth another try on another port.
#[derive(Debug)]
pub struct ExitedEarly {
    pub name: String,
    pub status: ExitStatus,
    pub log: String,
}

impl fmt::Display for ExitedEarly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} exited during start-up ({}); its log ends with:\n{}",
            self.name, self.status, self.log
        )
    }
}

impl std::error::Error for ExitedEarly {}

/// Calls `probe` every 50 ms until it answers `Some`, for at most `limit`; fails early when
/// one of `servers` exits meanwhile (with [`ExitedEarly`]).
pub async fn wait_until<T, F, Fut>(
    what: &str,
    limit: Duration,
    servers: &[&Server],
    mut probe: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return Ok(value);
        }
        for server in servers {
            if let Some(status) = server.exit_status() {
                return Err(ExitedEarly {
                    name: server.name().to_owned(),
                    status,
                    log: server.log_tail(20),
                }
                .into());
            }
        }
        if started.elapsed() > limit {
            let logs: Vec<String> = servers
                .iter()
                .map(|server| format!("{}:\n{}", server.name(), server.log_tail(10)))
                .collect();
            bail!("{what}: not within {limit:?}\n{}", logs.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a server with `start` on a free port, trying other ports when it exits during
/// start-up (the port was taken after it was picked).
pub async fn on_free_port<T, F, Fut>(mut start: F) -> Result<T>
where
    F: FnMut(u16) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match start(free_ports::<1>()?[0]).await {
            Err(err) if attempt < 5 && err.is::<ExitedEarly>() => {
                eprintln!("{err:#}\n(retrying on another port)");
            }
            other => return other,
        }
    }
}

/// `N` distinct ports that nothing listens on right now.
pub fn free_ports<const N: usize>() -> Result<[u16; N]> {
    // All bound at once, so that they differ.
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr()?.port();
    }
    Ok(ports)
}

/// Runs a command that ends by itself (initdb, openssl, …) for at most `limit`; its
/// standard output, or an error with what it printed.
pub async fn run(what: &str, mut command: Command, limit: Duration) -> Result<String> {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let output = tokio::time::timeout(limit, command.output())
        .await
        .with_context(|| format!("{what}: still running after {limit:?}"))?
        .with_context(|| format!("{what}: could not be started"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Writes `text` to `path`, owned by `run_as`'s user and readable by it alone.
pub fn write_private(path: &Path, text: &str, run_as: &RunAs) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    run_as.own(path)
}

/// Appends `text` to the file at `path`.
pub fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    File::options()
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .with_context(|| format!("appending to {}", path.display()))
}
