-- Key rotation and expiry (docs/keys.md), and the gateways that share a key's rate.
--
-- A rotated key keeps its row (name = the `source` of its events, scopes, rate, kind,
-- origins) and gets a new hash; the hash it had moves to prev_sha256 and keeps working
-- until prev_valid_until. One previous secret at a time: rotating again within the grace
-- ends the older one at once. expires_at (NULL: never) ends both secrets. Gateways read
-- the deadlines into their snapshot and compare at each request, so a key stops at its
-- deadline without waiting for a reload. These are api_keys columns: its NOTIFY trigger
-- (0001) already tells every gateway about a rotation, an update or an expiry change.

ALTER TABLE api_keys
    ADD COLUMN expires_at       timestamptz,
    ADD COLUMN rotated_at       timestamptz,
    ADD COLUMN prev_sha256      bytea UNIQUE CHECK (prev_sha256 IS NULL OR length(prev_sha256) = 32),
    ADD COLUMN prev_prefix      text,
    ADD COLUMN prev_valid_until timestamptz,
    ADD CONSTRAINT api_keys_prev_complete
        CHECK ((prev_sha256 IS NULL) = (prev_valid_until IS NULL));

-- Every running gateway, so that each enforces rate / live gateways for every key. A
-- gateway inserts its row at start, moves last_seen every heartbeat (2 s), and deletes
-- the row when it drains; a row whose last_seen is older than three heartbeats is a
-- gateway that died, and no longer counts; the live gateways remove it after a minute.
CREATE TABLE gateways (
    instance_id text        PRIMARY KEY CHECK (instance_id ~ '^[A-Za-z0-9._-]{1,64}$'),
    hostname    text        NOT NULL,
    pid         integer     NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);

-- Arrivals and departures only (not the heartbeats): each gateway recounts at once. Per
-- row, so that the periodic removal of stale rows says nothing when it removes none.
CREATE FUNCTION weir_gateways_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('weir_gateways', TG_OP);
    RETURN NULL;
END
$$;

CREATE TRIGGER gateways_notify
    AFTER INSERT OR DELETE ON gateways
    FOR EACH ROW EXECUTE FUNCTION weir_gateways_notify();
