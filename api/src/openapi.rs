//! The OpenAPI document's frame; paths come from the route annotations.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// Title, version and the Bearer scheme.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Election Cart API",
        description = "Drop-in replacement of the Election Cart Django backend, plus its extensions (API.md §9).",
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "auth", description = "Sign-in, tokens and passwords"),
        (name = "users", description = "Admin user management"),
        (name = "catalogue", description = "Packages and campaigns"),
        (name = "admin-catalogue", description = "Catalogue management (admin app)"),
        (name = "cart", description = "The customer's cart"),
        (name = "ops", description = "Health, readiness, documentation"),
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}
