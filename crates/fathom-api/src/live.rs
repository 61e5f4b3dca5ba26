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
use crate::custom::CustomRoutes;

/// The state being served and the router built around it, swapped as one.
struct Served {
    state: AppState,
    router: Router,
}

/// The application a server currently serves; a clone shares it. The embedding application's
/// custom routes stay the same across reloads.
#[derive(Clone)]
pub struct LiveApp {
    served: Arc<RwLock<Arc<Served>>>,
    custom: CustomRoutes,
}

impl LiveApp {
    pub fn new(state: AppState) -> Self {
        Self::with_routes(state, CustomRoutes::default())
    }

    /// Serves `state` with `custom` routes (already checked, `CustomRoutes::check`).
    pub fn with_routes(state: AppState, custom: CustomRoutes) -> Self {
        let served = Arc::new(RwLock::new(Arc::new(served(state, &custom))));
        Self { served, custom }
    }

    /// The state now served.
    pub fn state(&self) -> AppState {
        self.current().state.clone()
    }

    /// Serves `state` from the next request on. The router is built before the lock is taken,
    /// so requests never wait for it.
    pub fn replace(&self, state: AppState) {
        let next = Arc::new(served(state, &self.custom));
        *self.served.write().unwrap_or_else(PoisonError::into_inner) = next;
    }

    /// A router that hands every request to whatever is served when it arrives. It has no routes
    /// of its own, so the served router's fallbacks, middleware and `ConnectInfo` apply as before.
    pub fn into_router(self) -> Router {
        Router::new().fallback_service(self)
    }

    fn current(&self) -> Arc<Served> {
        // A panic cannot leave the pointer half-written (it is one store), so a poisoned lock
        // still holds a whole value.
        self.served
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn served(state: AppState, custom: &CustomRoutes) -> Served {
    let router = crate::router_with(state.clone(), custom);
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
