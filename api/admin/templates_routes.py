"""GET /api/v1/templates (the onboarding questions, the built-in templates and the
workspace's saved ones), POST /api/v1/campaigns/from-template (answer the two questions
or name a template, and give the picks: every entity is created in one transaction) and
POST /api/v1/campaigns/{id}/save-as-template."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from turnout.api.admin.bodies import json_response
from turnout.api.admin.routes import AdminRoute
from turnout.api.admin.state import connection
from turnout.api.admin.writes import REFUSALS, actor_of, problem_of, publish, read
from turnout.api.problems import Problem
from turnout.config.errors import Problem as FieldProblem
from turnout.control import template_store
from turnout.control.campaign_templates import (
    QUESTIONS,
    CampaignTemplate,
    SetupInputs,
    choose,
    template_from_campaign,
)
from turnout.control.entity_docs import read_many, read_one
from turnout.control.template_model import Question
from turnout.control.template_setup import create_from

Slug = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class Picks(SetupInputs, frozen=True, kw_only=True):
    """What to build the template with (control/template_inputs.py); the workspace is the
    key's."""

    workspace: str | None = None


class FromTemplate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    template: str | None = None
    """A template id (built-in or saved); or answer the two questions instead."""
    promoted: str | None = None
    """ecommerce | online_offer (with `where`)."""
    where: str | None = None
    """own_site | social | other (with `promoted`)."""
    picks: Picks


class Created(msgspec.Struct, kw_only=True):
    template: CampaignTemplate
    created: dict[str, list[dict[str, Any]]]
    """The entities created, by section, as GET shows them (with their revisions)."""


class SaveAsTemplate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    id: Slug | None = None
    """Default: saved-<campaign id>."""


class TemplateList(msgspec.Struct, kw_only=True):
    questions: list[Question]
    items: list[CampaignTemplate]
    """Built-in templates (`builtin: true`) first, then the workspace's saved ones."""


async def list_templates(request: Request) -> Response:
    who = actor_of(request)
    found = await read(request, lambda conn: template_store.every(conn, who.workspace_id))
    return json_response(TemplateList(questions=list(QUESTIONS), items=found))


def _inputs(picks: Picks, workspace_id: str) -> SetupInputs:
    if picks.workspace not in (None, workspace_id):
        raise Problem.invalid([FieldProblem("picks.workspace", f"must be this key's "
                                            f"workspace {workspace_id!r} (or left out)")])
    fields = msgspec.structs.asdict(picks)
    fields["workspace"] = workspace_id
    return SetupInputs(**fields)


async def _template(conn: Any, workspace_id: str, body: FromTemplate) -> CampaignTemplate:
    answered = body.promoted is not None or body.where is not None
    if (body.template is None) == (not answered):
        raise Problem.invalid([FieldProblem("template", "name a template, or answer "
                                            "promoted and where (not both)")])
    if body.template is not None:
        return await template_store.find(conn, workspace_id, body.template)
    return choose(body.promoted or "", body.where or "")


async def from_template(request: Request, body: FromTemplate) -> Response:
    who = actor_of(request)
    inputs = _inputs(body.picks, who.workspace_id)
    try:
        async with connection(request) as conn:
            template = await _template(conn, who.workspace_id, body)
            _, written = await create_from(conn, who, template, inputs)
    except REFUSALS as exc:
        raise problem_of(exc) from None
    publish(request, who, written)
    created: dict[str, list[dict[str, Any]]] = {}
    for w in written:
        assert w.stored is not None
        created.setdefault(w.kind, []).append(w.stored.shown())
    return json_response(Created(template=template, created=created), status=201)


async def save_as_template(request: Request, body: SaveAsTemplate) -> Response:
    who = actor_of(request)
    campaign_id = str(request.path_params["id"])
    try:
        async with connection(request) as conn:
            campaign = (await read_one(conn, who.workspace_id, "campaigns", campaign_id)).entity
            source = (await read_many(conn, who.workspace_id, "traffic_sources",
                                      (campaign.traffic_source,))).get(campaign.traffic_source)
            template = template_from_campaign(
                campaign, body.name, template_id=body.id,
                traffic_source=None if source is None else source.entity)
            await template_store.save(conn, who, template)
    except REFUSALS as exc:
        raise problem_of(exc) from None
    return json_response(template, status=201)


ROUTES: list[AdminRoute] = [
    AdminRoute("GET", "/api/v1/templates", list_templates, "viewer",
               "The onboarding questions, built-in and saved campaign templates",
               response=TemplateList),
    AdminRoute("POST", "/api/v1/campaigns/from-template", from_template, "editor",
               "Create campaigns (and new sources, offers, landers) from a template",
               body=FromTemplate, response=Created, status=201, names_in_body=True),
    AdminRoute("POST", "/api/v1/campaigns/{id}/save-as-template", save_as_template, "editor",
               "Save a campaign's structure as a template of the workspace",
               body=SaveAsTemplate, response=CampaignTemplate, status=201),
]
