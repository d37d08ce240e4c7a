//! The listener: accepts connections and serves HTTP/1.1 and HTTP/2 on them, with the
//! limits that keep a slow or greedy client from holding the server's resources.
//!
//! poem's own server sets no deadline on reading a request's headers, so a client that
//! trickles them in a byte at a time holds a connection (and its task) for as long as it
//! likes. This one serves each connection with hyper directly, with:
//! - a header-read timeout: a request's headers must arrive within it, and an idle
//!   keep-alive connection waiting for its next request is closed after it too;
//! - a cap on open connections: past it, new ones wait in the kernel's accept queue;
//! - graceful shutdown: on the signal it stops accepting, lets requests in flight finish
//!   within the grace period, then closes what is left.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use poem::endpoint::BoxEndpoint;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, Request};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The limits of [`serve`]; zero turns one off.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    /// How long requests in flight may take to finish after the shutdown signal.
    pub shutdown_grace: Duration,
}

/// Serves `endpoint` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    endpoint: BoxEndpoint<'static>,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let endpoint = Arc::new(endpoint);
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    let permits =
        (limits.max_connections > 0).then(|| Arc::new(Semaphore::new(limits.max_connections)));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if !limits.header_read_timeout.is_zero() {
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
    }
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = match &permits {
            Some(permits) => tokio::select! {
                permit = Arc::clone(permits).acquire_owned() => permit.ok(),
                () = &mut shutdown => break,
            },
            None => None,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, say: wait a little rather than spin.
                Err(err) => {
                    tracing::warn!(%err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let endpoint = Arc::clone(&endpoint);
        let local = local.clone();
        let remote = RemoteAddr(Addr::SocketAddr(peer));
        let service = hyper::service::service_fn(move |req| {
            let endpoint = Arc::clone(&endpoint);
            let request = Request::from((req, local.clone(), remote.clone(), Scheme::HTTP));
            async move {
                let response = endpoint.get_response(request).await;
                Ok::<_, Infallible>(hyper::Response::from(response))
            }
        });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            // A client that goes away or breaks the protocol ends only its connection.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the shutdown grace period; closing");
    }
    Ok(())
}
