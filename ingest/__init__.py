"""Kafka -> ClickHouse ingest, schema migrations, attribution and reports."""
