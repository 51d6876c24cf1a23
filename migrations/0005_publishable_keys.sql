-- Publishable (browser) keys (shared/spec/browser.md): a kind, the page origins allowed to
-- use the key, whether a request must name its origin, and a per-client-address rate.
-- Secret keys keep the defaults and behave as before.

ALTER TABLE api_keys
    ADD COLUMN kind           text    NOT NULL DEFAULT 'secret'
                                      CHECK (kind IN ('secret', 'publishable')),
    ADD COLUMN origins        text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN require_origin boolean NOT NULL DEFAULT false,
    ADD COLUMN ip_rate        integer NOT NULL DEFAULT 0 CHECK (ip_rate >= 0), -- events/s per client address; 0: none
    ADD CONSTRAINT api_keys_publishable_origins
        CHECK (kind = 'secret' OR cardinality(origins) > 0);
