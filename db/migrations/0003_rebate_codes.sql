-- Rebate codes: thank-you codes for a later purchase (and, later, reward vouchers).
-- A code is issued to a customer; bound codes may only be redeemed by that customer.
-- "expired" is not a stored state: a code is expired when expires_at has passed.

CREATE TABLE rebate_codes (
    code text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES accounts (customer_id),
    bound boolean NOT NULL,
    amount_off bigint CHECK (amount_off > 0),
    percent_off integer CHECK (percent_off BETWEEN 1 AND 100),
    min_spend bigint NOT NULL DEFAULT 0 CHECK (min_spend >= 0),
    expires_at timestamptz NOT NULL,
    state text NOT NULL DEFAULT 'issued' CHECK (state IN ('issued', 'redeemed', 'revoked')),
    rule_id bigint REFERENCES rules (id),
    issued_at timestamptz NOT NULL DEFAULT now(),
    redeemed_at timestamptz,
    redeemed_by text,
    redeemed_purchase_id bigint,
    discount bigint CHECK (discount >= 0),
    CHECK ((amount_off IS NULL) <> (percent_off IS NULL)),
    CHECK ((state = 'redeemed') = (redeemed_at IS NOT NULL))
);

CREATE INDEX rebate_codes_customer ON rebate_codes (customer_id, issued_at DESC);

ALTER TABLE purchases
    ADD COLUMN discount bigint NOT NULL DEFAULT 0 CHECK (discount >= 0),
    ADD COLUMN rebate_code text REFERENCES rebate_codes (code);
