"""Local services for development and tests: Valkey, tansu, PostgreSQL from their wheels."""
