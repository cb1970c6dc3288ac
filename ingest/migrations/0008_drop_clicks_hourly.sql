-- clicks_hourly (0002) was superseded by clicks_geo and clicks_wide (0006): it has no
-- unique clicks, nothing in turnout reads it, and its materialized view still ran on
-- every insert into `clicks`. Read clicks_wide instead (same keys and more, by quarter
-- hour; sum() its counters; `clicks` there counts campaign clicks, `lp_clicks` LP clicks).
-- The view goes first, so no insert can find it pointing at a dropped table.

DROP VIEW IF EXISTS clicks_hourly_mv;

DROP TABLE IF EXISTS clicks_hourly;
