//! `/admin/two-factor`: turning on two-factor sign-in (TOTP) for the signed-in account.

use super::field_error::FieldError;
use super::posted::inbox_form;
use super::sign_in::{give_back, page_chrome, record_failure, render, second_factor};
use super::views::TwoFactorView;
use super::{Admin, Clinician, SessionData};
use crate::client::client_key;
use crate::form::Posted;
use crate::{AppError, AppState};
use askama::Template;
use auth::throttle;
use auth::{password, totp};
use axum::Extension;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use jiff::Timestamp;
use std::net::SocketAddr;
use store::SignInClaim;
use store::audit::{Action, Entry};
use tower_sessions::Session;

/// A two-factor secret being enrolled, kept sealed in the session: bound to the account it is
/// enrolled for, so it serves no other account and no stored value opens as one.
const ENROL_SECRET: crypto::SealedField = crypto::SealedField::kept("enrol_secret");

/// The recovery codes of an enrolment just made, kept sealed in the session for a short while
/// so that they can be downloaded or printed; bound to the account like the secret.
const RECOVERY_CODES: crypto::SealedField = crypto::SealedField::kept("recovery_codes");

/// How long after an enrolment its recovery codes can be downloaded or printed.
const RECOVERY_CODES_FOR_MS: i64 = 15 * 60 * 1000;

/// The recovery codes of the enrolment just made in this session, for the handlers that give
/// them out: they run only while the codes are kept; otherwise the answer is [`codes_gone`].
pub struct KeptCodes(Vec<String>);

impl FromRequestParts<AppState> for KeptCodes {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Extension(admin) = Extension::<Admin>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match kept_recovery_codes(state, &admin, &session).await {
            Some(codes) => Ok(KeptCodes(codes)),
            None => Err(codes_gone()),
        }
    }
}

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
    let sealed = crypto::hex::unhex(data.recovery_codes.as_deref()?)?;
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
    Clinician { state, admin }: Clinician,
    KeptCodes(codes): KeptCodes,
) -> Result<Response, AppError> {
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
    Clinician { state, admin }: Clinician,
    KeptCodes(codes): KeptCodes,
) -> Result<Response, AppError> {
    let view = super::views::RecoveryCodesView {
        chrome: page_chrome(&state, &admin, "Recovery codes", "two-factor").await?,
        practice: state.config().practice.name.clone(),
        recovery_codes: codes,
    };
    Ok(render(StatusCode::OK, view.render()))
}

/// The two-factor secret being enrolled for `admin`, kept sealed in the session.
fn enrol_secret(state: &AppState, admin: &Admin, data: &SessionData) -> Option<Vec<u8>> {
    use crypto::hex::unhex;
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
            data.enrol_secret = Some(crypto::hex::hex(
                &keys.seal(ENROL_SECRET.of(admin.account_id), &crypto::hex::hex(&s)),
            ));
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
        chrome: page_chrome(state, admin, title, "two-factor").await?,
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
    Clinician { state, admin }: Clinician,
    session: Session,
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

inbox_form!(
    /// The form that turns on two-factor sign-in.
    TwoFactorForm { password, current_code, code }
);

/// Turns on two-factor sign-in, or replaces it (a new phone, new recovery codes).
///
/// A signed-in session alone is not enough: someone who took over a session, without the
/// password or the phone, could otherwise put their own app in the owner's place, end the
/// owner's other sessions and keep ten recovery codes. So the form asks for the account's
/// password every time and, when two-factor sign-in is on, a current code (from the app as it
/// is set up now, or a recovery code). These checks count as sign-in attempts: counted before
/// they are made, not made while sign-in is paused, and audited when wrong.
pub async fn enable_two_factor(
    Clinician { state, admin }: Clinician,
    session: Session,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Posted(form): Posted<TwoFactorForm>,
) -> Result<Response, AppError> {
    let now = Timestamp::now();
    let TwoFactorForm {
        password: pw,
        current_code,
        code,
        ..
    } = form;
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
            throttle::slow_down(&attempts).await;
            began_pause
        }
    };
    // What was wrong, for the log, and the field and message that say it.
    let wrong = if !password::verify_aside(pw, Some(account.password_hash.clone())).await {
        Some((
            "wrong password on the two-factor page",
            "password",
            "The password is not right. Enter the password you sign in with",
        ))
    } else if enabled
        && second_factor(&state, &account, &current_code, now)
            .await?
            .is_none()
    {
        Some((
            "wrong code on the two-factor page",
            "current_code",
            "That code is not right, or was used already. Enter the newest code from your app as it is set up now, or an unused recovery code",
        ))
    } else {
        None
    };
    if let Some((why, field, message)) = wrong {
        record_failure(&state, &admin.email, why, began_pause, now).await?;
        let error = FieldError::new(field, message);
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
        Some(crypto::hex::hex(&state.store.keys().seal(
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
