//! The first run: the one-time setup address creates the first account from the browser.
//!
//! `serve` prints and logs `/admin/setup/<token>` while the practice has no account (see
//! [`store::FirstAccount`] for how the token is kept). The form asks for an email and a
//! password under the same rules as `kap-practice admin add`; on success the new account is
//! signed in and offered two-factor sign-in, then the practice's details. The form is shown
//! before any session exists, so, like the sign-in form, it carries a signed short-lived token
//! against cross-site posts, and a visitor who only looks at it leaves nothing on the server.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use tower_sessions::Session;

use super::Clinician;
use super::field_error::{FieldError, FieldErrors as _};
use super::posted::inbox_form;
use super::sign_in::{
    complete, hashed, new_password_problem, page_chrome, render, signed_out_chrome,
};
use crate::form::Posted;
use crate::{AppError, AppState};
use store::FirstAccount;
use store::audit::{Action, Entry};

/// Where the practice's details are entered after the account.
pub const DETAILS_PAGE: &str = "/admin/details";

#[derive(Template)]
#[template(path = "admin/setup.html")]
struct SetupView {
    chrome: super::views::Chrome,
    invalid: bool,
    token: String,
    email: String,
    errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "admin/welcome.html")]
struct WelcomeView {
    chrome: super::views::Chrome,
    details_href: &'static str,
}

fn page(
    state: &AppState,
    token: &str,
    email: String,
    errors: Vec<FieldError>,
    status: StatusCode,
) -> Response {
    let view = SetupView {
        chrome: signed_out_chrome(state, "Set up", !errors.is_empty()),
        invalid: false,
        token: token.to_string(),
        email,
        errors,
    };
    render(status, view.render())
}

fn invalid(state: &AppState) -> Response {
    let view = SetupView {
        chrome: signed_out_chrome(state, "Setup address not valid", false),
        invalid: true,
        token: String::new(),
        email: String::new(),
        errors: Vec::new(),
    };
    render(StatusCode::NOT_FOUND, view.render())
}

/// A token as printed is 64 lowercase hex digits; anything else is not looked up.
fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    if !well_formed(&token)
        || !state
            .store
            .setup_token_valid(&token, Timestamp::now())
            .await?
    {
        return Ok(invalid(&state));
    }
    Ok(page(
        &state,
        &token,
        String::new(),
        Vec::new(),
        StatusCode::OK,
    ))
}

inbox_form!(
    /// The first account's form.
    FirstAccountForm { email, password, password_again }
);

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
    Posted(form): Posted<FirstAccountForm>,
) -> Result<Response, AppError> {
    let now = Timestamp::now();
    if !well_formed(&token) || !state.store.setup_token_valid(&token, now).await? {
        return Ok(invalid(&state));
    }
    let email = form.email.trim().to_string();
    let pw = form.password;
    let again = form.password_again;
    let mut errors = Vec::new();
    if email.is_empty() {
        errors.push(FieldError::new("email", "Enter your email address"));
    } else if !practice::consultation::valid_email(&email) {
        errors.push(FieldError::new(
            "email",
            "Enter an email address in the right form, like name@example.com",
        ));
    }
    errors.extend(new_password_problem(&state, &email, &pw, &again));
    if !errors.is_empty() {
        return Ok(page(
            &state,
            &token,
            email,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    let hash = hashed(&pw)?;
    let audit =
        Entry::new(&email, Action::AccountAdded).detail("first account, from the setup address");
    match state
        .store
        .add_first_account(&token, &email, &hash, now, &audit)
        .await?
    {
        FirstAccount::AddressInvalid => Ok(invalid(&state)),
        FirstAccount::Added(_) => {
            tracing::info!("the first account was created from the setup address");
            let Some(account) = state.store.credentials(&email).await? else {
                return Err(AppError::NotFound);
            };
            complete(&state, &session, &account, "first account", now).await?;
            Ok(Redirect::to("/admin/welcome").into_response())
        }
    }
}

pub async fn welcome(Clinician { state, admin }: Clinician) -> Result<Response, AppError> {
    let view = WelcomeView {
        chrome: page_chrome(&state, &admin, "Your account is ready", "").await?,
        details_href: DETAILS_PAGE,
    };
    Ok(render(StatusCode::OK, view.render()))
}
