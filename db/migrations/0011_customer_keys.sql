-- A reward redemption's idempotency key is the customer's own: two customers' apps may pick the
-- same key. Keys already stored take the customer-scoped form the service now looks up.

UPDATE idempotency_keys SET key = customer_id || E'\x1f' || key
WHERE scope = 'reward' AND position(E'\x1f' IN key) = 0;
