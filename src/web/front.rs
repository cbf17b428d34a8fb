//! The front door: the service each connection talks to.
//!
//! Most requests are a visitor fetching a prepared page or asset. Those are answered here,
//! straight from the [`PageCache`](crate::site::PageCache), with the same headers and the same
//! log line as everything else but without the router and the middleware stack: no allocation
//! for routing, no boxed futures. Everything else — forms, the inbox, redirects, 404s — goes on
//! to the full [`router`](super::router), with the client's address attached for the handlers
//! that need it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use hyper::body::Incoming;
use tower::Service;

use super::AppState;
use super::connections::Connections;
use super::middleware::{finish, next_request_id};
use super::server::Activity;
use crate::site::PageCache;
use crate::site::cache::{Page, etag_matches};

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

impl FrontDoor {
    /// The service for a connection just accepted from `peer`.
    pub fn connection(&self, peer: SocketAddr, activity: Arc<Activity>) -> Connection {
        self.shared.connections.opened();
        Connection {
            open: Arc::new(Open {
                shared: self.shared.clone(),
                peer,
                activity,
            }),
        }
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
    /// What the connection's watchdog reads: requests started and not yet answered.
    activity: Arc<Activity>,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.shared.connections.closed();
    }
}

/// Either a response already made, or the router at work.
pub enum Answer {
    Ready(Option<Response>),
    Routed(Pin<Box<RouteFuture<Infallible>>>, InFlight),
}

/// A request being answered by the router; counted answered when dropped.
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_answered();
    }
}

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Answer::Ready(response) => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response()))),
            Answer::Routed(future, _) => future.as_mut().poll(cx),
        }
    }
}

impl hyper::service::Service<hyper::Request<Incoming>> for Connection {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: hyper::Request<Incoming>) -> Answer {
        let open = &self.open;
        let mut request = request.map(Body::new);
        if let Some(mut response) = prepared(&open.shared.state, &request) {
            open.activity.request_started();
            open.activity.request_answered();
            if open.activity.client_moved() {
                // Answered in full; the client's next request comes on a new connection, which
                // goes to the loop on the client's core now.
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            return Answer::Ready(Some(response));
        }
        open.activity.request_started();
        let in_flight = InFlight(open.activity.clone());
        request.extensions_mut().insert(ConnectInfo(open.peer));
        Answer::Routed(
            Box::pin(open.shared.router.clone().call(request)),
            in_flight,
        )
    }
}

/// A prepared page for a GET or HEAD of a path the cache holds; `None` for anything else.
fn prepared(state: &AppState, request: &Request) -> Option<Response> {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let started = Instant::now();
    let path = request.uri().path();
    let site = state.site.load();
    THIS_THREADS_PAGES.with_borrow_mut(|copy| {
        let pages = match copy {
            Some(c) if Arc::ptr_eq(&c.of, &site) => c,
            _ => copy.insert(PagesCopy::of(&site)),
        };
        let page = pages.pages.get(path)?;
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
    })
}

thread_local! {
    /// This thread's own copy of the prepared pages. Both threads serving the same bytes would
    /// otherwise count references to them in the same memory, and each response would wait for
    /// that memory to move between the cores' caches.
    static THIS_THREADS_PAGES: RefCell<Option<PagesCopy>> = const { RefCell::new(None) };
}

/// The prepared pages of one site, copied for one thread.
struct PagesCopy {
    /// The site they were copied from: when it is replaced (content reload), so is the copy.
    of: Arc<PageCache>,
    pages: HashMap<String, Page>,
}

impl PagesCopy {
    fn of(site: &Arc<PageCache>) -> Self {
        PagesCopy {
            of: site.clone(),
            pages: site
                .pages
                .iter()
                .map(|(path, page)| (path.clone(), page.private_copy()))
                .collect(),
        }
    }
}
