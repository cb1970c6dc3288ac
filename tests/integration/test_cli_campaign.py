"""`turnout campaign …` against a real API served by uvicorn on a free port (the CLI runs
in a worker thread: it is a blocking urllib client, as in a terminal)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from tests.integration.entities_support import World, entity_world
from turnout.cli.campaign import parse_weights, reweighted
from turnout.cli.main import main
from turnout.errors import EXIT_BAD_INPUT, EXIT_OK
from turnout.local.services import free_port


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
async def served(postgres_url: str, redis_url: str, clickhouse_dsn: str
                 ) -> AsyncIterator[tuple[World, str]]:
    async with entity_world(postgres_url, redis_url, clickhouse_dsn) as world:
        app = world.http._transport.app  # type: ignore[attr-defined]
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               lifespan="off", log_level="warning"))
        task = asyncio.create_task(server.serve())
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        try:
            yield world, url
        finally:
            server.should_exit = True
            await task


async def cli(url: str, token: str, *argv: str) -> tuple[int, str, str]:
    return await asyncio.to_thread(run, "campaign", *argv, "--api", url, "--key", token)


async def test_campaign_verbs(served: tuple[World, str]) -> None:
    world, url = served
    editor, viewer = world.keys["editor"], world.keys["viewer"]
    code, out, err = await cli(url, viewer, "list")
    assert code == EXIT_OK, err
    assert [line.split()[0] for line in out.splitlines()] == ["camp-a", "summer",
                                                              "summer-stories"]
    code, out, _ = await cli(url, viewer, "list", "--status", "active", "--q", "stories",
                             "--json")
    assert [c["id"] for c in json.loads(out)] == ["summer-stories"]
    code, out, _ = await cli(url, viewer, "list", "--limit", "0", "--sort", "-name")
    assert len(out.splitlines()) == 3
    code, out, _ = await cli(url, viewer, "show", "camp-a")
    assert "usa: usa=50, global=50" in out and "russia: b=100" in out
    # Weights: GET, change the rule, PATCH with If-Match.
    code, out, err = await cli(url, editor, "weights", "camp-a", "--rule", "usa", "usa=70",
                               "global=30")
    assert code == EXIT_OK, err
    assert "usa: usa=70, global=30" in out
    shown = (await world.get("/api/v1/campaigns/camp-a")).json()
    usa = next(r for r in shown["rules"] if r["id"] == "usa")
    assert [d["weight"] for d in usa["destinations"]] == [70, 30]
    assert [d["weight"] for d in shown["default"]] == [50, 50]  # the default kept
    code, out, _ = await cli(url, editor, "weights", "camp-a", "--rule", "default",
                             "global=0")
    assert code == EXIT_OK and "default: usa=50, global=0" in out
    # The lifecycle, with the revision read first, or the one given.
    code, out, err = await cli(url, editor, "pause", "camp-a")
    assert code == EXIT_OK and " paused " in out, err
    code, out, err = await cli(url, editor, "resume", "camp-a", "--revision", "1")
    assert code == EXIT_BAD_INPUT and "412" in err
    code, out, err = await cli(url, editor, "resume", "camp-a")
    assert code == EXIT_OK and " active " in out
    code, out, err = await cli(url, editor, "duplicate", "camp-a", "--new-id", "camp-b",
                               "--code", "CAMP_B", "--json")
    assert code == EXIT_OK and json.loads(out)["status"] == "draft"
    code, out, err = await cli(url, editor, "cancel", "camp-b", "--reason", "not needed")
    assert code == EXIT_OK and " cancelled " in out
    code, out, err = await cli(url, editor, "complete", "camp-b")
    assert code == EXIT_BAD_INPUT and "409" in err and "final" in err
    code, out, err = await cli(url, editor, "activate", "camp-a")
    assert code == EXIT_BAD_INPUT and "409" in err
    # Bad input: named, nothing sent.
    for argv, words in ((("weights", "camp-a", "--rule", "usa", "usa=x"), "DESTINATION=WEIGHT"),
                        (("weights", "camp-a", "--rule", "nope", "usa=1"), "no rule"),
                        (("weights", "camp-a", "--rule", "usa", "zz=1"), "no destination"),
                        (("show", "nope"), "404")):
        code, _, err = await cli(url, editor, *argv)
        assert code == EXIT_BAD_INPUT and words in err, (argv, err)
    code, _, err = await cli(url, viewer, "pause", "camp-a")
    assert code == EXIT_BAD_INPUT and "403" in err


def test_weights_pure() -> None:
    assert parse_weights(["a=1", "b=0"]) == {"a": 1, "b": 0}
    for bad in (["a"], ["a=-1"], ["=3"], ["a=1", "a=2"]):
        with pytest.raises(ValueError):
            parse_weights(bad)
    campaign = {"id": "c", "rules": [{"id": "r", "destinations": [
        {"id": "a", "weight": 1}, {"id": "b", "weight": 2}]}], "default": []}
    assert reweighted(campaign, "r", {"b": 5}) == {"rules": [{"id": "r", "destinations": [
        {"id": "a", "weight": 1}, {"id": "b", "weight": 5}]}]}
