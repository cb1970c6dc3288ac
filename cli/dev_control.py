"""`turnout dev`'s control-plane steps, through the same doors a user has: an owner key per
workspace from `turnout key create --bootstrap`, the graph imported through the admin API
(`POST /api/v1/import`, one workspace per key), which publishes it for the edge."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from turnout.cli.api_client import ApiClient, ApiUnavailable
from turnout.config.io import dump_graph
from turnout.config.model import Graph
from turnout.control.graph_patch import only
from turnout.local.services import ServiceError

KEY_NAME = "turnout dev"


def owner_key(turnout: Sequence[str], env: dict[str, str], workspace: str) -> str:
    """A new owner key of the workspace (made with the workspace row when there is none);
    the token, which this run prints once."""
    argv = [*turnout, "key", "create", "--bootstrap", "--force", "--workspace", workspace,
            "--role", "owner", "--name", KEY_NAME]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    token = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0 or not token.startswith("tk_"):
        raise ServiceError(f"turnout key create failed:\n{result.stdout}{result.stderr}")
    return token


@dataclass(frozen=True, slots=True)
class Imported:
    version: int | None  # the current version after the imports
    fresh: bool  # did they change anything?


def import_graph(api_url: str, tokens: dict[str, str], graph: Graph,
                 timeout: float = 60.0) -> Imported:
    """Import each workspace's part of `graph` with that workspace's key."""
    fresh, version = False, None
    for workspace, token in tokens.items():
        client = ApiClient(api_url, token, timeout_s=timeout)
        text = dump_graph(only(graph, workspace)).encode()
        answer = _retrying(lambda c=client, t=text: c.send(
            "POST", "/api/v1/import?note=turnout+dev", t, "application/yaml"), timeout)
        body = orjson.loads(answer)
        fresh = fresh or bool(body["changed"])
        version = body["version"] or version
    if version is None:
        client = ApiClient(api_url, next(iter(tokens.values())))
        version = client.request("GET", "/api/v1/versions?limit=1")["publishing"]["current"]
    return Imported(version, fresh)


def revision(api_url: str, token: str, campaign_id: str) -> int:
    answer = ApiClient(api_url, token).request("GET", f"/api/v1/campaigns/{campaign_id}")
    return int(answer["revision"])


def _retrying(call: Callable[[], bytes], timeout: float) -> bytes:
    """The API answers 503 for a moment after it starts (its pool opens on first use)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except ApiUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
