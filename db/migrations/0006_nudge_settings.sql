-- Guardrails an admin may tune: how large an add-on may be next to the cart, and how small
-- a spend gap must be before a customer is nudged to close it.

ALTER TABLE program
    ADD COLUMN nudge_add_on_max_percent integer NOT NULL DEFAULT 10
        CHECK (nudge_add_on_max_percent BETWEEN 1 AND 100),
    ADD COLUMN nudge_gap_max_percent integer NOT NULL DEFAULT 15
        CHECK (nudge_gap_max_percent BETWEEN 1 AND 100);
