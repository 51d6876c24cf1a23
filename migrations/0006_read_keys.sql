-- Read keys (shared/spec/console.md): a third kind, for `weir console` only. The ingest
-- endpoints refuse them (403) and the console refuses every other kind. Like the other
-- kinds, only the key's SHA-256 is stored; event_types limits what it may read.

ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_kind_check;
ALTER TABLE api_keys
    ADD CONSTRAINT api_keys_kind_check CHECK (kind IN ('secret', 'publishable', 'read'));
ALTER TABLE api_keys DROP CONSTRAINT api_keys_publishable_origins;
ALTER TABLE api_keys
    ADD CONSTRAINT api_keys_publishable_origins
        CHECK (kind <> 'publishable' OR cardinality(origins) > 0);
