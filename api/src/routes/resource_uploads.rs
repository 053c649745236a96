//! The customer hands over campaign material (API.md §4.5 `upload-resources/` and
//! `submit-resources/`, §7.1, §7.4, §7.9): multipart forms read in bounded memory
//! ([`crate::upload`]), files staged privately and checked by content, values saved in one
//! transaction (`common::orders::resources`) with the jobs that store the files.
//!
//! Both routes: the caller's order only (`404 {"error":"Order not found"}`), in
//! `pending_resources` or `ready_for_processing`, 20 requests per hour per user together
//! (`ratelimit::UPLOAD_RESOURCES`). Any refusal leaves nothing behind: no row, no staged file.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use common::catalog::resource_fields::{FieldDefinition, FieldType};
use common::orders::resources::{
    self, LegacyUpload, NewSubmission, Outcome, ResourceError, SubmittedValue, UploadContext,
};
use common::ratelimit;
use common::uploads::{self, FileProblem, MB};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Id, Signed, text_part};
use crate::input::{self, FieldErrors, Text};
use crate::routes::resources::OrderResource;
use crate::state::AppState;
use crate::upload::{
    self, FORM_OVERHEAD, Form, FormRules, PART_OVERHEAD, Part, PartRule, Refusal, StagedFile, TEXT_PART_LIMIT,
};
use crate::views::orders::PendingItem;

/// Text parts of the legacy form.
const LEGACY_TEXTS: [&str; 5] =
    ["order_item_id", "campaign_slogan", "preferred_date", "whatsapp_number", "additional_notes"];
/// Image parts of the legacy form.
const LEGACY_IMAGES: [&str; 2] = ["candidate_photo", "party_logo"];
/// The legacy form's whole body: two 5 MB images and its texts.
pub const LEGACY_BODY_LIMIT: u64 = LEGACY_IMAGES.len() as u64 * (uploads::LEGACY_IMAGE_MB * MB + PART_OVERHEAD)
    + LEGACY_TEXTS.len() as u64 * (TEXT_PART_LIMIT as u64 + PART_OVERHEAD)
    + FORM_OVERHEAD;

// Two 5 MB images and a few small texts.
const _: () = assert!(LEGACY_BODY_LIMIT > 10 * MB && LEGACY_BODY_LIMIT < 11 * MB);

/// The routes. The legacy form has a fixed size; the resource form's limit is computed per
/// request from the fields of the order's lines (its route's default limit is off so the
/// global JSON limit never applies to it).
pub fn router() -> OpenApiRouter<AppState> {
    let legacy = OpenApiRouter::new()
        .routes(routes!(upload_resources))
        .layer(DefaultBodyLimit::max(usize::try_from(LEGACY_BODY_LIMIT).unwrap_or(usize::MAX)));
    let dynamic = OpenApiRouter::new().routes(routes!(submit_resources)).layer(DefaultBodyLimit::disable());
    OpenApiRouter::new().merge(legacy).merge(dynamic)
}

fn order_not_found() -> ApiError {
    ApiError::error(StatusCode::NOT_FOUND, "Order not found")
}

fn item_not_found() -> ApiError {
    ApiError::error(StatusCode::NOT_FOUND, "Order item not found or does not belong to this order")
}

fn closed(status: &str) -> ApiError {
    ApiError::error(StatusCode::BAD_REQUEST, format!("Cannot upload resources for order with status: {status}"))
}

fn resource_error(e: ResourceError) -> ApiError {
    match e {
        ResourceError::OrderNotFound => order_not_found(),
        ResourceError::Closed(status) => closed(&status),
        ResourceError::ItemNotFound => item_not_found(),
        ResourceError::AlreadyUploaded => {
            ApiError::error(StatusCode::BAD_REQUEST, "Resources already uploaded for this order item")
        }
        ResourceError::Database(e) => e.into(),
    }
}

/// Rate limit, ownership and status: what both routes check before reading a byte of the body.
async fn open_order(state: &AppState, user_id: i64, order_id: i64) -> ApiResult<UploadContext> {
    state
        .limiter
        .hit(&ratelimit::UPLOAD_RESOURCES, &user_id.to_string())
        .await
        .map_err(|e| ApiError::RateLimited(e.retry_after))?;
    let ctx = resources::load_context(&state.pool, order_id, user_id).await?.ok_or_else(order_not_found)?;
    if !ctx.accepts_material() {
        return Err(closed(&ctx.status));
    }
    Ok(ctx)
}

/// The lines still without material, after the change.
async fn pending_items(state: &AppState, order_id: i64) -> ApiResult<Vec<PendingItem>> {
    Ok(PendingItem::of(&common::orders::items(&state.pool, &[order_id]).await?))
}

/// Checks an image on its staged file: extension, signatures and magic bytes from the head,
/// then (on the blocking pool, under the decode permits shared by every upload route) the
/// pixel count from the header and a full decode; renames it to its content's extension.
async fn check_image(state: &AppState, mut staged: StagedFile) -> ApiResult<Result<StagedFile, FileProblem>> {
    let kind = match uploads::check_image_head(staged.client_extension(), staged.size(), staged.head()) {
        Ok(kind) => kind,
        Err(problem) => return Ok(Err(problem)),
    };
    let path = staged.path().to_path_buf();
    // The permit goes with the decode: released when it ends, even if this request is dropped.
    let permit = state.decode_permits.clone().acquire_owned().await.map_err(ApiError::internal)?;
    let verdict = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        uploads::verify_image_file(&path, kind)
    })
    .await?;
    match verdict.map_err(|e| ApiError::internal(format!("read staged image: {e}")))? {
        Ok(()) => {
            rename(&mut staged, kind.ext()).await?;
            Ok(Ok(staged))
        }
        Err(problem) => Ok(Err(problem)),
    }
}

/// Checks a document from its head (§7.9) against the field's extensions.
async fn check_document(staged: StagedFile, allowed: &[String]) -> ApiResult<Result<StagedFile, FileProblem>> {
    let mut staged = staged;
    match uploads::check_document(staged.client_extension(), staged.size(), staged.head(), allowed) {
        Ok(ext) => {
            rename(&mut staged, &ext).await?;
            Ok(Ok(staged))
        }
        Err(problem) => Ok(Err(problem)),
    }
}

async fn rename(staged: &mut StagedFile, ext: &str) -> ApiResult<()> {
    staged.set_extension(ext).await.map_err(|e| ApiError::internal(format!("rename staged file: {e}")))
}

// ---------------------------------------------------------------------------------------------
// submit-resources/
// ---------------------------------------------------------------------------------------------

/// Multipart body of `submit-resources/`: `order_item_id` and `field_<definition id>` per
/// resource field of the line's product (§7.4): text, phone and date as text, numbers as
/// integers, images and documents as files.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct SubmitResourcesForm {
    /// The order line the values are for.
    order_item_id: i64,
    /// `field_<definition id>`: a text or a file.
    #[serde(flatten)]
    fields: HashMap<String, String>,
}

/// `201` of `submit-resources/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourcesSubmitted {
    /// Always `true`.
    pub success: bool,
    /// `Resources submitted successfully`.
    pub message: &'static str,
    /// Values saved by this request.
    pub submissions_count: usize,
    /// The order's status now.
    pub order_status: String,
    /// Every line has its material.
    pub all_resources_uploaded: bool,
    /// The lines still without material.
    pub pending_items: Vec<PendingItem>,
}

/// A field's file limit in MB: its definition's, else 10 (§7.4).
fn limit_mb(def: &FieldDefinition) -> u64 {
    def.max_file_size_mb.and_then(|mb| u64::try_from(mb).ok()).filter(|mb| *mb > 0).unwrap_or(uploads::DEFAULT_FIELD_MB)
}

fn is_file(def: &FieldDefinition) -> bool {
    matches!(FieldType::parse(&def.field_type), Some(FieldType::Image | FieldType::Document))
}

/// The resource form's parts and limits, from the fields of every line of the order.
struct SubmitRules<'a> {
    ctx: &'a UploadContext,
    by_key: HashMap<String, &'a FieldDefinition>,
}

impl<'a> SubmitRules<'a> {
    fn new(ctx: &'a UploadContext) -> Self {
        Self { ctx, by_key: ctx.fields.iter().map(|f| (format!("field_{}", f.id), f)).collect() }
    }

    /// The largest body a line's form may have: its fields' limits, `order_item_id`, overhead.
    fn item_limit(&self, item: &resources::UploadItem) -> u64 {
        let fields: u64 = self
            .ctx
            .fields_of(item)
            .map(|f| if is_file(f) { limit_mb(f) * MB } else { TEXT_PART_LIMIT as u64 } + PART_OVERHEAD)
            .sum();
        fields + TEXT_PART_LIMIT as u64 + PART_OVERHEAD + FORM_OVERHEAD
    }

    /// Before `order_item_id` is read: the largest of the lines' limits.
    fn body_limit(&self) -> u64 {
        self.ctx
            .items
            .iter()
            .map(|i| self.item_limit(i))
            .max()
            .unwrap_or(TEXT_PART_LIMIT as u64 + PART_OVERHEAD + FORM_OVERHEAD)
    }
}

impl FormRules for SubmitRules<'_> {
    fn part(&self, name: &str) -> PartRule {
        if name == "order_item_id" {
            return PartRule::Text;
        }
        match self.by_key.get(name) {
            Some(def) => match FieldType::parse(&def.field_type) {
                Some(FieldType::Image) => PartRule::File { max_bytes: limit_mb(def) * MB, scan_markers: true },
                Some(FieldType::Document) => PartRule::File { max_bytes: limit_mb(def) * MB, scan_markers: false },
                _ => PartRule::Text,
            },
            None => PartRule::Ignore,
        }
    }

    fn limit_after(&self, name: &str, value: &str) -> Option<u64> {
        if name != "order_item_id" {
            return None;
        }
        let id = value.trim().parse::<i64>().ok()?;
        self.ctx.item(id).map(|item| self.item_limit(item))
    }
}

/// `{success:false, errors:{"field_<id>": "<message>"}}` (one string per field, §4.5).
fn field_errors(errors: Map<String, Value>) -> ApiError {
    ApiError::Errors(StatusCode::BAD_REQUEST, Value::Object(errors))
}

/// A text part's value: `None` when absent or blank.
fn text_value(part: Option<&Part>) -> Option<&str> {
    match part {
        Some(Part::Text(t)) if !t.trim().is_empty() => Some(t.trim()),
        _ => None,
    }
}

/// Validates one field of the line (§7.4): `Ok(None)` when nothing is to be saved.
async fn validate_field(
    state: &AppState,
    def: &FieldDefinition,
    part: Option<Part>,
) -> ApiResult<Result<Option<(SubmittedValue, Option<StagedFile>)>, String>> {
    let name = &def.field_name;
    let required = || if def.is_required { Err(format!("{name} is required")) } else { Ok(None) };
    let kind = FieldType::parse(&def.field_type).unwrap_or(FieldType::Text);
    match kind {
        FieldType::Image | FieldType::Document => {
            let staged = match part {
                Some(Part::File(staged)) => staged,
                Some(Part::Refused(refusal)) => {
                    let problem = match refusal {
                        Refusal::TooLarge => FileProblem::TooLarge { limit_mb: limit_mb(def) },
                        Refusal::BadFileName => FileProblem::BadName,
                        Refusal::Forbidden => FileProblem::Dangerous,
                        Refusal::TextTooLong => return Ok(Err(format!("{name} must be a file"))),
                    };
                    return Ok(Err(problem.message(name)));
                }
                Some(Part::Text(t)) if !t.trim().is_empty() => return Ok(Err(format!("{name} must be a file"))),
                Some(Part::Text(_) | Part::NoFile) | None => return Ok(required()),
            };
            let checked = if kind == FieldType::Image {
                check_image(state, staged).await?
            } else {
                check_document(staged, &uploads::document_extensions(&def.allowed_extensions)).await?
            };
            Ok(match checked {
                Ok(staged) => Ok(Some((SubmittedValue::File(staged.rel().to_string()), Some(staged)))),
                Err(problem) => Err(problem.message(name)),
            })
        }
        FieldType::Number => {
            if matches!(part, Some(Part::Refused(_))) {
                return Ok(Err(format!("{name} must be a valid number")));
            }
            let Some(raw) = text_value(part.as_ref()) else { return Ok(required()) };
            let Ok(n) = raw.parse::<i32>() else { return Ok(Err(format!("{name} must be a valid number"))) };
            if let Some(min) = def.min_value
                && n < min
            {
                return Ok(Err(format!("{name} must be at least {min}")));
            }
            if let Some(max) = def.max_value
                && n > max
            {
                return Ok(Err(format!("{name} must be at most {max}")));
            }
            Ok(Ok(Some((SubmittedValue::Number(n), None))))
        }
        FieldType::Text | FieldType::Phone | FieldType::Date => {
            if matches!(part, Some(Part::Refused(_))) {
                let max = def.max_length.unwrap_or(TEXT_PART_LIMIT as i32);
                return Ok(Err(format!("{name} exceeds maximum length of {max}")));
            }
            let Some(value) = text_value(part.as_ref()) else { return Ok(required()) };
            if value.contains('\0') {
                return Ok(Err(format!("{name} contains characters that are not allowed")));
            }
            if let Some(max) = def.max_length.and_then(|m| usize::try_from(m).ok())
                && value.chars().count() > max
            {
                return Ok(Err(format!("{name} exceeds maximum length of {max}")));
            }
            Ok(Ok(Some((SubmittedValue::Text(value.to_string()), None))))
        }
    }
}

/// Submit the values of a line's resource fields (§4.5, §7.4).
#[utoipa::path(post, path = "/api/orders/{id}/submit-resources/", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    request_body(content = SubmitResourcesForm, content_type = "multipart/form-data",
        description = "`order_item_id` and `field_<definition id>` per field; files ≤ the field's `max_file_size_mb` (default 10 MB)"),
    responses(
        (status = 201, body = ResourcesSubmitted, description = "`{success:true, message:\"Resources submitted successfully\", submissions_count, order_status, all_resources_uploaded, pending_items}`"),
        (status = 400, description = "`{\"error\":\"Cannot upload resources for order with status: <s>\"}`, `{\"error\":\"order_item_id is required\"}` or `{success:false, errors:{\"field_<id>\":\"<message>\"}}`; nothing is saved"),
        (status = 401),
        (status = 404, description = "`{\"error\":\"Order not found\"}` or `{\"error\":\"Order item not found or does not belong to this order\"}`"),
        (status = 413, description = "`{\"detail\":\"Request body is too large.\"}` (more than the line's fields allow)"),
        (status = 415, description = "`{\"detail\":\"Unsupported media type \\\"…\\\" in request.\"}`"),
        (status = 429, description = "20 uploads per hour per user (both upload routes)"),
    ))]
async fn submit_resources(
    State(state): State<AppState>,
    Signed(auth): Signed,
    Id(id): Id,
    req: Request,
) -> ApiResult<(StatusCode, Json<ResourcesSubmitted>)> {
    let user_id = auth.user.id;
    let ctx = open_order(&state, user_id, id).await?;
    let rules = SubmitRules::new(&ctx);
    let mut form = upload::read_form(req, &state.cfg.media_dir, rules.body_limit(), &rules).await?;
    let Some(raw_item) = form.text("order_item_id").map(str::trim).filter(|s| !s.is_empty()) else {
        return Err(ApiError::error(StatusCode::BAD_REQUEST, "order_item_id is required"));
    };
    let item = raw_item.parse::<i64>().ok().and_then(|i| ctx.item(i)).ok_or_else(item_not_found)?;

    let mut errors = Map::new();
    let mut values = Vec::new();
    let mut staged_files = Vec::new();
    for def in ctx.fields_of(item) {
        let key = format!("field_{}", def.id);
        match validate_field(&state, def, form.take(&key)).await? {
            Ok(Some((value, staged))) => {
                values.push(NewSubmission { field_id: def.id, value });
                staged_files.extend(staged);
            }
            Ok(None) => {}
            Err(message) => {
                errors.insert(key, Value::String(message));
            }
        }
    }
    drop(form);
    if !errors.is_empty() {
        return Err(field_errors(errors));
    }
    let outcome: Outcome =
        resources::submit(&state.pool, id, user_id, item.id, &values).await.map_err(resource_error)?;
    // Committed: the rows name the staged files now; the media worker takes them from here.
    for staged in staged_files {
        staged.keep();
    }
    Ok((
        StatusCode::CREATED,
        Json(ResourcesSubmitted {
            success: true,
            message: "Resources submitted successfully",
            submissions_count: values.len(),
            order_status: outcome.order_status,
            all_resources_uploaded: outcome.all_uploaded,
            pending_items: pending_items(&state, id).await?,
        }),
    ))
}

// ---------------------------------------------------------------------------------------------
// upload-resources/ (legacy)
// ---------------------------------------------------------------------------------------------

/// Multipart body of the legacy `upload-resources/`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UploadResourcesForm {
    /// The order line.
    order_item_id: i64,
    /// JPEG, PNG or GIF, ≤ 5 MB and 89,478,485 pixels.
    #[schema(value_type = String, format = Binary)]
    candidate_photo: Vec<u8>,
    /// JPEG, PNG or GIF, ≤ 5 MB and 89,478,485 pixels.
    #[schema(value_type = String, format = Binary)]
    party_logo: Vec<u8>,
    /// ≤ 1000 characters.
    #[schema(max_length = 1000)]
    campaign_slogan: String,
    /// `YYYY-MM-DD`.
    #[schema(format = Date)]
    preferred_date: String,
    /// ≤ 15 characters, at least 10 digits.
    #[schema(max_length = 15)]
    whatsapp_number: String,
    /// ≤ 2000 characters.
    #[schema(max_length = 2000)]
    additional_notes: Option<String>,
}

/// `201` of `upload-resources/`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourcesUploaded {
    /// Always `true`.
    pub success: bool,
    /// `Resources uploaded successfully`.
    pub message: &'static str,
    /// What was recorded.
    pub resource: OrderResource,
    /// The order's status now.
    pub order_status: String,
    /// Every line has its material.
    pub all_resources_uploaded: bool,
    /// The lines still without material.
    pub pending_items: Vec<PendingItem>,
}

struct LegacyRules;

impl FormRules for LegacyRules {
    fn part(&self, name: &str) -> PartRule {
        if LEGACY_IMAGES.contains(&name) {
            PartRule::File { max_bytes: uploads::LEGACY_IMAGE_MB * MB, scan_markers: true }
        } else if LEGACY_TEXTS.contains(&name) {
            PartRule::Text
        } else {
            PartRule::Ignore
        }
    }
}

/// A text part as a body field (absent when not sent; NUL-scrubbed like every body string), or
/// DRF's message for a part too long to have been read.
fn legacy_text(form: &Form, name: &str) -> Result<input::Field, String> {
    match form.get(name) {
        Some(Part::Text(t)) => Ok(input::Field::Value(text_part(t.to_string()))),
        Some(Part::Refused(_)) => Err(match name {
            "campaign_slogan" => "Ensure this field has no more than 1000 characters.",
            "whatsapp_number" => "Ensure this field has no more than 15 characters.",
            "additional_notes" => "Ensure this field has no more than 2000 characters.",
            "preferred_date" => "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
            _ => "A valid integer is required.",
        }
        .to_string()),
        _ => Ok(input::Field::Absent),
    }
}

/// A legacy image: `Ok(staged)` or the field's DRF message.
async fn legacy_image(state: &AppState, part: Option<Part>) -> ApiResult<Result<StagedFile, String>> {
    match part {
        Some(Part::File(staged)) => Ok(check_image(state, staged).await?.map_err(|p| p.legacy_message())),
        Some(Part::Refused(refusal)) => Ok(Err(match refusal {
            Refusal::TooLarge => FileProblem::TooLarge { limit_mb: uploads::LEGACY_IMAGE_MB }.legacy_message(),
            Refusal::BadFileName => FileProblem::BadName.legacy_message(),
            Refusal::Forbidden => FileProblem::Dangerous.legacy_message(),
            Refusal::TextTooLong => "The submitted data was not a file. Check the encoding type on the form.".into(),
        })),
        Some(Part::Text(t)) if !t.is_empty() => {
            Ok(Err("The submitted data was not a file. Check the encoding type on the form.".into()))
        }
        _ => Ok(Err("No file was submitted.".into())),
    }
}

/// At least 10 digits in at most 15 characters.
fn whatsapp(field: &input::Field) -> Result<Option<String>, String> {
    let number = Text::required(15).parse(field)?;
    match number {
        Some(n) if n.chars().filter(char::is_ascii_digit).count() < 10 => {
            Err("Enter a valid WhatsApp number with at least 10 digits.".into())
        }
        other => Ok(other),
    }
}

fn date(field: &input::Field) -> Result<Option<chrono::NaiveDate>, String> {
    let wrong = || "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.".to_string();
    match field {
        input::Field::Absent => Err("This field is required.".into()),
        input::Field::Value(Value::String(s)) => {
            chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map(Some).map_err(|_| wrong())
        }
        _ => Err(wrong()),
    }
}

/// Upload a line's legacy material: photo, logo, slogan, date, WhatsApp number, notes (§4.5).
#[utoipa::path(post, path = "/api/orders/{id}/upload-resources/", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    request_body(content = UploadResourcesForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = ResourcesUploaded, description = "`{success:true, message:\"Resources uploaded successfully\", resource, order_status, all_resources_uploaded, pending_items}`"),
        (status = 400, description = "`{\"error\":\"Cannot upload resources for order with status: <s>\"}`, `{field:[…]}` or `{\"error\":\"Resources already uploaded for this order item\"}`; nothing is saved"),
        (status = 401),
        (status = 404, description = "`{\"error\":\"Order not found\"}` or `{\"error\":\"Order item not found or does not belong to this order\"}`"),
        (status = 413, description = "`{\"detail\":\"Request body is too large.\"}`"),
        (status = 415, description = "`{\"detail\":\"Unsupported media type \\\"…\\\" in request.\"}`"),
        (status = 429, description = "20 uploads per hour per user (both upload routes)"),
    ))]
async fn upload_resources(
    State(state): State<AppState>,
    Signed(auth): Signed,
    Id(id): Id,
    req: Request,
) -> ApiResult<(StatusCode, Json<ResourcesUploaded>)> {
    let user_id = auth.user.id;
    let ctx = open_order(&state, user_id, id).await?;
    let mut form = upload::read_form(req, &state.cfg.media_dir, LEGACY_BODY_LIMIT, &LegacyRules).await?;

    let mut errors = FieldErrors::new();
    let item_id = errors.take("order_item_id", legacy_text(&form, "order_item_id").and_then(|f| input::id(&f)));
    let item_id = match item_id {
        Some(Some(item_id)) => item_id,
        Some(None) => {
            errors.add("order_item_id", "This field is required.");
            return Err(errors.bare());
        }
        None => return Err(errors.bare()),
    };
    let item = ctx.item(item_id).ok_or_else(item_not_found)?;
    if resources::has_legacy_upload(&state.pool, item.id).await? {
        return Err(resource_error(ResourceError::AlreadyUploaded));
    }

    let parse = |name: &str, parser: &dyn Fn(&input::Field) -> Result<Option<String>, String>| {
        legacy_text(&form, name).and_then(|f| parser(&f))
    };
    let slogan = errors.take("campaign_slogan", parse("campaign_slogan", &|f| Text::required(1000).parse(f)));
    let date = errors.take("preferred_date", legacy_text(&form, "preferred_date").and_then(|f| date(&f)));
    let whatsapp = errors.take("whatsapp_number", parse("whatsapp_number", &whatsapp));
    let notes = errors.take("additional_notes", parse("additional_notes", &|f| Text::optional(2000).parse(f)));
    let photo = legacy_image(&state, form.take("candidate_photo")).await?;
    let logo = legacy_image(&state, form.take("party_logo")).await?;
    drop(form);
    let photo = errors.take("candidate_photo", photo);
    let logo = errors.take("party_logo", logo);
    let (Some(Some(slogan)), Some(Some(date)), Some(Some(whatsapp)), Some(notes), Some(photo), Some(logo)) =
        (slogan, date, whatsapp, notes, photo, logo)
    else {
        return Err(errors.bare());
    };
    let upload = LegacyUpload {
        candidate_photo: photo.rel().to_string(),
        party_logo: logo.rel().to_string(),
        campaign_slogan: slogan,
        preferred_date: date,
        whatsapp_number: whatsapp,
        additional_notes: notes.unwrap_or_default(),
    };
    let recorded =
        resources::upload_legacy(&state.pool, id, user_id, item.id, &upload).await.map_err(resource_error)?;
    photo.keep();
    logo.keep();
    Ok((
        StatusCode::CREATED,
        Json(ResourcesUploaded {
            success: true,
            message: "Resources uploaded successfully",
            resource: OrderResource::new(id, recorded.first_item, &recorded.resource),
            order_status: recorded.outcome.order_status.clone(),
            all_resources_uploaded: recorded.outcome.all_uploaded,
            pending_items: pending_items(&state, id).await?,
        }),
    ))
}
