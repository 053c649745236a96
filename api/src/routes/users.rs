//! Admin user management under `/api/auth/users/` (API.md §4.2, §5 #17, §6).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use common::accounts::password;
use common::accounts::users::{self, AccountChangeError, NewUser, UserWriteError};
use common::notices;
use common::role::Role;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::verbatim;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, Id};
use crate::input::{self, Field, FieldErrors, Payload, Text, choice, non_blank};
use crate::state::AppState;
use crate::views::SuccessMessage;
use crate::views::users::{User, UserEnvelope};

/// The user-management routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(create_user))
        .routes(routes!(change_role))
        .routes(routes!(delete_user))
}

/// Filters of the user list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UserFilter {
    /// Exact role.
    role: Option<String>,
    /// Substring of username or phone number, any case.
    search: Option<String>,
}

/// Body of `users/create/`; `""` or `null` in an optional field is as if not sent (§5 #17).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUserRequest {
    /// ≤ 150 characters (trimmed), unique.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub username: Field,
    /// ≤ 15 characters, unique.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone_number: Field,
    /// `user` (default), `staff` or `admin`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub role: Field,
    /// ≤ 128 characters; none or `""`: a random one.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Field,
    /// ≤ 128 characters, unique.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub firebase_uid: Field,
    /// ≤ 254 characters, a valid address.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Email)]
    pub email: Field,
}

/// A new account as the admin asked for it.
#[derive(Debug)]
pub struct NewAccount {
    /// Trimmed login name.
    pub username: String,
    /// Trimmed phone number.
    pub phone_number: Option<String>,
    /// Role.
    pub role: Role,
    /// The password to set; `None`: a random one.
    pub password: Option<String>,
    /// Firebase uid.
    pub firebase_uid: Option<String>,
    /// Email, `""` when none.
    pub email: String,
}

impl TryFrom<CreateUserRequest> for NewAccount {
    type Error = FieldErrors;

    fn try_from(raw: CreateUserRequest) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let username = errors.take("username", Text::required(150).parse(&raw.username)).flatten();
        let phone_number = errors.take("phone_number", Text::optional(15).parse(non_blank(&raw.phone_number)));
        let role = errors.take("role", choice(non_blank(&raw.role), Role::assignable));
        // Never trimmed; `""` means "make one up" (§5 #17).
        let password = match verbatim(&raw.password) {
            Err(()) => errors.take("password", Err("Not a valid string.".into())),
            Ok(Some(p)) if p.chars().count() > password::MAX_LENGTH => errors.take(
                "password",
                Err(format!("Ensure this field has no more than {} characters.", password::MAX_LENGTH)),
            ),
            Ok(p) => Some(p.filter(|p| !p.is_empty())),
        };
        let firebase_uid = errors.take("firebase_uid", Text::optional(128).parse(non_blank(&raw.firebase_uid)));
        let email =
            Text::optional(254).parse(non_blank(&raw.email)).and_then(|e| e.as_deref().map(input::email).transpose());
        let email = errors.take("email", email);
        errors.finish(|| {
            Some(Self {
                username: username?,
                phone_number: phone_number?,
                role: role?.unwrap_or(Role::User),
                password: password?,
                firebase_uid: firebase_uid?,
                email: email?.unwrap_or_default(),
            })
        })
    }
}

/// `{role}` of a role change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleRequest {
    /// `user`, `staff` or `admin`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub role: Field,
}

impl TryFrom<RoleRequest> for Role {
    type Error = UsersError;

    fn try_from(raw: RoleRequest) -> Result<Self, UsersError> {
        let requested = verbatim(non_blank(&raw.role)).ok().flatten().ok_or(UsersError::RoleRequired)?;
        Role::assignable(requested.trim()).ok_or(UsersError::InvalidRole)
    }
}

/// Why an admin's change to an account is refused: `{success:false, message}`.
#[derive(Debug)]
pub enum UsersError {
    /// 400 "Role is required".
    RoleRequired,
    /// 400 "Invalid role. Must be one of: user, staff, admin".
    InvalidRole,
    /// 400 "You cannot change your own role" (§6).
    OwnRole,
    /// 400 "You cannot delete your own account".
    OwnAccount,
    /// 404, or 400 for the last admin or a user with payments (§6).
    Refused(AccountChangeError),
}

impl From<AccountChangeError> for UsersError {
    fn from(e: AccountChangeError) -> Self {
        UsersError::Refused(e)
    }
}

impl From<UsersError> for ApiError {
    fn from(e: UsersError) -> Self {
        let bad = |msg: &str| ApiError::message(StatusCode::BAD_REQUEST, msg);
        match e {
            UsersError::RoleRequired => bad("Role is required"),
            UsersError::InvalidRole => bad("Invalid role. Must be one of: user, staff, admin"),
            UsersError::OwnRole => bad("You cannot change your own role"),
            UsersError::OwnAccount => bad("You cannot delete your own account"),
            UsersError::Refused(AccountChangeError::NotFound) => {
                ApiError::message(StatusCode::NOT_FOUND, "User not found")
            }
            UsersError::Refused(AccountChangeError::LastAdmin) => bad("At least one active admin must remain"),
            UsersError::Refused(AccountChangeError::HasPaidOrders) => {
                bad("This user has paid orders and cannot be deleted")
            }
            UsersError::Refused(AccountChangeError::Database(e)) => e.into(),
        }
    }
}

/// The field error of a unique name already taken (bare `{field: [msg]}`).
fn taken(e: UserWriteError) -> ApiError {
    let (field, msg) = match e {
        UserWriteError::UsernameTaken => ("username", "Username already exists"),
        UserWriteError::PhoneTaken => ("phone_number", "Phone number already exists"),
        UserWriteError::FirebaseUidTaken => ("firebase_uid", "Firebase UID already exists"),
        UserWriteError::Database(e) => return e.into(),
    };
    let mut errors = FieldErrors::new();
    errors.add(field, msg);
    errors.bare()
}

/// All users, newest first.
#[utoipa::path(get, path = "/api/auth/users/", tag = "users", params(UserFilter), security(("bearer" = [])),
    responses((status = 200, body = Vec<User>), (status = 401), (status = 403)))]
async fn list_users(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Query(filter): Query<UserFilter>,
) -> ApiResult<Json<Vec<User>>> {
    let role = filter.role.filter(|r| !r.is_empty());
    let search = filter.search.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let rows = users::list(&state.pool, role.as_deref(), search.as_deref()).await?;
    Ok(Json(rows.iter().map(User::from).collect()))
}

/// Create a user with any role.
#[utoipa::path(post, path = "/api/auth/users/create/", tag = "users", request_body = CreateUserRequest, security(("bearer" = [])),
    responses(
        (status = 201, body = UserEnvelope, description = "`{success:true, message:\"User created successfully\", user}`"),
        (status = 400, description = "`{field: [str]}`, e.g. `{\"username\":[\"Username already exists\"]}`"),
        (status = 401), (status = 403),
    ))]
async fn create_user(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Payload(raw): Payload<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<UserEnvelope>)> {
    let form = NewAccount::try_from(raw).map_err(FieldErrors::bare)?;
    let raw_password = form.password.unwrap_or_else(password::random_password);
    let hash = state.hasher.hash(raw_password).await.map_err(ApiError::internal)?;
    let new = NewUser {
        username: form.username,
        password_hash: hash,
        phone_number: form.phone_number,
        email: form.email,
        role: form.role,
        firebase_uid: form.firebase_uid,
        is_staff: false,
        is_superuser: false,
    };
    let mut tx = common::db::begin(&state.pool).await?;
    let user = users::create(&mut tx, &new).await.map_err(taken)?;
    notices::welcome(&mut tx, user.id, &state.cfg.jwt_secret, state.cfg.welcome_link_ttl).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(UserEnvelope::new("User created successfully", &user))))
}

/// Change a user's role.
#[utoipa::path(patch, path = "/api/auth/users/{id}/role/", tag = "users", request_body = RoleRequest,
    params(("id" = i64, Path, description = "User id")), security(("bearer" = [])),
    responses(
        (status = 200, body = UserEnvelope, description = "`{success:true, message:\"User role updated to <role>\", user}`"),
        (status = 400, description = "`{success:false, message}`: `Role is required`, `Invalid role. Must be one of: user, staff, admin`, `You cannot change your own role`, `At least one active admin must remain`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{\"success\":false,\"message\":\"User not found\"}`"),
    ))]
async fn change_role(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id,
    Payload(raw): Payload<RoleRequest>,
) -> ApiResult<Json<UserEnvelope>> {
    if admin.user.id == id {
        return Err(UsersError::OwnRole.into());
    }
    let role = Role::try_from(raw)?;
    let user = users::set_role(&state.pool, id, role).await.map_err(UsersError::from)?;
    state.auth_cache.after_change(Some(id)).await;
    Ok(Json(UserEnvelope::new(format!("User role updated to {role}"), &user)))
}

/// Delete a user (their unpaid orders and cart go with them); refused for a user with payments or invoices.
#[utoipa::path(delete, path = "/api/auth/users/{id}/", tag = "users",
    params(("id" = i64, Path, description = "User id")), security(("bearer" = [])),
    responses(
        (status = 200, body = SuccessMessage, description = "`{success:true, message:\"User <username> deleted successfully\"}`"),
        (status = 400, description = "`{success:false, message}`: `You cannot delete your own account`, `This user has paid orders and cannot be deleted`"),
        (status = 401), (status = 403),
        (status = 404, description = "`{success:false, message:\"User not found\"}`"),
    ))]
async fn delete_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id,
) -> ApiResult<Json<SuccessMessage>> {
    if admin.user.id == id {
        return Err(UsersError::OwnAccount.into());
    }
    let username = users::delete(&state.pool, id).await.map_err(UsersError::from)?;
    state.auth_cache.after_change(Some(id)).await;
    Ok(Json(SuccessMessage::new(format!("User {username} deleted successfully"))))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::{Value, json};

    use super::*;

    fn create(v: Value) -> Result<NewAccount, Value> {
        NewAccount::try_from(serde_json::from_value::<CreateUserRequest>(v).unwrap()).map_err(FieldErrors::into_value)
    }

    #[test]
    fn create_defaults_and_blanks() {
        let a = create(json!({"username": " newstaff ", "phone_number": "", "password": "", "role": null})).unwrap();
        assert_eq!(a.username, "newstaff");
        assert_eq!((a.phone_number, a.password, a.role, a.email.as_str()), (None, None, Role::User, ""));
        let a = create(json!({"username": "u", "password": " spaced ", "role": "staff", "email": " a@b.co "})).unwrap();
        assert_eq!((a.password.as_deref(), a.role, a.email.as_str()), (Some(" spaced "), Role::Staff, "a@b.co"));
    }

    #[test]
    fn create_errors_are_drf_field_errors() {
        assert_eq!(create(json!({})).unwrap_err(), json!({"username": ["This field is required."]}));
        let e = create(json!({"username": "u".repeat(151), "phone_number": "1".repeat(16), "role": "king",
                              "password": "p".repeat(129), "email": "nope", "firebase_uid": ["x"]}))
        .unwrap_err();
        assert_eq!(
            e,
            json!({
                "username": ["Ensure this field has no more than 150 characters."],
                "phone_number": ["Ensure this field has no more than 15 characters."],
                "role": ["\"king\" is not a valid choice."],
                "password": ["Ensure this field has no more than 128 characters."],
                "email": ["Enter a valid email address."],
                "firebase_uid": ["Not a valid string."],
            })
        );
        assert_eq!(
            create(json!({"username": "u", "role": "customer"})).unwrap_err()["role"],
            json!(["\"customer\" is not a valid choice."])
        );
    }

    #[test]
    fn roles() {
        let role = |v: Value| Role::try_from(serde_json::from_value::<RoleRequest>(v).unwrap());
        assert_eq!(role(json!({"role": " staff "})).unwrap(), Role::Staff);
        assert!(matches!(role(json!({})), Err(UsersError::RoleRequired)));
        assert!(matches!(role(json!({"role": "customer"})), Err(UsersError::InvalidRole)));
    }
}
