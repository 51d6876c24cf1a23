-- Schema evolution (evolution.md): one row per event type with its compatibility mode,
-- and the ledger of replayed rejected events that makes `weir replay` exactly once.

CREATE TABLE event_types (
    event_type    text PRIMARY KEY CHECK (event_type ~ '^[a-z][a-z0-9_]{0,63}$'),
    compatibility text NOT NULL DEFAULT 'backward'
                  CHECK (compatibility IN ('none', 'backward', 'forward', 'full')),
    description   text,
    owner         text,
    -- weir schema compat --transitive: compare with every active version, not the latest
    transitive    boolean NOT NULL DEFAULT false
);

-- Every type that has versions gets its row (the default mode).
INSERT INTO event_types (event_type)
    SELECT DISTINCT event_type FROM event_schemas ON CONFLICT DO NOTHING;

-- One row per replayed line of a rejected file. batch numbers the runs that replayed
-- lines of the file (0, 1, ...): it names the replay files, so a run killed before its
-- commit writes the same names again. A line is recorded once because replays that write
-- hold an advisory lock and skip the lines already here; the index is a BRIN on the file
-- (a run records each file's rows together, in file order): a btree on (file, line)
-- tripled the cost of recording a million rows.
CREATE TABLE replayed_events (
    rejected_file text        NOT NULL,
    line          integer     NOT NULL CHECK (line >= 1),
    event_id      text        NOT NULL,
    batch         integer     NOT NULL DEFAULT 0,
    replayed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX replayed_events_file ON replayed_events USING brin (rejected_file)
    WITH (pages_per_range = 16);
