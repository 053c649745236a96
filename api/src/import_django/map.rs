//! How each Django table becomes ours: the steps in dependency order, the target tables and
//! their columns, and the mapping of one source row (with what it reports).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::media::{self, Copy};
use super::report::{Note, NoteKind};

/// One of our tables the importer writes, with the columns it sets (the rest keep their
/// defaults, e.g. the GST columns the original never had).
pub struct TargetSpec {
    /// Table name.
    pub table: &'static str,
    /// Columns written (JSON keys of the mapped rows).
    pub cols: &'static [&'static str],
}

impl TargetSpec {
    /// `INSERT … SELECT … FROM jsonb_populate_recordset(…) ON CONFLICT (id) DO UPDATE`, `$1` the
    /// JSON array of mapped rows.
    pub fn upsert_sql(&self) -> String {
        let quoted: Vec<String> = self
            .cols
            .iter()
            .map(|c| if matches!(*c, "order" | "timestamp") { format!("\"{c}\"") } else { (*c).to_string() })
            .collect();
        let list = quoted.join(", ");
        let set: Vec<String> = quoted.iter().filter(|c| *c != "id").map(|c| format!("{c} = EXCLUDED.{c}")).collect();
        format!(
            "INSERT INTO {t} ({list}) SELECT {list} FROM jsonb_populate_recordset(NULL::{t}, $1)
             ON CONFLICT (id) DO UPDATE SET {set}",
            t = self.table,
            set = set.join(", ")
        )
    }
}

/// Our tables in the order a batch writes them (foreign keys first).
pub const TARGETS: &[TargetSpec] = &[
    TargetSpec {
        table: "users",
        cols: &[
            "id",
            "password",
            "last_login",
            "is_superuser",
            "username",
            "first_name",
            "last_name",
            "email",
            "is_staff",
            "is_active",
            "date_joined",
            "phone_number",
            "firebase_uid",
            "role",
            "created_at",
            "updated_at",
        ],
    },
    TargetSpec {
        table: "package",
        cols: &[
            "id",
            "name",
            "price",
            "description",
            "features",
            "deliverables",
            "is_active",
            "is_popular",
            "popular_order",
            "created_by_id",
            "created_at",
            "updated_at",
        ],
    },
    TargetSpec { table: "package_item", cols: &["id", "package_id", "name", "quantity"] },
    TargetSpec {
        table: "campaign",
        cols: &[
            "id",
            "name",
            "price",
            "description",
            "features",
            "deliverables",
            "unit",
            "is_active",
            "is_popular",
            "popular_order",
            "created_by_id",
            "created_at",
            "updated_at",
        ],
    },
    TargetSpec {
        table: "product_audit_log",
        cols: &["id", "product_type", "product_id", "action", "user_id", "timestamp", "changes"],
    },
    TargetSpec {
        table: "resource_field_definition",
        cols: &[
            "id",
            "product_type",
            "product_id",
            "field_name",
            "field_type",
            "is_required",
            "order",
            "help_text",
            "max_file_size_mb",
            "max_length",
            "min_value",
            "max_value",
            "allowed_extensions",
            "created_at",
        ],
    },
    TargetSpec {
        table: "checklist_template_item",
        cols: &[
            "id",
            "product_type",
            "product_id",
            "name",
            "description",
            "order",
            "is_optional",
            "estimated_duration_minutes",
            "created_at",
        ],
    },
    TargetSpec {
        table: "product_image",
        cols: &[
            "id",
            "product_type",
            "product_id",
            "image",
            "thumbnail",
            "is_primary",
            "order",
            "alt_text",
            "uploaded_at",
        ],
    },
    TargetSpec { table: "cart", cols: &["id", "user_id", "created_at", "updated_at"] },
    TargetSpec { table: "cart_item", cols: &["id", "cart_id", "product_type", "product_id", "quantity", "added_at"] },
    TargetSpec {
        table: "orders",
        cols: &[
            "id",
            "user_id",
            "order_number",
            "total_amount",
            "status",
            "razorpay_order_id",
            "razorpay_payment_id",
            "razorpay_signature",
            "payment_completed_at",
            "assigned_to_id",
            "is_manual_order",
            "order_source",
            "created_by_id",
            "payment_reference",
            "payment_status",
            "priority",
            "admin_notes",
            "created_at",
            "updated_at",
            "invoice_number",
            "invoice_date",
        ],
    },
    TargetSpec {
        table: "order_item",
        cols: &["id", "order_id", "product_type", "product_id", "quantity", "price", "resources_uploaded"],
    },
    TargetSpec {
        table: "order_resource",
        cols: &[
            "id",
            "order_item_id",
            "candidate_photo",
            "party_logo",
            "campaign_slogan",
            "preferred_date",
            "whatsapp_number",
            "additional_notes",
            "uploaded_at",
        ],
    },
    TargetSpec {
        table: "dynamic_resource_submission",
        cols: &[
            "id",
            "order_item_id",
            "field_definition_id",
            "text_value",
            "number_value",
            "file_value",
            "uploaded_at",
        ],
    },
    TargetSpec { table: "order_checklist", cols: &["id", "order_id", "created_at"] },
    TargetSpec {
        table: "checklist_item",
        cols: &[
            "id",
            "checklist_id",
            "template_item_id",
            "description",
            "completed",
            "completed_at",
            "completed_by_id",
            "order_index",
            "is_optional",
        ],
    },
    TargetSpec {
        table: "order_status_history",
        cols: &[
            "id",
            "order_id",
            "old_status",
            "new_status",
            "changed_by_id",
            "changed_at",
            "reason",
            "is_manual_change",
        ],
    },
    TargetSpec {
        table: "payment_record",
        cols: &[
            "id",
            "order_id",
            "amount",
            "payment_method",
            "payment_reference",
            "payment_proof",
            "recorded_by_id",
            "recorded_at",
            "notes",
        ],
    },
    TargetSpec {
        table: "payment_history",
        cols: &[
            "id",
            "order_id",
            "payment_method",
            "transaction_id",
            "amount",
            "currency",
            "status",
            "payment_date",
            "invoice_generated_at",
            "invoice_number",
            "metadata",
            "created_at",
            "updated_at",
        ],
    },
    TargetSpec {
        table: "refund",
        cols: &[
            "id",
            "order_id",
            "amount",
            "method",
            "razorpay_payment_id",
            "idempotency_key",
            "status",
            "reason",
            "created_by_id",
            "created_at",
            "processed_at",
        ],
    },
    TargetSpec {
        table: "notification",
        cols: &["id", "user_id", "notification_type", "title", "message", "order_id", "is_read", "created_at"],
    },
];

/// Tables whose change the public catalogue caches must see.
pub const CATALOG_TABLES: [&str; 4] = ["package", "package_item", "campaign", "product_image"];

/// Source tables with no counterpart here, and why that is allowed.
pub const NOT_CARRIED: &[(&str, &str)] = &[
    ("django_admin_log", "the Django admin site's own history; the Django admin is not reproduced (API.md §4.1)"),
    ("django_session", "sessions of the Django admin site; API clients use JWTs, which stay valid"),
];

/// A step: one source table read in id order and mapped row by row.
pub struct Step {
    /// Source table.
    pub source: &'static str,
    /// Batch query: `$1` last id read, `$2` batch size → (id, row as JSON text).
    pub sql: &'static str,
    /// The mapping of one row.
    pub map: fn(&mut Ctx, i64, &Map<String, Value>) -> Out,
}

macro_rules! select {
    ($table:literal) => {
        concat!(
            "SELECT t.id::bigint, to_jsonb(t)::text FROM public.",
            $table,
            " t WHERE t.id > $1 ORDER BY t.id LIMIT $2"
        )
    };
}

/// Every step, parents before children. PaymentRecords come before PaymentHistory so that a
/// Razorpay payment the original did record by hand is not recorded twice.
pub const STEPS: &[Step] = &[
    Step { source: "authentication_customuser", sql: select!("authentication_customuser"), map: users },
    Step { source: "products_package", sql: select!("products_package"), map: package },
    Step { source: "products_packageitem", sql: select!("products_packageitem"), map: package_item },
    Step { source: "products_campaign", sql: select!("products_campaign"), map: campaign },
    Step { source: "products_productauditlog", sql: select!("products_productauditlog"), map: audit_log },
    Step { source: "products_resourcefielddefinition", sql: select!("products_resourcefielddefinition"), map: field },
    Step { source: "products_checklisttemplateitem", sql: select!("products_checklisttemplateitem"), map: template },
    Step { source: "products_productimage", sql: select!("products_productimage"), map: image },
    Step { source: "cart_cart", sql: select!("cart_cart"), map: cart },
    Step { source: "cart_cartitem", sql: select!("cart_cartitem"), map: cart_item },
    Step {
        source: "orders_order",
        sql: "SELECT t.id::bigint, (to_jsonb(t) || jsonb_build_object('_invoice_number', h.invoice_number,
                     '_payment_date', h.payment_date))::text
              FROM public.orders_order t LEFT JOIN public.orders_paymenthistory h ON h.order_id = t.id
              WHERE t.id > $1 ORDER BY t.id LIMIT $2",
        map: order,
    },
    Step { source: "orders_orderitem", sql: select!("orders_orderitem"), map: order_item },
    Step { source: "orders_orderresource", sql: select!("orders_orderresource"), map: order_resource },
    Step {
        source: "orders_dynamicresourcesubmission",
        sql: select!("orders_dynamicresourcesubmission"),
        map: submission,
    },
    Step { source: "orders_orderchecklist", sql: select!("orders_orderchecklist"), map: checklist },
    Step { source: "orders_checklistitem", sql: select!("orders_checklistitem"), map: checklist_item },
    Step { source: "orders_orderstatushistory", sql: select!("orders_orderstatushistory"), map: status_history },
    Step { source: "orders_paymentrecord", sql: select!("orders_paymentrecord"), map: payment_record },
    Step {
        source: "orders_paymenthistory",
        sql:
            "SELECT t.id::bigint, (to_jsonb(t) || jsonb_build_object('_order_payment_id', o.razorpay_payment_id))::text
              FROM public.orders_paymenthistory t JOIN public.orders_order o ON o.id = t.order_id
              WHERE t.id > $1 ORDER BY t.id LIMIT $2",
        map: payment_history,
    },
    Step { source: "admin_panel_notification", sql: select!("admin_panel_notification"), map: notification },
];

/// The table of ours a source table's rows become (derived rows aside).
pub fn primary_target(source: &str) -> Option<&'static str> {
    let i = STEPS.iter().position(|s| s.source == source)?;
    [
        "users",
        "package",
        "package_item",
        "campaign",
        "product_audit_log",
        "resource_field_definition",
        "checklist_template_item",
        "product_image",
        "cart",
        "cart_item",
        "orders",
        "order_item",
        "order_resource",
        "dynamic_resource_submission",
        "order_checklist",
        "checklist_item",
        "order_status_history",
        "payment_record",
        "payment_history",
        "notification",
    ]
    .get(i)
    .copied()
}

/// Stats label of the Razorpay PaymentRecords made from PaymentHistory rows.
pub const DERIVED_RECORD: &str = "orders_paymenthistory → payment_record (razorpay)";
/// Stats label of the refunds made from refunded PaymentHistory rows.
pub const DERIVED_REFUND: &str = "orders_paymenthistory → refund";

/// A row of ours, mapped.
#[derive(Debug, Clone)]
pub struct TargetRow {
    /// Our table.
    pub table: &'static str,
    /// Its id.
    pub id: i64,
    /// Where its counts go in the summary.
    pub label: &'static str,
    /// Column → value.
    pub value: Value,
}

impl TargetRow {
    /// SHA-256 (hex) of the mapped row: equal fingerprints mean nothing to write.
    pub fn fingerprint(&self) -> String {
        let text = serde_json::to_string(&self.value).unwrap_or_default();
        Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The outcome of mapping one source row: the rows of ours it becomes (none = skipped) and
/// what it reports.
pub struct Out {
    table: &'static str,
    id: i64,
    /// Rows to write.
    pub rows: Vec<TargetRow>,
    /// Report lines.
    pub notes: Vec<Note>,
    /// When skipped: whether the reason is an allowed one.
    pub allowed_skip: bool,
}

impl Out {
    fn new(table: &'static str, id: i64) -> Self {
        Self { table, id, rows: Vec::new(), notes: Vec::new(), allowed_skip: true }
    }

    fn note(&mut self, kind: NoteKind, allowed: bool, message: impl Into<String>) {
        self.notes.push(Note {
            source_table: self.table.to_string(),
            source_id: self.id,
            kind,
            allowed,
            message: message.into(),
        });
    }

    /// Skips the row with a reason.
    fn skip(mut self, allowed: bool, message: impl Into<String>) -> Self {
        self.rows.clear();
        self.allowed_skip = allowed;
        self.note(NoteKind::Skipped, allowed, message);
        self
    }

    /// A carried-over value that had to change, with the reason.
    fn changed(&mut self, message: impl Into<String>) {
        self.note(NoteKind::Changed, true, message);
    }

    fn row(mut self, table: &'static str, value: Map<String, Value>) -> Self {
        let label = self.table;
        self.rows.push(TargetRow { table, id: self.id, label, value: Value::Object(value) });
        self
    }
}

/// What the mapping of later rows needs to know about earlier ones.
pub struct Ctx {
    content_types: HashMap<i64, &'static str>,
    cloud_name: Option<String>,
    accepted: HashMap<&'static str, HashSet<i64>>,
    names: HashSet<(&'static str, String)>,
    primaries: HashSet<(&'static str, i64)>,
    razorpay_refs: HashSet<String>,
    /// Local files to copy from `--media-from`.
    pub media: Vec<Copy>,
}

impl Ctx {
    /// A context for one run.
    pub fn new(content_types: HashMap<i64, &'static str>, cloud_name: Option<String>) -> Self {
        Self {
            content_types,
            cloud_name: cloud_name.filter(|c| !c.trim().is_empty()),
            accepted: HashMap::new(),
            names: HashSet::new(),
            primaries: HashSet::new(),
            razorpay_refs: HashSet::new(),
            media: Vec::new(),
        }
    }

    /// Marks a source row as carried over (its children may follow).
    pub fn accept(&mut self, table: &'static str, id: i64) {
        self.accepted.entry(table).or_default().insert(id);
    }

    fn has(&self, table: &str, id: Option<i64>) -> bool {
        id.is_some_and(|id| self.accepted.get(table).is_some_and(|s| s.contains(&id)))
    }

    /// The product a generic reference (`content_type_id`, `object_id`) names, through
    /// `django_content_type`.
    fn product_ref(&self, row: &Map<String, Value>) -> Result<(&'static str, i64), String> {
        let ct = int(row, "content_type_id");
        let kind = ct.and_then(|c| self.content_types.get(&c).copied());
        match (kind, int(row, "object_id")) {
            (Some(kind), Some(oid)) => Ok((kind, oid)),
            _ => Err(format!(
                "content_type_id {} is not products.package or products.campaign",
                ct.map_or_else(|| "null".to_string(), |c| c.to_string())
            )),
        }
    }

    fn product_exists(&self, kind: &str, id: i64) -> bool {
        let table = if kind == "package" { "products_package" } else { "products_campaign" };
        self.has(table, Some(id))
    }

    /// An optional user reference: kept when the user was carried over, else cleared (reported).
    fn opt_user(&self, out: &mut Out, v: &mut Map<String, Value>, row: &Map<String, Value>, col: &str) {
        let id = int(row, col);
        if id.is_some() && !self.has("authentication_customuser", id) {
            out.changed(format!("{col} {} names a user not imported: cleared", id.unwrap_or_default()));
            v.insert(col.to_string(), Value::Null);
        }
    }

    /// The value to store for a file field of the original (see [`media`]).
    fn file(&mut self, out: &mut Out, column: &str, stored: &str, local_dir: &str) -> Option<String> {
        let stored = stored.trim();
        if stored.is_empty() {
            return None;
        }
        if common::media::is_url(stored) {
            return Some(stored.to_string());
        }
        if stored.starts_with("media/") {
            return match &self.cloud_name {
                Some(cloud) => Some(format!("https://res.cloudinary.com/{cloud}/image/upload/{stored}")),
                None => {
                    out.note(
                        NoteKind::Media,
                        false,
                        format!("{column} is the Cloudinary public id {stored} but no cloud name is known (--cloud-name or CLOUDINARY_URL): kept as is"),
                    );
                    Some(stored.to_string())
                }
            };
        }
        let name = stored.rsplit('/').next().unwrap_or(stored);
        if media::is_local_name(name) {
            let rel = format!("{local_dir}/{name}");
            self.media.push(Copy {
                source_table: out.table,
                source_id: out.id,
                name: name.to_string(),
                rel: rel.clone(),
            });
            return Some(rel);
        }
        out.note(
            NoteKind::Media,
            false,
            format!("{column} {stored:?} is neither a URL, a Cloudinary id nor a local file name: kept as is"),
        );
        Some(stored.to_string())
    }
}

fn int(row: &Map<String, Value>, key: &str) -> Option<i64> {
    row.get(key).and_then(Value::as_i64)
}

fn text<'a>(row: &'a Map<String, Value>, key: &str) -> &'a str {
    row.get(key).and_then(Value::as_str).unwrap_or("")
}

fn pick(row: &Map<String, Value>, cols: &[&str]) -> Map<String, Value> {
    cols.iter().map(|c| ((*c).to_string(), row.get(*c).cloned().unwrap_or(Value::Null))).collect()
}

fn cols_of(table: &str) -> &'static [&'static str] {
    TARGETS.iter().find(|t| t.table == table).map_or(&[], |t| t.cols)
}

/// A row of ours with the same column names as the source's.
fn same(table: &str, row: &Map<String, Value>) -> Map<String, Value> {
    pick(row, cols_of(table))
}

const ROLES: [&str; 4] = ["user", "staff", "admin", "customer"];
const STATUSES: [&str; 8] = [
    "pending_payment",
    "pending_resources",
    "ready_for_processing",
    "assigned",
    "in_progress",
    "completed",
    "cancelled",
    "on_hold",
];
const PAYMENT_STATUSES: [&str; 5] = ["unpaid", "partial", "paid", "refunded", "cod"];
const FIELD_TYPES: [&str; 6] = ["image", "text", "number", "document", "phone", "date"];
const PHONE_MAX: usize = 15;

fn users(_ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let mut out = Out::new("authentication_customuser", id);
    let role = text(row, "role");
    if !ROLES.contains(&role) {
        return out.skip(false, format!("role {role:?} is none of user, staff, admin, customer"));
    }
    if text(row, "username").trim().is_empty() {
        return out.skip(false, "empty username");
    }
    let mut v = same("users", row);
    match row.get("phone_number").and_then(Value::as_str) {
        Some(p) if p.trim().is_empty() => {
            out.changed("empty phone_number stored as null (API.md §6)");
            v.insert("phone_number".into(), Value::Null);
        }
        Some(p) if p.chars().count() > PHONE_MAX => {
            out.changed(format!("phone_number {p:?} is longer than {PHONE_MAX} characters: stored as null"));
            v.insert("phone_number".into(), Value::Null);
        }
        _ => {}
    }
    if row.get("firebase_uid").and_then(Value::as_str).is_some_and(|f| f.trim().is_empty()) {
        v.insert("firebase_uid".into(), Value::Null);
    }
    out.row("users", v)
}

fn product(ctx: &mut Ctx, out: Out, kind: &'static str, table: &'static str, row: &Map<String, Value>) -> Out {
    let mut out = out;
    let price = row.get("price").and_then(Value::as_f64).unwrap_or(0.0);
    if price <= 0.0 {
        return out.skip(false, format!("price {price} is not greater than zero"));
    }
    let mut v = same(table, row);
    let name = text(row, "name").to_string();
    if !ctx.names.insert((kind, name.to_lowercase())) {
        let renamed: String =
            format!("{name} (#{})", out.id).chars().rev().take(200).collect::<Vec<_>>().into_iter().rev().collect();
        out.changed(format!(
            "name {name:?} repeats another {kind}'s name (names are unique ignoring case here): imported as {renamed:?}"
        ));
        ctx.names.insert((kind, renamed.to_lowercase()));
        v.insert("name".into(), Value::String(renamed));
    }
    ctx.opt_user(&mut out, &mut v, row, "created_by_id");
    out.row(table, v)
}

fn package(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    product(ctx, Out::new("products_package", id), "package", "package", row)
}

fn campaign(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    product(ctx, Out::new("products_campaign", id), "campaign", "campaign", row)
}

fn package_item(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let out = Out::new("products_packageitem", id);
    if !ctx.has("products_package", int(row, "package_id")) {
        return out.skip(true, "its package was not imported");
    }
    out.row("package_item", same("package_item", row))
}

/// A row with a generic product reference: `product_type`/`product_id` from the content type.
fn with_product(
    ctx: &Ctx,
    out: Out,
    table: &'static str,
    row: &Map<String, Value>,
) -> Result<(Out, Map<String, Value>), Out> {
    match ctx.product_ref(row) {
        Ok((kind, pid)) => {
            let mut v = same(table, row);
            v.insert("product_type".into(), json!(kind));
            v.insert("product_id".into(), json!(pid));
            Ok((out, v))
        }
        Err(why) => Err(out.skip(false, why)),
    }
}

fn audit_log(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    match with_product(ctx, Out::new("products_productauditlog", id), "product_audit_log", row) {
        Ok((mut out, mut v)) => {
            ctx.opt_user(&mut out, &mut v, row, "user_id");
            out.row("product_audit_log", v)
        }
        Err(out) => out,
    }
}

fn field(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let field_type = text(row, "field_type");
    match with_product(ctx, Out::new("products_resourcefielddefinition", id), "resource_field_definition", row) {
        Ok((out, _)) if !FIELD_TYPES.contains(&field_type) => {
            out.skip(false, format!("field_type {field_type:?} is not one of {}", FIELD_TYPES.join(", ")))
        }
        Ok((out, v)) => out.row("resource_field_definition", v),
        Err(out) => out,
    }
}

fn template(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    match with_product(ctx, Out::new("products_checklisttemplateitem", id), "checklist_template_item", row) {
        Ok((out, v)) => out.row("checklist_template_item", v),
        Err(out) => out,
    }
}

fn image(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let (mut out, mut v) = match with_product(ctx, Out::new("products_productimage", id), "product_image", row) {
        Ok(x) => x,
        Err(out) => return out,
    };
    let Some(url) = ctx.file(&mut out, "image", text(row, "image"), common::media::PRODUCTS_DIR) else {
        return out.skip(false, "empty image");
    };
    v.insert("image".into(), json!(url));
    let thumb = ctx.file(&mut out, "thumbnail", text(row, "thumbnail"), common::media::THUMBS_DIR);
    v.insert("thumbnail".into(), json!(thumb));
    if row.get("is_primary").and_then(Value::as_bool) == Some(true) {
        let kind = v.get("product_type").and_then(Value::as_str).unwrap_or("package");
        let kind = if kind == "package" { "package" } else { "campaign" };
        let pid = int(&v, "product_id").unwrap_or_default();
        if !ctx.primaries.insert((kind, pid)) {
            out.changed(
                "a second primary image of its product (one primary per product here): imported as not primary",
            );
            v.insert("is_primary".into(), json!(false));
        }
    }
    out.row("product_image", v)
}

fn cart(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let out = Out::new("cart_cart", id);
    if !ctx.has("authentication_customuser", int(row, "user_id")) {
        return out.skip(true, "its user was not imported");
    }
    out.row("cart", same("cart", row))
}

fn cart_item(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let out = Out::new("cart_cartitem", id);
    if !ctx.has("cart_cart", int(row, "cart_id")) {
        return out.skip(true, "its cart was not imported");
    }
    if int(row, "quantity").unwrap_or(0) < 1 {
        return out.skip(true, "a cart line of quantity 0 (nothing to buy)");
    }
    match with_product(ctx, out, "cart_item", row) {
        Ok((out, v)) => out.row("cart_item", v),
        Err(out) => out,
    }
}

fn order(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let mut out = Out::new("orders_order", id);
    if !ctx.has("authentication_customuser", int(row, "user_id")) {
        return out.skip(true, "its customer was not imported");
    }
    let status = text(row, "status");
    if !STATUSES.contains(&status) {
        return out.skip(false, format!("status {status:?} is not an order status"));
    }
    let mut v = same("orders", row);
    match text(row, "payment_status") {
        "pending" => {
            out.changed("payment_status \"pending\" (the manual-order default) stored as \"unpaid\" (API.md §5 #8)");
            v.insert("payment_status".into(), json!("unpaid"));
        }
        s if PAYMENT_STATUSES.contains(&s) => {}
        s => return out.skip(false, format!("payment_status {s:?} is not a payment status")),
    }
    ctx.opt_user(&mut out, &mut v, row, "assigned_to_id");
    ctx.opt_user(&mut out, &mut v, row, "created_by_id");
    let number = row.get("_invoice_number").and_then(Value::as_str).filter(|n| !n.trim().is_empty());
    v.insert("invoice_number".into(), json!(number));
    v.insert(
        "invoice_date".into(),
        if number.is_some() { row.get("_payment_date").cloned().unwrap_or(Value::Null) } else { Value::Null },
    );
    out.row("orders", v)
}

fn order_item(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let out = Out::new("orders_orderitem", id);
    if !ctx.has("orders_order", int(row, "order_id")) {
        return out.skip(true, "its order was not imported");
    }
    match with_product(ctx, out, "order_item", row) {
        Ok((mut out, v)) => {
            let kind = v.get("product_type").and_then(Value::as_str).unwrap_or("");
            let pid = int(&v, "product_id").unwrap_or_default();
            if !ctx.product_exists(kind, pid) {
                out.changed(format!(
                    "its {kind} {pid} no longer exists: the line keeps its quantity and price (item_details null, API.md §3)"
                ));
            }
            out.row("order_item", v)
        }
        Err(out) => out,
    }
}

fn order_resource(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let mut out = Out::new("orders_orderresource", id);
    if !ctx.has("orders_orderitem", int(row, "order_item_id")) {
        return out.skip(true, "its order item was not imported");
    }
    let mut v = same("order_resource", row);
    for col in ["candidate_photo", "party_logo"] {
        let stored = ctx.file(&mut out, col, text(row, col), common::media::RESOURCES_DIR).unwrap_or_default();
        v.insert(col.into(), json!(stored));
    }
    out.row("order_resource", v)
}

fn submission(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let mut out = Out::new("orders_dynamicresourcesubmission", id);
    if !ctx.has("orders_orderitem", int(row, "order_item_id")) {
        return out.skip(true, "its order item was not imported");
    }
    if !ctx.has("products_resourcefielddefinition", int(row, "field_definition_id")) {
        return out.skip(false, "its field definition was not imported");
    }
    let mut v = same("dynamic_resource_submission", row);
    let file = ctx.file(&mut out, "file_value", text(row, "file_value"), common::media::RESOURCES_DIR);
    v.insert("file_value".into(), json!(file));
    out.row("dynamic_resource_submission", v)
}

fn checklist(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let out = Out::new("orders_orderchecklist", id);
    if !ctx.has("orders_order", int(row, "order_id")) {
        return out.skip(true, "its order was not imported");
    }
    out.row("order_checklist", same("order_checklist", row))
}

fn checklist_item(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let mut out = Out::new("orders_checklistitem", id);
    if !ctx.has("orders_orderchecklist", int(row, "checklist_id")) {
        return out.skip(true, "its checklist was not imported");
    }
    let mut v = same("checklist_item", row);
    let template = int(row, "template_item_id");
    if template.is_some() && !ctx.has("products_checklisttemplateitem", template) {
        out.changed("its template item was not imported: the link is cleared");
        v.insert("template_item_id".into(), Value::Null);
    }
    ctx.opt_user(&mut out, &mut v, row, "completed_by_id");
    out.row("checklist_item", v)
}

fn status_history(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let mut out = Out::new("orders_orderstatushistory", id);
    if !ctx.has("orders_order", int(row, "order_id")) {
        return out.skip(true, "its order was not imported");
    }
    let mut v = same("order_status_history", row);
    ctx.opt_user(&mut out, &mut v, row, "changed_by_id");
    out.row("order_status_history", v)
}

fn payment_record(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let mut out = Out::new("orders_paymentrecord", id);
    if !ctx.has("orders_order", int(row, "order_id")) {
        return out.skip(true, "its order was not imported");
    }
    let mut v = same("payment_record", row);
    ctx.opt_user(&mut out, &mut v, row, "recorded_by_id");
    let proof = ctx.file(&mut out, "payment_proof", text(row, "payment_proof"), common::media::PROOFS_DIR);
    v.insert("payment_proof".into(), json!(proof));
    if text(row, "payment_method") == "razorpay" {
        let reference = text(row, "payment_reference").to_string();
        if !ctx.razorpay_refs.insert(reference.clone()) {
            return out
                .skip(false, format!("a second razorpay record of payment {reference:?} (one record per payment)"));
        }
    }
    out.row("payment_record", v)
}

fn payment_history(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let out = Out::new("orders_paymenthistory", id);
    if !ctx.has("orders_order", int(row, "order_id")) {
        return out.skip(true, "its order was not imported");
    }
    let status = text(row, "status");
    let paid = matches!(status, "completed" | "refunded");
    let razorpay = text(row, "payment_method").eq_ignore_ascii_case("razorpay");
    let mut out = out.row("payment_history", same("payment_history", row));
    if !(paid && razorpay) {
        return out;
    }
    let payment_id = Some(text(row, "transaction_id"))
        .filter(|t| !t.trim().is_empty())
        .or_else(|| row.get("_order_payment_id").and_then(Value::as_str).filter(|t| !t.trim().is_empty()))
        .map(str::to_string);
    let Some(payment_id) = payment_id else {
        out.note(
            NoteKind::Skipped,
            false,
            "a completed Razorpay payment without a payment id: no PaymentRecord made (total_paid stays 0)",
        );
        return out;
    };
    if !ctx.razorpay_refs.insert(payment_id.clone()) {
        out.changed(format!(
            "payment {payment_id} is already recorded by an orders_paymentrecord row: no second PaymentRecord"
        ));
    } else {
        let record = json!({
            "id": -id,
            "order_id": row.get("order_id"),
            "amount": row.get("amount"),
            "payment_method": "razorpay",
            "payment_reference": payment_id,
            "payment_proof": null,
            "recorded_by_id": null,
            "recorded_at": row.get("payment_date"),
            "notes": "Razorpay payment (imported from the Django backend)",
        });
        out.rows.push(TargetRow { table: "payment_record", id: -id, label: DERIVED_RECORD, value: record });
    }
    if status == "refunded" {
        let refund = json!({
            "id": -id,
            "order_id": row.get("order_id"),
            "amount": row.get("amount"),
            "method": "razorpay",
            "razorpay_payment_id": payment_id,
            "idempotency_key": format!("django-import-{id}"),
            "status": "processed",
            "reason": "Refunded in the Django backend",
            "created_by_id": null,
            "created_at": row.get("updated_at"),
            "processed_at": row.get("updated_at"),
        });
        out.rows.push(TargetRow { table: "refund", id: -id, label: DERIVED_REFUND, value: refund });
    }
    out
}

fn notification(ctx: &mut Ctx, id: i64, row: &Map<String, Value>) -> Out {
    let out = Out::new("admin_panel_notification", id);
    if !ctx.has("authentication_customuser", int(row, "user_id")) {
        return out.skip(true, "its user was not imported");
    }
    let order_id = int(row, "order_id");
    if order_id.is_some() && !ctx.has("orders_order", order_id) {
        return out.skip(true, "its order was not imported");
    }
    out.row("notification", same("notification", row))
}
