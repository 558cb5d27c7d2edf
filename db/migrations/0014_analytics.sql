-- Analytics reads a window of days across all customers: each fact it counts needs an index
-- on its own time, or every report scans the whole history.

CREATE INDEX nudges_shown ON nudges (shown_at);
CREATE INDEX ledger_entries_bonus ON ledger_entries (created_at) WHERE kind = 'bonus';
CREATE INDEX rebate_codes_issued ON rebate_codes (issued_at) WHERE rule_id IS NOT NULL;
CREATE INDEX rebate_codes_redeemed ON rebate_codes (redeemed_at)
    WHERE redeemed_at IS NOT NULL AND rule_id IS NOT NULL;
-- Purchases that took a nudge: the nudged side of the order value comparison.
CREATE INDEX nudges_accepted_purchase ON nudges (customer_id, purchase_id)
    WHERE outcome = 'accepted';
