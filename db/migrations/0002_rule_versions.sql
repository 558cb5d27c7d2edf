-- Rules become versioned: the rules row is the rule's identity and current state, every change
-- adds a row to rule_versions, and a ledger entry records the version that paid it.

ALTER TABLE rules
    ADD COLUMN version integer NOT NULL DEFAULT 1,
    ADD COLUMN exclusive boolean NOT NULL DEFAULT false,
    ADD COLUMN message text NOT NULL DEFAULT '',
    ADD COLUMN spec jsonb,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

UPDATE rules
SET spec = jsonb_build_object('baseEarn', jsonb_strip_nulls(jsonb_build_object(
    'mode', config -> 'mode',
    'points', config -> 'points',
    'unit', config -> 'unit',
    'minSubtotal', config -> 'min_subtotal')))
WHERE kind = 'BASE_EARN';

UPDATE rules SET spec = '{}'::jsonb WHERE spec IS NULL;

ALTER TABLE rules
    ALTER COLUMN spec SET NOT NULL,
    DROP COLUMN config,
    ADD CONSTRAINT rules_kind CHECK (
        kind IN ('BASE_EARN', 'UPSIZE', 'ADD_ON', 'SPEND_THRESHOLD', 'BUNDLE', 'PRODUCT_BONUS'));

CREATE TABLE rule_versions (
    rule_id bigint NOT NULL REFERENCES rules (id),
    version integer NOT NULL,
    kind text NOT NULL,
    name text NOT NULL,
    priority integer NOT NULL,
    exclusive boolean NOT NULL,
    message text NOT NULL,
    spec jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, version)
);

INSERT INTO rule_versions (rule_id, version, kind, name, priority, exclusive, message, spec)
SELECT id, version, kind, name, priority, exclusive, message, spec FROM rules;

ALTER TABLE ledger_entries ADD COLUMN rule_version integer;
UPDATE ledger_entries SET rule_version = 1 WHERE rule_id IS NOT NULL;
ALTER TABLE ledger_entries
    ADD CONSTRAINT ledger_entries_rule_version
        FOREIGN KEY (rule_id, rule_version) REFERENCES rule_versions (rule_id, version),
    ADD CONSTRAINT ledger_entries_rule_has_version
        CHECK ((rule_id IS NULL) = (rule_version IS NULL));

-- What each capped rule has paid a customer in a period (day, week or month, local time).
-- It is the customer's own row, written under the account lock: no shared hot row.
CREATE TABLE rule_usage (
    customer_id text NOT NULL REFERENCES accounts (customer_id),
    rule_id bigint NOT NULL REFERENCES rules (id),
    period text NOT NULL CHECK (period IN ('day', 'week', 'month')),
    period_start date NOT NULL,
    awards integer NOT NULL CHECK (awards >= 0),
    points bigint NOT NULL CHECK (points >= 0),
    PRIMARY KEY (customer_id, rule_id, period, period_start)
);

-- A rule's points budget, split into slices so concurrent purchases lock different rows.
-- granted - remaining is what a slice has paid out, so the budget can be changed later
-- without ever paying more than the new total.
CREATE TABLE rule_budget_slices (
    rule_id bigint NOT NULL REFERENCES rules (id),
    slice smallint NOT NULL,
    granted bigint NOT NULL,
    remaining bigint NOT NULL CHECK (remaining >= 0 AND remaining <= granted),
    PRIMARY KEY (rule_id, slice)
);
