//! Shapes of the order desk (API.md §3): AdminOrderRow, AdminOrderDetail, AdminItem, ResGroup,
//! PaymentRecord, StatusHistory, and the list/detail loaders shared by the admin and staff routes.

use std::collections::HashMap;

use axum::http::StatusCode;
use common::accounts::users::{self, User};
use common::orders::admin::{self, DynamicResource, ListFilter, PaymentRecord, StaticResource, StatusChange};
use common::orders::{self as order_db, Order, OrderItem, OrderStatus, checklist, refunds};
use serde_json::{Map, Value, json};

use super::catalog::{PAGE_SIZE, envelope, media_url, page_number, page_of};
use super::dto::{system_user, user_basic};
use super::orders::{dec, gst_fields, item_json, item_name, num, products_of, upload_progress};
use super::refunds::refund_json;
use super::staff_checklist::checklist_json;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// DRF's `get_object_or_404` body for orders.
pub fn order_404() -> ApiError {
    ApiError::detail(StatusCode::NOT_FOUND, "No Order matches the given query.")
}

fn basic_of(users: &HashMap<i64, User>, id: Option<i64>) -> Value {
    id.and_then(|id| users.get(&id)).map(user_basic).unwrap_or(Value::Null)
}

/// §3 AdminOrderRow (+ §9.5 fields).
fn row_json(order: &Order, items: &[&OrderItem], users: &HashMap<i64, User>) -> Map<String, Value> {
    let mut out = Map::new();
    let fields = json!({
        "id": order.id,
        "order_number": order.order_number,
        "user": basic_of(users, Some(order.user_id)),
        "total_amount": dec(order.total_amount),
        "status": order.status,
        "payment_status": order.payment_status,
        "assigned_to": basic_of(users, order.assigned_to_id),
        "total_items": items.iter().map(|i| i64::from(i.quantity)).sum::<i64>(),
        "payment_completed_at": common::time::ist_opt(order.payment_completed_at),
        "total_paid": num(order.total_paid),
        "payment_balance": num(order.total_amount - order.total_paid),
        "created_at": common::time::ist(order.created_at),
        "updated_at": common::time::ist(order.updated_at),
    });
    if let Value::Object(map) = fields {
        out.extend(map);
    }
    gst_fields(order, &mut out);
    out
}

/// Renders a list of orders as AdminOrderRows.
pub async fn rows_json(state: &AppState, orders: &[Order]) -> ApiResult<Vec<Value>> {
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    let items = order_db::items(&state.pool, &ids).await?;
    let mut by_order: HashMap<i64, Vec<&OrderItem>> = HashMap::new();
    for item in &items {
        by_order.entry(item.order_id).or_default().push(item);
    }
    let mut user_ids: Vec<i64> = orders.iter().map(|o| o.user_id).collect();
    user_ids.extend(orders.iter().filter_map(|o| o.assigned_to_id));
    let users = users::find_many(&state.pool, &user_ids).await?;
    Ok(orders
        .iter()
        .map(|o| Value::Object(row_json(o, by_order.get(&o.id).map(Vec::as_slice).unwrap_or(&[]), &users)))
        .collect())
}

/// The list of §1: a bare array without `?page`, the DRF envelope with it.
pub async fn list_json(state: &AppState, path: &str, filter: &ListFilter, page: Option<&str>) -> ApiResult<Value> {
    let Some(raw) = page else {
        let (_, orders) = admin::list(&state.pool, filter, None).await?;
        return Ok(Value::Array(rows_json(state, &orders).await?));
    };
    let spec = page_number(Some(raw))?;
    let (count, _) = admin::list(&state.pool, filter, Some((0, 0))).await?;
    let n = page_of(spec, count)?;
    let (count, orders) = admin::list(&state.pool, filter, Some((PAGE_SIZE, (n - 1) * PAGE_SIZE))).await?;
    Ok(envelope(&state.cfg.public_base_url, path, n, count, rows_json(state, &orders).await?))
}

/// §3 PaymentRecord.
pub fn record_json(r: &PaymentRecord, users: &HashMap<i64, User>) -> Value {
    json!({
        "id": r.id,
        "order": r.order_id,
        "amount": dec(r.amount),
        "payment_method": r.payment_method,
        "payment_reference": r.payment_reference,
        // Private: served by the §4.11 route after its access check, never at a public URL.
        "payment_proof": r.payment_proof.as_deref().filter(|p| !p.is_empty())
            .map(|_| format!("/api/secure-files/payment-proofs/{}/", r.id)),
        "recorded_by": basic_of(users, r.recorded_by_id),
        "recorded_at": common::time::ist(r.recorded_at),
        "notes": r.notes,
    })
}

fn status_label(raw: &str) -> String {
    OrderStatus::parse(raw).map(|s| s.label().to_string()).unwrap_or_else(|| raw.to_string())
}

/// §3 StatusHistory with the §7.1 labels; the service's own changes show "System" (§5 #19).
pub fn history_json(h: &StatusChange, users: &HashMap<i64, User>) -> Value {
    let changed_by = h.changed_by_id.and_then(|id| users.get(&id)).map(user_basic).unwrap_or_else(system_user);
    json!({
        "id": h.id,
        "order": h.order_id,
        "old_status": h.old_status,
        "old_status_display": status_label(&h.old_status),
        "new_status": h.new_status,
        "new_status_display": status_label(&h.new_status),
        "changed_by": changed_by,
        "changed_at": common::time::ist(h.changed_at),
        "reason": h.reason,
        "is_manual_change": h.is_manual_change,
    })
}

/// Payment records of an order with their recorders.
pub async fn records_json(state: &AppState, order_id: i64) -> ApiResult<Vec<Value>> {
    let records = admin::payment_records(&state.pool, order_id).await?;
    let ids: Vec<i64> = records.iter().filter_map(|r| r.recorded_by_id).collect();
    let users = users::find_many(&state.pool, &ids).await?;
    Ok(records.iter().map(|r| record_json(r, &users)).collect())
}

/// Status history of an order, newest first.
pub async fn histories_json(state: &AppState, order_id: i64, limit: i64) -> ApiResult<Vec<Value>> {
    let rows = admin::status_history(&state.pool, order_id, limit).await?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.changed_by_id).collect();
    let users = users::find_many(&state.pool, &ids).await?;
    Ok(rows.iter().map(|r| history_json(r, &users)).collect())
}

fn static_json(base: &str, s: &StaticResource) -> Value {
    let url = |p: &str| (!p.is_empty()).then(|| media_url(base, p));
    json!({
        "id": s.id,
        "candidate_photo": url(&s.candidate_photo),
        "party_logo": url(&s.party_logo),
        "campaign_slogan": s.campaign_slogan,
        "preferred_date": s.preferred_date.map(|d| d.to_string()),
        "whatsapp_number": s.whatsapp_number,
        "additional_notes": s.additional_notes,
        "uploaded_at": common::time::ist(s.uploaded_at),
    })
}

/// A submitted value (§3 ResGroup): files as the relative secure-files path.
fn dynamic_json(d: &DynamicResource, with_field_id: bool) -> Value {
    let is_file = d.field_type == "image" || d.field_type == "document";
    let value = match d.field_type.as_str() {
        "number" => d.number_value.map(Value::from).unwrap_or(Value::Null),
        "image" | "document" => d
            .file_value
            .as_deref()
            .filter(|f| !f.is_empty())
            .map(|_| Value::String(format!("/api/secure-files/resources/{}/", d.id)))
            .unwrap_or(Value::Null),
        _ => d.text_value.clone().map(Value::String).unwrap_or(Value::Null),
    };
    let mut out = json!({
        "id": d.id,
        "field_name": d.field_name,
        "field_type": d.field_type,
        "uploaded_at": common::time::ist(d.uploaded_at),
        "value": value,
    });
    if with_field_id {
        out["field_id"] = json!(d.field_id);
    }
    if is_file {
        let name = d.file_value.as_deref().and_then(|f| f.rsplit('/').next()).unwrap_or("");
        out["file_name"] = json!(name);
    }
    out
}

/// §3 AdminOrderDetail (+ §9.4 refunds and §9.5 fields).
pub async fn detail_json(state: &AppState, order: &Order) -> ApiResult<Value> {
    let base = &state.cfg.public_base_url;
    let items = order_db::items(&state.pool, &[order.id]).await?;
    let products = products_of(state, &items).await?;
    let refs: Vec<&OrderItem> = items.iter().collect();
    let mut ids = vec![order.user_id];
    ids.extend(order.assigned_to_id);
    ids.extend(order.created_by_id);
    let people = users::find_many(&state.pool, &ids).await?;
    let (statics, dynamics) = admin::resources(&state.pool, order.id).await?;

    let mut admin_items = Vec::new();
    let mut groups = Vec::new();
    for item in &items {
        let st = statics.iter().find(|s| s.order_item_id == item.id);
        let dy: Vec<&DynamicResource> = dynamics.iter().filter(|d| d.order_item_id == item.id).collect();
        let mut v = item_json(base, item, &products);
        v["product_name"] = json!(item_name(item));
        v["resources"] = json!({
            "static": st.map(|s| static_json(base, s)),
            "dynamic": dy.iter().map(|d| dynamic_json(d, true)).collect::<Vec<_>>(),
        });
        admin_items.push(v);
        if st.is_some() || !dy.is_empty() {
            groups.push(json!({
                "order_item_id": item.id,
                "item_type": item.product_type,
                "item_name": item_name(item),
                "static": st.map(|s| static_json(base, s)),
                "dynamic": dy.iter().map(|d| dynamic_json(d, true)).collect::<Vec<_>>(),
            }));
        }
    }
    let checklist = checklist::load(&state.pool, order.id).await?.map(|c| checklist_json(&c)).unwrap_or(Value::Null);
    let mut refund_list = Vec::new();
    for r in refunds::list(&state.pool, order.id).await? {
        refund_list.push(refund_json(state, &r).await?);
    }
    let mut out = row_json(order, &refs, &people);
    out.remove("payment_balance");
    let extra = json!({
        "razorpay_order_id": order.razorpay_order_id,
        "razorpay_payment_id": order.razorpay_payment_id,
        "items": admin_items,
        "resource_upload_progress": upload_progress(&refs),
        "resources": groups,
        "checklist": checklist,
        "is_manual_order": order.is_manual_order,
        "order_source": order.order_source,
        "created_by": basic_of(&people, order.created_by_id),
        "payment_reference": order.payment_reference,
        "priority": order.priority,
        "admin_notes": order.admin_notes,
        "payment_records": records_json(state, order.id).await?,
        "status_history": histories_json(state, order.id, 10).await?,
        "balance_due": num(order.total_amount - order.total_paid),
        "refunds": refund_list,
        "refunded_amount": dec(order.refunded_amount),
    });
    if let Value::Object(map) = extra {
        out.extend(map);
    }
    Ok(Value::Object(out))
}

/// Loads an order for the desk and renders its detail (staff: assigned only).
pub async fn load_detail(state: &AppState, id: i64, only_assignee: Option<i64>) -> ApiResult<Value> {
    let order = admin::get_for_desk(&state.pool, id, only_assignee).await?.ok_or_else(order_404)?;
    detail_json(state, &order).await
}
