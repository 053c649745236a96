//! Billing changes of an order until its invoice is numbered (API.md §9.5 `PATCH billing/`).

use sqlx::PgPool;

use super::{DeskError, lock};
use crate::accounts::users;
use crate::orders::Order;
use crate::orders::billing::{self, BillingChanges};
use crate::orders::create::TaxSettings;

/// Applies `changes` to `order`: validated against the order's current details (the customer's
/// name by default), taxes re-split per line (the totals do not change: only CGST+SGST versus
/// IGST can). Refused once the invoice is numbered.
pub async fn update(
    pool: &PgPool,
    order: &Order,
    changes: &BillingChanges,
    tax: &TaxSettings,
) -> Result<(), DeskError> {
    let customer = users::find(pool, order.user_id).await?;
    let default_name = customer.map(|u| u.display_name()).unwrap_or_default();
    let billing =
        billing::validate(&changes.over(order), &default_name, &tax.seller_state).map_err(DeskError::Billing)?;
    let id = order.id;
    let mut tx = crate::db::begin(pool).await?;
    if lock(&mut tx, id).await?.invoice_number.is_some() {
        return Err(DeskError::InvoiceIssued);
    }
    let intra = billing.intra_state(&tax.seller_state);
    let lines: Vec<(i64, i64, i32, String)> = sqlx::query_as(
        "SELECT id, (price * 100)::bigint, quantity, gst_rate::text FROM order_item WHERE order_id = $1",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let (mut cgst, mut sgst, mut igst) = (0i64, 0i64, 0i64);
    for (line_id, price, quantity, rate) in lines {
        let rate = crate::gst::Rate::parse(&rate)?;
        let t =
            crate::gst::line_tax(crate::money::Money(price), i64::from(quantity), rate, tax.prices_include_gst, intra);
        cgst += t.cgst.0;
        sgst += t.sgst.0;
        igst += t.igst.0;
        sqlx::query(
            "UPDATE order_item SET cgst_amount = $2::numeric / 100, sgst_amount = $3::numeric / 100,
                    igst_amount = $4::numeric / 100 WHERE id = $1",
        )
        .bind(line_id)
        .bind(t.cgst.0)
        .bind(t.sgst.0)
        .bind(t.igst.0)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE orders SET billing_name = $2, billing_gstin = $3, billing_state_code = $4, billing_address = $5,
                place_of_supply = $6, cgst_amount = $7::numeric / 100, sgst_amount = $8::numeric / 100,
                igst_amount = $9::numeric / 100, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(&billing.name)
    .bind(billing.gstin.as_ref().map(|g| g.as_str().to_string()))
    .bind(billing.state_code.as_str())
    .bind(&billing.address)
    .bind(billing.place_of_supply())
    .bind(cgst)
    .bind(sgst)
    .bind(igst)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
