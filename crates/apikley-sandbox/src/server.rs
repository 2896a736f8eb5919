//! The accept loop: plain HTTP/1.1 per connection, with a way for a handler to drop its
//! connection without answering (the "drop after create" fault).

use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Handed to handlers in the request's extensions: closes the connection at once.
#[derive(Clone, Debug)]
pub(crate) struct DropConnection(Arc<Notify>);

impl DropConnection {
    pub(crate) fn drop_now(&self) {
        self.0.notify_one();
    }
}

pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: CancellationToken,
) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = shutdown.cancelled() => return,
        };
        let app = app.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let dropper = Arc::new(Notify::new());
            let connection = DropConnection(dropper.clone());
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(connection.clone());
                    app.clone().oneshot(request.map(axum::body::Body::new))
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // Returning drops the connection, which closes the socket.
            tokio::select! {
                _ = connection => {}
                () = dropper.notified() => {}
                () = shutdown.cancelled() => {}
            }
        });
    }
}
