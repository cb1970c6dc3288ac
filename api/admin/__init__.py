"""The admin API (SPEC §10): the control plane over HTTP, under /api/v1.

`routes` is the one route table (every route names the least role it needs), `auth` turns
a bearer key into a `principal.Principal` and rate-limits it, and each route module
exports its ROUTES. What a handler uses:

- `principal.principal_of(request)`: key id, workspace, role; filter every query by its
  workspace_id, and answer another workspace's id as 404;
- `state.connection(request)`: one transaction of the control plane (ControlUnavailable,
  answered 503, when PostgreSQL is out of reach);
- `auth.request_id_of(request)` and `turnout.control.audit.record(conn, ...)` in the same
  transaction as the write;
- `bodies.json_response(...)`; errors are `turnout.api.problems.Problem` (problem+json).
"""
