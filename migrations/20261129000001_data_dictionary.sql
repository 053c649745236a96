-- The original Django backend's data dictionary (API.md §8), bigint ids throughout.
-- Table names avoid SQL keywords: "users" for user, "orders" for order.

CREATE TABLE users (
    id              bigserial PRIMARY KEY,
    password        varchar(128) NOT NULL,
    last_login      timestamptz,
    is_superuser    boolean NOT NULL DEFAULT false,
    username        varchar(150) NOT NULL,
    first_name      varchar(150) NOT NULL DEFAULT '',
    last_name       varchar(150) NOT NULL DEFAULT '',
    email           varchar(254) NOT NULL DEFAULT '',
    is_staff        boolean NOT NULL DEFAULT false,
    is_active       boolean NOT NULL DEFAULT true,
    date_joined     timestamptz NOT NULL DEFAULT now(),
    phone_number    varchar(15),
    firebase_uid    varchar(128),
    role            varchar(10) NOT NULL DEFAULT 'user'
                    CHECK (role IN ('user', 'staff', 'admin', 'customer')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_phone_number_key UNIQUE (phone_number),
    CONSTRAINT users_firebase_uid_key UNIQUE (firebase_uid)
);
CREATE INDEX users_role_idx ON users (role);
CREATE INDEX users_email_lower_idx ON users (lower(email)) WHERE email <> '';

CREATE TABLE package (
    id              bigserial PRIMARY KEY,
    name            varchar(200) NOT NULL,
    price           numeric(10, 2) NOT NULL CHECK (price > 0),
    description     text NOT NULL,
    features        jsonb NOT NULL DEFAULT '[]',
    deliverables    jsonb NOT NULL DEFAULT '[]',
    is_active       boolean NOT NULL DEFAULT true,
    is_popular      boolean NOT NULL DEFAULT false,
    popular_order   integer NOT NULL DEFAULT 0,
    created_by_id   bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX package_name_key ON package (lower(name));

CREATE TABLE package_item (
    id              bigserial PRIMARY KEY,
    package_id      bigint NOT NULL REFERENCES package (id) ON DELETE CASCADE,
    name            varchar(200) NOT NULL,
    quantity        integer NOT NULL DEFAULT 1
);
CREATE INDEX package_item_package_idx ON package_item (package_id, id);

CREATE TABLE campaign (
    id              bigserial PRIMARY KEY,
    name            varchar(200) NOT NULL,
    price           numeric(10, 2) NOT NULL CHECK (price > 0),
    description     text NOT NULL,
    features        jsonb NOT NULL DEFAULT '[]',
    deliverables    jsonb NOT NULL DEFAULT '[]',
    unit            varchar(50) NOT NULL DEFAULT '',
    is_active       boolean NOT NULL DEFAULT true,
    is_popular      boolean NOT NULL DEFAULT false,
    popular_order   integer NOT NULL DEFAULT 0,
    created_by_id   bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX campaign_name_key ON campaign (lower(name));

CREATE TABLE product_audit_log (
    id              bigserial PRIMARY KEY,
    product_type    varchar(20) NOT NULL CHECK (product_type IN ('package', 'campaign')),
    product_id      bigint NOT NULL,
    action          varchar(20) NOT NULL,
    user_id         bigint REFERENCES users (id) ON DELETE SET NULL,
    "timestamp"     timestamptz NOT NULL DEFAULT now(),
    changes         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX product_audit_log_product_idx ON product_audit_log (product_type, product_id, "timestamp" DESC);

CREATE TABLE resource_field_definition (
    id                  bigserial PRIMARY KEY,
    product_type        varchar(20) NOT NULL CHECK (product_type IN ('package', 'campaign')),
    product_id          bigint NOT NULL,
    field_name          varchar(100) NOT NULL,
    field_type          varchar(20) NOT NULL
                        CHECK (field_type IN ('image', 'text', 'number', 'document', 'phone', 'date')),
    is_required         boolean NOT NULL DEFAULT true,
    "order"             integer NOT NULL DEFAULT 0,
    help_text           varchar(200) NOT NULL DEFAULT '',
    max_file_size_mb    integer,
    max_length          integer,
    min_value           integer,
    max_value           integer,
    allowed_extensions  jsonb NOT NULL DEFAULT '[]',
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT resource_field_definition_product_name_key UNIQUE (product_type, product_id, field_name)
);

CREATE TABLE checklist_template_item (
    id                          bigserial PRIMARY KEY,
    product_type                varchar(20) NOT NULL CHECK (product_type IN ('package', 'campaign')),
    product_id                  bigint NOT NULL,
    name                        varchar(200) NOT NULL,
    description                 text NOT NULL DEFAULT '',
    "order"                     integer NOT NULL DEFAULT 0,
    is_optional                 boolean NOT NULL DEFAULT false,
    estimated_duration_minutes  integer,
    created_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checklist_template_item_product_idx ON checklist_template_item (product_type, product_id, "order");

CREATE TABLE product_image (
    id              bigserial PRIMARY KEY,
    product_type    varchar(20) NOT NULL CHECK (product_type IN ('package', 'campaign')),
    product_id      bigint NOT NULL,
    image           varchar(500) NOT NULL,
    thumbnail       varchar(500),
    is_primary      boolean NOT NULL DEFAULT false,
    "order"         integer NOT NULL DEFAULT 0,
    alt_text        varchar(200) NOT NULL DEFAULT '',
    uploaded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX product_image_product_idx ON product_image (product_type, product_id, "order");
CREATE UNIQUE INDEX product_image_one_primary ON product_image (product_type, product_id) WHERE is_primary;

CREATE TABLE cart (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cart_user_key UNIQUE (user_id)
);

CREATE TABLE cart_item (
    id              bigserial PRIMARY KEY,
    cart_id         bigint NOT NULL REFERENCES cart (id) ON DELETE CASCADE,
    product_type    varchar(20) NOT NULL CHECK (product_type IN ('package', 'campaign')),
    product_id      bigint NOT NULL,
    quantity        integer NOT NULL DEFAULT 1 CHECK (quantity >= 1),
    added_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cart_item_product_key UNIQUE (cart_id, product_type, product_id)
);

CREATE TABLE orders (
    id                      bigserial PRIMARY KEY,
    user_id                 bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    order_number            varchar(50) NOT NULL,
    total_amount            numeric(10, 2) NOT NULL,
    status                  varchar(30) NOT NULL DEFAULT 'pending_payment',
    razorpay_order_id       varchar(100) NOT NULL DEFAULT '',
    razorpay_payment_id     varchar(100),
    razorpay_signature      varchar(255),
    payment_completed_at    timestamptz,
    assigned_to_id          bigint REFERENCES users (id) ON DELETE SET NULL,
    is_manual_order         boolean NOT NULL DEFAULT false,
    order_source            varchar(20) NOT NULL DEFAULT 'website',
    created_by_id           bigint REFERENCES users (id) ON DELETE SET NULL,
    payment_reference       varchar(100) NOT NULL DEFAULT '',
    payment_status          varchar(20) NOT NULL DEFAULT 'unpaid',
    priority                varchar(10) NOT NULL DEFAULT 'normal',
    admin_notes             text NOT NULL DEFAULT '',
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_order_number_key UNIQUE (order_number)
);
CREATE INDEX orders_user_idx ON orders (user_id, created_at DESC);
CREATE INDEX orders_assigned_idx ON orders (assigned_to_id);
CREATE INDEX orders_status_idx ON orders (status);
CREATE INDEX orders_razorpay_order_idx ON orders (razorpay_order_id) WHERE razorpay_order_id <> '';

CREATE TABLE order_item (
    id                  bigserial PRIMARY KEY,
    order_id            bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_type        varchar(20) NOT NULL CHECK (product_type IN ('package', 'campaign')),
    product_id          bigint NOT NULL,
    quantity            integer NOT NULL DEFAULT 1,
    price               numeric(10, 2) NOT NULL,
    resources_uploaded  boolean NOT NULL DEFAULT false
);
CREATE INDEX order_item_order_idx ON order_item (order_id);
CREATE INDEX order_item_product_idx ON order_item (product_type, product_id);

CREATE TABLE order_resource (
    id                  bigserial PRIMARY KEY,
    order_item_id       bigint NOT NULL REFERENCES order_item (id) ON DELETE CASCADE,
    candidate_photo     varchar(500) NOT NULL DEFAULT '',
    party_logo          varchar(500) NOT NULL DEFAULT '',
    campaign_slogan     text NOT NULL DEFAULT '',
    preferred_date      date,
    whatsapp_number     varchar(15) NOT NULL DEFAULT '',
    additional_notes    text NOT NULL DEFAULT '',
    uploaded_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT order_resource_item_key UNIQUE (order_item_id)
);

CREATE TABLE dynamic_resource_submission (
    id                      bigserial PRIMARY KEY,
    order_item_id           bigint NOT NULL REFERENCES order_item (id) ON DELETE CASCADE,
    field_definition_id     bigint NOT NULL REFERENCES resource_field_definition (id) ON DELETE RESTRICT,
    text_value              text,
    number_value            integer,
    file_value              varchar(500),
    uploaded_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dynamic_resource_submission_item_field_key UNIQUE (order_item_id, field_definition_id)
);

CREATE TABLE order_checklist (
    id              bigserial PRIMARY KEY,
    order_id        bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT order_checklist_order_key UNIQUE (order_id)
);

CREATE TABLE checklist_item (
    id                  bigserial PRIMARY KEY,
    checklist_id        bigint NOT NULL REFERENCES order_checklist (id) ON DELETE CASCADE,
    template_item_id    bigint REFERENCES checklist_template_item (id) ON DELETE RESTRICT,
    description         varchar(500) NOT NULL,
    completed           boolean NOT NULL DEFAULT false,
    completed_at        timestamptz,
    completed_by_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    order_index         integer NOT NULL DEFAULT 0,
    is_optional         boolean NOT NULL DEFAULT false
);
CREATE INDEX checklist_item_checklist_idx ON checklist_item (checklist_id, order_index);

CREATE TABLE payment_history (
    id                      bigserial PRIMARY KEY,
    order_id                bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    payment_method          varchar(50) NOT NULL,
    transaction_id          varchar(200) NOT NULL DEFAULT '',
    amount                  numeric(10, 2) NOT NULL,
    currency                varchar(3) NOT NULL DEFAULT 'INR',
    status                  varchar(20) NOT NULL DEFAULT 'pending',
    payment_date            timestamptz NOT NULL DEFAULT now(),
    invoice_generated_at    timestamptz,
    invoice_number          varchar(50) NOT NULL,
    metadata                jsonb NOT NULL DEFAULT '{}',
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payment_history_order_key UNIQUE (order_id),
    CONSTRAINT payment_history_invoice_number_key UNIQUE (invoice_number)
);

CREATE TABLE payment_record (
    id                  bigserial PRIMARY KEY,
    order_id            bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    amount              numeric(10, 2) NOT NULL,
    payment_method      varchar(20) NOT NULL,
    payment_reference   varchar(100) NOT NULL DEFAULT '',
    payment_proof       varchar(500),
    recorded_by_id      bigint REFERENCES users (id) ON DELETE SET NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    notes               text NOT NULL DEFAULT ''
);
CREATE INDEX payment_record_order_idx ON payment_record (order_id, recorded_at DESC);

CREATE TABLE order_status_history (
    id                  bigserial PRIMARY KEY,
    order_id            bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    old_status          varchar(30) NOT NULL DEFAULT '',
    new_status          varchar(30) NOT NULL,
    changed_by_id       bigint REFERENCES users (id) ON DELETE SET NULL,
    changed_at          timestamptz NOT NULL DEFAULT now(),
    reason              text NOT NULL DEFAULT '',
    is_manual_change    boolean NOT NULL DEFAULT false
);
CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, changed_at DESC);

CREATE TABLE notification (
    id                  bigserial PRIMARY KEY,
    user_id             bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    notification_type   varchar(20) NOT NULL,
    title               varchar(200) NOT NULL,
    message             text NOT NULL,
    order_id            bigint REFERENCES orders (id) ON DELETE CASCADE,
    is_read             boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_user_idx ON notification (user_id, created_at DESC);
