//! `/api/auth/`: login, signup, `me/`, refresh tokens, logout, password reset and change
//! (API.md §4.2, §9.2).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::accounts::password::{self, Verified};
use common::accounts::reset::{self, ConfirmError, ResetSettings, ResetTarget};
use common::accounts::sessions::{self, ClientInfo, Rotation};
use common::accounts::users::{self, NewUser, User, UserWriteError};
use common::ratelimit;
use common::role::Role;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, ClientIp, Signed};
use crate::routes::dto::UserOut;
use crate::state::AppState;

/// The auth routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(signup))
        .routes(routes!(me))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(password_reset))
        .routes(routes!(password_reset_confirm))
        .routes(routes!(password_change))
}

/// Username and password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Signup body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupRequest {
    pub username: String,
    pub password: String,
    pub phone_number: Option<String>,
    pub email: Option<String>,
}

/// A signed-in session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    /// HS256 access token.
    token: String,
    /// The account.
    user: UserOut,
    /// Its role.
    role: String,
    /// Opaque refresh token (rotates at each use).
    refresh_token: String,
    /// Access-token lifetime in seconds.
    expires_in: i64,
    /// Signup only: "Account created successfully".
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// New tokens from a refresh token.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshOut {
    token: String,
    refresh_token: String,
    expires_in: i64,
}

/// `{refresh_token}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// `{email}` or `{username}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    pub email: Option<String>,
    pub username: Option<String>,
}

/// `{token, new_password}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetConfirm {
    pub token: String,
    pub new_password: String,
}

/// `{current_password, new_password}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

fn client_info(headers: &HeaderMap, ip: ClientIp) -> ClientInfo {
    ClientInfo {
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string(),
        ip: ip.0.to_string(),
    }
}

/// Issues an access token and a new refresh family for `user`.
async fn open_session(state: &AppState, user: &User, client: &ClientInfo) -> ApiResult<(String, String)> {
    let mut conn = state.pool.acquire().await?;
    let refresh = sessions::start(&mut conn, user.id, state.cfg.refresh_ttl, client).await?;
    let token = state
        .jwt
        .issue(user.id, user.phone_number.as_deref(), &user.role, Some(refresh.family_id))
        .map_err(ApiError::internal)?;
    Ok((token, refresh.token))
}

async fn limit(state: &AppState, limit: &ratelimit::Limit, who: &str) -> ApiResult<()> {
    state.limiter.hit(limit, who).await.map_err(|e| ApiError::RateLimited(e.retry_after))
}

/// Sign in with username and password.
#[utoipa::path(post, path = "/api/auth/login/", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = SessionOut),
        (status = 400, description = "`{\"error\":\"Username and password are required\"}`"),
        (status = 401, description = "`{\"error\":\"Invalid username or password\"}`"),
        (status = 429, description = "More than 5 attempts a minute from this address"),
    ))]
async fn login(State(state): State<AppState>, ip: ClientIp, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    limit(&state, &ratelimit::LOGIN, &ip.0.to_string()).await?;
    let required = || ApiError::error(StatusCode::BAD_REQUEST, "Username and password are required");
    let username = body.text("username").map_err(|_| required())?.filter(|s| !s.is_empty()).ok_or_else(required)?;
    let password = body.text("password").map_err(|_| required())?.filter(|s| !s.is_empty()).ok_or_else(required)?;
    let invalid = || ApiError::error(StatusCode::UNAUTHORIZED, "Invalid username or password");
    if username.len() > 150 || password.len() > 4_096 {
        return Err(invalid());
    }
    let found = users::find_by_username(&state.pool, &username).await?;
    let Some(user) = found else {
        state.hasher.burn_time(password).await.map_err(ApiError::internal)?;
        return Err(invalid());
    };
    let (verified, rehash) = state.hasher.verify(password, user.password.clone()).await.map_err(ApiError::internal)?;
    if verified == Verified::No || !user.is_active {
        return Err(invalid());
    }
    users::record_login(&state.pool, user.id, rehash.as_deref()).await?;
    let client = client_info(&headers, ip);
    let (token, refresh_token) = open_session(&state, &user, &client).await?;
    Ok(Json(SessionOut {
        token,
        role: user.role.clone(),
        user: UserOut::from_user(&user, 0),
        refresh_token,
        expires_in: state.jwt.ttl_seconds(),
        message: None,
    })
    .into_response())
}

/// Create a customer account and sign in.
#[utoipa::path(post, path = "/api/auth/signup/", tag = "auth", request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created", body = SessionOut),
        (status = 400, description = "`{\"error\": str}`: required fields, `Username already exists`, lengths"),
        (status = 429, description = "More than 3 signups an hour from this address"),
    ))]
async fn signup(State(state): State<AppState>, ip: ClientIp, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    limit(&state, &ratelimit::SIGNUP, &ip.0.to_string()).await?;
    let bad = |m: &str| ApiError::error(StatusCode::BAD_REQUEST, m);
    let required = || bad("Username and password are required");
    let username =
        body.text("username").map_err(|_| required())?.filter(|s| !s.trim().is_empty()).ok_or_else(required)?;
    let password = body.text("password").map_err(|_| required())?.filter(|s| !s.is_empty()).ok_or_else(required)?;
    let username = username.trim().to_string();
    if username.chars().count() > 150 {
        return Err(bad("Username must be at most 150 characters"));
    }
    // The original took any username; only control characters are refused.
    if username.chars().any(char::is_control) {
        return Err(bad("Username may not contain control characters"));
    }
    if password.chars().count() > password::MAX_LENGTH {
        return Err(bad("Password must be at most 128 characters"));
    }
    let phone = body.text_non_empty("phone_number").map_err(|_| bad("Enter a valid phone number"))?;
    let phone = phone.map(|p| p.trim().to_string());
    if let Some(p) = &phone
        && (p.chars().count() > 15 || !p.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c)))
    {
        return Err(bad("Enter a valid phone number (at most 15 characters)"));
    }
    let email = body.text_non_empty("email").map_err(|_| bad("Enter a valid email address"))?;
    let email = match email {
        None => String::new(),
        Some(e) => super::dto::valid_email(&e).ok_or_else(|| bad("Enter a valid email address"))?,
    };
    let hash = state.hasher.hash(password).await.map_err(ApiError::internal)?;
    let new = NewUser {
        username,
        password_hash: hash,
        phone_number: phone,
        email,
        role: Role::User,
        firebase_uid: None,
        is_staff: false,
        is_superuser: false,
    };
    let mut tx = state.pool.begin().await?;
    let user = match users::create(&mut tx, &new).await {
        Ok(u) => u,
        Err(UserWriteError::UsernameTaken) => return Err(bad("Username already exists")),
        Err(UserWriteError::PhoneTaken) => return Err(bad("Phone number already exists")),
        Err(UserWriteError::FirebaseUidTaken) => return Err(ApiError::internal("firebase uid conflict at signup")),
        Err(UserWriteError::Database(e)) => return Err(e.into()),
    };
    let client = client_info(&headers, ip);
    let refresh = sessions::start(&mut tx, user.id, state.cfg.refresh_ttl, &client).await?;
    tx.commit().await?;
    let token = state
        .jwt
        .issue(user.id, user.phone_number.as_deref(), &user.role, Some(refresh.family_id))
        .map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        Json(SessionOut {
            token,
            role: user.role.clone(),
            user: UserOut::from_user(&user, 0),
            refresh_token: refresh.token,
            expires_in: state.jwt.ttl_seconds(),
            message: Some("Account created successfully".into()),
        }),
    )
        .into_response())
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/auth/me/", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 401, description = "No or bad token")))]
async fn me(Signed(auth): Signed) -> Json<UserOut> {
    Json(UserOut::from_user(&auth.user, 0))
}

fn invalid_refresh() -> ApiError {
    ApiError::Ext {
        status: StatusCode::UNAUTHORIZED,
        code: "invalid_refresh_token",
        message: "The refresh token is invalid, expired or revoked.".into(),
        details: json!({}),
    }
}

fn required_text(body: &Body, key: &'static str) -> ApiResult<String> {
    match body.text(key) {
        Ok(Some(v)) if !v.is_empty() => Ok(v),
        Ok(_) => Err(ApiError::validation(json!({ key: ["This field is required."] }))),
        Err(_) => Err(ApiError::validation(json!({ key: ["Not a valid string."] }))),
    }
}

/// Exchange a refresh token for a new access token and refresh token.
#[utoipa::path(post, path = "/api/auth/token/refresh/", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = RefreshOut),
        (status = 401, description = "§9 `invalid_refresh_token`; a reused token also revokes its family"),
        (status = 422, description = "§9 validation error"),
    ))]
async fn refresh(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<RefreshOut>> {
    let token = required_text(&body, "refresh_token")?;
    let client = client_info(&headers, ip);
    match sessions::rotate(&state.pool, &token, state.cfg.refresh_ttl, &client).await? {
        Rotation::Rotated { user_id, refresh } => {
            let user = users::find(&state.pool, user_id).await?.filter(|u| u.is_active).ok_or_else(invalid_refresh)?;
            let token = state
                .jwt
                .issue(user.id, user.phone_number.as_deref(), &user.role, Some(refresh.family_id))
                .map_err(ApiError::internal)?;
            Ok(Json(RefreshOut { token, refresh_token: refresh.token, expires_in: state.jwt.ttl_seconds() }))
        }
        Rotation::Invalid | Rotation::Reused => Err(invalid_refresh()),
    }
}

/// Sign out: revokes the refresh token's session.
#[utoipa::path(post, path = "/api/auth/logout/", tag = "auth", request_body = RefreshRequest, security(("bearer" = [])),
    responses((status = 204, description = "Signed out"), (status = 401), (status = 422)))]
async fn logout(State(state): State<AppState>, Signed(auth): Signed, body: Body) -> ApiResult<StatusCode> {
    let token = required_text(&body, "refresh_token")?;
    sessions::revoke_by_token(&state.pool, auth.user.id, &token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ask for a password-reset email. Always 202, whether or not the account exists.
#[utoipa::path(post, path = "/api/auth/password-reset/", tag = "auth", request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "`{\"detail\":\"If the account exists, a reset link has been sent.\"}`"),
        (status = 422, description = "Neither email nor username given"),
        (status = 429, description = "More than 5 requests an hour from this address"),
    ))]
async fn password_reset(State(state): State<AppState>, ip: ClientIp, body: Body) -> ApiResult<Response> {
    limit(&state, &ratelimit::PASSWORD_RESET, &ip.0.to_string()).await?;
    let email =
        body.text_non_empty("email").map_err(|_| ApiError::validation(json!({"email": ["Not a valid string."]})))?;
    let username = body
        .text_non_empty("username")
        .map_err(|_| ApiError::validation(json!({"username": ["Not a valid string."]})))?;
    let target = match (email, username) {
        (Some(e), _) => {
            if e.len() > 254 {
                return Err(ApiError::validation(json!({"email": ["Enter a valid email address."]})));
            }
            ResetTarget::Email(e.trim().to_string())
        }
        (None, Some(u)) if u.len() <= 150 => ResetTarget::Username(u),
        (None, Some(_)) => {
            return Err(ApiError::validation(
                json!({"username": ["Ensure this field has no more than 150 characters."]}),
            ));
        }
        (None, None) => {
            return Err(ApiError::validation(json!({"email": ["Provide an email or a username."]})));
        }
    };
    let settings = ResetSettings::from_config(&state.cfg);
    let queued = reset::request(&state.pool, &settings, &target, &ip.0.to_string()).await?;
    tracing::info!(queued, "password reset requested");
    Ok((StatusCode::ACCEPTED, Json(json!({"detail": "If the account exists, a reset link has been sent."})))
        .into_response())
}

fn weak_password(reason: String) -> ApiError {
    ApiError::Ext {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "weak_password",
        message: reason.clone(),
        details: json!({ "new_password": [reason] }),
    }
}

/// Set a new password with a reset token (single use, valid one hour).
#[utoipa::path(post, path = "/api/auth/password-reset/confirm/", tag = "auth", request_body = PasswordResetConfirm,
    responses(
        (status = 204, description = "Password changed; every session signed out"),
        (status = 422, description = "§9 `invalid_token` or `weak_password`"),
        (status = 429, description = "More than 10 attempts an hour from this address"),
    ))]
async fn password_reset_confirm(State(state): State<AppState>, ip: ClientIp, body: Body) -> ApiResult<StatusCode> {
    limit(&state, &ratelimit::PASSWORD_RESET_CONFIRM, &ip.0.to_string()).await?;
    let token = required_text(&body, "token")?;
    let new_password = required_text(&body, "new_password")?;
    let invalid_token = || {
        ApiError::ext(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_token",
            "The reset link is invalid, expired or already used.",
        )
    };
    // The token first: a bad one costs a primary-key lookup, never an argon2 hash.
    if !reset::is_usable(&state.pool, &token).await? {
        return Err(invalid_token());
    }
    if let Some(reason) = password::policy_problem(&new_password, "") {
        return Err(weak_password(reason));
    }
    let hash = state.hasher.hash(new_password).await.map_err(ApiError::internal)?;
    match reset::confirm(&state.pool, &token, &hash).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(ConfirmError::InvalidToken) => Err(invalid_token()),
        Err(ConfirmError::Database(e)) => Err(e.into()),
    }
}

/// Change the password; other sessions are signed out, this one stays.
#[utoipa::path(post, path = "/api/auth/password/change/", tag = "auth", request_body = PasswordChange, security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 401),
        (status = 422, description = "§9 `wrong_password` or `weak_password`"),
    ))]
async fn password_change(State(state): State<AppState>, Signed(auth): Signed, body: Body) -> ApiResult<StatusCode> {
    let current = required_text(&body, "current_password")?;
    let new_password = required_text(&body, "new_password")?;
    let (verified, _) = state.hasher.verify(current, auth.user.password.clone()).await.map_err(ApiError::internal)?;
    if verified == Verified::No {
        return Err(ApiError::Ext {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "wrong_password",
            message: "The current password is wrong.".into(),
            details: json!({ "current_password": ["The current password is wrong."] }),
        });
    }
    if let Some(reason) = password::policy_problem(&new_password, &auth.user.username) {
        return Err(weak_password(reason));
    }
    let hash = state.hasher.hash(new_password).await.map_err(ApiError::internal)?;
    let keep = auth.claims.sid;
    let mut tx = state.pool.begin().await?;
    users::set_password(&mut tx, auth.user.id, &hash).await?;
    sessions::revoke_all(&mut tx, auth.user.id, keep).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
