-- The reward catalog, and the vouchers customers buy with their points.

CREATE TABLE rewards (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    points_cost bigint NOT NULL CHECK (points_cost > 0),
    days_valid integer NOT NULL DEFAULT 30 CHECK (days_valid BETWEEN 1 AND 366),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vouchers (
    code text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES accounts (customer_id),
    reward_id bigint NOT NULL REFERENCES rewards (id),
    points_cost bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    state text NOT NULL DEFAULT 'issued' CHECK (state IN ('issued', 'redeemed', 'revoked')),
    issued_at timestamptz NOT NULL DEFAULT now(),
    redeemed_at timestamptz,
    redeemed_store_id text
);

CREATE INDEX vouchers_customer ON vouchers (customer_id, issued_at DESC);
