-- Every change an admin makes (rules, tiers, policies, rewards, products, adjustments, codes,
-- API keys): who, when, what, and the state before and after. Rows are never changed: a later
-- migration that truly must rewrite them (redacting, say) runs
-- ALTER TABLE admin_changes DISABLE TRIGGER admin_changes_are_kept, its statements, and
-- ENABLE TRIGGER again, all in its own transaction.

CREATE TABLE admin_changes (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    actor_key_id bigint REFERENCES api_keys (id),
    action text NOT NULL,
    subject_kind text NOT NULL,
    subject_id text NOT NULL DEFAULT '',
    before jsonb,
    after jsonb
);

CREATE INDEX admin_changes_subject ON admin_changes (subject_kind, subject_id, id);

CREATE FUNCTION admin_changes_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'admin_changes is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER admin_changes_are_kept
    BEFORE UPDATE OR DELETE OR TRUNCATE ON admin_changes
    FOR EACH STATEMENT EXECUTE FUNCTION admin_changes_are_kept();
