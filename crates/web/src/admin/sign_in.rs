//! Signing in and out, and turning on two-factor sign-in.
//!
//! Answers never reveal whether an account exists: a wrong email and a wrong password get the
//! same words, take the same time (a dummy hash is checked), and count toward the same throttle.
//! Each attempt is counted before its password or code is checked, and while sign-in is paused
//! nothing is checked; see [`auth::throttle`].

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;
use tower_sessions::Session;

use super::field_error::FieldError;
use super::posted::{Button, inbox_form};
use super::views::{Chrome, CodeView, LoginView};
use super::{Admin, Clinician, SessionData, new_token};
use crate::client::{ClientKey, client_key};
use crate::form::Posted;
use crate::site::error_title;
use crate::{AppError, AppState};
use auth::throttle;
use auth::{password, totp};
use store::SignInClaim;
use store::audit::{Action, Entry};

/// How long a password-only sign-in waits for its code.
const PENDING_FOR_MS: i64 = 5 * 60 * 1000;

pub(super) fn chrome(
    state: &AppState,
    title: &str,
    email: Option<String>,
    csrf: &str,
    new_count: i64,
    current: &'static str,
) -> Chrome {
    let site = state.site.load();
    Chrome {
        title: title.to_string(),
        css: site.renderer.assets.css.clone(),
        favicon: site.renderer.assets.favicon.clone(),
        // While the site is being set up, the example practice's name is not shown here either.
        practice: if state.setup.closed() {
            "New practice".to_string()
        } else {
            state.config().practice.name.clone()
        },
        email,
        csrf: csrf.to_string(),
        new_count,
        current,
    }
}

/// The chrome of a signed-in page with a form: when the form has mistakes the title starts
/// with "Error: ", as the GOV.UK error pattern asks.
pub(super) async fn form_chrome(
    state: &AppState,
    admin: &Admin,
    title: &str,
    has_errors: bool,
    current: &'static str,
) -> Result<Chrome, AppError> {
    page_chrome(state, admin, &error_title(title, has_errors), current).await
}

/// The chrome of a form shown before any session exists (a forgotten password, a new one, the
/// first account): its token is a signed one, and the title says "Error: " as
/// [`form_chrome`]'s does.
pub(super) fn signed_out_chrome(state: &AppState, title: &str, has_errors: bool) -> Chrome {
    let title = error_title(title, has_errors);
    chrome(state, &title, None, &sign_in_token(state), 0, "")
}

/// The chrome of a signed-in page: the clinician, the form token and the count of new requests.
pub(super) async fn page_chrome(
    state: &AppState,
    admin: &Admin,
    title: &str,
    current: &'static str,
) -> Result<Chrome, AppError> {
    Ok(chrome(
        state,
        title,
        Some(admin.email.clone()),
        &admin.csrf,
        state.store.count_new().await?,
        current,
    ))
}

pub(super) fn render(status: StatusCode, page: Result<String, askama::Error>) -> Response {
    match page {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => AppError::from(e).into_response(),
    }
}

/// The session's data, with a CSRF token created if it has none yet.
async fn with_token(session: &Session) -> Result<SessionData, AppError> {
    let mut data = SessionData::load(session).await;
    if data.csrf.is_empty() {
        data.csrf = new_token();
        data.save(session).await?;
    }
    Ok(data)
}

#[derive(Deserialize)]
pub struct LoginQuery {
    expired: Option<String>,
    signed_out: Option<String>,
    reset: Option<String>,
}

/// The sign-in form's CSRF token: signed and short-lived rather than stored, so that showing the
/// form (or refusing a sign-in) writes nothing on the server. With the same-origin check that
/// every admin post passes, it keeps other sites from posting the form.
pub(super) fn sign_in_token(state: &AppState) -> String {
    state.form_tokens.issue(Timestamp::now())
}

/// How long a sign-in form may be left open before it is sent.
pub(super) const SIGN_IN_FORM_AGE: jiff::SignedDuration = jiff::SignedDuration::from_hours(2);

pub async fn login_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<LoginQuery>,
) -> Result<Response, AppError> {
    let data = SessionData::load(&session).await;
    if data.account_id.is_some() {
        return Ok(Redirect::to("/admin").into_response());
    }
    let notice = if q.expired.is_some() {
        Some("Your session ended, so you were signed out. Please sign in again.".to_string())
    } else if q.signed_out.is_some() {
        Some("You have signed out.".to_string())
    } else if q.reset.is_some() {
        Some("Your new password is saved, and every session of the account has ended. Sign in with it; your sign-in code is still asked for.".to_string())
    } else {
        None
    };
    Ok(login_form(
        &state,
        &sign_in_token(&state),
        String::new(),
        None,
        notice,
        StatusCode::OK,
    ))
}

fn login_form(
    state: &AppState,
    csrf: &str,
    email: String,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let view = LoginView {
        chrome: chrome(state, "Sign in", None, csrf, 0, ""),
        email,
        error,
        notice,
    };
    render(status, view.render())
}

/// The answer while sign-in is paused.
fn paused(state: &AppState, csrf: &str, email: &str, until: Timestamp) -> Response {
    let until = super::views::when(until, &state.time_zone());
    login_form(
        state,
        csrf,
        email.to_string(),
        Some(format!(
            "Too many failed attempts, so sign-in is paused for a while. Try again after {until}. If you have forgotten your password, choose \"Forgot your password?\" below."
        )),
        None,
        StatusCode::TOO_MANY_REQUESTS,
    )
}

/// Counts this attempt against its email's and its address's counters before its password or
/// code is checked. `Err` carries the paused answer: nothing may be checked, and nothing was
/// counted (the failure that began the pause is in the audit log already). `Ok` says whether
/// this attempt began a pause, once it has waited as long as the counts ask.
async fn claim(
    state: &AppState,
    email: &str,
    client: ClientKey,
    csrf: &str,
    now: Timestamp,
) -> Result<Result<bool, Response>, AppError> {
    let counters = [throttle::account(email), throttle::address(client)];
    match state.store.claim_sign_in_attempt(&counters, now).await? {
        SignInClaim::Paused(until) => Ok(Err(paused(state, csrf, email, until))),
        SignInClaim::Counted {
            attempts,
            began_pause,
        } => {
            throttle::slow_down(&attempts).await;
            Ok(Ok(began_pause))
        }
    }
}

/// Gives back an attempt that was right but is not a whole sign-in yet (the password, with a
/// code still to come): the email's earlier failures still count.
pub(super) async fn give_back(
    state: &AppState,
    email: &str,
    client: ClientKey,
) -> Result<(), AppError> {
    for counter in [throttle::account(email), throttle::address(client)] {
        state.store.give_back_sign_in_attempt(&counter).await?;
    }
    Ok(())
}

/// Writes a failed attempt in the audit log, saying so when it began a pause (exactly one
/// attempt does: the one whose count reached the limit).
pub(super) async fn record_failure(
    state: &AppState,
    actor: &str,
    why: &str,
    began_pause: bool,
    now: Timestamp,
) -> Result<(), AppError> {
    let detail = if began_pause {
        format!("{why}; sign-in paused")
    } else {
        why.to_string()
    };
    state
        .store
        .audit(&Entry::new(actor, Action::SignInFailed).detail(detail), now)
        .await?;
    Ok(())
}

/// Refuses, without touching the database, an address that has sent too many attempts in the
/// last minute.
fn too_fast(state: &AppState, client: ClientKey) -> Option<Response> {
    if state.sign_in_limiter.allow(client) {
        return None;
    }
    Some(login_form(
        state,
        &sign_in_token(state),
        String::new(),
        Some("Too many sign-in attempts came from your network just now. Wait a minute, then try again.".into()),
        None,
        StatusCode::TOO_MANY_REQUESTS,
    ))
}

/// Completes a sign-in: a new session id, the account in the session, a new CSRF token.
pub(super) async fn complete(
    state: &AppState,
    session: &Session,
    account: &store::Credentials,
    detail: &str,
    now: Timestamp,
) -> Result<Response, AppError> {
    let (account_id, email) = (account.id, account.email.as_str());
    session.cycle_id().await?;
    let data = SessionData {
        csrf: new_token(),
        account_id: Some(account_id),
        email: Some(email.to_string()),
        signed_in_at: Some(now.as_millisecond()),
        credentials_stamp: Some(account.credentials_stamp.clone()),
        two_factor: Some(account.totp_secret.is_some()),
        ..SessionData::default()
    };
    data.save(session).await?;
    state
        .store
        .clear_sign_in_failures(&throttle::account_subject(email))
        .await?;
    state
        .store
        .audit(&Entry::new(email, Action::SignIn).detail(detail), now)
        .await?;
    // An account without two-factor sign-in turns it on before anything else.
    let next = if account.totp_secret.is_some() {
        "/admin"
    } else {
        super::TWO_FACTOR_PAGE
    };
    Ok(Redirect::to(next).into_response())
}

inbox_form!(
    /// The sign-in form.
    SignInForm { email, password }
);

pub async fn login(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Posted(form): Posted<SignInForm>,
) -> Result<Response, AppError> {
    let now = Timestamp::now();
    // Nothing is stored for this visitor until the password is right.
    let csrf = sign_in_token(&state);
    let email = form.email.trim().to_string();
    let pw = form.password;
    let client = client_key(peer.ip(), &headers, &state.config().server.trusted_proxies);
    if let Some(refused) = too_fast(&state, client) {
        return Ok(refused);
    }
    let began_pause = match claim(&state, &email, client, &csrf, now).await? {
        Ok(began_pause) => began_pause,
        Err(refused) => return Ok(refused),
    };
    let account = if email.is_empty() {
        None
    } else {
        state.store.credentials(&email).await?
    };
    let valid = password::verify_aside(pw, account.as_ref().map(|a| a.password_hash.clone())).await;
    let Some(account) = account.filter(|_| valid) else {
        let actor = if state.store.credentials(&email).await?.is_some() {
            email.as_str()
        } else {
            "unknown"
        };
        record_failure(&state, actor, "wrong email or password", began_pause, now).await?;
        return Ok(login_form(
            &state,
            &csrf,
            email,
            Some("The email address or password is not right. Check them and try again.".into()),
            None,
            StatusCode::UNAUTHORIZED,
        ));
    };
    if account.totp_secret.is_some() {
        give_back(&state, &email, client).await?;
        session.cycle_id().await?;
        let pending = SessionData {
            csrf: new_token(),
            pending_account_id: Some(account.id),
            pending_email: Some(account.email.clone()),
            pending_at: Some(now.as_millisecond()),
            credentials_stamp: Some(account.credentials_stamp.clone()),
            ..SessionData::default()
        };
        pending.save(&session).await?;
        return Ok(Redirect::to("/admin/login/code").into_response());
    }
    // A whole sign-in: the address's attempt is given back, the email's count cleared.
    state
        .store
        .give_back_sign_in_attempt(&throttle::address(client))
        .await?;
    complete(&state, &session, &account, "password", now).await
}

/// Uses `code` as the account's second factor, once: a code from its authenticator app (a step
/// not used before) or one of its unused recovery codes (written in the audit log). Returns
/// how the sign-in was made, or `None` when the code is not right.
pub(super) async fn second_factor(
    state: &AppState,
    account: &store::Credentials,
    code: &str,
    now: Timestamp,
) -> Result<Option<&'static str>, AppError> {
    if let Some(secret) = &account.totp_secret
        && let Some(step) = totp::verify(secret, code, now, account.totp_last_step)
        && state.store.use_totp_step(account.id, step).await?
    {
        return Ok(Some("password and code"));
    }
    if account.totp_secret.is_some() && (code.contains('-') || code.trim().len() >= 10) {
        let hash = totp::recovery_code_hash(code);
        if state
            .store
            .use_recovery_code(account.id, &hash, now)
            .await?
        {
            state
                .store
                .audit(&Entry::new(&account.email, Action::RecoveryCodeUsed), now)
                .await?;
            return Ok(Some("password and recovery code"));
        }
    }
    Ok(None)
}

fn code_form(state: &AppState, csrf: &str, error: Option<String>, status: StatusCode) -> Response {
    let view = CodeView {
        chrome: chrome(state, "Sign-in code", None, csrf, 0, ""),
        error,
    };
    render(status, view.render())
}

fn pending(data: &SessionData, now: Timestamp) -> Option<(i64, String)> {
    match (
        data.pending_account_id,
        &data.pending_email,
        data.pending_at,
    ) {
        (Some(id), Some(email), Some(at)) if now.as_millisecond() - at < PENDING_FOR_MS => {
            Some((id, email.clone()))
        }
        _ => None,
    }
}

pub async fn code_page(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, AppError> {
    // Checked before a token is stored, so that a visitor with no sign-in under way gets no
    // session (and no cookie).
    if pending(&SessionData::load(&session).await, Timestamp::now()).is_none() {
        return Ok(Redirect::to("/admin/login").into_response());
    }
    let data = with_token(&session).await?;
    Ok(code_form(&state, &data.csrf, None, StatusCode::OK))
}

inbox_form!(
    /// The sign-in code's form.
    CodeForm { code }
);

pub async fn code(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Posted(CodeForm { code, .. }): Posted<CodeForm>,
) -> Result<Response, AppError> {
    let now = Timestamp::now();
    let data = with_token(&session).await?;
    let Some((account_id, email)) = pending(&data, now) else {
        return Ok(Redirect::to("/admin/login").into_response());
    };
    let client = client_key(peer.ip(), &headers, &state.config().server.trusted_proxies);
    if let Some(refused) = too_fast(&state, client) {
        return Ok(refused);
    }
    // A code is an attempt like a password: counted first, and not checked while paused.
    let began_pause = match claim(&state, &email, client, &data.csrf, now).await? {
        Ok(began_pause) => began_pause,
        Err(refused) => return Ok(refused),
    };
    let Some(account) = state.store.credentials(&email).await?.filter(|a| {
        a.id == account_id && data.credentials_stamp.as_ref() == Some(&a.credentials_stamp)
    }) else {
        return Ok(Redirect::to("/admin/login").into_response());
    };
    if let Some(how) = second_factor(&state, &account, &code, now).await? {
        state
            .store
            .give_back_sign_in_attempt(&throttle::address(client))
            .await?;
        return complete(&state, &session, &account, how, now).await;
    }
    record_failure(&state, &account.email, "wrong code", began_pause, now).await?;
    Ok(code_form(
        &state,
        &data.csrf,
        Some(
            "That code is not right, or was used already. Enter the newest code from your app."
                .into(),
        ),
        StatusCode::UNAUTHORIZED,
    ))
}

pub async fn logout(
    Clinician { state, admin }: Clinician,
    session: Session,
    _: Posted<Button>,
) -> Result<Response, AppError> {
    state
        .store
        .audit(&Entry::new(&admin.email, Action::SignOut), Timestamp::now())
        .await?;
    session.flush().await?;
    Ok(Redirect::to("/admin/login?signed_out=1").into_response())
}

/// What is wrong with a new password `pw`, typed again as `again`, for the account of `email`
/// (the policy refuses one made of the address or the practice's names): none, or the message
/// by the field to fix.
pub(super) fn new_password_problem(
    state: &AppState,
    email: &str,
    pw: &str,
    again: &str,
) -> Option<FieldError> {
    let config = state.config();
    let context = [
        email,
        config.practice.name.as_str(),
        config.practice.clinician_name.as_str(),
    ];
    if pw.is_empty() {
        Some(FieldError::new("password", "Choose a password"))
    } else if let Err(problem) = password::check_policy(pw, &context) {
        let message = super::words::capitalised(&problem.to_string());
        Some(FieldError::new("password", message))
    } else if pw != again {
        Some(FieldError::new(
            "password_again",
            "The two passwords are not the same: type the same password in both boxes",
        ))
    } else {
        None
    }
}

/// `pw` hashed to be stored.
pub(super) fn hashed(pw: &str) -> Result<String, AppError> {
    // Hashing fails only when the operating system gives no randomness for the salt.
    password::hash(pw).map_err(|_| AppError::Store(store::StoreError::NoRandomness))
}
