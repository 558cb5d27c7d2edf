-- The foundation: catalog, rules, API keys, accounts, the ledger, purchases and idempotency.
-- Every customer-owned table leads with customer_id so it can be distributed by customer.

CREATE TABLE program (
    id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    name text NOT NULL,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    timezone text NOT NULL
);

CREATE TABLE products (
    sku text PRIMARY KEY,
    name text NOT NULL,
    category text NOT NULL,
    family text,
    size_rank integer CHECK (size_rank >= 0),
    price bigint NOT NULL CHECK (price >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX products_family ON products (family, size_rank) WHERE family IS NOT NULL;

CREATE TABLE rules (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,
    name text NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    priority integer NOT NULL DEFAULT 0,
    config jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id bigserial PRIMARY KEY,
    prefix text NOT NULL UNIQUE,
    secret_hash bytea NOT NULL,
    role text NOT NULL CHECK (role IN ('pos', 'admin')),
    store_id text,
    label text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE TABLE accounts (
    customer_id text PRIMARY KEY,
    balance bigint NOT NULL DEFAULT 0,
    lifetime_points bigint NOT NULL DEFAULT 0 CHECK (lifetime_points >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE purchases (
    customer_id text NOT NULL REFERENCES accounts (customer_id),
    id bigserial NOT NULL,
    store_id text NOT NULL,
    transaction_id text NOT NULL,
    channel text NOT NULL,
    occurred_at timestamptz NOT NULL,
    subtotal bigint NOT NULL CHECK (subtotal >= 0),
    points bigint NOT NULL CHECK (points >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, id)
);

CREATE TABLE purchase_lines (
    customer_id text NOT NULL,
    purchase_id bigint NOT NULL,
    line_no integer NOT NULL,
    sku text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price bigint NOT NULL CHECK (unit_price >= 0),
    known boolean NOT NULL,
    points bigint NOT NULL CHECK (points >= 0),
    PRIMARY KEY (customer_id, purchase_id, line_no),
    FOREIGN KEY (customer_id, purchase_id) REFERENCES purchases (customer_id, id)
);

CREATE TABLE ledger_entries (
    customer_id text NOT NULL REFERENCES accounts (customer_id),
    id bigserial NOT NULL,
    kind text NOT NULL
        CHECK (kind IN ('earn', 'bonus', 'redeem', 'adjust', 'expire', 'reverse')),
    points bigint NOT NULL CHECK (points <> 0),
    balance_after bigint NOT NULL,
    purchase_id bigint,
    rule_id bigint REFERENCES rules (id),
    reason text NOT NULL DEFAULT '',
    debt_allowed boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, id),
    FOREIGN KEY (customer_id, purchase_id) REFERENCES purchases (customer_id, id)
);

-- One row per retried write: the request's fingerprint and the result it produced,
-- so a replay returns the original answer and a reused key with other content is refused.
CREATE TABLE idempotency_keys (
    scope text NOT NULL,
    key text NOT NULL,
    customer_id text NOT NULL,
    request_hash bytea NOT NULL,
    result jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
