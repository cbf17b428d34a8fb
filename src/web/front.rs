//! The front door: the service each connection talks to.
//!
//! Most requests are a visitor fetching a prepared page or asset. Those are answered here,
//! straight from the [`PageCache`](crate::site::PageCache), with the same headers and the same
//! log line as everything else but without the router and the middleware stack: no allocation
//! for routing, no boxed futures. Everything else — forms, the inbox, redirects, 404s — goes on
//! to the full [`router`](super::router), with the client's address attached for the handlers
//! that need it.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use axum::serve::IncomingStream;
use tokio::net::TcpListener;
use tower::Service;

use super::AppState;
use super::connections::Connections;
use super::middleware::{finish, next_request_id};
use crate::site::cache::etag_matches;

/// Makes a [`Connection`] service for each accepted connection.
#[derive(Clone)]
pub struct FrontDoor {
    shared: Arc<Shared>,
}

/// What every connection uses: one reference-counted pointer for all of it, because hyper
/// clones the connection's service for each request.
struct Shared {
    state: AppState,
    router: Router,
    connections: Arc<Connections>,
}

impl FrontDoor {
    pub fn new(state: AppState) -> Self {
        let connections = Arc::new(Connections::default());
        super::connections::spawn_memory_return(&connections);
        FrontDoor {
            shared: Arc::new(Shared {
                router: super::router(state.clone()),
                state,
                connections,
            }),
        }
    }
}

impl<'a> Service<IncomingStream<'a, TcpListener>> for FrontDoor {
    type Response = Connection;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Connection, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, stream: IncomingStream<'a, TcpListener>) -> Self::Future {
        self.shared.connections.opened();
        std::future::ready(Ok(Connection {
            open: Arc::new(Open {
                shared: self.shared.clone(),
                peer: *stream.remote_addr(),
            }),
        }))
    }
}

/// The service for one connection.
#[derive(Clone)]
pub struct Connection {
    open: Arc<Open>,
}

/// One open connection; counted closed when hyper drops its last clone.
struct Open {
    shared: Arc<Shared>,
    peer: SocketAddr,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.shared.connections.closed();
    }
}

/// Either a response already made, or the router at work.
pub enum Answer {
    Ready(Option<Response>),
    Routed(Pin<Box<RouteFuture<Infallible>>>),
}

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Answer::Ready(response) => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response()))),
            Answer::Routed(future) => future.as_mut().poll(cx),
        }
    }
}

impl Service<Request> for Connection {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Answer {
        let shared = &self.open.shared;
        if let Some(response) = prepared(&shared.state, &request) {
            return Answer::Ready(Some(response));
        }
        request.extensions_mut().insert(ConnectInfo(self.open.peer));
        Answer::Routed(Box::pin(shared.router.clone().call(request)))
    }
}

/// A prepared page for a GET or HEAD of a path the cache holds; `None` for anything else.
fn prepared(state: &AppState, request: &Request) -> Option<Response> {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let started = Instant::now();
    let site = state.site.load();
    let path = request.uri().path();
    let page = site.get(path)?;
    let id = next_request_id();
    let headers = request.headers();
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let (_, variant) = page.variant(accept);
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|inm| etag_matches(inm, &variant.etag));
    let response = if not_modified {
        super::pages::not_modified(page, variant)
    } else {
        super::pages::variant_response(page.status, variant, method == Method::HEAD)
    };
    Some(finish(response, id, method, path, started))
}
