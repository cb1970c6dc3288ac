"""`turnout graph validate|publish|export|versions|diff|rollback`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from turnout.errors import EXIT_BAD_INPUT

if TYPE_CHECKING:
    from turnout.config.model import Graph
    from turnout.config.store import GraphStore

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    graph = subparsers.add_parser("graph", help="validate, publish and inspect campaign graphs")
    commands = graph.add_subparsers(dest="graph_command", metavar="COMMAND", required=True)
    redis = argparse.ArgumentParser(add_help=False)
    redis.add_argument("--redis-url", help="default: TURNOUT_REDIS_URL or the local Redis")
    redis.add_argument("--prefix", default=None,
                       help="key prefix (default: TURNOUT_GRAPH_PREFIX or turnout:graph)")

    validate = commands.add_parser("validate", help="check a YAML/JSON graph file")
    validate.add_argument("file", type=Path, help="the graph (.yaml, .yml or .json)")
    validate.set_defaults(func=_validate)

    publish = commands.add_parser("publish", parents=[redis], help="publish a new version")
    publish.add_argument("file", type=Path, help="the graph (.yaml, .yml or .json)")
    publish.add_argument("--note", default="", help="a note stored with the version")
    publish.set_defaults(func=_publish)

    export = commands.add_parser("export", parents=[redis], help="print a version's graph")
    export.add_argument("--version", type=int, default=None, help="default: the current one")
    export.add_argument("--format", choices=("yaml", "json"), default="yaml",
                        help="output format (default yaml)")
    export.set_defaults(func=_export)

    versions = commands.add_parser("versions", parents=[redis], help="list published versions")
    versions.set_defaults(func=_versions)

    diff = commands.add_parser("diff", parents=[redis], help="what changed from A to B")
    diff.add_argument("a", type=int, help="the older version")
    diff.add_argument("b", type=int, help="the newer version")
    diff.set_defaults(func=_diff)

    rollback = commands.add_parser(
        "rollback", parents=[redis], help="publish a new version equal to version N"
    )
    rollback.add_argument("version", type=int, help="the version to restore")
    rollback.add_argument("--note", default="", help="a note stored with the new version")
    rollback.set_defaults(func=_rollback)


def _load(path: Path) -> Graph | None:
    from turnout.config.errors import GraphInvalid
    from turnout.config.io import load_graph
    from turnout.config.validate import validate

    try:
        graph = load_graph(path)
    except GraphInvalid as exc:
        _print_problems(path, exc.problems)
        return None
    problems = validate(graph)
    if problems:
        _print_problems(path, problems)
        return None
    return graph


def _print_problems(path: Path, problems: list[Any]) -> None:
    for problem in problems:
        print(problem)
    print(f"{path}: {len(problems)} problem(s)")


def _summary(graph: Graph) -> str:
    rules = sum(len(c.rules) for c in graph.campaigns)
    return (
        f"{len(graph.workspaces)} workspace(s), {len(graph.traffic_sources)} traffic "
        f"source(s), {len(graph.networks)} network(s), {len(graph.offers)} offer(s), "
        f"{len(graph.landers)} lander(s), {len(graph.funnels)} funnel(s), "
        f"{len(graph.campaigns)} campaign(s) with {rules} rule(s)"
    )


def _validate(args: argparse.Namespace) -> int:
    graph = _load(args.file)
    if graph is None:
        return EXIT_BAD_INPUT
    print(f"{args.file}: ok: {_summary(graph)}")
    return 0


def _with_store(args: argparse.Namespace, action: Callable[[GraphStore], Awaitable[T]]) -> T:
    import redis.asyncio as aioredis

    from turnout import env
    from turnout.config.store import DEFAULT_PREFIX, DEFAULT_RETAIN, GraphStore
    from turnout.connections import Connections

    url = args.redis_url or Connections.from_env().redis_url
    prefix = args.prefix or env.text("graph_prefix", DEFAULT_PREFIX)
    retain = max(1, env.integer("graph_retain", DEFAULT_RETAIN))

    async def run() -> T:
        client = aioredis.from_url(url)
        try:
            return await action(GraphStore(client, prefix, retain))
        finally:
            await client.aclose()

    return asyncio.run(run())


def _guarded(args: argparse.Namespace, action: Callable[[GraphStore], Awaitable[int]]) -> int:
    from turnout.config.errors import ConfigError, GraphInvalid

    try:
        return _with_store(args, action)
    except GraphInvalid as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return exc.exit_code
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def _publish(args: argparse.Namespace) -> int:
    graph = _load(args.file)
    if graph is None:
        return EXIT_BAD_INPUT

    async def action(store: GraphStore) -> int:
        version = await store.publish(graph, note=args.note)
        print(version)
        return 0

    return _guarded(args, action)


def _export(args: argparse.Namespace) -> int:
    from turnout.config.errors import VersionNotFound
    from turnout.config.io import dump_graph

    async def action(store: GraphStore) -> int:
        version = args.version if args.version is not None else await store.current_version()
        if version is None:
            print("error: nothing has been published yet", file=sys.stderr)
            return EXIT_BAD_INPUT
        try:
            graph = await store.load(version)
        except VersionNotFound as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        sys.stdout.write(dump_graph(graph, args.format))
        return 0

    return _guarded(args, action)


def _changed(changes: Any) -> str:
    """`3 campaigns, 1 offer changed; 1 lander removed`-style summary of a version."""
    def part(counts: dict[str, tuple[str, ...]], verb: str) -> str:
        items = [f"{len(ids)} {section.replace('_', ' ')}" for section, ids in counts.items()]
        return f"{', '.join(items)} {verb}" if items else ""

    said = [p for p in (part(changes.upserted, "changed"), part(changes.removed, "removed")) if p]
    return "; ".join(said) or "no change"


def _versions(args: argparse.Namespace) -> int:
    async def action(store: GraphStore) -> int:
        current = await store.current_version()
        for info in await store.versions():
            when = datetime.fromtimestamp(info.published_at_ms / 1000, UTC)
            mark = "*" if info.version == current else " "
            extra = f" (restores {info.restores})" if info.restores is not None else ""
            by = f" by {info.actor}" if info.actor else ""
            print(f"{mark} {info.version:>5}  {when:%Y-%m-%d %H:%M:%S}Z  "
                  f"{_changed(info.changes):<24} {info.note}{extra}{by}")
        return 0

    return _guarded(args, action)


def _diff(args: argparse.Namespace) -> int:
    async def action(store: GraphStore) -> int:
        changes = await store.diff(args.a, args.b)
        print("\n".join(changes) if changes else "no changes")
        return 0

    return _guarded(args, action)


def _rollback(args: argparse.Namespace) -> int:
    async def action(store: GraphStore) -> int:
        print(await store.rollback(args.version, note=args.note))
        return 0

    return _guarded(args, action)
