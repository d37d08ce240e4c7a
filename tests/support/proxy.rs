//! A TCP proxy that can fail on demand, to put between the server and PostgreSQL or Redis.
//!
//! [`FaultProxy::start`] listens on `127.0.0.1:0` and forwards every connection to an
//! upstream address. [`FaultProxy::set`] switches it at run time between three modes:
//!
//! - [`Mode::Pass`]: bytes flow both ways, as if the proxy were not there;
//! - [`Mode::Down`]: the dependency is gone. Every open connection is closed and the
//!   port stops listening, so new connections are refused;
//! - [`Mode::Hang`]: the dependency stalls. Connections stay open but nothing is
//!   forwarded either way; new connections are accepted and left waiting. What a client
//!   sent meanwhile is delivered if the proxy passes again, as after a network partition
//!   heals.
//!
//! [`FaultProxy::strand`] models a failover behind a dead network path: the connections
//! open at that moment never carry another byte (nor close, unless the proxy goes down),
//! while new ones follow the mode.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with the traffic it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Close every connection and refuse new ones.
    Down,
    /// Keep connections open but forward nothing.
    Hang,
}

/// The switches every connection follows.
#[derive(Debug, Clone, Copy)]
struct State {
    mode: Mode,
    /// Connections numbered below this are stranded: they hang whatever the mode.
    stranded_below: u64,
}

/// A running proxy; dropping it closes its listener and every connection.
pub struct FaultProxy {
    addr: SocketAddr,
    state: watch::Sender<State>,
    /// The number of the next connection accepted.
    next_connection: Arc<AtomicU64>,
    listener: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy in [`Mode::Pass`] in front of `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (state, _) = watch::channel(State {
            mode: Mode::Pass,
            stranded_below: 0,
        });
        let next_connection = Arc::new(AtomicU64::new(0));
        let accepting = tokio::spawn(accept_loop(
            listener,
            upstream.to_owned(),
            state.subscribe(),
            Arc::clone(&next_connection),
        ));
        Ok(Self {
            addr,
            state,
            next_connection,
            listener: accepting,
        })
    }

    /// Starts a proxy in front of the host and port of `url` and returns it with `url`
    /// rewritten to go through it (scheme, credentials, path and query unchanged).
    pub async fn in_front_of(url: &str) -> io::Result<(Self, String)> {
        let (start, end) = authority(url).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("no host in {url:?}"))
        })?;
        let proxy = Self::start(&url[start..end]).await?;
        let rewritten = format!("{}{}{}", &url[..start], proxy.addr, &url[end..]);
        Ok((proxy, rewritten))
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches the mode; connections follow at once.
    pub fn set(&self, mode: Mode) {
        self.state.send_modify(|state| state.mode = mode);
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.state.borrow().mode
    }

    /// Strands every connection open now: from here on it forwards nothing, whatever the
    /// mode, and stays open until the proxy goes down or is dropped. New connections are
    /// not affected.
    pub fn strand(&self) {
        let next = self.next_connection.load(Ordering::SeqCst);
        self.state.send_modify(|state| state.stranded_below = next);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.listener.abort();
        // Connections see the closed channel and end like under `Down`.
    }
}

/// The byte range of `host:port` in a URL such as `redis://127.0.0.1:6379` or
/// `postgres://user:secret@127.0.0.1:5432/db?sslmode=disable`.
fn authority(url: &str) -> Option<(usize, usize)> {
    let after_scheme = url.find("://")? + 3;
    let rest = &url[after_scheme..];
    let len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let start = rest[..len].rfind('@').map_or(0, |at| at + 1);
    (start < len).then_some((after_scheme + start, after_scheme + len))
}

async fn accept_loop(
    listener: TcpListener,
    upstream: String,
    mut state: watch::Receiver<State>,
    next_connection: Arc<AtomicU64>,
) {
    let Ok(addr) = listener.local_addr() else {
        return;
    };
    let mut listener = Some(listener);
    loop {
        let down = state.borrow_and_update().mode == Mode::Down;
        if down {
            // Not listening at all: connecting is refused, as to a stopped server.
            listener = None;
        } else if listener.is_none() {
            listener = Some(rebind(addr).await);
        }
        let accepted = async {
            match &listener {
                Some(listener) => listener.accept().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            accepted = accepted => match accepted {
                Ok((client, _)) => {
                    let id = next_connection.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(relay(client, upstream.clone(), state.clone(), id));
                }
                // Out of file descriptors, say: wait rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            changed = state.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// Listens on `addr` again, once the port is free (another socket may hold it briefly).
async fn rebind(addr: SocketAddr) -> TcpListener {
    loop {
        if let Ok(listener) = TcpListener::bind(addr).await {
            return listener;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until connection `id` may carry traffic: `true` then, `false` once the proxy is
/// down (or dropped).
async fn passing(state: &mut watch::Receiver<State>, id: u64) -> bool {
    loop {
        let now = *state.borrow_and_update();
        match now.mode {
            Mode::Down => return false,
            Mode::Pass if id >= now.stranded_below => return true,
            Mode::Pass | Mode::Hang => {}
        }
        if state.changed().await.is_err() {
            return false;
        }
    }
}

/// Forwards connection `id` until either side closes it or the proxy goes down.
async fn relay(
    mut client: TcpStream,
    upstream: String,
    mut state: watch::Receiver<State>,
    id: u64,
) {
    // A connection accepted while hanging waits before it reaches the upstream.
    if !passing(&mut state, id).await {
        return;
    }
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    client.set_nodelay(true).ok();
    server.set_nodelay(true).ok();
    let (mut client_rx, mut client_tx) = client.split();
    let (mut server_rx, mut server_tx) = server.split();
    let mut up = vec![0u8; 16 * 1024];
    let mut down = vec![0u8; 16 * 1024];
    loop {
        if !passing(&mut state, id).await {
            return;
        }
        // Read from whichever side speaks first; a change of state interrupts the wait.
        tokio::select! {
            read = client_rx.read(&mut up) => {
                let Ok(n @ 1..) = read else { return };
                // Bytes read just before a hang are held until the proxy passes again.
                if !passing(&mut state, id).await || server_tx.write_all(&up[..n]).await.is_err() {
                    return;
                }
            }
            read = server_rx.read(&mut down) => {
                let Ok(n @ 1..) = read else { return };
                if !passing(&mut state, id).await || client_tx.write_all(&down[..n]).await.is_err() {
                    return;
                }
            }
            changed = state.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::authority;

    #[test]
    fn authority_is_found_with_or_without_credentials_and_path() {
        let cases = [
            ("redis://127.0.0.1:6379", "127.0.0.1:6379"),
            ("redis://127.0.0.1:6379/0", "127.0.0.1:6379"),
            ("postgres://postgres@127.0.0.1:5432/db", "127.0.0.1:5432"),
            ("postgres://u:p@ss@localhost:1/db?x=y", "localhost:1"),
            ("postgres://h:2?sslmode=disable", "h:2"),
        ];
        for (url, expected) in cases {
            let (start, end) = authority(url).unwrap();
            assert_eq!(&url[start..end], expected, "{url}");
        }
        assert_eq!(authority("no scheme"), None);
    }
}
