-- Nudges shown to customers (impressions) and what became of them: accepted by a purchase
-- that really made the change, or declined by one that did not.

CREATE TABLE nudges (
    customer_id text NOT NULL REFERENCES accounts (customer_id),
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    rule_id bigint NOT NULL REFERENCES rules (id),
    rule_version integer NOT NULL,
    kind text NOT NULL,
    add_sku text NOT NULL,
    replace_sku text,
    quantity integer NOT NULL CHECK (quantity > 0),
    extra_cost bigint NOT NULL CHECK (extra_cost >= 0),
    points bigint NOT NULL CHECK (points > 0),
    message text NOT NULL,
    store_id text NOT NULL,
    channel text NOT NULL,
    shown_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    outcome text CHECK (outcome IN ('accepted', 'declined')),
    decided_at timestamptz,
    purchase_id bigint,
    PRIMARY KEY (customer_id, id)
);

CREATE INDEX nudges_recent ON nudges (customer_id, shown_at DESC);
-- A purchase settles only the customer's unanswered nudges: a handful, whatever the history.
CREATE INDEX nudges_open ON nudges (customer_id, expires_at) WHERE outcome IS NULL;
CREATE INDEX nudges_by_rule ON nudges (rule_id, shown_at);

-- Suggestions look for the cheapest products of a category, or above a price.
CREATE INDEX products_by_category_price ON products (category, price);
CREATE INDEX products_by_price ON products (price);
