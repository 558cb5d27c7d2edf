-- Webhooks: admins register a URL for kinds of events, and each such event is queued for it by
-- the transaction that wrote the event. Outbox ids do not commit in id order across customers,
-- so a reader's "last id seen" could step over a late commit; a queue filled at write time
-- cannot miss one.

CREATE TABLE webhooks (
    id bigserial PRIMARY KEY,
    url text NOT NULL,
    event_types text[] NOT NULL CHECK (cardinality(event_types) > 0),
    -- Signs every delivery. It is needed in the clear to sign, so it is kept, not hashed;
    -- the API shows it once, at registration.
    secret text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Events waiting for one webhook, per customer. Only a customer's oldest waiting event is
-- attempted, so a customer's events arrive in order; a delivered event's row is deleted.
-- While an attempt is in flight, next_attempt_at holds its lease: a process that dies mid-way
-- leaves the event to be tried again when the lease ends.
CREATE TABLE webhook_deliveries (
    customer_id text NOT NULL,
    webhook_id bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id bigint NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    PRIMARY KEY (customer_id, webhook_id, event_id)
);

CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id);

CREATE FUNCTION queue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (customer_id, webhook_id, event_id)
    SELECT a.customer_id, w.id, a.id
    FROM added a JOIN webhooks w ON a.kind = ANY (w.event_types);
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_to_webhooks AFTER INSERT ON outbox
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION queue_webhook_deliveries();
