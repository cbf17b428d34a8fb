//! "Forgot your password?": a link sent to the account's email to choose a new password.
//!
//! The request form answers the same words, after the same work, whether or not an account
//! uses the address (the email leaves in the background), and is limited per address and per
//! email: a few links in a quarter of an hour, then none for a while, still with the same
//! answer. The link is signed, short-lived and works once ([`auth::reset`]); the email
//! and the link hold nothing but the token. A new password follows the rules of `admin add`,
//! ends the account's sessions everywhere and is audited; it does not sign in: the next
//! sign-in still asks for the second factor (or, without one, sends the account to turn it
//! on before anything else).

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::{SignedDuration, Timestamp};

use super::field_error::{FieldError, FieldErrors as _};
use super::posted::inbox_form;
use super::sign_in::{hashed, new_password_problem, render, signed_out_chrome};
use crate::client::client_key;
use crate::form::Posted;
use crate::{AppError, AppState};
use auth::reset::{RESET_LIFETIME, ResetTokens};
use store::SignInClaim;
use store::audit::{Action, Entry};

/// Links asked for one email within [`LIMIT_WINDOW`] before no more are sent for a while.
const PER_EMAIL: i64 = 3;
/// Links asked for from one address within [`LIMIT_WINDOW`].
const PER_ADDRESS: i64 = 10;
const LIMIT_WINDOW: SignedDuration = SignedDuration::from_mins(15);
const LIMIT_PAUSE: SignedDuration = SignedDuration::from_mins(15);

#[derive(Template)]
#[template(path = "admin/forgot.html")]
struct ForgotView {
    chrome: super::views::Chrome,
    mail: bool,
    sent: bool,
    email: String,
    errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "admin/reset.html")]
struct ResetView {
    chrome: super::views::Chrome,
    token: String,
    errors: Vec<FieldError>,
}

fn forgot_page(
    state: &AppState,
    sent: bool,
    email: String,
    errors: Vec<FieldError>,
    status: StatusCode,
) -> Response {
    let view = ForgotView {
        chrome: signed_out_chrome(state, "Forgot your password?", !errors.is_empty()),
        mail: state.mail_enabled,
        sent,
        email,
        errors,
    };
    render(status, view.render())
}

inbox_form!(
    /// "Forgot your password?": the address to send a link to.
    ForgotForm { email } "Nothing was sent."
);

inbox_form!(
    /// The new password, twice.
    NewPasswordForm { password, password_again } "The password was not changed."
);

pub async fn forgot(State(state): State<AppState>) -> Response {
    forgot_page(&state, false, String::new(), Vec::new(), StatusCode::OK)
}

/// Sends a reset link if an account uses the address and the limits allow; answers the same
/// either way.
pub async fn ask(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Posted(form): Posted<ForgotForm>,
) -> Result<Response, AppError> {
    let now = Timestamp::now();
    let email = form.email.trim().to_string();
    if !practice::consultation::valid_email(&email) {
        let error = FieldError::new(
            "email",
            "Enter the email address you sign in with, like name@example.com",
        );
        return Ok(forgot_page(
            &state,
            false,
            email,
            vec![error],
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    if !state.mail_enabled {
        return Ok(forgot_page(
            &state,
            false,
            email,
            Vec::new(),
            StatusCode::OK,
        ));
    }
    let client = client_key(peer.ip(), &headers, &state.config().server.trusted_proxies);
    let within_limits = state.sign_in_limiter.allow(client) && {
        let counters = [
            auth::throttle::Counter {
                subject: format!("reset:{}", auth::email_key(&email)),
                limit: PER_EMAIL,
                pause: LIMIT_PAUSE,
                window: LIMIT_WINDOW,
            },
            auth::throttle::Counter {
                subject: format!("reset-ip:{client}"),
                limit: PER_ADDRESS,
                pause: LIMIT_PAUSE,
                window: LIMIT_WINDOW,
            },
        ];
        // The attempt that reaches a limit is the last one sent.
        matches!(
            state.store.claim_sign_in_attempt(&counters, now).await?,
            SignInClaim::Counted { .. }
        )
    };
    let account = state.store.credentials(&email).await?;
    if within_limits {
        let actor = account.as_ref().map_or("unknown", |a| a.email.as_str());
        let detail = if account.is_some() {
            "link sent"
        } else {
            "no account uses that address; nothing sent"
        };
        state
            .store
            .audit(
                &Entry::new(actor, Action::PasswordResetRequested).detail(detail),
                now,
            )
            .await?;
        if let Some(account) = account {
            let token = ResetTokens::new(state.store.keys()).issue(
                account.id,
                &account.credentials_stamp,
                now + RESET_LIFETIME,
            );
            send_link(&state, account.email, token);
        }
    }
    Ok(forgot_page(
        &state,
        true,
        String::new(),
        Vec::new(),
        StatusCode::OK,
    ))
}

/// Sends the link in the background, so the answer takes as long whether or not it is sent.
fn send_link(state: &AppState, to: String, token: String) {
    let config = state.config();
    tokio::spawn(async move {
        let message = mail::password_reset::message(&config, &to, &token).ok();
        let sent = match (message, mail::Transport::from_config(&config)) {
            (Some(message), Ok(Some(transport))) => transport.send(message).await.is_ok(),
            _ => false,
        };
        if !sent {
            tracing::warn!("the password reset email could not be sent");
        }
    });
}

/// The account a reset link is for, while the link works.
async fn account_of(state: &AppState, token: &str) -> Result<Option<store::Credentials>, AppError> {
    let tokens = ResetTokens::new(state.store.keys());
    let Some(presented) = tokens.read(token) else {
        return Ok(None);
    };
    let Some(listed) = state
        .store
        .list_accounts()
        .await?
        .into_iter()
        .find(|a| a.id == presented.account_id())
    else {
        return Ok(None);
    };
    Ok(state
        .store
        .credentials(&listed.email)
        .await?
        .filter(|a| tokens.valid(&presented, &a.credentials_stamp, Timestamp::now())))
}

fn reset_page(
    state: &AppState,
    token: String,
    errors: Vec<FieldError>,
    status: StatusCode,
) -> Response {
    let view = ResetView {
        chrome: signed_out_chrome(state, "Choose a new password", !errors.is_empty()),
        token,
        errors,
    };
    render(status, view.render())
}

/// A link that does not work (any more): said plainly, with the way to a new one.
fn dead_link(state: &AppState) -> Response {
    let error = FieldError::new(
        "email",
        "That link does not work: it is more than 30 minutes old, was used already, or the password changed since. Ask for a new one below",
    );
    forgot_page(
        state,
        false,
        String::new(),
        vec![error],
        StatusCode::NOT_FOUND,
    )
}

pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    if account_of(&state, &token).await?.is_none() {
        return Ok(dead_link(&state));
    }
    Ok(reset_page(&state, token, Vec::new(), StatusCode::OK))
}

pub async fn choose(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Posted(form): Posted<NewPasswordForm>,
) -> Result<Response, AppError> {
    let Some(account) = account_of(&state, &token).await? else {
        return Ok(dead_link(&state));
    };
    let NewPasswordForm {
        password: pw,
        password_again: again,
        ..
    } = form;
    if let Some(problem) = new_password_problem(&state, &account.email, &pw, &again) {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(reset_page(&state, token, vec![problem], status));
    }
    let hash = hashed(&pw)?;
    let audit =
        Entry::new(&account.email, Action::PasswordChanged).detail("reset from an emailed link");
    // The new stamp ends the account's sessions and this link with them; set only while the
    // stamp is still the link's, so a second post of the same link at the same moment fails.
    if !state
        .store
        .reset_password(
            account.id,
            &account.credentials_stamp,
            &hash,
            Timestamp::now(),
            &audit,
        )
        .await?
    {
        return Ok(dead_link(&state));
    }
    Ok(Redirect::to("/admin/login?reset=1").into_response())
}
