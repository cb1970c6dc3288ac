"""The control plane: campaigns, lifecycle, keys, audit, on PostgreSQL."""
