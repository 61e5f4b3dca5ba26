//! The HTTP/1.1 connection loop. It is `axum::serve`'s, with one difference: hyper's own limits
//! on the request head are set well above Fathom's (`fathom_api::request_head`), so a request
//! over Fathom's limits reaches the router and is answered with problem+json 414 or 431, instead
//! of the empty 414/431 hyper writes by itself. Only heads beyond hyper's limits (a request
//! target over 64 KiB, a head over about 400 KB, more than [`HYPER_MAX_HEADERS`] headers) still
//! get hyper's bare answer.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::{Layer, ServiceExt};

/// Headers hyper parses before it answers 431 by itself (its default is 100, which is also
/// Fathom's limit, so without this the problem+json answer could never be sent).
const HYPER_MAX_HEADERS: usize = 1024;

/// Serves `router` on `listener` until `stop` resolves; then stops accepting, lets every open
/// connection finish its request in flight (idle keep-alive connections close at once), and
/// returns when all are closed. The caller bounds that wait.
pub async fn serve(listener: TcpListener, router: Router, stop: impl Future<Output = ()>) {
    // `signal`: dropped receiver = "shut down" for every connection task (each holds a sender
    // clone and awaits `closed()`). `done`: the tasks hold receivers; `closed()` on the sender
    // resolves once every task has ended.
    let (signal_tx, signal_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.max_headers(HYPER_MAX_HEADERS);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
        // The peer's address in every request of this connection, for `ConnectInfo<SocketAddr>`.
        let service = axum::Extension(ConnectInfo(peer))
            .layer(router.clone())
            .map_request(|request: Request<Incoming>| request.map(Body::new));
        let connection = http
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let signal = signal_tx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let served = tokio::select! {
                served = connection.as_mut() => served,
                () = signal.closed() => {
                    // Finish the request in flight (if any), then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = served {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(done);
        });
    }
    drop(listener);
    drop(signal_rx);
    drop(done_rx);
    done_tx.closed().await;
}
