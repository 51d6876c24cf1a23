-- weir catalog --engine trino: one table per event type and zone; new days are visible at once.
-- Run in a schema of a Hive connector catalog (hive.partition-projection-enabled=true).

CREATE TABLE IF NOT EXISTS "api_metric" (
  "event_id" varchar,
  "schema_version" bigint,
  "occurred_at" timestamp(3),
  "received_at" timestamp(3),
  "source" varchar,
  "context_ip" varchar,
  "context_browser" varchar,
  "context_os" varchar,
  "context_device" varchar,
  "context_bot" boolean,
  "context_country" varchar,
  "context_city" varchar,
  "tags" varchar,
  "route" varchar,
  "method" varchar,
  "region" varchar,
  "status" bigint,
  "service" varchar,
  "cache_hit" boolean,
  "client_ip" varchar,
  "duration_ms" double,
  "request_bytes" bigint,
  "response_bytes" bigint,
  "dt" varchar WITH (partition_projection_type = 'DATE', partition_projection_format = 'yyyy-MM-dd',
    partition_projection_range = ARRAY['TODAY', 'NOW'], partition_projection_interval = 1,
    partition_projection_interval_unit = 'DAYS')
) WITH (
  format = 'PARQUET',
  external_location = 'file://LAKE/curated/events/event_type=api_metric/',
  partitioned_by = ARRAY['dt'],
  partition_projection_enabled = true,
  partition_projection_location_template = 'file://LAKE/curated/events/event_type=api_metric/dt=${dt}/'
);

CREATE TABLE IF NOT EXISTS "api_metric_raw" (
  "event_type" varchar,
  "schema_version" bigint,
  "event_id" varchar,
  "occurred_at" varchar,
  "received_at" varchar,
  "source" varchar,
  "replayed_at" varchar,
  "payload" row(tags varchar, route varchar, method varchar, region varchar, status bigint, service varchar, cache_hit boolean, client_ip varchar, duration_ms double, request_bytes bigint, response_bytes bigint),
  "context" row(ip varchar, user_agent varchar, origin varchar, ua row(browser varchar, browser_version varchar, os varchar, os_version varchar, device varchar, bot boolean), geo row(country varchar, region varchar, city varchar, lat double, lon double)),
  "dt" varchar WITH (partition_projection_type = 'DATE', partition_projection_format = 'yyyy-MM-dd',
    partition_projection_range = ARRAY['TODAY', 'NOW'], partition_projection_interval = 1,
    partition_projection_interval_unit = 'DAYS'),
  "hr" varchar WITH (partition_projection_type = 'INTEGER', partition_projection_range = ARRAY['0', '23'],
    partition_projection_digits = 2)
) WITH (
  format = 'JSON',
  external_location = 'file://LAKE/raw/event_type=api_metric/',
  partitioned_by = ARRAY['dt', 'hr'],
  partition_projection_enabled = true,
  partition_projection_location_template = 'file://LAKE/raw/event_type=api_metric/dt=${dt}/hr=${hr}/'
);

CREATE TABLE IF NOT EXISTS "frontend_error" (
  "event_id" varchar,
  "schema_version" bigint,
  "occurred_at" timestamp(3),
  "received_at" timestamp(3),
  "source" varchar,
  "context_ip" varchar,
  "context_browser" varchar,
  "context_os" varchar,
  "context_device" varchar,
  "context_bot" boolean,
  "context_country" varchar,
  "context_city" varchar,
  "os" varchar,
  "url" varchar,
  "stack" varchar,
  "browser" varchar,
  "handled" boolean,
  "message" varchar,
  "release" varchar,
  "user_id" bigint,
  "error_type" varchar,
  "occurred_in" varchar,
  "dt" varchar WITH (partition_projection_type = 'DATE', partition_projection_format = 'yyyy-MM-dd',
    partition_projection_range = ARRAY['TODAY', 'NOW'], partition_projection_interval = 1,
    partition_projection_interval_unit = 'DAYS')
) WITH (
  format = 'PARQUET',
  external_location = 'file://LAKE/curated/events/event_type=frontend_error/',
  partitioned_by = ARRAY['dt'],
  partition_projection_enabled = true,
  partition_projection_location_template = 'file://LAKE/curated/events/event_type=frontend_error/dt=${dt}/'
);

CREATE TABLE IF NOT EXISTS "frontend_error_raw" (
  "event_type" varchar,
  "schema_version" bigint,
  "event_id" varchar,
  "occurred_at" varchar,
  "received_at" varchar,
  "source" varchar,
  "replayed_at" varchar,
  "payload" row(os varchar, url varchar, stack varchar, browser varchar, handled boolean, message varchar, release varchar, user_id bigint, error_type varchar, occurred_in varchar),
  "context" row(ip varchar, user_agent varchar, origin varchar, ua row(browser varchar, browser_version varchar, os varchar, os_version varchar, device varchar, bot boolean), geo row(country varchar, region varchar, city varchar, lat double, lon double)),
  "dt" varchar WITH (partition_projection_type = 'DATE', partition_projection_format = 'yyyy-MM-dd',
    partition_projection_range = ARRAY['TODAY', 'NOW'], partition_projection_interval = 1,
    partition_projection_interval_unit = 'DAYS'),
  "hr" varchar WITH (partition_projection_type = 'INTEGER', partition_projection_range = ARRAY['0', '23'],
    partition_projection_digits = 2)
) WITH (
  format = 'JSON',
  external_location = 'file://LAKE/raw/event_type=frontend_error/',
  partitioned_by = ARRAY['dt', 'hr'],
  partition_projection_enabled = true,
  partition_projection_location_template = 'file://LAKE/raw/event_type=frontend_error/dt=${dt}/hr=${hr}/'
);

CREATE TABLE IF NOT EXISTS "page_view" (
  "event_id" varchar,
  "schema_version" bigint,
  "occurred_at" timestamp(3),
  "received_at" timestamp(3),
  "source" varchar,
  "context_ip" varchar,
  "context_browser" varchar,
  "context_os" varchar,
  "context_device" varchar,
  "context_bot" boolean,
  "context_country" varchar,
  "context_city" varchar,
  "url" varchar,
  "utm" varchar,
  "path" varchar,
  "title" varchar,
  "is_bot" boolean,
  "load_ms" double,
  "user_id" bigint,
  "referrer" varchar,
  "viewport" varchar,
  "viewed_at" timestamp(3),
  "session_id" varchar,
  "anonymous_id" varchar,
  "dt" varchar WITH (partition_projection_type = 'DATE', partition_projection_format = 'yyyy-MM-dd',
    partition_projection_range = ARRAY['2026-11-28', 'NOW'], partition_projection_interval = 1,
    partition_projection_interval_unit = 'DAYS')
) WITH (
  format = 'PARQUET',
  external_location = 'file://LAKE/curated/events/event_type=page_view/',
  partitioned_by = ARRAY['dt'],
  partition_projection_enabled = true,
  partition_projection_location_template = 'file://LAKE/curated/events/event_type=page_view/dt=${dt}/'
);

CREATE TABLE IF NOT EXISTS "page_view_raw" (
  "event_type" varchar,
  "schema_version" bigint,
  "event_id" varchar,
  "occurred_at" varchar,
  "received_at" varchar,
  "source" varchar,
  "replayed_at" varchar,
  "payload" row(url varchar, utm varchar, path varchar, title varchar, is_bot boolean, load_ms double, user_id bigint, referrer varchar, viewport varchar, viewed_at varchar, session_id varchar, anonymous_id varchar),
  "context" row(ip varchar, user_agent varchar, origin varchar, ua row(browser varchar, browser_version varchar, os varchar, os_version varchar, device varchar, bot boolean), geo row(country varchar, region varchar, city varchar, lat double, lon double)),
  "dt" varchar WITH (partition_projection_type = 'DATE', partition_projection_format = 'yyyy-MM-dd',
    partition_projection_range = ARRAY['2026-11-28', 'NOW'], partition_projection_interval = 1,
    partition_projection_interval_unit = 'DAYS'),
  "hr" varchar WITH (partition_projection_type = 'INTEGER', partition_projection_range = ARRAY['0', '23'],
    partition_projection_digits = 2)
) WITH (
  format = 'JSON',
  external_location = 'file://LAKE/raw/event_type=page_view/',
  partitioned_by = ARRAY['dt', 'hr'],
  partition_projection_enabled = true,
  partition_projection_location_template = 'file://LAKE/raw/event_type=page_view/dt=${dt}/hr=${hr}/'
);

CREATE TABLE IF NOT EXISTS "signup" (
  "event_id" varchar,
  "schema_version" bigint,
  "occurred_at" timestamp(3),
  "received_at" timestamp(3),
  "source" varchar,
  "context_ip" varchar,
  "context_browser" varchar,
  "context_os" varchar,
  "context_device" varchar,
  "context_bot" boolean,
  "context_country" varchar,
  "context_city" varchar,
  "plan" varchar,
  "method" varchar,
  "country" varchar,
  "user_id" bigint,
  "trial_days" bigint,
  "email_domain" varchar,
  "signed_up_at" timestamp(3),
  "referral_code" varchar,
  "marketing_opt_in" boolean,
  "dt" varchar WITH (partition_projection_type = 'DATE', partition_projection_format = 'yyyy-MM-dd',
    partition_projection_range = ARRAY['2026-11-28', 'NOW'], partition_projection_interval = 1,
    partition_projection_interval_unit = 'DAYS')
) WITH (
  format = 'PARQUET',
  external_location = 'file://LAKE/curated/events/event_type=signup/',
  partitioned_by = ARRAY['dt'],
  partition_projection_enabled = true,
  partition_projection_location_template = 'file://LAKE/curated/events/event_type=signup/dt=${dt}/'
);

CREATE TABLE IF NOT EXISTS "signup_raw" (
  "event_type" varchar,
  "schema_version" bigint,
  "event_id" varchar,
  "occurred_at" varchar,
  "received_at" varchar,
  "source" varchar,
  "replayed_at" varchar,
  "payload" row(plan varchar, method varchar, country varchar, user_id bigint, trial_days bigint, email_domain varchar, signed_up_at varchar, referral_code varchar, marketing_opt_in boolean),
  "context" row(ip varchar, user_agent varchar, origin varchar, ua row(browser varchar, browser_version varchar, os varchar, os_version varchar, device varchar, bot boolean), geo row(country varchar, region varchar, city varchar, lat double, lon double)),
  "dt" varchar WITH (partition_projection_type = 'DATE', partition_projection_format = 'yyyy-MM-dd',
    partition_projection_range = ARRAY['2026-11-28', 'NOW'], partition_projection_interval = 1,
    partition_projection_interval_unit = 'DAYS'),
  "hr" varchar WITH (partition_projection_type = 'INTEGER', partition_projection_range = ARRAY['0', '23'],
    partition_projection_digits = 2)
) WITH (
  format = 'JSON',
  external_location = 'file://LAKE/raw/event_type=signup/',
  partitioned_by = ARRAY['dt', 'hr'],
  partition_projection_enabled = true,
  partition_projection_location_template = 'file://LAKE/raw/event_type=signup/dt=${dt}/hr=${hr}/'
);

