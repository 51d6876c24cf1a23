-- User-defined rollups (shared/spec/console.md "Rollup definitions"): a definition per row,
-- computed by `weir curate` for each day it curates into rollup_values (replaced per day).
-- dimensions: field references ("payload.path", "context.country", "source");
-- metrics: [{"count": "*"}, {"count_distinct": "payload.anonymous_id"}, {"sum": FIELD}, ...].

CREATE TABLE rollups (
    name       text    PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
    event_type text    NOT NULL,
    grain      text    NOT NULL CHECK (grain IN ('hour', 'day')),
    dimensions text[]  NOT NULL,
    metrics    jsonb   NOT NULL,
    active     boolean NOT NULL DEFAULT true
);

CREATE INDEX rollups_event_type ON rollups (event_type) WHERE active;

-- One row per (rollup, bucket start, dimension values). dimensions is an object keyed by
-- the definition's field references ({"payload.path": "/", "context.country": "SE"});
-- metrics an object keyed "count" for {"count": "*"}, else "FUNCTION(FIELD)".
CREATE TABLE rollup_values (
    name       text        NOT NULL REFERENCES rollups (name) ON DELETE CASCADE,
    bucket     timestamptz NOT NULL,
    dimensions jsonb       NOT NULL,
    metrics    jsonb       NOT NULL
);

CREATE INDEX rollup_values_name_bucket ON rollup_values (name, bucket);
