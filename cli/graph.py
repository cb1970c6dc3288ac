"""`turnout graph validate|publish|export|versions|diff|rollback`, `turnout import|export`.

With an admin API configured (`--api`/TURNOUT_API_URL and `--key`/TURNOUT_API_KEY) every
verb is a call of it (cli/graph_api.py): `graph publish FILE` and `import FILE` are an
import of the key's workspace, `graph export` and `export` what the API exports, `graph
validate` a dry-run import. Without one, the graph verbs work on Redis directly (a stack
without the control plane, or a look at what edges were sent); `import` and `export`
need the API.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from turnout.errors import EXIT_BAD_INPUT, EXIT_USAGE
from turnout.gc_pause import paused_gc

if TYPE_CHECKING:
    from turnout.cli.api_client import ApiClient
    from turnout.config.model import Graph
    from turnout.config.store import GraphStore

T = TypeVar("T")
DIRECT_WARNING = ("note: publishing straight to Redis. A running control plane (turnout api) "
                  "publishes what PostgreSQL holds at its next change, replacing this; set "
                  "TURNOUT_API_URL and TURNOUT_API_KEY to import through it instead.")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    graph = subparsers.add_parser("graph", help="validate, publish and inspect campaign graphs",
                                  description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = graph.add_subparsers(dest="graph_command", metavar="COMMAND", required=True)
    api = argparse.ArgumentParser(add_help=False)
    api.add_argument("--api", help="admin API base URL (default: TURNOUT_API_URL)")
    api.add_argument("--key", help="an API key (default: TURNOUT_API_KEY)")
    redis = argparse.ArgumentParser(add_help=False, parents=[api])
    redis.add_argument("--redis-url", help="without an API: Redis (default: "
                                           "TURNOUT_REDIS_URL or the local Redis)")
    redis.add_argument("--prefix", default=None,
                       help="without an API: key prefix (default: TURNOUT_GRAPH_PREFIX or "
                            "turnout:graph)")

    validate = commands.add_parser("validate", parents=[api],
                                   help="check a YAML/JSON graph file (with an API: a dry-run "
                                        "import, with the diff)")
    validate.add_argument("file", type=Path, help="the graph (.yaml, .yml or .json)")
    validate.set_defaults(func=_validate)

    publish = commands.add_parser("publish", parents=[redis],
                                  help="publish a graph file (with an API: import it)")
    publish.add_argument("file", type=Path, help="the graph (.yaml, .yml or .json)")
    publish.add_argument("--note", default="", help="a note stored with the version")
    publish.set_defaults(func=_publish)

    export = commands.add_parser("export", parents=[redis],
                                 help="print the graph (with an API: the workspace's)")
    export.add_argument("--version", type=int, default=None,
                        help="without an API: this version (default: the current one)")
    export.add_argument("--format", choices=("yaml", "json"), default="yaml",
                        help="output format (default yaml)")
    export.set_defaults(func=_export)

    versions = commands.add_parser("versions", parents=[redis], help="list published versions")
    versions.add_argument("--limit", type=int, default=100,
                          help="with an API: at most this many, newest first (default 100)")
    versions.set_defaults(func=_versions)

    diff = commands.add_parser("diff", parents=[redis], help="what changed from A to B")
    diff.add_argument("a", type=int, help="the older version")
    diff.add_argument("b", type=int, help="the newer version")
    diff.set_defaults(func=_diff)

    rollback = commands.add_parser(
        "rollback", parents=[redis],
        help="bring back version N's graph as a new version (with an API: the workspace's "
             "entities only)")
    rollback.add_argument("version", type=int, help="the version to restore")
    rollback.add_argument("--note", default="", help="a note stored with the new version")
    rollback.set_defaults(func=_rollback)

    importing = subparsers.add_parser(
        "import", parents=[api], help="make the key's workspace equal a graph file (the API)")
    importing.add_argument("file", type=Path, help="the graph (.yaml, .yml or .json)")
    importing.add_argument("--dry-run", action="store_true",
                           help="only print its problems and what it would change")
    importing.add_argument("--note", default="", help="a note stored with the version")
    importing.set_defaults(func=_import)

    exporting = subparsers.add_parser(
        "export", parents=[api], help="write the key's workspace as a graph file (the API)")
    exporting.add_argument("--format", choices=("yaml", "json"), default="yaml",
                           help="output format (default yaml)")
    exporting.add_argument("--out", type=Path, help="the file to write (default: stdout)")
    exporting.set_defaults(func=_export_api)


def _client(args: argparse.Namespace, required: bool = False) -> ApiClient | None:
    """The API client when one is configured (flags or environment), else None."""
    from turnout.cli.api_client import ApiClient
    from turnout.cli.report import ApiClientSettings

    settings = ApiClientSettings.from_env()
    if not required and not (args.api or settings.url):
        return None
    return ApiClient.from_args(args.api, args.key)


def _direct_only(args: argparse.Namespace, *flags: str) -> int | None:
    """EXIT_USAGE when a Redis-only flag was given with an API."""
    given = [f"--{f.replace('_', '-')}" for f in flags if getattr(args, f, None) is not None]
    if given:
        print(f"turnout graph: {', '.join(given)} only work without an API (TURNOUT_API_URL); "
              "the API answers for the key's workspace", file=sys.stderr)
        return EXIT_USAGE
    return None


def _load(path: Path, check: Callable[[Graph], T]) -> T | None:
    """`check` of the file's graph, or None when the file or `check` (GraphInvalid) finds
    problems, which are printed."""
    from turnout.config.errors import GraphInvalid
    from turnout.config.io import load_graph

    try:
        return check(load_graph(path))
    except GraphInvalid as exc:
        _print_problems(path, exc.problems)
        return None


def _valid(graph: Graph) -> Graph:
    from turnout.config.errors import GraphInvalid
    from turnout.config.validate import validate

    problems = validate(graph)
    if problems:
        raise GraphInvalid(problems)
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
    client = _client(args)
    if client is not None:
        from turnout.cli import graph_api

        return graph_api.validate(client, args.file)
    # The graph's millions of objects live as long as the command: no collection walks
    # them (with the collector on, each full one took 0.5 s at 10,000 campaigns).
    with paused_gc():
        return _validate_file(args)


def _validate_file(args: argparse.Namespace) -> int:
    graph = _load(args.file, _valid)
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
    client = _client(args)
    if client is not None:
        from turnout.cli import graph_api

        return _direct_only(args, "redis_url", "prefix") or graph_api.publish(
            client, args.file, args.note)
    with paused_gc():  # as for _validate
        return _publish_file(args)


def _publish_file(args: argparse.Namespace) -> int:
    from turnout.config.store import checked

    # Validated (and encoded) here, before connecting, and not again by the store.
    loaded = _load(args.file, checked)
    if loaded is None:
        return EXIT_BAD_INPUT
    print(DIRECT_WARNING, file=sys.stderr)

    async def action(store: GraphStore) -> int:
        version = await store.publish(loaded, note=args.note)
        print(version)
        return 0

    return _guarded(args, action)


def _export(args: argparse.Namespace) -> int:
    client = _client(args)
    if client is not None:
        from turnout.cli import graph_api

        return _direct_only(args, "redis_url", "prefix", "version") or graph_api.export(
            client, args.format, None)
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
    client = _client(args)
    if client is not None:
        from turnout.cli import graph_api

        return _direct_only(args, "redis_url", "prefix") or graph_api.versions(
            client, args.limit)

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
    client = _client(args)
    if client is not None:
        from turnout.cli import graph_api

        return _direct_only(args, "redis_url", "prefix") or graph_api.diff(
            client, args.a, args.b)

    async def action(store: GraphStore) -> int:
        changes = await store.diff(args.a, args.b)
        print("\n".join(changes) if changes else "no changes")
        return 0

    return _guarded(args, action)


def _rollback(args: argparse.Namespace) -> int:
    client = _client(args)
    if client is not None:
        from turnout.cli import graph_api

        return _direct_only(args, "redis_url", "prefix") or graph_api.rollback(
            client, args.version, args.note)

    async def action(store: GraphStore) -> int:
        print(await store.rollback(args.version, note=args.note))
        return 0

    return _guarded(args, action)


def _import(args: argparse.Namespace) -> int:
    from turnout.cli import graph_api

    client = _client(args, required=True)
    assert client is not None
    if args.dry_run:
        return graph_api.validate(client, args.file)
    return graph_api.publish(client, args.file, args.note)


def _export_api(args: argparse.Namespace) -> int:
    from turnout.cli import graph_api

    client = _client(args, required=True)
    assert client is not None
    return graph_api.export(client, args.format, args.out)
