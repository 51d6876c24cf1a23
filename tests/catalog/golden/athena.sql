-- weir catalog --engine athena: one table per event type and zone; new days are visible at once.
-- Note: Athena reads S3 only; this lake is local.

CREATE EXTERNAL TABLE IF NOT EXISTS `api_metric` (
  `event_id` string,
  `schema_version` bigint,
  `occurred_at` timestamp,
  `received_at` timestamp,
  `source` string,
  `context_ip` string,
  `context_browser` string,
  `context_os` string,
  `context_device` string,
  `context_bot` boolean,
  `context_country` string,
  `context_city` string,
  `tags` string,
  `route` string,
  `method` string,
  `region` string,
  `status` bigint,
  `service` string,
  `cache_hit` boolean,
  `client_ip` string,
  `duration_ms` double,
  `request_bytes` bigint,
  `response_bytes` bigint
)
PARTITIONED BY (`dt` string)
STORED AS PARQUET
LOCATION 'file://LAKE/curated/events/event_type=api_metric/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = 'TODAY,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = 'file://LAKE/curated/events/event_type=api_metric/dt=${dt}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `api_metric_raw` (
  `event_type` string,
  `schema_version` bigint,
  `event_id` string,
  `occurred_at` string,
  `received_at` string,
  `source` string,
  `replayed_at` string,
  `payload` struct<tags:string,route:string,method:string,region:string,status:bigint,service:string,cache_hit:boolean,client_ip:string,duration_ms:double,request_bytes:bigint,response_bytes:bigint>,
  `context` struct<ip:string,user_agent:string,origin:string,ua:struct<browser:string,browser_version:string,os:string,os_version:string,device:string,bot:boolean>,geo:struct<country:string,region:string,city:string,lat:double,lon:double>>
)
PARTITIONED BY (`dt` string, `hr` string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 'file://LAKE/raw/event_type=api_metric/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = 'TODAY,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'projection.hr.type' = 'integer',
  'projection.hr.range' = '0,23',
  'projection.hr.digits' = '2',
  'storage.location.template' = 'file://LAKE/raw/event_type=api_metric/dt=${dt}/hr=${hr}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `frontend_error` (
  `event_id` string,
  `schema_version` bigint,
  `occurred_at` timestamp,
  `received_at` timestamp,
  `source` string,
  `context_ip` string,
  `context_browser` string,
  `context_os` string,
  `context_device` string,
  `context_bot` boolean,
  `context_country` string,
  `context_city` string,
  `os` string,
  `url` string,
  `stack` string,
  `browser` string,
  `handled` boolean,
  `message` string,
  `release` string,
  `user_id` bigint,
  `error_type` string,
  `occurred_in` string
)
PARTITIONED BY (`dt` string)
STORED AS PARQUET
LOCATION 'file://LAKE/curated/events/event_type=frontend_error/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = 'TODAY,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = 'file://LAKE/curated/events/event_type=frontend_error/dt=${dt}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `frontend_error_raw` (
  `event_type` string,
  `schema_version` bigint,
  `event_id` string,
  `occurred_at` string,
  `received_at` string,
  `source` string,
  `replayed_at` string,
  `payload` struct<os:string,url:string,stack:string,browser:string,handled:boolean,message:string,release:string,user_id:bigint,error_type:string,occurred_in:string>,
  `context` struct<ip:string,user_agent:string,origin:string,ua:struct<browser:string,browser_version:string,os:string,os_version:string,device:string,bot:boolean>,geo:struct<country:string,region:string,city:string,lat:double,lon:double>>
)
PARTITIONED BY (`dt` string, `hr` string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 'file://LAKE/raw/event_type=frontend_error/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = 'TODAY,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'projection.hr.type' = 'integer',
  'projection.hr.range' = '0,23',
  'projection.hr.digits' = '2',
  'storage.location.template' = 'file://LAKE/raw/event_type=frontend_error/dt=${dt}/hr=${hr}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `page_view` (
  `event_id` string,
  `schema_version` bigint,
  `occurred_at` timestamp,
  `received_at` timestamp,
  `source` string,
  `context_ip` string,
  `context_browser` string,
  `context_os` string,
  `context_device` string,
  `context_bot` boolean,
  `context_country` string,
  `context_city` string,
  `url` string,
  `utm` string,
  `path` string,
  `title` string,
  `is_bot` boolean,
  `load_ms` double,
  `user_id` bigint,
  `referrer` string,
  `viewport` string,
  `viewed_at` timestamp,
  `session_id` string,
  `anonymous_id` string
)
PARTITIONED BY (`dt` string)
STORED AS PARQUET
LOCATION 'file://LAKE/curated/events/event_type=page_view/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2026-11-28,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = 'file://LAKE/curated/events/event_type=page_view/dt=${dt}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `page_view_raw` (
  `event_type` string,
  `schema_version` bigint,
  `event_id` string,
  `occurred_at` string,
  `received_at` string,
  `source` string,
  `replayed_at` string,
  `payload` struct<url:string,utm:string,path:string,title:string,is_bot:boolean,load_ms:double,user_id:bigint,referrer:string,viewport:string,viewed_at:string,session_id:string,anonymous_id:string>,
  `context` struct<ip:string,user_agent:string,origin:string,ua:struct<browser:string,browser_version:string,os:string,os_version:string,device:string,bot:boolean>,geo:struct<country:string,region:string,city:string,lat:double,lon:double>>
)
PARTITIONED BY (`dt` string, `hr` string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 'file://LAKE/raw/event_type=page_view/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2026-11-28,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'projection.hr.type' = 'integer',
  'projection.hr.range' = '0,23',
  'projection.hr.digits' = '2',
  'storage.location.template' = 'file://LAKE/raw/event_type=page_view/dt=${dt}/hr=${hr}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `signup` (
  `event_id` string,
  `schema_version` bigint,
  `occurred_at` timestamp,
  `received_at` timestamp,
  `source` string,
  `context_ip` string,
  `context_browser` string,
  `context_os` string,
  `context_device` string,
  `context_bot` boolean,
  `context_country` string,
  `context_city` string,
  `plan` string,
  `method` string,
  `country` string,
  `user_id` bigint,
  `trial_days` bigint,
  `email_domain` string,
  `signed_up_at` timestamp,
  `referral_code` string,
  `marketing_opt_in` boolean
)
PARTITIONED BY (`dt` string)
STORED AS PARQUET
LOCATION 'file://LAKE/curated/events/event_type=signup/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2026-11-28,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = 'file://LAKE/curated/events/event_type=signup/dt=${dt}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `signup_raw` (
  `event_type` string,
  `schema_version` bigint,
  `event_id` string,
  `occurred_at` string,
  `received_at` string,
  `source` string,
  `replayed_at` string,
  `payload` struct<plan:string,method:string,country:string,user_id:bigint,trial_days:bigint,email_domain:string,signed_up_at:string,referral_code:string,marketing_opt_in:boolean>,
  `context` struct<ip:string,user_agent:string,origin:string,ua:struct<browser:string,browser_version:string,os:string,os_version:string,device:string,bot:boolean>,geo:struct<country:string,region:string,city:string,lat:double,lon:double>>
)
PARTITIONED BY (`dt` string, `hr` string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 'file://LAKE/raw/event_type=signup/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2026-11-28,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'projection.hr.type' = 'integer',
  'projection.hr.range' = '0,23',
  'projection.hr.digits' = '2',
  'storage.location.template' = 'file://LAKE/raw/event_type=signup/dt=${dt}/hr=${hr}/'
);

