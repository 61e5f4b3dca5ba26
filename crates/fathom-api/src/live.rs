//! [`LiveApp`]: the served application behind one swappable pointer, so that a running server can
//! change the schema it serves without touching any handler. Handlers keep reading an immutable
//! [`AppState`]; a reload builds a new state (and its router) and swaps it in. A request runs to
//! its end on the state it started with.

use std::convert::Infallible;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use tower::Service;

use crate::AppState;

/// The state being served and the router built around it, swapped as one.
struct Served {
    state: AppState,
    router: Router,
}

/// The application a server currently serves; a clone shares it.
#[derive(Clone)]
pub struct LiveApp(Arc<RwLock<Arc<Served>>>);

impl LiveApp {
    pub fn new(state: AppState) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(served(state)))))
    }

    /// The state now served.
    pub fn state(&self) -> AppState {
        self.current().state.clone()
    }

    /// Serves `state` from the next request on. The router is built before the lock is taken,
    /// so requests never wait for it.
    pub fn replace(&self, state: AppState) {
        let next = Arc::new(served(state));
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = next;
    }

    /// A router that hands every request to whatever is served when it arrives. It has no routes
    /// of its own, so the served router's fallbacks, middleware and `ConnectInfo` apply as before.
    pub fn into_router(self) -> Router {
        Router::new().fallback_service(self)
    }

    fn current(&self) -> Arc<Served> {
        // A panic cannot leave the pointer half-written (it is one store), so a poisoned lock
        // still holds a whole value.
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn served(state: AppState) -> Served {
    let router = crate::router(state.clone());
    Served { state, router }
}

impl Service<Request> for LiveApp {
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture<Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // Cloning a router is one reference count; the clone keeps the old router alive for
        // this request even if a reload swaps it out meanwhile.
        let mut router = self.current().router.clone();
        router.call(request)
    }
}
