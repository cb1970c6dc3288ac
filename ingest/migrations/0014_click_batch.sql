-- Each click row names the batch that inserted it (ingest.batch.span_label: topic,
-- partition and offsets), so a replayed batch can tell its own first attempt's rows from
-- clicks stored by other inserts. ClickHouse writes an insert into `clicks` as the table's
-- part and then one part per materialized view (0006); ingest killed in between leaves the
-- batch uncommitted with the rollups short. The replay keeps the rows its own first
-- attempt stored, so it carries the same rows and dedup token: ClickHouse drops the block
-- in `clicks` and writes each view the part it lacks. Rows written before this column
-- existed read as '' (another batch, so a replay of them is dropped as before).
-- ADD COLUMN appends: ingest.schema.CLICKS lists ingest_batch last.

ALTER TABLE clicks
    ADD COLUMN IF NOT EXISTS ingest_batch String DEFAULT ''
    COMMENT 'Kafka span of the batch that inserted the row (topic/partition/first-last, ...); a replay of the same batch keeps its rows';
