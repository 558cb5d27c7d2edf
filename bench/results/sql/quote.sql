\set c random(0, 999999)
\set t random(1, 999999999999)
SELECT sku, name, category, family, size_rank, price FROM products WHERE sku = ANY(ARRAY['PIZZA-042-L', 'SKU-00001', 'SKU-00002']::text[]);
SELECT customer_id, balance, lifetime_points, created_at, tier, tier_kept_through FROM accounts WHERE customer_id = ANY(ARRAY[('bench-' || (:c)::text)]::text[]);
SELECT segment FROM customer_segments WHERE customer_id = ('bench-' || (:c)::text);
SELECT rule_id, period, period_start, awards, points FROM rule_usage WHERE customer_id = ('bench-' || (:c)::text) AND period_start >= '2026-11-01';
SELECT rule_id, sum(remaining)::bigint AS remaining FROM rule_budget_slices WHERE rule_id = ANY(ARRAY[3, 12, 21, 30]::bigint[]) GROUP BY rule_id;
