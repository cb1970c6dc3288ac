"""Kafka -> ClickHouse ingest: consumer groups, batches, attribution, schema migrations."""
