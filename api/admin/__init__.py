"""The admin API (SPEC §10): the control plane over HTTP, under /api/v1.

`routes` is the one route table (every route names the least role it needs), `auth` turns
a bearer key into a `principal.Principal` and rate-limits it, handlers of each entity kind
export their ROUTES. Errors are `turnout.api.problems.Problem` (problem+json).
"""
