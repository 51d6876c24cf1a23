-- The schema registry and the API keys, with a NOTIFY on every change so gateways
-- reload at once instead of waiting for their cache TTL.

CREATE TABLE event_schemas (
    event_type  text        NOT NULL CHECK (event_type ~ '^[a-z][a-z0-9_]{0,63}$'),
    version     integer     NOT NULL CHECK (version >= 1),
    schema      jsonb       NOT NULL CHECK (jsonb_typeof(schema) IN ('object', 'boolean')),
    active      boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_type, version)
);

CREATE TABLE api_keys (
    name         text        PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    key_sha256   bytea       NOT NULL UNIQUE CHECK (length(key_sha256) = 32),
    key_prefix   text        NOT NULL,          -- the first characters, to recognise a key
    event_types  text[]      NOT NULL DEFAULT '{}',  -- empty: every event type
    rate_limit   integer     CHECK (rate_limit IS NULL OR rate_limit > 0), -- events/s; NULL: none
    revoked      boolean     NOT NULL DEFAULT false,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION weir_registry_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('weir_registry', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER event_schemas_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON event_schemas
    FOR EACH STATEMENT EXECUTE FUNCTION weir_registry_notify();

CREATE TRIGGER api_keys_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION weir_registry_notify();
