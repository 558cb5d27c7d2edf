-- Statistics a background job refreshes, so that no purchase updates a shared row:
-- what customers buy together, how often each rule's nudges are taken, and the segments
-- customers fall into from their history.

CREATE TABLE co_purchases (
    sku text NOT NULL,
    with_sku text NOT NULL,
    purchases integer NOT NULL CHECK (purchases > 0),
    PRIMARY KEY (sku, with_sku)
);

CREATE TABLE nudge_rates (
    rule_id bigint PRIMARY KEY REFERENCES rules (id),
    shown integer NOT NULL,
    accepted integer NOT NULL CHECK (accepted <= shown)
);

CREATE TABLE customer_segments (
    customer_id text NOT NULL REFERENCES accounts (customer_id),
    segment text NOT NULL CHECK (segment IN ('mostly_returns', 'discount_only')),
    PRIMARY KEY (customer_id, segment)
);

CREATE INDEX purchases_recent ON purchases (occurred_at);
