"""The control plane's storage: PostgreSQL holds the editable truth (SPEC §10).

`db` opens the pool, `migrate` applies control/migrations, `graph_rows` maps the campaign
graph (config.model) to and from the normalised tables, `campaign_templates` holds the
built-in campaign templates. The admin API and the CLI build on
these; edges never talk to PostgreSQL.
"""
