//! `/admin`: the practice inbox, for the signed-in clinician only.
//!
//! Sessions live server-side in the practice's database (so several servers can share them) and
//! are only ever created under `/admin`, once a password is accepted: visitors to the public
//! pages, and to the sign-in form, get no cookie. The cookie is
//! `HttpOnly`, `SameSite=Strict`, `Secure` and `__Host-` prefixed when the site is https, and the
//! session id changes at sign-in. A session ends after the configured idle time and, however
//! active, after the absolute limit; signing out deletes it on the server. Every signed-in
//! request checks that the account still exists and that its password and two-factor sign-in
//! are those the session began under, so changing them ends the account's sessions everywhere.
//!
//! Every route is declared once in [`route_table`], which both builds the router and lets the
//! tests walk every route. Layers, from the outside in: admin headers (`no-store`, `noindex`) ▶
//! sessions ▶ for protected routes, the signed-in check ▶ CSRF (a per-session token and a
//! same-origin `Origin`/`Sec-Fetch-Site` on every state-changing request; the sign-in form,
//! shown before any session exists, carries a signed short-lived token instead, so a visitor
//! who has not signed in leaves nothing on the server).

mod audit_log;
pub mod backups;
mod booking;
mod booking_form;
mod details;
pub(crate) mod documents;
mod estimates;
mod field_error;
mod first_run;
mod going_live;
mod inbox;
mod insights;
mod meeting;
mod own_pages;
pub(crate) mod posted;
mod questionnaires;
mod reset;
mod sign_in;
mod two_factor;
mod views;
mod words;

use axum::extract::rejection::ExtensionRejection;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::{Extension, Router};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use super::AppState;

/// Who may use a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Sign-in pages.
    Public,
    /// Everything else: a completed sign-in is required.
    SignedIn,
}

/// One admin route.
#[derive(Clone, Debug)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

/// Declares the route table: one line a route, `access METHOD "path" => handler`.
macro_rules! routes {
    ($($access:ident $method:ident $path:literal => $handler:path,)*) => {
        vec![$((
            Route {
                method: Method::$method,
                path: $path,
                access: Access::$access,
            },
            axum::routing::on(MethodFilter::$method, $handler),
        ),)*]
    };
}

/// Every admin route with its handler. The single source of truth for the router and the tests.
fn routes() -> Vec<(Route, MethodRouter<AppState>)> {
    routes! {
        Public   GET  "/admin/login" => sign_in::login_page,
        Public   POST "/admin/login" => sign_in::login,
        Public   GET  "/admin/login/forgot" => reset::forgot,
        Public   POST "/admin/login/forgot" => reset::ask,
        Public   GET  "/admin/login/reset/{token}" => reset::show,
        Public   POST "/admin/login/reset/{token}" => reset::choose,
        Public   GET  "/admin/setup/{token}" => first_run::show,
        Public   POST "/admin/setup/{token}" => first_run::create,
        SignedIn GET  "/admin/details" => details::show,
        SignedIn POST "/admin/details" => details::save,
        SignedIn GET  "/admin/words" => words::list,
        SignedIn GET  "/admin/pages" => own_pages::list,
        SignedIn POST "/admin/pages" => own_pages::add,
        SignedIn GET  "/admin/pages/{id}" => own_pages::edit,
        SignedIn POST "/admin/pages/{id}" => own_pages::change,
        SignedIn GET  "/admin/pages/{id}/remove" => own_pages::confirm_remove,
        SignedIn POST "/admin/pages/{id}/remove" => own_pages::remove,
        SignedIn GET  "/admin/words/{section}" => words::edit,
        SignedIn POST "/admin/words/{section}" => words::save,
        SignedIn POST "/admin/words/{section}/restore" => words::restore,
        SignedIn GET  "/admin/welcome" => first_run::welcome,
        Public   GET  "/admin/login/code" => sign_in::code_page,
        Public   POST "/admin/login/code" => sign_in::code,
        SignedIn POST "/admin/logout" => sign_in::logout,
        SignedIn GET  "/admin" => inbox::list,
        SignedIn POST "/admin/going-live" => going_live::review,
        SignedIn GET  "/admin/requests/{id}" => inbox::detail,
        SignedIn POST "/admin/requests/{id}/status" => inbox::change_status,
        SignedIn POST "/admin/requests/{id}/notes" => inbox::add_note,
        SignedIn POST "/admin/requests/{id}/spam" => inbox::set_spam,
        SignedIn POST "/admin/requests/{id}/retry-mail" => inbox::retry_mail,
        SignedIn GET  "/admin/requests/{id}/delete" => inbox::confirm_delete,
        SignedIn POST "/admin/requests/{id}/delete" => inbox::delete,
        SignedIn POST "/admin/requests/{id}/booking" => booking::decide,
        SignedIn POST "/admin/requests/{id}/measures" => questionnaires::send_measures,
        SignedIn POST "/admin/requests/{id}/documents" => documents::send,
        SignedIn GET  "/admin/requests/{id}/documents/{document}/pdf" => documents::pdf,
        SignedIn POST "/admin/requests/{id}/estimates" => estimates::make,
        SignedIn GET  "/admin/requests/{id}/estimates/{estimate}/pdf" => estimates::pdf,
        SignedIn POST "/admin/requests/{id}/estimates/{estimate}/given" => estimates::given,
        SignedIn POST "/admin/requests/{id}/attention" => questionnaires::followed_up,
        SignedIn POST "/admin/booking/questionnaire" => questionnaires::set_offered,
        SignedIn POST "/admin/booking/questionnaire/test" => questionnaires::send_notice_test,
        SignedIn POST "/admin/booking/questionnaire/confirm" => questionnaires::confirm_notice_test,
        SignedIn GET  "/admin/bookings" => booking::list,
        SignedIn GET  "/admin/booking" => booking::settings,
        SignedIn POST "/admin/booking" => booking::save_settings,
        SignedIn GET  "/admin/booking/meeting" => meeting::page,
        SignedIn POST "/admin/booking/meeting" => meeting::save,
        SignedIn POST "/admin/booking/calendar-link" => booking::replace_feed,
        SignedIn POST "/admin/export" => inbox::export,
        SignedIn GET  "/admin/audit" => audit_log::page,
        SignedIn GET  "/admin/backups" => backups::page,
        SignedIn POST "/admin/backups/test" => backups::test,
        SignedIn POST "/admin/backups/key" => backups::make_key,
        SignedIn POST "/admin/backups/settings" => backups::save_settings,
        SignedIn POST "/admin/backups/key/confirm" => backups::confirm_key,
        SignedIn GET  "/admin/insights" => insights::page,
        SignedIn GET  "/admin/insights.csv" => insights::export,
        SignedIn POST "/admin/audit/export" => audit_log::export,
        SignedIn GET  "/admin/two-factor" => two_factor::two_factor_page,
        SignedIn POST "/admin/two-factor" => two_factor::enable_two_factor,
        SignedIn GET  "/admin/two-factor/recovery-codes.txt" => two_factor::recovery_codes_file,
        SignedIn GET  "/admin/two-factor/recovery-codes" => two_factor::recovery_codes_print,
    }
}

/// Every admin route, for tests and documentation.
pub fn route_table() -> Vec<Route> {
    routes().into_iter().map(|(r, _)| r).collect()
}

/// What the session remembers, under one key.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct SessionData {
    /// The token every state-changing form carries.
    pub csrf: String,
    /// Set once sign-in is complete (password and, if enrolled, a code).
    pub account_id: Option<i64>,
    pub email: Option<String>,
    pub signed_in_at: Option<i64>,
    /// The account's credentials stamp when the password was accepted: once the password or
    /// two-factor sign-in changes, or the account is removed, no account has this stamp again,
    /// so the session no longer counts as signed in (even for an account made later under the
    /// same id).
    pub credentials_stamp: Option<String>,
    /// Password accepted, code still needed.
    pub pending_account_id: Option<i64>,
    pub pending_email: Option<String>,
    pub pending_at: Option<i64>,
    /// A two-factor secret being enrolled, sealed.
    pub enrol_secret: Option<String>,
    /// Whether the signed-in account has two-factor sign-in, as of the sign-in or enrolment
    /// (the credentials stamp changes with it, which ends the session). `None`: not known yet,
    /// so read from the account.
    #[serde(default)]
    pub two_factor: Option<bool>,
    /// The recovery codes of an enrolment just made, sealed, and when they were made: kept a
    /// short while so that they can be downloaded or printed, then forgotten.
    #[serde(default)]
    pub recovery_codes: Option<String>,
    #[serde(default)]
    pub recovery_codes_at: Option<i64>,
}

const SESSION_KEY: &str = "admin";

impl SessionData {
    pub(crate) async fn load(session: &Session) -> SessionData {
        session
            .get::<SessionData>(SESSION_KEY)
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    pub(crate) async fn save(&self, session: &Session) -> Result<(), super::AppError> {
        session
            .insert(SESSION_KEY, self)
            .await
            .map_err(super::AppError::from)
    }
}

/// The signed-in clinician, available to protected handlers.
#[derive(Clone, Debug)]
pub struct Admin {
    pub account_id: i64,
    pub email: String,
    pub csrf: String,
}

/// What every protected handler starts from: the app state and the signed-in clinician, whom
/// [`require_sign_in`] found before the handler runs (a route without that check has no
/// clinician, and is answered as a missing extension would be).
pub struct Clinician {
    pub state: AppState,
    pub admin: Admin,
}

impl FromRequestParts<AppState> for Clinician {
    type Rejection = ExtensionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, ExtensionRejection> {
        let Extension(admin) = Extension::<Admin>::from_request_parts(parts, state).await?;
        Ok(Clinician {
            state: state.clone(),
            admin,
        })
    }
}

/// A fresh random token.
pub(crate) fn new_token() -> String {
    crypto::hex::hex(&crypto::random::bytes::<32>())
}

/// Whether `path` is the inbox's: `/admin` and everything under it.
pub(crate) fn is_inbox(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// The admin area: its routes and layers.
pub fn router(state: &AppState) -> Router<AppState> {
    let mut public = Router::new();
    let mut protected = Router::new();
    for (route, handler) in routes() {
        match route.access {
            Access::Public => public = public.route(route.path, handler),
            Access::SignedIn => protected = protected.route(route.path, handler),
        }
    }
    // Protected routes check the sign-in first (no session: to the sign-in page), then CSRF.
    let csrf = axum::middleware::from_fn_with_state(state.clone(), csrf_guard);
    let public = public.route_layer(csrf.clone());
    let protected = protected
        .route_layer(csrf)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_sign_in,
        ));
    let config = &state.config();
    let https = config.server.https();
    let sessions = SessionManagerLayer::new(state.store.sessions())
        .with_name(if https {
            "__Host-kap_admin"
        } else {
            "kap_admin"
        })
        .with_path(if https { "/" } else { "/admin" })
        .with_secure(https)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_always_save(true)
        .with_expiry(Expiry::OnInactivity(CookieDuration::minutes(
            i64::try_from(config.admin.idle_timeout_minutes).unwrap_or(30),
        )));
    public
        .merge(protected)
        .layer(sessions)
        .layer(axum::middleware::from_fn(admin_headers))
}

/// Every admin response: never cached, never indexed.
async fn admin_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    response
}

/// Where an account turns on two-factor sign-in.
pub const TWO_FACTOR_PAGE: &str = "/admin/two-factor";

/// The pages an account without two-factor sign-in may open: the page that turns it on, the
/// first run's welcome, and signing out.
fn open_before_two_factor(path: &str) -> bool {
    matches!(path, TWO_FACTOR_PAGE | "/admin/welcome" | "/admin/logout")
}

/// Lets protected routes through only with a completed, unexpired sign-in.
async fn require_sign_in(
    State(state): State<AppState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    let data = SessionData::load(&session).await;
    let absolute =
        i64::try_from(state.config().admin.absolute_timeout_hours).unwrap_or(12) * 3600 * 1000;
    // The account must still exist with the credentials the session began under: a password or
    // two-factor change, or removing the account, ends its sessions on every server at once.
    let current = match data.account_id {
        Some(id) => match state.store.credentials_stamp(id).await {
            Ok(v) => v,
            Err(e) => return super::AppError::from(e).into_response(),
        },
        None => None,
    };
    match (data.account_id, &data.email, data.signed_in_at) {
        (Some(account_id), Some(email), Some(at))
            if Timestamp::now().as_millisecond() - at < absolute
                && current.is_some()
                && current == data.credentials_stamp =>
        {
            // Every account uses two-factor sign-in: one without it is sent to turn it on
            // before anything else.
            if data.two_factor != Some(true) && !open_before_two_factor(request.uri().path()) {
                match state.store.credentials(email).await {
                    Ok(Some(account)) if account.totp_secret.is_some() => {}
                    Ok(_) => return Redirect::to(TWO_FACTOR_PAGE).into_response(),
                    Err(e) => return super::AppError::from(e).into_response(),
                }
            }
            request.extensions_mut().insert(Admin {
                account_id,
                email: email.clone(),
                csrf: data.csrf.clone(),
            });
            next.run(request).await
        }
        (Some(_), _, _) => {
            // Past the absolute limit, or the credentials changed: end the session on the server.
            let _ = session.flush().await;
            Redirect::to("/admin/login?expired=1").into_response()
        }
        _ => Redirect::to("/admin/login").into_response(),
    }
}

/// Refuses state-changing requests that are cross-site (their forms' tokens are checked by
/// [`posted::InboxForm`]).
async fn csrf_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    // Fetch metadata, when the browser sends it, is the surest signal (Chrome sends
    // `Origin: null` on form posts from pages with `Referrer-Policy: no-referrer`).
    let same_origin = match (site, origin) {
        (Some(s), _) => s == "same-origin",
        (None, Some(o)) => o == state.config().server.base_url,
        (None, None) => false,
    };
    if !same_origin {
        return forbidden(
            &state,
            "This request came from outside the inbox, so it was refused for your safety.",
        );
    }
    // The form's token is checked where the form is read (`posted.rs`).
    next.run(request).await
}

/// After a change to what the public site shows: its pages are prepared again now, so that the
/// next visitor sees the change, and the browser goes on to `to`.
async fn republished(state: &AppState, to: &str) -> Result<Response, super::AppError> {
    crate::live::refresh(state, false).await?;
    Ok(Redirect::to(to).into_response())
}

fn forbidden(state: &AppState, message: &str) -> Response {
    if state.setup.closed() {
        return super::setup::neutral_page(
            state,
            StatusCode::FORBIDDEN,
            "That action was refused",
            &[message],
        );
    }
    let site = state.site.load();
    let html = site
        .renderer
        .status("That action was refused", &[message])
        .unwrap_or_else(|_| message.to_string());
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}
