"""Creating campaigns from a template: the template's entities built from the user's picks
(control/campaign_templates.py), checked against what the workspace holds, then created
one by one through control/entities.py in one transaction — each validated, audited and
written as any other creation, so a template can build nothing the API would refuse.
"""

from __future__ import annotations

import re
from typing import Any, Final

import psycopg

from turnout.config.errors import GraphInvalid, Problem
from turnout.config.model import Entity, Graph
from turnout.control import entities
from turnout.control.campaign_templates import (
    CampaignTemplate,
    InstantiatedSetup,
    SetupInputs,
    check,
    instantiate,
)
from turnout.control.entity_checks import references
from turnout.control.entity_docs import read_sets, read_workspace
from turnout.control.entity_errors import EntityConflict

SECTIONS: Final = ("traffic_sources", "offers", "landers", "campaigns")  # creation order
_INDEXED: Final = re.compile(r"^(\w+)\[(\d+)\](.*)$")


def _entities(setup: InstantiatedSetup) -> list[tuple[str, int, Entity]]:
    return [(kind, i, e) for kind in SECTIONS for i, e in enumerate(getattr(setup, kind))]


async def _context(conn: psycopg.AsyncConnection[Any], workspace_id: str,
                   setup: InstantiatedSetup) -> Graph:
    """The workspace and the stored entities the setup's entities name."""
    own = {kind: {e.id for e in getattr(setup, kind)} for kind in SECTIONS}
    wanted: dict[str, set[str]] = {}
    for _, _, entity in _entities(setup):
        for kind, ids in references(entity).items():
            wanted.setdefault(kind, set()).update(ids - own.get(kind, set()))
    found = await read_sets(conn, workspace_id, wanted)
    workspace = await read_workspace(conn, workspace_id)
    return Graph(workspaces=(workspace,), **{
        kind: tuple(s.entity for s in stored.values()) for kind, stored in found.items()})


def _setup_problems(found: list[Problem], context: Graph) -> list[Problem]:
    """`check`'s problems of the setup's entities, at paths of the setup (`campaigns[0]…`);
    those of the stored entities around them are not the setup's to answer for."""
    out = []
    for problem in found:
        match = _INDEXED.match(problem.path)
        if match is None:
            continue
        kind, index, rest = match[1], int(match[2]), match[3]
        offset = len(getattr(context, kind, ()))
        if kind in SECTIONS and index >= offset:
            out.append(Problem(f"{kind}[{index - offset}]{rest}", problem.message))
    return out


async def create_from(conn: psycopg.AsyncConnection[Any], who: entities.Actor,
                      template: CampaignTemplate, inputs: SetupInputs
                      ) -> tuple[InstantiatedSetup, list[entities.Written]]:
    """Build the setup and create its entities. GraphInvalid lists every problem: the
    inputs' at `picks.<input path>`, the built entities' at `created.campaigns[0].…` (as
    the API's body and answer name them)."""
    try:
        setup = instantiate(template, inputs)
    except GraphInvalid as exc:
        raise GraphInvalid([Problem(_under("picks", p.path), p.message)
                            for p in exc.problems]) from None
    context = await _context(conn, who.workspace_id, setup)
    problems = _setup_problems(check(setup, context), context)
    if problems:
        raise GraphInvalid([Problem(_under("created", p.path), p.message) for p in problems])
    written = []
    async with conn.transaction():
        for kind, i, entity in _entities(setup):
            where = f"created.{kind}[{i}]"
            try:
                written.append(await entities.create(conn, who, entity))
            except GraphInvalid as exc:
                raise GraphInvalid([Problem(_under(where, p.path), p.message)
                                    for p in exc.problems]) from None
            except EntityConflict as exc:
                raise EntityConflict(exc.reason, [(_under(where, path), message)
                                                  for path, message in exc.errors]) from None
    return setup, written


def _under(prefix: str, path: str) -> str:
    return f"{prefix}.{path}" if path else prefix
