"""The `turnout` command: one console script, a module per command group."""
