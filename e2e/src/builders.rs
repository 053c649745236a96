//! Test-data builders: users, products, orders, payments, checklist templates, images and
//! notifications, made through `common`'s own functions, so a test's data has the audit entries,
//! catalogue-version bumps, GST split, status history, invoice numbers and notifications the
//! service itself writes.
//!
//! ```text
//! let pkg = ProductBuilder::package("Rally Kit").price("4999.00").gst_rate("18").create(&app).await;
//! let order = OrderBuilder::for_user(buyer).item(ProductType::Package, pkg, 2).paid().assigned_to(staff).create(&app).await;
//! ```
//!
//! Where `common` has no function for a state a test needs, the builder writes the rows itself
//! and says why: [`LegacyOrderBuilder`] (an order as the importer of the old database leaves it),
//! [`ResourceSubmission`] (the upload route is not ported) and [`NotificationBuilder::created_at`]
//! (`common` stamps every notification with the current time).

use chrono::{DateTime, Utc};
use common::accounts::password;
use common::accounts::users::{self, NewUser};
use common::catalog::ProductType;
use common::catalog::checklist_templates::{self, NewTemplateItem};
use common::catalog::images::{self, NewImage};
use common::catalog::products::{self, ProductInput};
use common::gst::StateCode;
use common::money::Money;
use common::notifications::notify_user;
use common::orders::admin::records::{NewPayment, PaymentMethod, record_payment};
use common::orders::admin::status::{assign, update_payment_status};
use common::orders::billing::{self, Billing, BillingInput};
use common::orders::create::{self, PricedLine, TaxSettings};
use common::orders::{self, Actor, OrderStatus, PaymentStatus, checklist};
use common::role::Role;

use crate::TestApp;

/// The password of builder-made users unless one is given.
pub const DEFAULT_PASSWORD: &str = "pass-word-123";

/// Paise of a decimal amount such as `"4999.00"` (at most 10 digits, as the money columns hold).
fn paise(amount: &str) -> i64 {
    Money::parse(amount, 10).unwrap_or_else(|e| panic!("amount {amount:?}: {e}")).0
}

/// The GST settings the app under test runs with.
fn tax_settings(app: &TestApp) -> TaxSettings {
    TaxSettings {
        prices_include_gst: app.cfg.prices_include_gst,
        seller_state: StateCode::parse(&app.cfg.seller_state_code).expect("SELLER_STATE_CODE"),
    }
}

// ---------------------------------------------------------------------------------------------
// Users

/// A user account, made by [`users::create`] (the sign-up and admin paths' insert).
///
/// Defaults: role `user`, password [`DEFAULT_PASSWORD`] hashed with argon2id, no email, no phone,
/// the Django `is_staff` flag set for admins only.
#[derive(Debug, Clone)]
pub struct UserBuilder {
    username: String,
    password_hash: Option<String>,
    password: String,
    role: Role,
    email: String,
    phone: Option<String>,
    is_staff: Option<bool>,
    is_superuser: bool,
}

impl UserBuilder {
    /// A `user` named `username`.
    pub fn new(username: &str) -> Self {
        Self {
            username: username.to_string(),
            password_hash: None,
            password: DEFAULT_PASSWORD.to_string(),
            role: Role::User,
            email: String::new(),
            phone: None,
            is_staff: None,
            is_superuser: false,
        }
    }

    /// The plain password (hashed with argon2id).
    pub fn password(mut self, password: &str) -> Self {
        self.password = password.to_string();
        self
    }

    /// A ready hash stored as is (e.g. a Django `pbkdf2_sha256$…` hash of a migrated account).
    pub fn password_hash(mut self, hash: &str) -> Self {
        self.password_hash = Some(hash.to_string());
        self
    }

    /// The role.
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// The role by its stored name (`user`, `staff`, `admin`, `customer`).
    pub fn role_named(self, role: &str) -> Self {
        let parsed = Role::parse(role).unwrap_or_else(|| panic!("unknown role {role:?}"));
        self.role(parsed)
    }

    /// Role `staff`.
    pub fn staff(self) -> Self {
        self.role(Role::Staff)
    }

    /// Role `admin` (with the `is_staff` flag).
    pub fn admin(self) -> Self {
        self.role(Role::Admin)
    }

    /// The email.
    pub fn email(mut self, email: &str) -> Self {
        self.email = email.to_string();
        self
    }

    /// The phone number.
    pub fn phone(mut self, phone: &str) -> Self {
        self.phone = Some(phone.to_string());
        self
    }

    /// The phone number, if any.
    pub fn phone_opt(mut self, phone: Option<&str>) -> Self {
        self.phone = phone.map(str::to_string);
        self
    }

    /// The Django `is_staff` flag (`admin*` of API.md), whatever the role.
    pub fn staff_flag(mut self, is_staff: bool) -> Self {
        self.is_staff = Some(is_staff);
        self
    }

    /// The Django `is_superuser` flag.
    pub fn superuser(mut self) -> Self {
        self.is_superuser = true;
        self
    }

    /// Creates the account; returns its id.
    pub async fn create(self, app: &TestApp) -> i64 {
        let new = NewUser {
            password_hash: self.password_hash.unwrap_or_else(|| password::hash(&self.password)),
            phone_number: self.phone,
            email: self.email,
            firebase_uid: None,
            is_staff: self.is_staff.unwrap_or(self.role == Role::Admin),
            is_superuser: self.is_superuser,
            role: self.role,
            username: self.username,
        };
        let mut conn = app.pool.acquire().await.unwrap();
        users::create(&mut conn, &new).await.unwrap_or_else(|e| panic!("create user {}: {e}", new.username)).id
    }

    /// Creates the account and signs in; returns its id and an access token.
    pub async fn create_with_token(self, app: &TestApp) -> (i64, String) {
        let (username, password) = (self.username.clone(), self.password.clone());
        assert!(self.password_hash.is_none(), "sign-in needs the plain password");
        let id = self.create(app).await;
        let body = app.login(&username, &password).await;
        (id, body["token"].as_str().expect("token").to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Products

/// A package or a campaign, made by [`products::create`] (the admin app's create: the audit
/// entry and the catalogue-version bump included).
///
/// Defaults: price `4999.00` (package) or `999.00` (campaign), description `d`, GST 18 %, no
/// HSN/SAC code, active, campaigns priced `per 1000`, no package items, no creator.
#[derive(Debug, Clone)]
pub struct ProductBuilder {
    kind: ProductType,
    name: String,
    price: String,
    description: String,
    gst_rate: String,
    hsn_sac: String,
    unit: String,
    active: bool,
    features: Vec<String>,
    deliverables: Vec<String>,
    items: Vec<(String, i32)>,
    created_by: Option<i64>,
}

impl ProductBuilder {
    /// A product of `kind` named `name`.
    pub fn new(kind: ProductType, name: &str) -> Self {
        let (price, unit) = match kind {
            ProductType::Package => ("4999.00", ""),
            ProductType::Campaign => ("999.00", "per 1000"),
        };
        Self {
            kind,
            name: name.to_string(),
            price: price.to_string(),
            description: "d".to_string(),
            gst_rate: "18".to_string(),
            hsn_sac: String::new(),
            unit: unit.to_string(),
            active: true,
            features: Vec::new(),
            deliverables: Vec::new(),
            items: Vec::new(),
            created_by: None,
        }
    }

    /// A package named `name`.
    pub fn package(name: &str) -> Self {
        Self::new(ProductType::Package, name)
    }

    /// A campaign named `name`.
    pub fn campaign(name: &str) -> Self {
        Self::new(ProductType::Campaign, name)
    }

    /// The unit price, e.g. `"4999.00"` or `"0.50"`.
    pub fn price(mut self, price: &str) -> Self {
        self.price = price.to_string();
        self
    }

    /// The GST rate in percent, e.g. `"18"`.
    pub fn gst_rate(mut self, rate: &str) -> Self {
        self.gst_rate = rate.to_string();
        self
    }

    /// The HSN/SAC code, e.g. `"998361"`.
    pub fn hsn_sac(mut self, code: &str) -> Self {
        self.hsn_sac = code.to_string();
        self
    }

    /// The description.
    pub fn description(mut self, description: &str) -> Self {
        self.description = description.to_string();
        self
    }

    /// The campaign unit, e.g. `"per 1000"`.
    pub fn unit(mut self, unit: &str) -> Self {
        self.unit = unit.to_string();
        self
    }

    /// Active (sold now) or not.
    pub fn active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }

    /// Not sold now.
    pub fn inactive(self) -> Self {
        self.active(false)
    }

    /// Adds a feature line.
    pub fn feature(mut self, feature: &str) -> Self {
        self.features.push(feature.to_string());
        self
    }

    /// Adds a deliverable line.
    pub fn deliverable(mut self, deliverable: &str) -> Self {
        self.deliverables.push(deliverable.to_string());
        self
    }

    /// Adds a package item.
    pub fn item(mut self, name: &str, quantity: i32) -> Self {
        self.items.push((name.to_string(), quantity));
        self
    }

    /// The admin recorded as creator (and in the audit entry).
    pub fn created_by(mut self, user_id: i64) -> Self {
        self.created_by = Some(user_id);
        self
    }

    /// Creates the product; returns its id.
    pub async fn create(self, app: &TestApp) -> i64 {
        self.create_product(app).await.id
    }

    /// Creates the product; returns it as the catalogue reads it.
    pub async fn create_product(self, app: &TestApp) -> products::Product {
        let input = ProductInput {
            price: Money::parse(&self.price, 10).unwrap_or_else(|e| panic!("price {:?}: {e}", self.price)),
            name: self.name,
            description: self.description,
            features: self.features,
            deliverables: self.deliverables,
            items: (self.kind == ProductType::Package).then_some(self.items),
            is_active: Some(self.active),
            unit: self.unit,
            hsn_sac: self.hsn_sac,
            gst_rate: self.gst_rate,
        };
        products::create(&app.pool, self.kind, &input, self.created_by)
            .await
            .unwrap_or_else(|e| panic!("create {} {}: {e}", self.kind, input.name))
    }
}

// ---------------------------------------------------------------------------------------------
// Checklist templates

/// A checklist template item of a product, made by [`checklist_templates::create`].
///
/// Defaults: description empty, placed after the product's last item, required.
#[derive(Debug, Clone)]
pub struct TemplateItemBuilder {
    kind: ProductType,
    product_id: i64,
    item: NewTemplateItem,
}

impl TemplateItemBuilder {
    /// A task `name` of the product.
    pub fn new(kind: ProductType, product_id: i64, name: &str) -> Self {
        let item = NewTemplateItem {
            name: name.to_string(),
            description: String::new(),
            order: None,
            is_optional: false,
            estimated_duration_minutes: None,
        };
        Self { kind, product_id, item }
    }

    /// The explanation.
    pub fn description(mut self, description: &str) -> Self {
        self.item.description = description.to_string();
        self
    }

    /// The position.
    pub fn order(mut self, order: i32) -> Self {
        self.item.order = Some(order);
        self
    }

    /// Optional or required.
    pub fn optional(mut self, optional: bool) -> Self {
        self.item.is_optional = optional;
        self
    }

    /// The expected effort.
    pub fn minutes(mut self, minutes: i32) -> Self {
        self.item.estimated_duration_minutes = Some(minutes);
        self
    }

    /// Creates the item; returns its id.
    pub async fn create(self, app: &TestApp) -> i64 {
        checklist_templates::create(&app.pool, self.kind, self.product_id, &self.item)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no {} {}", self.kind, self.product_id))
            .id
    }
}

// ---------------------------------------------------------------------------------------------
// Product images

/// A product image already stored by the media worker: the row is recorded by [`images::create`]
/// (as an upload is) and pointed at its stored files by [`images::finish_store`] (as the worker's
/// last step does). The files themselves are the test's to write, if it needs them.
///
/// The storage job the upload enqueues still runs if a worker does; it finds the row stored and
/// does nothing (or, should it run first, finds no staged file and gives up without writing).
#[derive(Debug, Clone)]
pub struct ImageBuilder {
    kind: ProductType,
    product_id: i64,
    image: String,
    thumbnail: Option<String>,
    new: NewImage,
}

impl ImageBuilder {
    /// An image of the product stored at `image` (relative to `MEDIA_DIR`, or a URL).
    pub fn stored(kind: ProductType, product_id: i64, image: &str) -> Self {
        let name = image.rsplit('/').next().unwrap_or(image);
        let new = NewImage {
            image: format!("{}/{}-{name}", common::media::STAGING_DIR, uuid::Uuid::new_v4().simple()),
            is_primary: None,
            order: None,
            alt_text: String::new(),
        };
        Self { kind, product_id, image: image.to_string(), thumbnail: None, new }
    }

    /// Its stored thumbnail.
    pub fn thumbnail(mut self, thumbnail: &str) -> Self {
        self.thumbnail = Some(thumbnail.to_string());
        self
    }

    /// Asks for the primary flag (the product's first image is primary anyway).
    pub fn primary(mut self) -> Self {
        self.new.is_primary = Some(true);
        self
    }

    /// The position.
    pub fn order(mut self, order: i32) -> Self {
        self.new.order = Some(order);
        self
    }

    /// The alternative text.
    pub fn alt_text(mut self, alt: &str) -> Self {
        self.new.alt_text = alt.to_string();
        self
    }

    /// Creates the image; returns its id.
    pub async fn create(self, app: &TestApp) -> i64 {
        let row = images::create(&app.pool, self.kind, self.product_id, &self.new)
            .await
            .unwrap_or_else(|e| panic!("image of {} {}: {e}", self.kind, self.product_id));
        let stored =
            images::finish_store(&app.pool, row.id, &self.new.image, &self.image, self.thumbnail.as_deref()).await;
        assert!(stored.unwrap(), "image {} stored", row.id);
        row.id
    }
}

// ---------------------------------------------------------------------------------------------
// Orders

/// One requested order line.
#[derive(Debug, Clone)]
struct Line {
    kind: ProductType,
    product_id: i64,
    quantity: i32,
    /// `None`: the product's current price, HSN/SAC and GST rate.
    price: Option<String>,
}

/// An order, made through `common`:
///
/// * by default as the site places one: the lines go into the customer's cart
///   ([`common::cart::add`], so the products must be active) and [`create::from_cart`] makes the
///   order (`pending_payment`, GST per line, a random `EC-…` number, the "Order created" history
///   row) without Razorpay, emptying the cart (lines already in it are ordered too);
/// * with [`number`](Self::number), [`status`](Self::status) or [`line_at`](Self::line_at), or
///   without lines, by [`create::insert_order`] — the writer `from_cart` and manual orders share —
///   since `from_cart` picks its own number, always starts at `pending_payment` and prices lines
///   from the cart; lines are priced with [`create::price_line`] (the product's current price and
///   rate, active or not, unless given) and the history row goes from `""` to the status.
///
/// Then, in this order: the payments ([`record_payment`], [`paid`](Self::paid) recording the
/// balance in cash), the payment status ([`update_payment_status`]), the assignment ([`assign`]:
/// status `assigned`, checklist, notification) and the checklist ([`checklist::ensure`]). Desk
/// actions are done by [`by`](Self::by), by default the customer.
#[derive(Debug, Clone)]
pub struct OrderBuilder {
    user_id: i64,
    lines: Vec<Line>,
    number: Option<String>,
    status: Option<OrderStatus>,
    billing: BillingInput,
    payments: Vec<(String, PaymentMethod)>,
    pay_balance: bool,
    payment_status: Option<PaymentStatus>,
    assignee: Option<i64>,
    checklist: bool,
    actor: Option<i64>,
    at: Option<DateTime<Utc>>,
}

/// What [`OrderBuilder::build`] made.
#[derive(Debug, Clone)]
pub struct BuiltOrder {
    /// Order id.
    pub id: i64,
    /// `EC-…` number.
    pub number: String,
    /// Ids of its lines, in order.
    pub item_ids: Vec<i64>,
}

impl OrderBuilder {
    /// An order of the customer `user_id`.
    pub fn for_user(user_id: i64) -> Self {
        Self {
            user_id,
            lines: Vec::new(),
            number: None,
            status: None,
            billing: BillingInput::default(),
            payments: Vec::new(),
            pay_balance: false,
            payment_status: None,
            assignee: None,
            checklist: false,
            actor: None,
            at: None,
        }
    }

    /// A line of `quantity` of a product at its current price.
    pub fn item(mut self, kind: ProductType, product_id: i64, quantity: i32) -> Self {
        self.lines.push(Line { kind, product_id, quantity, price: None });
        self
    }

    /// A line at a given unit price (18 % GST, no HSN/SAC); the product need not exist.
    pub fn line_at(mut self, kind: ProductType, product_id: i64, quantity: i32, price: &str) -> Self {
        self.lines.push(Line { kind, product_id, quantity, price: Some(price.to_string()) });
        self
    }

    /// The order number.
    pub fn number(mut self, number: &str) -> Self {
        self.number = Some(number.to_string());
        self
    }

    /// The status it is created in (default `pending_payment`).
    pub fn status(mut self, status: OrderStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Billing fields (default: the customer's name, the seller's state).
    pub fn billing(mut self, billing: BillingInput) -> Self {
        self.billing = billing;
        self
    }

    /// Records an offline payment of `amount` after creation (see [`PaymentBuilder`]).
    pub fn payment(mut self, amount: &str, method: PaymentMethod) -> Self {
        self.payments.push((amount.to_string(), method));
        self
    }

    /// Records the balance as a cash payment: payment status `paid`, the invoice numbered,
    /// `pending_payment` moved to `pending_resources`.
    pub fn paid(mut self) -> Self {
        self.pay_balance = true;
        self
    }

    /// Sets the payment status as the desk's `update-payment-status/` does.
    pub fn payment_status(mut self, status: PaymentStatus) -> Self {
        self.payment_status = Some(status);
        self
    }

    /// Assigns the order to a staff member (status `assigned`, checklist, notification).
    pub fn assigned_to(mut self, staff_id: i64) -> Self {
        self.assignee = Some(staff_id);
        self
    }

    /// Builds the checklist (if the assignment has not).
    pub fn with_checklist(mut self) -> Self {
        self.checklist = true;
        self
    }

    /// Who does the desk actions (payments, assignment); default the customer.
    pub fn by(mut self, actor: i64) -> Self {
        self.actor = Some(actor);
        self
    }

    /// The time of creation and payments (default now); decides the invoice's financial year.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = Some(at);
        self
    }

    /// Creates the order; returns its id.
    pub async fn create(self, app: &TestApp) -> i64 {
        self.build(app).await.id
    }

    /// Creates the order; returns its id, number and line ids.
    pub async fn build(self, app: &TestApp) -> BuiltOrder {
        let now = self.at.unwrap_or_else(Utc::now);
        let tax = tax_settings(app);
        let customer = users::find(&app.pool, self.user_id).await.unwrap().expect("the order's customer");
        let billing = billing::validate(&self.billing, &customer.display_name(), &tax.seller_state)
            .unwrap_or_else(|e| panic!("billing: {e:?}"));
        let through_cart = self.number.is_none()
            && self.status.is_none()
            && !self.lines.is_empty()
            && self.lines.iter().all(|l| l.price.is_none());
        let id = if through_cart {
            self.place_through_cart(app, &billing, &tax, now).await
        } else {
            self.insert(app, &billing, &tax, now).await
        };
        let actor = self.actor.unwrap_or(self.user_id);
        for (amount, method) in &self.payments {
            PaymentBuilder::for_order(id).amount(amount).method(*method).by(actor).record(app, now).await;
        }
        if self.pay_balance {
            PaymentBuilder::for_order(id).by(actor).record(app, now).await;
        }
        if let Some(status) = self.payment_status {
            update_payment_status(&app.pool, id, status, &common::orders::invoices::InvoiceSettings::of(&app.cfg), now)
                .await
                .unwrap();
        }
        if let Some(staff) = self.assignee {
            assign(&app.pool, id, staff, actor).await.unwrap_or_else(|e| panic!("assign order {id}: {e}"));
        }
        if self.checklist {
            ensure_checklist(app, id).await;
        }
        let order = orders::get(&app.pool, id, None).await.unwrap().expect("the new order");
        let item_ids = orders::items(&app.pool, &[id]).await.unwrap().into_iter().map(|i| i.id).collect();
        BuiltOrder { id, number: order.order_number, item_ids }
    }

    async fn place_through_cart(&self, app: &TestApp, billing: &Billing, tax: &TaxSettings, now: DateTime<Utc>) -> i64 {
        for l in &self.lines {
            common::cart::add(&app.pool, self.user_id, l.kind, l.product_id, l.quantity)
                .await
                .unwrap_or_else(|e| panic!("add {} {} to the cart: {e}", l.kind, l.product_id));
        }
        create::from_cart(
            &app.pool,
            &common::jobs::Doorbell::new(app.pool.clone()),
            self.user_id,
            billing,
            tax,
            None,
            now,
            None,
        )
        .await
        .expect("order from the cart")
        .order_id
    }

    async fn insert(&self, app: &TestApp, billing: &Billing, tax: &TaxSettings, now: DateTime<Utc>) -> i64 {
        let intra = billing.intra_state(&tax.seller_state);
        let mut lines: Vec<PricedLine> = Vec::with_capacity(self.lines.len());
        for l in &self.lines {
            let (price, hsn, rate) = match &l.price {
                Some(price) => (paise(price), String::new(), "18".to_string()),
                None => {
                    let p = products::get(&app.pool, l.kind, l.product_id, false)
                        .await
                        .unwrap()
                        .unwrap_or_else(|| panic!("no {} {}", l.kind, l.product_id));
                    (paise(&p.price), p.hsn_sac, p.gst_rate)
                }
            };
            let line = create::price_line(
                l.kind,
                l.product_id,
                l.quantity,
                Money(price),
                hsn,
                &rate,
                tax.prices_include_gst,
                intra,
            );
            lines.push(line.expect("GST rate"));
        }
        let number = self.number.clone().unwrap_or_else(|| create::new_order_number(now));
        let status = self.status.unwrap_or(OrderStatus::PendingPayment);
        let mut tx = common::db::begin(&app.pool).await.unwrap();
        let actor = Actor::User(self.user_id);
        let id = create::insert_order(&mut tx, self.user_id, &number, status, billing, &lines, actor, "Order created")
            .await
            .unwrap_or_else(|e| panic!("insert order {number}: {e}"));
        tx.commit().await.unwrap();
        id
    }
}

/// The order's checklist id, building it ([`checklist::ensure`]) when it has none.
pub async fn ensure_checklist(app: &TestApp, order_id: i64) -> i64 {
    let mut conn = app.pool.acquire().await.unwrap();
    checklist::ensure(&mut conn, order_id).await.unwrap()
}

/// A status-history row written by [`orders::record_history`] alone (the order's status is left
/// as it is), e.g. a change the service made.
pub async fn record_history(app: &TestApp, order_id: i64, old: &str, new: &str, actor: Actor, reason: &str) {
    let mut conn = app.pool.acquire().await.unwrap();
    orders::record_history(&mut conn, order_id, old, new, actor, reason, false).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Payments

/// An offline payment (a PaymentRecord) of an order, recorded by [`record_payment`] as the desk's
/// `record-payment/` does: payment status from Σ records; once paid in full, the invoice numbered
/// and `pending_payment` moved on.
///
/// Defaults: the balance, in cash, no reference, no notes, recorded by the order's customer.
#[derive(Debug, Clone)]
pub struct PaymentBuilder {
    order_id: i64,
    amount: Option<String>,
    method: PaymentMethod,
    reference: String,
    notes: String,
    actor: Option<i64>,
}

impl PaymentBuilder {
    /// A payment of the order.
    pub fn for_order(order_id: i64) -> Self {
        Self {
            order_id,
            amount: None,
            method: PaymentMethod::Cash,
            reference: String::new(),
            notes: String::new(),
            actor: None,
        }
    }

    /// The amount, e.g. `"4999.00"`.
    pub fn amount(mut self, amount: &str) -> Self {
        self.amount = Some(amount.to_string());
        self
    }

    /// How it was paid (a `razorpay` record with a `pay_…` reference counts as a Razorpay payment).
    pub fn method(mut self, method: PaymentMethod) -> Self {
        self.method = method;
        self
    }

    /// The reference.
    pub fn reference(mut self, reference: &str) -> Self {
        self.reference = reference.to_string();
        self
    }

    /// The notes.
    pub fn notes(mut self, notes: &str) -> Self {
        self.notes = notes.to_string();
        self
    }

    /// Who recorded it (default the order's customer).
    pub fn by(mut self, actor: i64) -> Self {
        self.actor = Some(actor);
        self
    }

    /// Records the payment now; returns the record's id.
    pub async fn create(self, app: &TestApp) -> i64 {
        self.record(app, Utc::now()).await
    }

    async fn record(self, app: &TestApp, now: DateTime<Utc>) -> i64 {
        let order_id = self.order_id;
        let order =
            orders::get(&app.pool, order_id, None).await.unwrap().unwrap_or_else(|| panic!("no order {order_id}"));
        let amount = self.amount.as_deref().map_or(order.balance(), paise);
        assert!(amount > 0, "order {order_id}: nothing to pay");
        let payment =
            NewPayment { amount, method: self.method, reference: self.reference, proof: None, notes: self.notes };
        let actor = self.actor.unwrap_or(order.user_id);
        record_payment(
            &app.pool,
            order_id,
            &payment,
            actor,
            &common::orders::invoices::InvoiceSettings::of(&app.cfg),
            now,
        )
        .await
        .unwrap_or_else(|e| panic!("payment of order {order_id}: {e}"))
        .record
        .id
    }
}

// ---------------------------------------------------------------------------------------------
// Notifications

/// An in-app notification, written by [`notify_user`].
///
/// Defaults: type `system`, title `Notification`, message `m`, about no order, unread, now.
#[derive(Debug, Clone)]
pub struct NotificationBuilder {
    user_id: i64,
    kind: String,
    title: String,
    message: String,
    order_id: Option<i64>,
    created_at: Option<DateTime<Utc>>,
}

impl NotificationBuilder {
    /// A notification for the user.
    pub fn for_user(user_id: i64) -> Self {
        Self {
            user_id,
            kind: "system".to_string(),
            title: "Notification".to_string(),
            message: "m".to_string(),
            order_id: None,
            created_at: None,
        }
    }

    /// The `notification_type`.
    pub fn kind(mut self, kind: &str) -> Self {
        self.kind = kind.to_string();
        self
    }

    /// The title.
    pub fn title(mut self, title: &str) -> Self {
        self.title = title.to_string();
        self
    }

    /// The message.
    pub fn message(mut self, message: &str) -> Self {
        self.message = message.to_string();
        self
    }

    /// The order it is about.
    pub fn order(mut self, order_id: i64) -> Self {
        self.order_id = Some(order_id);
        self
    }

    /// A creation time in the past (for ordering and paging tests).
    pub fn created_at(mut self, at: DateTime<Utc>) -> Self {
        self.created_at = Some(at);
        self
    }

    /// Creates the notification; returns its id.
    pub async fn create(self, app: &TestApp) -> i64 {
        let mut tx = common::db::begin(&app.pool).await.unwrap();
        notify_user(&mut tx, self.user_id, &self.kind, &self.title, &self.message, self.order_id).await.unwrap();
        let id: i64 = sqlx::query_scalar("SELECT max(id) FROM notification WHERE user_id = $1")
            .bind(self.user_id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        if let Some(at) = self.created_at {
            // `notify_user` stamps the current time and nothing in `common` back-dates a
            // notification; only the timestamp is set here.
            sqlx::query("UPDATE notification SET created_at = $2 WHERE id = $1")
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        id
    }
}

// ---------------------------------------------------------------------------------------------
// Rows `common` never writes

/// An order as the importer of the old (Django) database leaves it, written row by row.
///
/// `common` cannot make these: every order it writes ([`create::insert_order`]) gets a GST split
/// computed from its lines and an opening status-history row, an assignment writes history and
/// notifies the assignee, and an invoice number is only ever allocated together with
/// `payment_completed_at`. Tests that must see only the history and notifications their own
/// requests cause, or a lone invoice number, start from such a row.
///
/// Defaults: a random `EC-…` number, total = Σ line price × quantity, `pending_payment`,
/// `unpaid`, no assignee, no invoice, lines with resources not uploaded.
#[derive(Debug, Clone)]
pub struct LegacyOrderBuilder {
    user_id: i64,
    number: Option<String>,
    total: Option<String>,
    status: OrderStatus,
    payment_status: PaymentStatus,
    assignee: Option<i64>,
    invoice_number: Option<String>,
    lines: Vec<(ProductType, i64, i32, String)>,
    resources_uploaded: bool,
}

impl LegacyOrderBuilder {
    /// An imported order of the customer `user_id`.
    pub fn for_user(user_id: i64) -> Self {
        Self {
            user_id,
            number: None,
            total: None,
            status: OrderStatus::PendingPayment,
            payment_status: PaymentStatus::Unpaid,
            assignee: None,
            invoice_number: None,
            lines: Vec::new(),
            resources_uploaded: false,
        }
    }

    /// The order number.
    pub fn number(mut self, number: &str) -> Self {
        self.number = Some(number.to_string());
        self
    }

    /// The stored total, whatever the lines say.
    pub fn total(mut self, total: &str) -> Self {
        self.total = Some(total.to_string());
        self
    }

    /// The status.
    pub fn status(mut self, status: OrderStatus) -> Self {
        self.status = status;
        self
    }

    /// The payment status.
    pub fn payment_status(mut self, status: PaymentStatus) -> Self {
        self.payment_status = status;
        self
    }

    /// The assignee (no history row, no notification).
    pub fn assigned_to(mut self, staff_id: i64) -> Self {
        self.assignee = Some(staff_id);
        self
    }

    /// The assignee, if any.
    pub fn assigned_to_opt(mut self, staff_id: Option<i64>) -> Self {
        self.assignee = staff_id;
        self
    }

    /// An invoice number alone (no `payment_completed_at`, no payment record).
    pub fn invoice_number(mut self, number: &str) -> Self {
        self.invoice_number = Some(number.to_string());
        self
    }

    /// A line at a unit price (no GST split); the product need not exist.
    pub fn line(mut self, kind: ProductType, product_id: i64, quantity: i32, price: &str) -> Self {
        self.lines.push((kind, product_id, quantity, price.to_string()));
        self
    }

    /// Marks every line's resources uploaded.
    pub fn resources_uploaded(mut self) -> Self {
        self.resources_uploaded = true;
        self
    }

    /// Writes the order and its lines; returns the order id.
    pub async fn create(self, app: &TestApp) -> i64 {
        let total = match &self.total {
            Some(t) => paise(t),
            None => self.lines.iter().map(|(_, _, q, p)| paise(p) * i64::from(*q)).sum(),
        };
        let number = self.number.unwrap_or_else(|| create::new_order_number(Utc::now()));
        let mut tx = common::db::begin(&app.pool).await.unwrap();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO orders (user_id, order_number, total_amount, status, payment_status, assigned_to_id,
                                 invoice_number)
             VALUES ($1, $2, $3::numeric / 100, $4, $5, $6, $7) RETURNING id",
        )
        .bind(self.user_id)
        .bind(&number)
        .bind(total)
        .bind(self.status.as_str())
        .bind(self.payment_status.as_str())
        .bind(self.assignee)
        .bind(&self.invoice_number)
        .fetch_one(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("legacy order {number}: {e}"));
        for (kind, product_id, quantity, price) in &self.lines {
            sqlx::query(
                "INSERT INTO order_item (order_id, product_type, product_id, quantity, price, resources_uploaded)
                 VALUES ($1, $2, $3, $4, $5::numeric / 100, $6)",
            )
            .bind(id)
            .bind(kind.as_str())
            .bind(product_id)
            .bind(quantity)
            .bind(paise(price))
            .bind(self.resources_uploaded)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        id
    }
}

/// A value submitted for a resource field of an order line (`dynamic_resource_submission`).
///
/// Written directly: the customer's resource-upload route is not ported, so nothing in `common`
/// writes these rows yet; they come from the old database.
#[derive(Debug, Clone)]
pub struct ResourceSubmission {
    order_item_id: i64,
    field_definition_id: i64,
    text: Option<String>,
    number: Option<i32>,
    file: Option<String>,
}

impl ResourceSubmission {
    /// A text value for the field.
    pub fn text(order_item_id: i64, field_definition_id: i64, text: &str) -> Self {
        Self { order_item_id, field_definition_id, text: Some(text.to_string()), number: None, file: None }
    }

    /// A number value for the field.
    pub fn number(order_item_id: i64, field_definition_id: i64, number: i32) -> Self {
        Self { order_item_id, field_definition_id, text: None, number: Some(number), file: None }
    }

    /// A stored file for the field.
    pub fn file(order_item_id: i64, field_definition_id: i64, path: &str) -> Self {
        Self { order_item_id, field_definition_id, text: None, number: None, file: Some(path.to_string()) }
    }

    /// Writes the value; returns its id.
    pub async fn create(self, app: &TestApp) -> i64 {
        sqlx::query_scalar(
            "INSERT INTO dynamic_resource_submission (order_item_id, field_definition_id, text_value, number_value,
                                                      file_value)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(self.order_item_id)
        .bind(self.field_definition_id)
        .bind(&self.text)
        .bind(self.number)
        .bind(&self.file)
        .fetch_one(&app.pool)
        .await
        .unwrap()
    }
}
