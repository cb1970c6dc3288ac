"""Create, edit and delete offers, landers, funnels, traffic sources and networks through
the API's entity routes (POST, PUT with If-Match, DELETE with If-Match). A 422 shows each
problem at its field, a 412 says someone else saved first and keeps the edit, a delete
the API refuses (the entity is in use) says why."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.routing import Route

from turnout.dashboard import campaign_form, entity_form
from turnout.dashboard.client import Answer
from turnout.dashboard.entity_form import FORMS, EntityForm
from turnout.dashboard.web import Handler, Refused, Visit, action, page, redirect


def _revision(form: FormData) -> int:
    raw = form.get("revision")
    if not isinstance(raw, str) or not raw.isdigit():
        raise Refused(400, "the form has no revision: reload the page")
    return int(raw)


def _submitted(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def _render(visit: Visit, form: EntityForm, shown: dict[str, str], *,
                  entity_id: str | None = None, revision: int | None = None,
                  stored: dict[str, Any] | None = None, status: int = 200,
                  problems: dict[str, str] | None = None, message: str = "") -> Response:
    at, loose = campaign_form.placed(problems or {}, [f.name for f in form.fields])
    choices = {segment: (await visit.get(f"/api/v1/{segment}",
                                         {"limit": "1000", "sort": "name"}))["items"]
               for segment in set(form.picks())}
    return await visit.render(
        "entity_form.html", status=status, form=form, shown=shown, entity_id=entity_id,
        revision=revision, at=at, loose=loose, message=message, choices=choices,
        has_secret={f.name: bool((stored or {}).get(f.name)) for f in form.fields
                    if f.kind == "secret"})


async def _refused(visit: Visit, form: EntityForm, answer: Answer, shown: dict[str, str],
                   **where: Any) -> Response:
    """The form again with why the API did not save it."""
    if answer.status == 412:
        return await _render(
            visit, form, shown, status=412, **where,
            message=f"Not saved: someone else changed this {form.singular} since you opened "
                    "it. Your edit is still below; reload the page to see theirs and make "
                    "your change again.")
    if answer.status == 422:
        return await _render(visit, form, shown, status=422, problems=answer.problems(),
                             message="Not saved: fix the fields marked below.", **where)
    return await _render(visit, form, shown, status=answer.status, **where,
                         problems=answer.problems(), message=f"Not saved: {answer.detail}")


def _body(form: EntityForm, submitted: dict[str, str],
          stored: dict[str, Any] | None = None) -> dict[str, Any] | entity_form.FormError:
    try:
        return entity_form.body(form, submitted, stored)
    except entity_form.FormError as exc:
        return exc


async def _new_page(visit: Visit, form: EntityForm) -> Response:
    visit.require("editor")
    return await _render(visit, form, {})


async def _create(visit: Visit, posted: FormData, form: EntityForm) -> Response:
    submitted = _submitted(posted)
    body = _body(form, submitted)
    if isinstance(body, entity_form.FormError):
        return await _render(visit, form, submitted, status=422,
                             problems={body.path: str(body)},
                             message="Not saved: fix the fields marked below.")
    answer = await visit.api("POST", f"/api/v1/{form.segment}", body=body)
    if not answer.ok:
        return await _refused(visit, form, answer, submitted)
    await visit.flash(f"Created {form.singular} {answer.body['name']} ({answer.body['id']}).")
    return redirect(f"/{form.segment}")


async def _edit_page(visit: Visit, form: EntityForm) -> Response:
    visit.require("editor")
    entity_id = str(visit.request.path_params["id"])
    stored = await visit.get(f"/api/v1/{form.segment}/{entity_id}")
    return await _render(visit, form, entity_form.values(form, stored), entity_id=entity_id,
                         revision=stored["revision"], stored=stored)


async def _save(visit: Visit, posted: FormData, form: EntityForm) -> Response:
    entity_id = str(visit.request.path_params["id"])
    revision = _revision(posted)
    stored = await visit.get(f"/api/v1/{form.segment}/{entity_id}")
    submitted = {**_submitted(posted), "id": entity_id}
    shown = {**submitted, **{f.name: "" for f in form.fields if f.kind == "secret"}}
    where = {"entity_id": entity_id, "revision": revision, "stored": stored}
    body = _body(form, submitted, stored)
    if isinstance(body, entity_form.FormError):
        return await _render(visit, form, shown, status=422, problems={body.path: str(body)},
                             message="Not saved: fix the fields marked below.", **where)
    answer = await visit.api("PUT", f"/api/v1/{form.segment}/{entity_id}", body=body,
                             revision=revision)
    if not answer.ok:
        return await _refused(visit, form, answer, shown, **where)
    await visit.flash(f"Saved {form.singular} {answer.body['name']} "
                      f"(revision {answer.body['revision']}).")
    return redirect(f"/{form.segment}")


async def _delete(visit: Visit, posted: FormData, form: EntityForm) -> Response:
    entity_id = str(visit.request.path_params["id"])
    answer = await visit.api("DELETE", f"/api/v1/{form.segment}/{entity_id}",
                             revision=_revision(posted))
    if answer.ok:
        await visit.flash(f"Deleted {form.singular} {entity_id}.")
        return redirect(f"/{form.segment}")
    reason = "; ".join(answer.problems().values()) or answer.detail
    if answer.status == 412:
        reason = "it was changed by someone else since the page was loaded; look again"
    await visit.flash(f"Not deleted: {entity_id}: {reason}", "error")
    return redirect(f"/{form.segment}/{entity_id}/edit")


def _routes(form: EntityForm) -> list[Route]:
    """The five routes of one kind, each handler bound to its form."""

    def shown(handler: Callable[[Visit, EntityForm], Awaitable[Response]]) -> Handler:
        async def view(visit: Visit) -> Response:
            return await handler(visit, form)

        view.__name__ = f"{handler.__name__.strip('_')}_{form.segment.replace('-', '_')}"
        return page(view)

    def acted(handler: Callable[[Visit, FormData, EntityForm], Awaitable[Response]]
              ) -> Handler:
        async def view(visit: Visit, posted: FormData) -> Response:
            return await handler(visit, posted, form)

        view.__name__ = f"{handler.__name__.strip('_')}_{form.segment.replace('-', '_')}"
        return action("editor")(view)

    base = f"/{form.segment}"
    return [
        Route(f"{base}/new", shown(_new_page), methods=["GET"]),
        Route(base, acted(_create), methods=["POST"]),
        Route(f"{base}/{{id}}/edit", shown(_edit_page), methods=["GET"]),
        Route(f"{base}/{{id}}/edit", acted(_save), methods=["POST"]),
        Route(f"{base}/{{id}}/delete", acted(_delete), methods=["POST"]),
    ]


ROUTES = [route for form in FORMS.values() for route in _routes(form)]
