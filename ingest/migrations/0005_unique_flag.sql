-- Unique clicks as a flag decided at the edge from the visitor's cookie: a click is unique
-- when the visitor had no unique click on that campaign within the campaign's unique window
-- (`unique_window_ms`). Reports sum the flag, so unique clicks cost what clicks cost and
-- can be rolled up. Rows written before this column existed read as 0 (not unique).
-- ADD COLUMN appends: ingest.schema.CLICKS lists is_unique last, after params.

ALTER TABLE clicks
    ADD COLUMN IF NOT EXISTS is_unique UInt8 DEFAULT 0
    COMMENT '1 when the visitor had no unique click on the campaign within its unique window (decided at the edge); 0 for LP clicks';
