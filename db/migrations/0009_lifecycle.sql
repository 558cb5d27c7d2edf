-- The points lifecycle: tiers, lots that mature and expire, and an outbox of events.

ALTER TABLE program
    ADD COLUMN tier_window text NOT NULL DEFAULT 'rolling_12_months'
        CHECK (tier_window IN ('rolling_12_months', 'calendar_year')),
    ADD COLUMN tier_grace_days integer NOT NULL DEFAULT 30
        CHECK (tier_grace_days BETWEEN 0 AND 366),
    -- NULL: points never expire.
    ADD COLUMN expiry_months integer CHECK (expiry_months BETWEEN 1 AND 120),
    -- The return window: points of a purchase are spendable this many days later (0: at once).
    ADD COLUMN pending_days integer NOT NULL DEFAULT 0 CHECK (pending_days BETWEEN 0 AND 365);

CREATE TABLE tiers (
    name text PRIMARY KEY,
    qualifying_points bigint NOT NULL UNIQUE CHECK (qualifying_points >= 0),
    multiplier_percent integer NOT NULL CHECK (multiplier_percent BETWEEN 100 AND 1000),
    benefits text NOT NULL DEFAULT ''
);

-- The tier a customer holds, and the last local day it is kept without qualifying again.
ALTER TABLE accounts
    ADD COLUMN tier text,
    ADD COLUMN tier_kept_through date;

CREATE INDEX accounts_tier_review ON accounts (tier_kept_through)
    WHERE tier_kept_through IS NOT NULL;

-- Qualifying points per customer and local month: a tier window reads at most 24 rows.
CREATE TABLE qualifying_points (
    customer_id text NOT NULL REFERENCES accounts (customer_id),
    month date NOT NULL,
    points bigint NOT NULL CHECK (points >= 0),
    PRIMARY KEY (customer_id, month)
);

INSERT INTO qualifying_points (customer_id, month, points)
SELECT p.customer_id,
       date_trunc('month', p.occurred_at AT TIME ZONE coalesce(g.timezone, 'UTC'))::date,
       sum(p.points - coalesce(l.reversed, 0))
FROM purchases p
LEFT JOIN program g ON g.id = 1
LEFT JOIN (
    SELECT customer_id, purchase_id, sum(reversed_points) AS reversed
    FROM purchase_lines GROUP BY customer_id, purchase_id
) l ON l.customer_id = p.customer_id AND l.purchase_id = p.id
GROUP BY 1, 2
HAVING sum(p.points - coalesce(l.reversed, 0)) > 0;

-- Points earned together, with when they become spendable and when they expire.
-- Spending takes from the lots that expire first; the open lots add up to the balance
-- whenever it is not negative.
CREATE TABLE point_lots (
    customer_id text NOT NULL REFERENCES accounts (customer_id),
    id bigserial NOT NULL,
    purchase_id bigint,
    points bigint NOT NULL CHECK (points > 0),
    remaining bigint NOT NULL,
    earned_at timestamptz NOT NULL,
    available_at timestamptz NOT NULL,
    expires_at timestamptz,
    -- Points this lot lost to expiry that no return has accounted for yet: a return of the
    -- purchase does not take them a second time.
    expired bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, id),
    CHECK (remaining BETWEEN 0 AND points),
    CHECK (expired BETWEEN 0 AND points),
    FOREIGN KEY (customer_id, purchase_id) REFERENCES purchases (customer_id, id)
);

CREATE INDEX point_lots_open ON point_lots
    (customer_id, coalesce(expires_at, 'infinity'::timestamptz), id) WHERE remaining > 0;
CREATE INDEX point_lots_maturing ON point_lots (customer_id, available_at) WHERE remaining > 0;
CREATE INDEX point_lots_due ON point_lots (expires_at) WHERE remaining > 0;
CREATE INDEX point_lots_purchase ON point_lots (customer_id, purchase_id)
    WHERE purchase_id IS NOT NULL;

-- Balances from before lots existed: spendable now, and kept until spent.
INSERT INTO point_lots (customer_id, points, remaining, earned_at, available_at, expires_at)
SELECT customer_id, balance, balance, now(), now(), NULL FROM accounts WHERE balance > 0;

-- Every change a client cares about, written in the transaction that made it.
CREATE TABLE outbox (
    customer_id text NOT NULL,
    id bigserial NOT NULL,
    kind text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, id)
);

CREATE INDEX outbox_order ON outbox (id);
