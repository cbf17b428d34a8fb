//! Signing in and out, and turning on two-factor sign-in.
//!
//! Answers never reveal whether an account exists: a wrong email and a wrong password get the
//! same words, take the same time (a dummy hash is checked), and count toward the same throttle.
//! Each attempt is counted before its password or code is checked, and while sign-in is paused
//! nothing is checked; see [`crate::auth::throttle`].

use std::net::SocketAddr;

use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;
use tower_sessions::Session;

use super::field_error::FieldError;
use super::views::{Chrome, CodeView, LoginView, TwoFactorView};
use super::{Admin, SessionData, new_token};
use crate::audit::{Action, Entry};
use crate::auth::throttle;
use crate::auth::{password, totp};
use crate::store::SignInClaim;
use crate::web::client::{ClientKey, client_key};
use crate::web::form::decode;
use crate::web::{AppError, AppState};

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
    let title = if has_errors {
        format!("Error: {title}")
    } else {
        title.to_string()
    };
    Ok(chrome(
        state,
        &title,
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
            let count = |i: usize| attempts.get(i).copied().unwrap_or(0);
            tokio::time::sleep(throttle::delay(count(0), count(1))).await;
            Ok(Ok(began_pause))
        }
    }
}

/// Gives back an attempt that was right but is not a whole sign-in yet (the password, with a
/// code still to come): the email's earlier failures still count.
async fn give_back(state: &AppState, email: &str, client: ClientKey) -> Result<(), AppError> {
    for counter in [throttle::account(email), throttle::address(client)] {
        state.store.give_back_sign_in_attempt(&counter).await?;
    }
    Ok(())
}

/// Writes a failed attempt in the audit log, saying so when it began a pause (exactly one
/// attempt does: the one whose count reached the limit).
async fn record_failure(
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
    account: &crate::store::Credentials,
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

pub async fn login(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let now = Timestamp::now();
    // Nothing is stored for this visitor until the password is right.
    let csrf = sign_in_token(&state);
    let fields = decode(&body, &["email", "password"]).unwrap_or_default();
    let email = fields
        .get("email")
        .map(|e| e.trim().to_string())
        .unwrap_or_default();
    let pw = fields.get("password").cloned().unwrap_or_default();
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
async fn second_factor(
    state: &AppState,
    account: &crate::store::Credentials,
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

pub async fn code(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
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
    let code = decode(&body, &["code"])
        .ok()
        .and_then(|mut f| f.remove("code"))
        .unwrap_or_default();
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
    State(state): State<AppState>,
    session: Session,
    Extension(admin): Extension<Admin>,
) -> Result<Response, AppError> {
    state
        .store
        .audit(&Entry::new(&admin.email, Action::SignOut), Timestamp::now())
        .await?;
    session.flush().await?;
    Ok(Redirect::to("/admin/login?signed_out=1").into_response())
}

/// A two-factor secret being enrolled, kept sealed in the session: bound to the account it is
/// enrolled for, so it serves no other account and no stored value opens as one.
const ENROL_SECRET: crate::crypto::SealedField = crate::crypto::SealedField::kept("enrol_secret");

/// The recovery codes of an enrolment just made, kept sealed in the session for a short while
/// so that they can be downloaded or printed; bound to the account like the secret.
const RECOVERY_CODES: crate::crypto::SealedField =
    crate::crypto::SealedField::kept("recovery_codes");

/// How long after an enrolment its recovery codes can be downloaded or printed.
const RECOVERY_CODES_FOR_MS: i64 = 15 * 60 * 1000;

/// The recovery codes of the enrolment just made in this session, while they are kept.
async fn kept_recovery_codes(
    state: &AppState,
    admin: &Admin,
    session: &Session,
) -> Option<Vec<String>> {
    let data = SessionData::load(session).await;
    let at = data.recovery_codes_at?;
    if Timestamp::now().as_millisecond() - at >= RECOVERY_CODES_FOR_MS {
        return None;
    }
    let sealed = crate::crypto::hex::unhex(data.recovery_codes.as_deref()?)?;
    let codes = state
        .store
        .keys()
        .open(RECOVERY_CODES.of(admin.account_id), &sealed)
        .ok()?;
    Some(codes.lines().map(str::to_string).collect())
}

/// The page that says the recovery codes are no longer kept.
fn codes_gone() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Recovery codes</title><p>The recovery codes are shown only for 15 minutes after turning on two-factor sign-in, in the session that turned it on. To get new ones, <a href=\"/admin/two-factor\">enrol again</a>.</p></html>",
        ),
    )
        .into_response()
}

/// `/admin/two-factor/recovery-codes.txt`: the codes just made, as a plain-text file.
pub async fn recovery_codes_file(
    State(state): State<AppState>,
    session: Session,
    Extension(admin): Extension<Admin>,
) -> Result<Response, AppError> {
    let Some(codes) = kept_recovery_codes(&state, &admin, &session).await else {
        return Ok(codes_gone());
    };
    let text = recovery_codes_text(&state.config().practice.name, &admin.email, &codes);
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"recovery-codes.txt\"",
            ),
        ],
        text,
    )
        .into_response())
}

/// The recovery codes as the file says them.
fn recovery_codes_text(practice: &str, email: &str, codes: &[String]) -> String {
    let mut text = format!(
        "Recovery codes for signing in to the inbox of {practice} as {email}\n\nEach code works once, if you no longer have your authenticator app.\nKeep them somewhere safe, away from your phone.\n\n"
    );
    for code in codes {
        text.push_str(code);
        text.push('\n');
    }
    text
}

/// `/admin/two-factor/recovery-codes`: the codes just made on a page of their own, to print.
pub async fn recovery_codes_print(
    State(state): State<AppState>,
    session: Session,
    Extension(admin): Extension<Admin>,
) -> Result<Response, AppError> {
    let Some(codes) = kept_recovery_codes(&state, &admin, &session).await else {
        return Ok(codes_gone());
    };
    let view = super::views::RecoveryCodesView {
        chrome: chrome(
            &state,
            "Recovery codes",
            Some(admin.email.clone()),
            &admin.csrf,
            0,
            "two-factor",
        ),
        practice: state.config().practice.name.clone(),
        recovery_codes: codes,
    };
    Ok(render(StatusCode::OK, view.render()))
}

/// The two-factor secret being enrolled for `admin`, kept sealed in the session.
fn enrol_secret(state: &AppState, admin: &Admin, data: &SessionData) -> Option<Vec<u8>> {
    use crate::crypto::hex::unhex;
    let sealed = unhex(data.enrol_secret.as_deref()?)?;
    unhex(
        &state
            .store
            .keys()
            .open(ENROL_SECRET.of(admin.account_id), &sealed)
            .ok()?,
    )
}

/// What the two-factor page shows besides its enrolment key: mistakes in the form sent, or
/// the recovery codes of an enrolment just made.
#[derive(Default)]
struct TwoFactorOutcome {
    errors: Vec<FieldError>,
    recovery_codes: Vec<String>,
}

async fn two_factor_view(
    state: &AppState,
    session: &Session,
    admin: &Admin,
    outcome: TwoFactorOutcome,
    status: StatusCode,
) -> Result<Response, AppError> {
    let enrolled = !outcome.recovery_codes.is_empty();
    let mut data = SessionData::load(session).await;
    let keys = state.store.keys();
    let secret = match (enrolled, enrol_secret(state, admin, &data)) {
        (true, _) => Vec::new(),
        (false, Some(s)) => s,
        (false, None) => {
            let s = totp::new_secret();
            data.enrol_secret = Some(crate::crypto::hex::hex(&keys.seal(
                ENROL_SECRET.of(admin.account_id),
                &crate::crypto::hex::hex(&s),
            )));
            data.save(session).await?;
            s
        }
    };
    let issuer = state.config().practice.name.clone();
    let (qr_svg, secret, otpauth_url) = if enrolled {
        (String::new(), String::new(), String::new())
    } else {
        let url = totp::otpauth_url(&secret, &issuer, &admin.email).unwrap_or_default();
        (
            totp::qr_svg(&url).unwrap_or_default(),
            totp::secret_base32(&secret, &issuer, &admin.email).unwrap_or_default(),
            url,
        )
    };
    let account = state.store.credentials(&admin.email).await?;
    let next = if state.store.practice_details().await?.is_none() {
        (
            super::first_run::DETAILS_PAGE,
            "Next: enter the practice's details",
        )
    } else {
        ("/admin", "Go to the inbox")
    };
    let title = if outcome.errors.is_empty() {
        "Two-factor sign-in"
    } else {
        "Error: Two-factor sign-in"
    };
    let view = TwoFactorView {
        chrome: chrome(
            state,
            title,
            Some(admin.email.clone()),
            &admin.csrf,
            state.store.count_new().await?,
            "two-factor",
        ),
        enabled: account.as_ref().is_some_and(|a| a.totp_secret.is_some()),
        qr_svg,
        secret,
        otpauth_url,
        issuer: if enrolled { String::new() } else { issuer },
        errors: outcome.errors,
        recovery_codes: outcome.recovery_codes,
        unused_codes: state.store.unused_recovery_codes(admin.account_id).await?,
        next_href: next.0,
        next_label: next.1,
    };
    Ok(render(status, view.render()))
}

pub async fn two_factor_page(
    State(state): State<AppState>,
    session: Session,
    Extension(admin): Extension<Admin>,
) -> Result<Response, AppError> {
    two_factor_view(
        &state,
        &session,
        &admin,
        TwoFactorOutcome::default(),
        StatusCode::OK,
    )
    .await
}

/// Turns on two-factor sign-in, or replaces it (a new phone, new recovery codes).
///
/// A signed-in session alone is not enough: someone who took over a session, without the
/// password or the phone, could otherwise put their own app in the owner's place, end the
/// owner's other sessions and keep ten recovery codes. So the form asks for the account's
/// password every time and, when two-factor sign-in is on, a current code (from the app as it
/// is set up now, or a recovery code). These checks count as sign-in attempts: counted before
/// they are made, not made while sign-in is paused, and audited when wrong.
pub async fn enable_two_factor(
    State(state): State<AppState>,
    session: Session,
    Extension(admin): Extension<Admin>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let now = Timestamp::now();
    let mut form = decode(&body, &["password", "current_code", "code"]).unwrap_or_default();
    let pw = form.remove("password").unwrap_or_default();
    let current_code = form.remove("current_code").unwrap_or_default();
    let code = form.remove("code").unwrap_or_default();
    let Some(account) = state
        .store
        .credentials(&admin.email)
        .await?
        .filter(|a| a.id == admin.account_id)
    else {
        return Ok(Redirect::to("/admin/login?expired=1").into_response());
    };
    let enabled = account.totp_secret.is_some();
    let mut data = SessionData::load(&session).await;
    let secret = enrol_secret(&state, &admin, &data);
    let step = secret
        .as_ref()
        .and_then(|s| totp::verify(s, &code, now, None));
    let refuse = |errors: Vec<FieldError>, status: StatusCode| {
        two_factor_view(
            &state,
            &session,
            &admin,
            TwoFactorOutcome {
                errors,
                ..TwoFactorOutcome::default()
            },
            status,
        )
    };
    let mut errors = Vec::new();
    if pw.is_empty() {
        errors.push(FieldError::new("password", "Enter your password"));
    }
    if enabled && current_code.trim().is_empty() {
        errors.push(FieldError::new(
            "current_code",
            "Enter the code your app shows now, or one of your recovery codes",
        ));
    }
    if code.trim().is_empty() {
        errors.push(FieldError::new(
            "code",
            "Enter the six-digit code your app shows for the new key",
        ));
    } else if step.is_none() {
        // Checked first, as it tells nothing about the account: nothing is used up yet.
        errors.push(FieldError::new(
            "code",
            "That code is not right. Enter the six digits your app shows now for the new key",
        ));
    }
    if !errors.is_empty() {
        return refuse(errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let client = client_key(peer.ip(), &headers, &state.config().server.trusted_proxies);
    if !state.sign_in_limiter.allow(client) {
        let error = FieldError::new(
            "password",
            "Too many attempts came from your network just now. Wait a minute, then try again",
        );
        return refuse(vec![error], StatusCode::TOO_MANY_REQUESTS).await;
    }
    let counters = [throttle::account(&admin.email), throttle::address(client)];
    let began_pause = match state.store.claim_sign_in_attempt(&counters, now).await? {
        SignInClaim::Paused(until) => {
            let until = super::views::when(until, &state.time_zone());
            let error = FieldError::new(
                "password",
                format!(
                    "Too many failed attempts, so checking your password is paused for a while. Try again after {until}"
                ),
            );
            return refuse(vec![error], StatusCode::TOO_MANY_REQUESTS).await;
        }
        SignInClaim::Counted {
            attempts,
            began_pause,
        } => {
            let count = |i: usize| attempts.get(i).copied().unwrap_or(0);
            tokio::time::sleep(throttle::delay(count(0), count(1))).await;
            began_pause
        }
    };
    if !password::verify_aside(pw, Some(account.password_hash.clone())).await {
        record_failure(
            &state,
            &admin.email,
            "wrong password on the two-factor page",
            began_pause,
            now,
        )
        .await?;
        let error = FieldError::new(
            "password",
            "The password is not right. Enter the password you sign in with",
        );
        return refuse(vec![error], StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    if enabled
        && second_factor(&state, &account, &current_code, now)
            .await?
            .is_none()
    {
        record_failure(
            &state,
            &admin.email,
            "wrong code on the two-factor page",
            began_pause,
            now,
        )
        .await?;
        let error = FieldError::new(
            "current_code",
            "That code is not right, or was used already. Enter the newest code from your app as it is set up now, or an unused recovery code",
        );
        return refuse(vec![error], StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    give_back(&state, &admin.email, client).await?;
    let (Some(secret), Some(step)) = (secret, step) else {
        return Err(AppError::NotFound);
    };
    let codes = totp::new_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_code_hash(c)).collect();
    let entry = Entry::new(&admin.email, Action::TwoFactorEnrolled);
    let entry = if enabled {
        entry.detail("replaced the earlier one")
    } else {
        entry
    };
    // The account's other sessions end; this one carries on under the new credentials.
    let stamp = state
        .store
        .enable_two_factor(admin.account_id, &secret, step, &hashes, now, &entry)
        .await?;
    // Its row went with the others; a new id gives it a new one (a save only ever updates an
    // existing session, see store/sessions.rs).
    session.cycle_id().await?;
    data.enrol_secret = None;
    data.credentials_stamp = stamp;
    data.two_factor = Some(true);
    data.recovery_codes =
        Some(crate::crypto::hex::hex(&state.store.keys().seal(
            RECOVERY_CODES.of(admin.account_id),
            &codes.join("\n"),
        )));
    data.recovery_codes_at = Some(now.as_millisecond());
    data.save(&session).await?;
    two_factor_view(
        &state,
        &session,
        &admin,
        TwoFactorOutcome {
            recovery_codes: codes,
            ..TwoFactorOutcome::default()
        },
        StatusCode::OK,
    )
    .await
}
