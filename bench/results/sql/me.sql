\set c random(0, 999999)
\set t random(1, 999999999999)
SELECT customer_id, balance, lifetime_points, created_at, tier, tier_kept_through FROM accounts WHERE customer_id = ANY(ARRAY[('bench-' || (:c)::text)]::text[]);
SELECT coalesce(sum(remaining), 0)::bigint FROM point_lots WHERE customer_id = ('bench-' || (:c)::text) AND remaining > 0 AND available_at > '2026-11-25T15:38:21.779659+00:00';
SELECT coalesce(sum(remaining), 0)::bigint FROM point_lots WHERE customer_id = ('bench-' || (:c)::text) AND remaining > 0 AND available_at > '2026-11-25T15:38:21.779569+00:00';
SELECT month, points FROM qualifying_points WHERE customer_id = ('bench-' || (:c)::text) AND month >= '2025-12-01';
SELECT expires_at, sum(remaining)::bigint AS points FROM ( SELECT expires_at, remaining FROM point_lots WHERE customer_id = ('bench-' || (:c)::text) AND remaining > 0 AND expires_at IS NOT NULL AND coalesce(expires_at, 'infinity'::timestamptz) > '2026-11-25T15:38:21.779984+00:00' ORDER BY coalesce(expires_at, 'infinity'::timestamptz), id LIMIT 1000 ) open GROUP BY expires_at ORDER BY expires_at LIMIT 3;
SELECT coalesce(sum(remaining), 0)::bigint FROM point_lots WHERE customer_id = ('bench-' || (:c)::text) AND remaining > 0 AND coalesce(expires_at, 'infinity'::timestamptz) <= '2026-11-25T15:38:21.779569+00:00';
