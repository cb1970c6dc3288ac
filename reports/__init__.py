"""Reports: one query builder behind the HTTP API, the `turnout report` CLI and the SQL docs."""
