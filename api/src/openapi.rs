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
    modifiers(&BearerScheme, &DocsPaths),
    tags(
        (name = "auth", description = "Sign-in, tokens and passwords"),
        (name = "users", description = "Admin user management"),
        (name = "catalogue", description = "Packages and campaigns"),
        (name = "admin-catalogue", description = "Catalogue management (admin app)"),
        (name = "cart", description = "The customer's cart"),
        (name = "orders", description = "Checkout, the customer's orders and payments, the Razorpay webhook"),
        (name = "refunds", description = "Refunds (admin)"),
        (name = "order desk", description = "Orders for admins and staff: lists, manual orders, offline payments, assignment, search"),
        (name = "staff", description = "Staff checklists"),
        (name = "notifications", description = "The signed-in user's notifications"),
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

/// `/api/schema/` and `/api/docs/` are served by the Swagger UI router, not by annotated
/// handlers; they belong in the document all the same.
struct DocsPaths;

impl Modify for DocsPaths {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::content::ContentBuilder;
        use utoipa::openapi::path::{HttpMethod, OperationBuilder};
        use utoipa::openapi::response::ResponseBuilder;
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        for (path, summary, answer, media, kind) in [
            ("/api/schema/", "This OpenAPI 3.1 document", "OpenAPI JSON", "application/json", Type::Object),
            (
                "/api/docs/",
                "HTML documentation of this API, served from the binary",
                "Swagger UI page",
                "text/html",
                Type::String,
            ),
        ] {
            let content = ContentBuilder::new().schema(Some(ObjectBuilder::new().schema_type(kind).build())).build();
            let response = ResponseBuilder::new().description(answer).content(media, content).build();
            let operation = OperationBuilder::new().summary(Some(summary)).tag("ops").response("200", response).build();
            openapi.paths.add_path_operation(path, vec![HttpMethod::Get], operation);
        }
    }
}
