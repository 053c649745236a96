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

/// Rewrites every component schema made of `allOf` object parts (what `#[serde(flatten)]`
/// produces) into the single object schema it means: the parts' properties and required names
/// merged, the outer description kept. Same meaning, but generators of test data (schemathesis,
/// client generators) handle a plain object where an `allOf` of references defeats them.
pub fn flatten_all_of(doc: &mut utoipa::openapi::OpenApi) {
    use serde_json::{Map, Value};
    let Some(components) = doc.components.as_mut() else { return };
    let Ok(Value::Object(mut schemas)) = serde_json::to_value(&components.schemas) else { return };
    let names: Vec<String> = schemas.keys().cloned().collect();
    // Parts may refer to components that are themselves flattened: repeat until nothing changes.
    loop {
        let mut changed = false;
        for name in &names {
            let Some(Value::Array(parts)) = schemas.get(name).and_then(|s| s.get("allOf")).cloned() else { continue };
            let mut properties = Map::new();
            let mut required: Vec<Value> = Vec::new();
            let mut flat = true;
            for part in &parts {
                let resolved = match part.get("$ref").and_then(Value::as_str) {
                    Some(r) => r.strip_prefix("#/components/schemas/").and_then(|n| schemas.get(n)).cloned(),
                    None => Some(part.clone()),
                };
                let Some(resolved) = resolved.filter(|s| s.get("allOf").is_none()) else {
                    flat = false;
                    break;
                };
                if resolved.get("type").and_then(Value::as_str) != Some("object") {
                    flat = false;
                    break;
                }
                if let Some(Value::Object(p)) = resolved.get("properties") {
                    properties.extend(p.clone());
                }
                for r in resolved.get("required").and_then(Value::as_array).into_iter().flatten() {
                    if !required.contains(r) {
                        required.push(r.clone());
                    }
                }
            }
            if !flat {
                continue;
            }
            let mut merged = Map::new();
            if let Some(d) = schemas.get(name).and_then(|s| s.get("description")).cloned() {
                merged.insert("description".into(), d);
            }
            merged.insert("type".into(), Value::String("object".into()));
            merged.insert("properties".into(), Value::Object(properties));
            if !required.is_empty() {
                merged.insert("required".into(), Value::Array(required));
            }
            schemas.insert(name.clone(), Value::Object(merged));
            changed = true;
        }
        if !changed {
            break;
        }
    }
    if let Ok(flattened) = serde_json::from_value(Value::Object(schemas)) {
        components.schemas = flattened;
    }
}
