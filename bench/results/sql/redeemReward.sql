\set c random(0, 999999)
\set t random(1, 999999999999)
BEGIN;
INSERT INTO idempotency_keys (scope, key, customer_id, request_hash, result) VALUES ('reward', ('k' || (:t)::text || ''), ('bench-' || (:c)::text), '\x0151a6df92a7843af8c81f532fbd3c1897afe064e24c6252aced7ac9a36a298f', 'null'::jsonb) ON CONFLICT (scope, key) DO NOTHING RETURNING true;
SELECT id, name, description, points_cost, days_valid, active FROM rewards WHERE id = 1;
SELECT customer_id, balance, lifetime_points, created_at, tier, tier_kept_through FROM accounts WHERE customer_id = ('bench-' || (:c)::text) FOR UPDATE;
SELECT id, purchase_id, points, remaining, earned_at, available_at, expires_at, expired FROM point_lots WHERE customer_id = ('bench-' || (:c)::text) AND remaining > 0 AND expires_at <= '2026-11-25T16:28:41.409252+00:00' ORDER BY expires_at, id FOR UPDATE;
SELECT coalesce(sum(remaining), 0)::bigint FROM point_lots WHERE customer_id = ('bench-' || (:c)::text) AND remaining > 0 AND available_at > '2026-11-25T16:28:41.409252+00:00';
UPDATE accounts SET balance = balance + -10, updated_at = now() WHERE customer_id = ('bench-' || (:c)::text) RETURNING balance;
INSERT INTO ledger_entries (customer_id, kind, points, balance_after, purchase_id, rule_id, rule_version, reason, debt_allowed) SELECT ('bench-' || (:c)::text), e.kind, e.points, e.balance_after, e.purchase_id, e.rule_id, e.rule_version, e.reason, e.debt FROM unnest(ARRAY['redeem']::text[], ARRAY[-10]::bigint[], ARRAY[356]::bigint[], ARRAY[NULL]::bigint[], ARRAY[NULL]::bigint[], ARRAY['Dip']::text[], ARRAY[false]::boolean[], ARRAY[NULL]::integer[]) WITH ORDINALITY AS e(kind, points, balance_after, purchase_id, rule_id, reason, debt, rule_version, n) ORDER BY e.n RETURNING id, customer_id, kind, points, balance_after, purchase_id, rule_id, rule_version, reason, created_at
\gset r7_
SELECT id, purchase_id, points, remaining, earned_at, available_at, expires_at, expired FROM point_lots WHERE customer_id = ('bench-' || (:c)::text) AND remaining > 0 AND available_at <= '2026-11-25T16:28:41.409252+00:00' ORDER BY coalesce(expires_at, 'infinity'::timestamptz), id LIMIT 32 FOR UPDATE;
UPDATE point_lots l SET remaining = l.remaining - t.points FROM unnest(ARRAY[1001000007]::bigint[], ARRAY[10]::bigint[]) AS t(id, points) WHERE l.customer_id = ('bench-' || (:c)::text) AND l.id = t.id;
INSERT INTO vouchers (code, customer_id, reward_id, points_cost, expires_at) VALUES (('RWD' || lpad((:t)::text, 13, '0')), ('bench-' || (:c)::text), 1, 10, '2026-12-25T16:28:41.409252+00:00') RETURNING code, customer_id, reward_id, points_cost, expires_at, state;
INSERT INTO outbox (customer_id, kind, payload) SELECT ('bench-' || (:c)::text), e.kind, e.payload::jsonb FROM unnest(ARRAY['POINTS_REDEEMED', 'CODE_ISSUED']::text[], ARRAY['{"points":10,"balance":356,"rewardId":1}', '{"code":"RWD-G2SF-W1TQ-7YCV-H","kind":"VOUCHER","rewardId":1}']::text[]) WITH ORDINALITY AS e(kind, payload, n) ORDER BY e.n;
UPDATE idempotency_keys SET result = '{"code": "RWDG2SFW1TQ7YCVH", "balance": 356}' WHERE scope = 'reward' AND key = ('k' || (:t)::text || '');
SELECT code, customer_id, reward_id, points_cost, expires_at, state FROM vouchers WHERE code = ('RWD' || lpad((:t)::text, 13, '0'));
SELECT id, name, description, points_cost, days_valid, active FROM rewards WHERE id = 1;
COMMIT;
