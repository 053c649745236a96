//! Admin user management under `/api/auth/users/` (API.md §4.2).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::accounts::password;
use common::accounts::users::{self, AccountChangeError, NewUser, UserWriteError};
use common::role::Role;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Admin, Body, Id};
use crate::routes::dto::{UserOut, valid_email};
use crate::state::AppState;

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

/// Body of `users/create/`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUserRequest {
    pub username: String,
    pub phone_number: Option<String>,
    pub role: Option<String>,
    pub password: Option<String>,
    pub firebase_uid: Option<String>,
    pub email: Option<String>,
}

/// `{success, message, user}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserEnvelope {
    success: bool,
    message: String,
    user: UserOut,
}

/// `{role}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleRequest {
    pub role: String,
}

/// All users, newest first.
#[utoipa::path(get, path = "/api/auth/users/", tag = "users", params(UserFilter), security(("bearer" = [])),
    responses((status = 200, body = Vec<UserOut>), (status = 401), (status = 403)))]
async fn list_users(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Query(filter): Query<UserFilter>,
) -> ApiResult<Json<Vec<UserOut>>> {
    let role = filter.role.filter(|r| !r.is_empty());
    let search = filter.search.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let rows = users::list(&state.pool, role.as_deref(), search.as_deref()).await?;
    Ok(Json(rows.iter().map(|r| UserOut::from_user(&r.user, r.order_count)).collect()))
}

fn push(errors: &mut Map<String, Value>, field: &str, msg: impl Into<String>) {
    errors.insert(field.to_string(), json!([msg.into()]));
}

fn optional_limited(body: &Body, errors: &mut Map<String, Value>, field: &str, max: usize) -> Option<String> {
    match body.text_non_empty(field) {
        Err(_) => {
            push(errors, field, "Not a valid string.");
            None
        }
        Ok(Some(v)) if v.chars().count() > max => {
            push(errors, field, format!("Ensure this field has no more than {max} characters."));
            None
        }
        Ok(v) => v.map(|s| s.trim().to_string()),
    }
}

/// Create a user with any role.
#[utoipa::path(post, path = "/api/auth/users/create/", tag = "users", request_body = CreateUserRequest, security(("bearer" = [])),
    responses(
        (status = 201, body = UserEnvelope),
        (status = 400, description = "`{field: [str]}`, e.g. `{\"username\":[\"Username already exists\"]}`"),
        (status = 401), (status = 403),
    ))]
async fn create_user(State(state): State<AppState>, Admin(_admin): Admin, body: Body) -> ApiResult<Response> {
    let mut errors = Map::new();
    let username = match body.text("username") {
        Err(_) => {
            push(&mut errors, "username", "Not a valid string.");
            None
        }
        Ok(None) => {
            push(&mut errors, "username", "This field is required.");
            None
        }
        Ok(Some(u)) if u.trim().is_empty() => {
            push(&mut errors, "username", "This field may not be blank.");
            None
        }
        Ok(Some(u)) if u.trim().chars().count() > 150 => {
            push(&mut errors, "username", "Ensure this field has no more than 150 characters.");
            None
        }
        Ok(Some(u)) => Some(u.trim().to_string()),
    };
    let phone = optional_limited(&body, &mut errors, "phone_number", 15);
    let password_in = match body.text("password") {
        Err(_) => {
            push(&mut errors, "password", "Not a valid string.");
            None
        }
        Ok(Some(p)) if p.chars().count() > password::MAX_LENGTH => {
            push(&mut errors, "password", "Ensure this field has no more than 128 characters.");
            None
        }
        // §5 #17: an empty password means "make one up".
        Ok(p) => p.filter(|p| !p.is_empty()),
    };
    let firebase_uid = optional_limited(&body, &mut errors, "firebase_uid", 128);
    let role = match body.text_non_empty("role") {
        Err(_) => {
            push(&mut errors, "role", "Not a valid string.");
            None
        }
        Ok(None) => Some(Role::User),
        Ok(Some(r)) => match Role::assignable(r.trim()) {
            Some(role) => Some(role),
            None => {
                push(&mut errors, "role", format!("\"{r}\" is not a valid choice."));
                None
            }
        },
    };
    let email = match optional_limited(&body, &mut errors, "email", 254) {
        None => String::new(),
        Some(e) => valid_email(&e).unwrap_or_else(|| {
            push(&mut errors, "email", "Enter a valid email address.");
            String::new()
        }),
    };
    let (Some(username), Some(role), true) = (username, role, errors.is_empty()) else {
        return Err(ApiError::Fields(StatusCode::BAD_REQUEST, Value::Object(errors)));
    };
    let raw_password = password_in.unwrap_or_else(password::random_password);
    let hash = state.hasher.hash(raw_password).await.map_err(ApiError::internal)?;
    let new = NewUser {
        username,
        password_hash: hash,
        phone_number: phone,
        email,
        role,
        firebase_uid,
        is_staff: false,
        is_superuser: false,
    };
    let mut conn = state.pool.acquire().await?;
    let user = users::create(&mut conn, &new).await.map_err(|e| match e {
        UserWriteError::UsernameTaken => {
            ApiError::Fields(StatusCode::BAD_REQUEST, json!({"username": ["Username already exists"]}))
        }
        UserWriteError::PhoneTaken => {
            ApiError::Fields(StatusCode::BAD_REQUEST, json!({"phone_number": ["Phone number already exists"]}))
        }
        UserWriteError::FirebaseUidTaken => {
            ApiError::Fields(StatusCode::BAD_REQUEST, json!({"firebase_uid": ["Firebase UID already exists"]}))
        }
        UserWriteError::Database(e) => e.into(),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(UserEnvelope {
            success: true,
            message: "User created successfully".into(),
            user: UserOut::from_user(&user, 0),
        }),
    )
        .into_response())
}

/// Change a user's role.
#[utoipa::path(patch, path = "/api/auth/users/{id}/role/", tag = "users", request_body = RoleRequest,
    params(("id" = i64, Path, description = "User id")), security(("bearer" = [])),
    responses(
        (status = 200, body = UserEnvelope),
        (status = 400, description = "`{success:false, message}`: role missing or invalid, `You cannot change your own role`, `At least one active admin must remain`"),
        (status = 404, description = "`{\"success\":false,\"message\":\"User not found\"}`"),
    ))]
async fn change_role(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Id(id): Id,
    body: Body,
) -> ApiResult<Json<UserEnvelope>> {
    if admin.user.id == id {
        return Err(ApiError::message(StatusCode::BAD_REQUEST, "You cannot change your own role"));
    }
    let requested = body.text_non_empty("role").ok().flatten();
    let Some(raw) = requested else {
        return Err(ApiError::message(StatusCode::BAD_REQUEST, "Role is required"));
    };
    let Some(role) = Role::assignable(raw.trim()) else {
        return Err(ApiError::message(StatusCode::BAD_REQUEST, "Invalid role. Must be one of: user, staff, admin"));
    };
    let user = users::set_role(&state.pool, id, role).await.map_err(account_change_error)?;
    Ok(Json(UserEnvelope {
        success: true,
        message: format!("User role updated to {}", role.as_str()),
        user: UserOut::from_user(&user, 0),
    }))
}

/// Delete a user (their unpaid orders and cart go with them); refused for a user with payments or invoices.
#[utoipa::path(delete, path = "/api/auth/users/{id}/", tag = "users",
    params(("id" = i64, Path, description = "User id")), security(("bearer" = [])),
    responses(
        (status = 200, description = "`{success:true, message:\"User <username> deleted successfully\"}`"),
        (status = 400, description = "`{success:false, message}`: `You cannot delete your own account`, `This user has paid orders and cannot be deleted`"),
        (status = 404, description = "`{success:false, message:\"User not found\"}`"),
    ))]
async fn delete_user(State(state): State<AppState>, Admin(admin): Admin, Id(id): Id) -> ApiResult<Json<Value>> {
    if admin.user.id == id {
        return Err(ApiError::message(StatusCode::BAD_REQUEST, "You cannot delete your own account"));
    }
    let username = users::delete(&state.pool, id).await.map_err(account_change_error)?;
    Ok(Json(json!({ "success": true, "message": format!("User {username} deleted successfully") })))
}

fn account_change_error(e: AccountChangeError) -> ApiError {
    match e {
        AccountChangeError::NotFound => ApiError::message(StatusCode::NOT_FOUND, "User not found"),
        AccountChangeError::LastAdmin => {
            ApiError::message(StatusCode::BAD_REQUEST, "At least one active admin must remain")
        }
        AccountChangeError::HasPaidOrders => {
            ApiError::message(StatusCode::BAD_REQUEST, "This user has paid orders and cannot be deleted")
        }
        AccountChangeError::Database(e) => e.into(),
    }
}
