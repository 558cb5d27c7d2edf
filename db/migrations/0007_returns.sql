-- Returns: what came back of a purchase, and the points that went back with it.

ALTER TABLE purchase_lines
    ADD COLUMN returned_quantity integer NOT NULL DEFAULT 0,
    ADD COLUMN reversed_points bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT purchase_lines_returned CHECK (returned_quantity BETWEEN 0 AND quantity),
    ADD CONSTRAINT purchase_lines_reversed CHECK (reversed_points BETWEEN 0 AND points);

CREATE INDEX purchases_by_transaction ON purchases (store_id, transaction_id);

CREATE TABLE returns (
    customer_id text NOT NULL,
    id bigserial NOT NULL,
    purchase_id bigint NOT NULL,
    store_id text NOT NULL,
    return_id text NOT NULL,
    amount bigint NOT NULL CHECK (amount >= 0),
    points bigint NOT NULL CHECK (points >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, id),
    FOREIGN KEY (customer_id, purchase_id) REFERENCES purchases (customer_id, id)
);

-- A thank-you code remembers the purchase and the item that earned it, so returning the item
-- withdraws the code if it is still unused.
ALTER TABLE rebate_codes
    ADD COLUMN issued_purchase_id bigint,
    ADD COLUMN issued_for_sku text;
