-- The curation worker: one row per (event_type, dt) day of the raw zone with the
-- fingerprint of its closed raw files, what was last curated, and the lease of the
-- worker on it; and the hourly rollups of the curated days.

CREATE TABLE curation_state (
    event_type          text        NOT NULL,
    dt                  date        NOT NULL,
    fingerprint         text        NOT NULL,  -- SHA-256 of the closed raw files' keys and sizes
    raw_bytes           bigint      NOT NULL DEFAULT 0, -- their compressed size: big days are claimed first
    curated_fingerprint text,                  -- the fingerprint of the last curation (NULL: never)
    lease_owner         text,                  -- worker holding the day, or NULL
    lease_until         timestamptz,           -- lease (or retry back-off) ends; NULL: free
    attempts            integer     NOT NULL DEFAULT 0,
    last_error          text,
    parts               integer,
    rows_written        bigint,
    curated_at          timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_type, dt)
);

CREATE INDEX curation_state_todo ON curation_state (dt, event_type)
    WHERE curated_fingerprint IS DISTINCT FROM fingerprint;

-- events = valid raw lines of (event_type, dt, hr, source); duplicates = those dropped by
-- dedup; distinct_event_ids = those kept (events = duplicates + distinct_event_ids);
-- invalid_lines = lines that are not a usable envelope (source '' when unreadable);
-- bad_files = raw files of the hour that are not valid gzip (on the source '' row).
CREATE TABLE curated_rollups_hourly (
    event_type          text        NOT NULL,
    dt                  date        NOT NULL,
    hr                  smallint    NOT NULL CHECK (hr BETWEEN 0 AND 23),
    source              text        NOT NULL,
    events              bigint      NOT NULL,
    duplicates          bigint      NOT NULL,
    distinct_event_ids  bigint      NOT NULL,
    invalid_lines       bigint      NOT NULL DEFAULT 0,
    bad_files           bigint      NOT NULL DEFAULT 0,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_type, dt, hr, source)
);
