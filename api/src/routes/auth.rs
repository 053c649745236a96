//! `/api/auth/`: login, signup, `me/`, refresh tokens, logout, password reset and change
//! (API.md §4.2, §9.2).
//!
//! Each body is a raw struct of [`Field`]s (the documented `request_body`) converted into a
//! validated value by `TryFrom`; every refusal is an [`AuthError`], rendered in one place.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use common::accounts::password::{self, Verified, WeakPassword};
use common::accounts::reset::{self, ConfirmError, ResetSettings, ResetTarget};
use common::accounts::sessions::{self, ClientInfo, IssuedRefresh, Rotation};
use common::accounts::users::{self, NewUser, User as Account, UserWriteError};
use common::ratelimit;
use common::role::Role;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ClientIp, Signed};
use crate::input::{ExtPayload, Field, FieldErrors, Payload, non_blank};
use crate::state::AppState;
use crate::views::users::User;

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

// ---------------------------------------------------------------------------------------------
// Text of account bodies

/// A text field taken as sent (passwords and tokens are never trimmed): strings, numbers as
/// written; absent or null → `None`; any other type → `Err`.
pub(super) fn verbatim(field: &Field) -> Result<Option<String>, ()> {
    match field {
        Field::Absent | Field::Null => Ok(None),
        Field::Value(Value::String(s)) => Ok(Some(s.clone())),
        Field::Value(Value::Number(n)) => Ok(Some(n.to_string())),
        Field::Value(_) => Err(()),
    }
}

/// [`verbatim`], not blank (§5 #16: blank counts as not sent); `Err` for a non-text value.
fn given(field: &Field) -> Result<Option<String>, ()> {
    verbatim(non_blank(field))
}

/// A required §9 text field: absent, null or `""` → "This field is required.".
fn required(field: &Field, key: &str) -> Result<String, FieldErrors> {
    match verbatim(field) {
        Ok(Some(v)) if !v.is_empty() => Ok(v),
        Ok(_) => Err(invalid(key, "This field is required.")),
        Err(()) => Err(invalid(key, "Not a valid string.")),
    }
}

/// One field's §9 validation error.
fn invalid(key: &str, msg: &str) -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.add(key, msg);
    errors
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Why an auth request is refused. The original's routes answer `{"error": str}`; the §9
/// routes answer the §9 shape.
#[derive(Debug)]
pub enum AuthError {
    /// 400 "Username and password are required".
    CredentialsRequired,
    /// 401 "Invalid username or password" (unknown user, wrong password, inactive account).
    InvalidCredentials,
    /// 400: a signup username over 150 characters.
    UsernameTooLong,
    /// 400: a signup username with control characters.
    UsernameControl,
    /// 400: a signup password over 128 characters.
    PasswordTooLong,
    /// 400: a signup phone number that is not text.
    PhoneNotText,
    /// 400: a signup phone number over 15 characters or with other than digits, `+`, `-`, blanks.
    PhoneInvalid,
    /// 400: a signup email that is not a valid address.
    EmailInvalid,
    /// 400 "Username already exists".
    UsernameTaken,
    /// 400 "Phone number already exists".
    PhoneTaken,
    /// §9 401 `invalid_refresh_token`.
    InvalidRefresh,
    /// §9 422 `invalid_token`: a reset token unknown, expired or used.
    InvalidResetToken,
    /// §9 422 `wrong_password`.
    WrongPassword,
    /// §9 422 `weak_password`.
    Weak(WeakPassword),
    /// §9 422 `validation_error`.
    Invalid(FieldErrors),
}

impl From<FieldErrors> for AuthError {
    fn from(errors: FieldErrors) -> Self {
        AuthError::Invalid(errors)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let bad = |msg: &str| ApiError::error(StatusCode::BAD_REQUEST, msg);
        match e {
            AuthError::CredentialsRequired => bad("Username and password are required"),
            AuthError::InvalidCredentials => ApiError::error(StatusCode::UNAUTHORIZED, "Invalid username or password"),
            AuthError::UsernameTooLong => bad("Username must be at most 150 characters"),
            AuthError::UsernameControl => bad("Username may not contain control characters"),
            AuthError::PasswordTooLong => bad("Password must be at most 128 characters"),
            AuthError::PhoneNotText => bad("Enter a valid phone number"),
            AuthError::PhoneInvalid => bad("Enter a valid phone number (at most 15 characters)"),
            AuthError::EmailInvalid => bad("Enter a valid email address"),
            AuthError::UsernameTaken => bad("Username already exists"),
            AuthError::PhoneTaken => bad("Phone number already exists"),
            AuthError::InvalidRefresh => ApiError::ext(
                StatusCode::UNAUTHORIZED,
                "invalid_refresh_token",
                "The refresh token is invalid, expired or revoked.",
            ),
            AuthError::InvalidResetToken => ApiError::ext(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_token",
                "The reset link is invalid, expired or already used.",
            ),
            AuthError::WrongPassword => ApiError::Ext {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "wrong_password",
                message: "The current password is wrong.".into(),
                details: invalid("current_password", "The current password is wrong.").into_value(),
            },
            AuthError::Weak(reason) => ApiError::Ext {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "weak_password",
                message: reason.to_string(),
                details: invalid("new_password", &reason.to_string()).into_value(),
            },
            AuthError::Invalid(errors) => errors.validation(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies

/// `{username, password}` of a sign-in.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Login name.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub username: Field,
    /// Password.
    #[serde(default)]
    #[schema(value_type = String, required = true, format = Password)]
    pub password: Field,
}

/// A username and password, both given.
#[derive(Debug)]
pub struct Credentials {
    /// Login name, as sent.
    pub username: String,
    /// Password, as sent.
    pub password: String,
}

impl TryFrom<LoginRequest> for Credentials {
    type Error = AuthError;

    fn try_from(raw: LoginRequest) -> Result<Self, AuthError> {
        let text =
            |f: &Field| verbatim(f).ok().flatten().filter(|s| !s.is_empty()).ok_or(AuthError::CredentialsRequired);
        Ok(Self { username: text(&raw.username)?, password: text(&raw.password)? })
    }
}

/// Signup body: the original's fields and §9's optional `email`; no other checks.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupRequest {
    /// Login name, ≤ 150 characters (trimmed).
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub username: Field,
    /// Password, ≤ 128 characters.
    #[serde(default)]
    #[schema(value_type = String, required = true, format = Password)]
    pub password: Field,
    /// ≤ 15 characters of digits, `+`, `-`, blanks; `""` is none.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone_number: Field,
    /// ≤ 254 characters, a valid address; `""` is none.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Email)]
    pub email: Field,
}

/// A new customer account, as validated.
#[derive(Debug)]
pub struct Signup {
    /// Trimmed login name.
    pub username: String,
    /// Password, as sent.
    pub password: String,
    /// Trimmed phone number.
    pub phone_number: Option<String>,
    /// Email, `""` when none.
    pub email: String,
}

impl TryFrom<SignupRequest> for Signup {
    type Error = AuthError;

    fn try_from(raw: SignupRequest) -> Result<Self, AuthError> {
        let required = || AuthError::CredentialsRequired;
        let username = given(&raw.username).ok().flatten().ok_or_else(required)?;
        let password = verbatim(&raw.password).ok().flatten().filter(|p| !p.is_empty()).ok_or_else(required)?;
        let username = username.trim().to_string();
        if username.chars().count() > 150 {
            return Err(AuthError::UsernameTooLong);
        }
        // The original took any username; only control characters are refused.
        if username.chars().any(char::is_control) {
            return Err(AuthError::UsernameControl);
        }
        if password.chars().count() > password::MAX_LENGTH {
            return Err(AuthError::PasswordTooLong);
        }
        let phone_number =
            given(&raw.phone_number).map_err(|()| AuthError::PhoneNotText)?.map(|p| p.trim().to_string());
        if let Some(p) = &phone_number
            && (p.chars().count() > 15 || !p.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c)))
        {
            return Err(AuthError::PhoneInvalid);
        }
        let email = match given(&raw.email).map_err(|()| AuthError::EmailInvalid)? {
            None => String::new(),
            Some(e) => super::dto::valid_email(&e).ok_or(AuthError::EmailInvalid)?,
        };
        Ok(Self { username, password, phone_number, email })
    }
}

/// `{refresh_token}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The session's current refresh token.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub refresh_token: Field,
}

/// A refresh token, given.
#[derive(Debug)]
pub struct RefreshToken(pub String);

impl TryFrom<RefreshRequest> for RefreshToken {
    type Error = FieldErrors;

    fn try_from(raw: RefreshRequest) -> Result<Self, FieldErrors> {
        required(&raw.refresh_token, "refresh_token").map(RefreshToken)
    }
}

/// `{email}` or `{username}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    /// The account's email (any case); wins over `username`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Email)]
    pub email: Field,
    /// The account's username, ≤ 150 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub username: Field,
}

impl TryFrom<PasswordResetRequest> for ResetTarget {
    type Error = FieldErrors;

    fn try_from(raw: PasswordResetRequest) -> Result<Self, FieldErrors> {
        let email = given(&raw.email).map_err(|()| invalid("email", "Not a valid string."))?;
        let username = given(&raw.username).map_err(|()| invalid("username", "Not a valid string."))?;
        match (email, username) {
            (Some(e), _) if e.len() > 254 => Err(invalid("email", "Enter a valid email address.")),
            (Some(e), _) => Ok(ResetTarget::Email(e.trim().to_string())),
            (None, Some(u)) if u.len() <= 150 => Ok(ResetTarget::Username(u)),
            (None, Some(_)) => Err(invalid("username", "Ensure this field has no more than 150 characters.")),
            (None, None) => Err(invalid("email", "Provide an email or a username.")),
        }
    }
}

/// `{token, new_password}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetConfirm {
    /// The token of the emailed link.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub token: Field,
    /// At least 8 characters, not numeric only, not a common password.
    #[serde(default)]
    #[schema(value_type = String, required = true, format = Password)]
    pub new_password: Field,
}

/// A reset token and the password to set.
#[derive(Debug)]
pub struct ResetConfirmation {
    /// The emailed token.
    pub token: String,
    /// The new password (not checked against the policy yet).
    pub new_password: String,
}

impl TryFrom<PasswordResetConfirm> for ResetConfirmation {
    type Error = FieldErrors;

    fn try_from(raw: PasswordResetConfirm) -> Result<Self, FieldErrors> {
        Ok(Self { token: required(&raw.token, "token")?, new_password: required(&raw.new_password, "new_password")? })
    }
}

/// `{current_password, new_password}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    /// The password now.
    #[serde(default)]
    #[schema(value_type = String, required = true, format = Password)]
    pub current_password: Field,
    /// At least 8 characters, not numeric only, not common, not the username.
    #[serde(default)]
    #[schema(value_type = String, required = true, format = Password)]
    pub new_password: Field,
}

/// The current and the new password, both given.
#[derive(Debug)]
pub struct ChangeOfPassword {
    /// The password now.
    pub current: String,
    /// The password to set (not checked against the policy yet).
    pub new_password: String,
}

impl TryFrom<PasswordChange> for ChangeOfPassword {
    type Error = FieldErrors;

    fn try_from(raw: PasswordChange) -> Result<Self, FieldErrors> {
        Ok(Self {
            current: required(&raw.current_password, "current_password")?,
            new_password: required(&raw.new_password, "new_password")?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Answers

/// A signed-in session: `{token, user, role}` of the original plus §9's refresh token.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// HS256 access token.
    pub token: String,
    /// The account.
    pub user: User,
    /// Its role.
    pub role: String,
    /// Opaque refresh token (rotates at each use).
    pub refresh_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
}

/// A signup's session, with `message: "Account created successfully"`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignupSession {
    /// The new account's session.
    #[serde(flatten)]
    pub session: Session,
    /// "Account created successfully".
    pub message: &'static str,
}

/// New tokens from a refresh token.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshedSession {
    /// HS256 access token.
    pub token: String,
    /// The next refresh token (the one sent is spent).
    pub refresh_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
}

/// `{detail: "If the account exists, a reset link has been sent."}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetRequested {
    /// Always the same, whether or not the account exists.
    pub detail: &'static str,
}

// ---------------------------------------------------------------------------------------------
// Handlers

fn client_info(headers: &HeaderMap, ip: ClientIp) -> ClientInfo {
    ClientInfo {
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string(),
        ip: ip.0.to_string(),
    }
}

/// An access token of `user` in the session `family`.
fn access_token(state: &AppState, user: &Account, family: uuid::Uuid) -> ApiResult<String> {
    state.jwt.issue(user.id, user.phone_number.as_deref(), &user.role, Some(family)).map_err(ApiError::internal)
}

/// The session answer for `user` and its new refresh token.
fn session(state: &AppState, user: &Account, refresh: IssuedRefresh) -> ApiResult<Session> {
    Ok(Session {
        token: access_token(state, user, refresh.family_id)?,
        user: User::from(user),
        role: user.role.clone(),
        refresh_token: refresh.token,
        expires_in: state.jwt.ttl_seconds(),
    })
}

async fn limit(state: &AppState, limit: &ratelimit::Limit, who: &str) -> ApiResult<()> {
    state.limiter.hit(limit, who).await.map_err(|e| ApiError::RateLimited(e.retry_after))
}

/// Sign in with username and password.
#[utoipa::path(post, path = "/api/auth/login/", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = Session),
        (status = 400, description = "`{\"error\":\"Username and password are required\"}`"),
        (status = 401, description = "`{\"error\":\"Invalid username or password\"}`"),
        (status = 429, description = "More than 5 attempts a minute from this address"),
    ))]
async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Payload(raw): Payload<LoginRequest>,
) -> ApiResult<Json<Session>> {
    limit(&state, &ratelimit::LOGIN, &ip.0.to_string()).await?;
    let Credentials { username, password } = Credentials::try_from(raw)?;
    if username.len() > 150 || password.len() > 4_096 {
        return Err(AuthError::InvalidCredentials.into());
    }
    let found = users::find_by_username(&state.pool, &username).await?;
    let Some(user) = found else {
        state.hasher.burn_time(password).await.map_err(ApiError::internal)?;
        return Err(AuthError::InvalidCredentials.into());
    };
    let (verified, rehash) = state.hasher.verify(password, user.password.clone()).await.map_err(ApiError::internal)?;
    if verified == Verified::No || !user.is_active {
        return Err(AuthError::InvalidCredentials.into());
    }
    users::record_login(&state.pool, user.id, rehash.as_deref()).await?;
    let client = client_info(&headers, ip);
    let mut conn = state.pool.acquire().await?;
    let refresh = sessions::start(&mut conn, user.id, state.cfg.refresh_ttl, &client).await?;
    Ok(Json(session(&state, &user, refresh)?))
}

/// Create a customer account and sign in.
#[utoipa::path(post, path = "/api/auth/signup/", tag = "auth", request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created", body = SignupSession),
        (status = 400, description = "`{\"error\": str}`: required fields, `Username already exists`, `Phone number already exists`, lengths, phone, email"),
        (status = 429, description = "More than 3 signups an hour from this address"),
    ))]
async fn signup(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Payload(raw): Payload<SignupRequest>,
) -> ApiResult<(StatusCode, Json<SignupSession>)> {
    limit(&state, &ratelimit::SIGNUP, &ip.0.to_string()).await?;
    let form = Signup::try_from(raw)?;
    let hash = state.hasher.hash(form.password).await.map_err(ApiError::internal)?;
    let new = NewUser {
        username: form.username,
        password_hash: hash,
        phone_number: form.phone_number,
        email: form.email,
        role: Role::User,
        firebase_uid: None,
        is_staff: false,
        is_superuser: false,
    };
    let mut tx = common::db::begin(&state.pool).await?;
    let user = users::create(&mut tx, &new).await.map_err(|e| match e {
        UserWriteError::UsernameTaken => AuthError::UsernameTaken.into(),
        UserWriteError::PhoneTaken => AuthError::PhoneTaken.into(),
        UserWriteError::FirebaseUidTaken => ApiError::internal("firebase uid conflict at signup"),
        UserWriteError::Database(e) => ApiError::from(e),
    })?;
    let client = client_info(&headers, ip);
    let refresh = sessions::start(&mut tx, user.id, state.cfg.refresh_ttl, &client).await?;
    tx.commit().await?;
    let session = session(&state, &user, refresh)?;
    Ok((StatusCode::CREATED, Json(SignupSession { session, message: "Account created successfully" })))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/auth/me/", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, description = "No or bad token")))]
async fn me(Signed(auth): Signed) -> Json<User> {
    Json(User::from(&auth.user))
}

/// Exchange a refresh token for a new access token and refresh token.
#[utoipa::path(post, path = "/api/auth/token/refresh/", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = RefreshedSession),
        (status = 400, description = "§9 `malformed_body`: not a JSON object"),
        (status = 401, description = "§9 `invalid_refresh_token`; a reused token also revokes its family"),
        (status = 422, description = "§9 validation error"),
    ))]
async fn refresh(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    ExtPayload(raw): ExtPayload<RefreshRequest>,
) -> ApiResult<Json<RefreshedSession>> {
    let RefreshToken(token) = RefreshToken::try_from(raw).map_err(AuthError::from)?;
    let client = client_info(&headers, ip);
    match sessions::rotate(&state.pool, &token, state.cfg.refresh_ttl, &client).await? {
        Rotation::Rotated { user_id, refresh } => {
            let user =
                users::find(&state.pool, user_id).await?.filter(|u| u.is_active).ok_or(AuthError::InvalidRefresh)?;
            Ok(Json(RefreshedSession {
                token: access_token(&state, &user, refresh.family_id)?,
                refresh_token: refresh.token,
                expires_in: state.jwt.ttl_seconds(),
            }))
        }
        Rotation::Reused => {
            state.auth_cache.after_change(None).await;
            Err(AuthError::InvalidRefresh.into())
        }
        Rotation::Invalid => Err(AuthError::InvalidRefresh.into()),
    }
}

/// Sign out: revokes the refresh token's session.
#[utoipa::path(post, path = "/api/auth/logout/", tag = "auth", request_body = RefreshRequest, security(("bearer" = [])),
    responses((status = 204, description = "Signed out"), (status = 400, description = "§9 `malformed_body`: not a JSON object"), (status = 401), (status = 422, description = "§9 validation error")))]
async fn logout(
    State(state): State<AppState>,
    Signed(auth): Signed,
    ExtPayload(raw): ExtPayload<RefreshRequest>,
) -> ApiResult<StatusCode> {
    let RefreshToken(token) = RefreshToken::try_from(raw).map_err(AuthError::from)?;
    if sessions::revoke_by_token(&state.pool, auth.user.id, &token).await? {
        state.auth_cache.after_change(Some(auth.user.id)).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Ask for a password-reset email. Always 202, whether or not the account exists.
#[utoipa::path(post, path = "/api/auth/password-reset/", tag = "auth", request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "Queued when the account exists", body = ResetRequested),
        (status = 400, description = "§9 `malformed_body`: not a JSON object"),
        (status = 422, description = "§9 validation error: neither email nor username given, or not text"),
        (status = 429, description = "More than 5 requests an hour from this address"),
    ))]
async fn password_reset(
    State(state): State<AppState>,
    ip: ClientIp,
    ExtPayload(raw): ExtPayload<PasswordResetRequest>,
) -> ApiResult<(StatusCode, Json<ResetRequested>)> {
    limit(&state, &ratelimit::PASSWORD_RESET, &ip.0.to_string()).await?;
    let target = ResetTarget::try_from(raw).map_err(AuthError::from)?;
    let settings = ResetSettings::from_config(&state.cfg);
    let queued = reset::request(&state.pool, &settings, &target, &ip.0.to_string()).await?;
    tracing::info!(queued, "password reset requested");
    Ok((StatusCode::ACCEPTED, Json(ResetRequested { detail: "If the account exists, a reset link has been sent." })))
}

/// Set a new password with a reset token (single use, valid one hour).
#[utoipa::path(post, path = "/api/auth/password-reset/confirm/", tag = "auth", request_body = PasswordResetConfirm,
    responses(
        (status = 204, description = "Password changed; every session signed out"),
        (status = 400, description = "§9 `malformed_body`: not a JSON object"),
        (status = 422, description = "§9 `invalid_token`, `weak_password` or validation error"),
        (status = 429, description = "More than 10 attempts an hour from this address"),
    ))]
async fn password_reset_confirm(
    State(state): State<AppState>,
    ip: ClientIp,
    ExtPayload(raw): ExtPayload<PasswordResetConfirm>,
) -> ApiResult<StatusCode> {
    limit(&state, &ratelimit::PASSWORD_RESET_CONFIRM, &ip.0.to_string()).await?;
    let ResetConfirmation { token, new_password } = ResetConfirmation::try_from(raw).map_err(AuthError::from)?;
    // The token first: a bad one costs a primary-key lookup, never an argon2 hash.
    if !reset::is_usable(&state.pool, &token).await? {
        return Err(AuthError::InvalidResetToken.into());
    }
    password::check_policy(&new_password, "").map_err(AuthError::Weak)?;
    let hash = state.hasher.hash(new_password).await.map_err(ApiError::internal)?;
    match reset::confirm(&state.pool, &token, &hash).await {
        Ok(user_id) => {
            state.auth_cache.after_change(Some(user_id)).await;
            Ok(StatusCode::NO_CONTENT)
        }
        Err(ConfirmError::InvalidToken) => Err(AuthError::InvalidResetToken.into()),
        Err(ConfirmError::Database(e)) => Err(e.into()),
    }
}

/// Change the password; other sessions are signed out, this one stays.
#[utoipa::path(post, path = "/api/auth/password/change/", tag = "auth", request_body = PasswordChange, security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "§9 `malformed_body`: not a JSON object"),
        (status = 401),
        (status = 422, description = "§9 `wrong_password`, `weak_password` or validation error"),
    ))]
async fn password_change(
    State(state): State<AppState>,
    Signed(auth): Signed,
    ExtPayload(raw): ExtPayload<PasswordChange>,
) -> ApiResult<StatusCode> {
    let ChangeOfPassword { current, new_password } = ChangeOfPassword::try_from(raw).map_err(AuthError::from)?;
    let (verified, _) = state.hasher.verify(current, auth.user.password.clone()).await.map_err(ApiError::internal)?;
    if verified == Verified::No {
        return Err(AuthError::WrongPassword.into());
    }
    password::check_policy(&new_password, &auth.user.username).map_err(AuthError::Weak)?;
    let hash = state.hasher.hash(new_password).await.map_err(ApiError::internal)?;
    let keep = auth.claims.sid;
    let mut tx = common::db::begin(&state.pool).await?;
    users::set_password(&mut tx, auth.user.id, &hash).await?;
    sessions::revoke_all(&mut tx, auth.user.id, keep).await?;
    tx.commit().await?;
    state.auth_cache.after_change(Some(auth.user.id)).await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn body<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    fn message(e: AuthError) -> Value {
        ApiError::from(e).body().unwrap()
    }

    #[test]
    fn credentials_are_taken_as_sent() {
        let c = Credentials::try_from(body::<LoginRequest>(json!({"username": " ravi ", "password": " pw "}))).unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), (" ravi ", " pw "));
        for raw in [
            json!({}),
            json!({"username": "a"}),
            json!({"username": "a", "password": ""}),
            json!({"username": ["a"], "password": "p"}),
        ] {
            let e = Credentials::try_from(body::<LoginRequest>(raw)).unwrap_err();
            assert_eq!(message(e), json!({"error": "Username and password are required"}));
        }
    }

    #[test]
    fn signup_rules() {
        let s = Signup::try_from(body::<SignupRequest>(
            json!({"username": " asha ", "password": "x", "phone_number": "", "email": " a@b.co "}),
        ))
        .unwrap();
        assert_eq!((s.username.as_str(), s.phone_number, s.email.as_str()), ("asha", None, "a@b.co"));
        let refused = |v: Value| message(Signup::try_from(body::<SignupRequest>(v)).unwrap_err());
        assert_eq!(
            refused(json!({"username": "  ", "password": "p"})),
            json!({"error": "Username and password are required"})
        );
        assert_eq!(
            refused(json!({"username": "ok", "password": "p", "email": "x"})),
            json!({"error": "Enter a valid email address"})
        );
        assert_eq!(
            refused(json!({"username": "ok", "password": "p", "phone_number": "1".repeat(16)})),
            json!({"error": "Enter a valid phone number (at most 15 characters)"})
        );
        assert!(
            refused(json!({"username": "u".repeat(151), "password": "p"}))["error"].as_str().unwrap().contains("150")
        );
    }

    #[test]
    fn reset_targets() {
        let t =
            ResetTarget::try_from(body::<PasswordResetRequest>(json!({"email": " A@b.co ", "username": "x"}))).unwrap();
        assert!(matches!(t, ResetTarget::Email(e) if e == "A@b.co"));
        let t = ResetTarget::try_from(body::<PasswordResetRequest>(json!({"email": "", "username": "meera"}))).unwrap();
        assert!(matches!(t, ResetTarget::Username(u) if u == "meera"));
        let e = ResetTarget::try_from(body::<PasswordResetRequest>(json!({}))).unwrap_err();
        assert_eq!(e.into_value(), json!({"email": ["Provide an email or a username."]}));
    }

    #[test]
    fn section_9_fields_are_required() {
        let e = RefreshToken::try_from(body::<RefreshRequest>(json!({"refresh_token": null}))).unwrap_err();
        assert_eq!(e.into_value(), json!({"refresh_token": ["This field is required."]}));
        let e = ResetConfirmation::try_from(body::<PasswordResetConfirm>(json!({"token": 5, "new_password": {}})))
            .unwrap_err();
        assert_eq!(e.into_value(), json!({"new_password": ["Not a valid string."]}));
        let weak = message(AuthError::Weak(WeakPassword::TooShort));
        assert_eq!(weak["error"]["code"], "weak_password");
        assert_eq!(weak["error"]["details"]["new_password"][0], "Password must be at least 8 characters.");
    }
}
