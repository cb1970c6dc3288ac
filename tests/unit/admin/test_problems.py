"""problem+json: the one error shape, its body and headers."""

from __future__ import annotations

import orjson

from turnout.api.problems import MEDIA_TYPE, Problem, problem_response
from turnout.config.errors import Problem as ConfigProblem
from turnout.control.errors import ControlUnavailable


def test_body_and_media_type():
    response = problem_response(Problem(429, detail="slow down", headers={"Retry-After": "3"}))
    assert response.status_code == 429 and response.media_type == MEDIA_TYPE
    assert response.headers["retry-after"] == "3"
    assert orjson.loads(response.body) == {"type": "about:blank", "title": "Too Many Requests",
                                           "status": 429, "detail": "slow down", "errors": []}


def test_invalid_keeps_every_path():
    problem = Problem.invalid([ConfigProblem("rules[1].destinations[0].weight", "below 0"),
                               ConfigProblem("name", "empty")])
    assert problem.status == 422
    assert orjson.loads(problem_response(problem).body)["errors"] == [
        {"path": "rules[1].destinations[0].weight", "message": "below 0"},
        {"path": "name", "message": "empty"}]


def test_unavailable_and_unauthorized():
    down = Problem.unavailable(ControlUnavailable("PostgreSQL is unavailable: refused"))
    assert down.status == 503 and "refused" in down.detail
    assert Problem.unauthorized("no key").headers == {"WWW-Authenticate": "Bearer"}
