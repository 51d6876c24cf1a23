-- Fencing of curation writes by the lease. Every claim of a day takes the next generation;
-- the Parquet parts a run writes carry it in their names (curated/events/.../part-<g><nnnnn>),
-- so a worker whose lease expired can't overwrite the parts of the worker that now owns
-- the day. Only the generation that commits (lease still held, checked in the commit's
-- transaction) is kept: curated_generation names it, and the older parts are then deleted.
ALTER TABLE curation_state ADD COLUMN generation bigint NOT NULL DEFAULT 0;
ALTER TABLE curation_state ADD COLUMN curated_generation bigint;
