"""Webhook endpoints (/api/v1/webhooks): list, create (its signing secret shown once, on
the answer page), enable or disable, rotate the secret (the new one shown once), delete.
Admin keys and up, as the API decides; the dashboard checks the same role first."""

from __future__ import annotations

from typing import Any, Final

from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.routing import Route

from turnout.control.webhook_endpoints import EVENTS, new_secret
from turnout.dashboard import campaign_form
from turnout.dashboard.web import Refused, Visit, action, page, redirect

ROLE: Final = "admin"
FIELDS: Final = ("id", "url", "events", "enabled")


def _revision(form: FormData) -> int:
    raw = form.get("revision")
    if not isinstance(raw, str) or not raw.isdigit():
        raise Refused(400, "the form has no revision: reload the page")
    return int(raw)


async def _listing(visit: Visit, *, status: int = 200, shown: dict[str, Any] | None = None,
                   problems: dict[str, str] | None = None, message: str = "") -> Response:
    endpoints = (await visit.get("/api/v1/webhooks"))["items"]
    at, loose = campaign_form.placed(problems or {}, FIELDS)
    return await visit.render("webhooks.html", status=status, endpoints=endpoints,
                              events=EVENTS, shown=shown or {"events": list(EVENTS),
                                                             "enabled": True},
                              at=at, loose=loose, message=message)


@page
async def webhooks(visit: Visit) -> Response:
    visit.require(ROLE)
    return await _listing(visit)


async def _secret_page(visit: Visit, endpoint: dict[str, Any], secret: str, verb: str
                       ) -> Response:
    return await visit.render("webhook_secret.html", endpoint=endpoint, secret=secret,
                              verb=verb)


@action(ROLE)
async def create(visit: Visit, form: FormData) -> Response:
    shown = {"id": str(form.get("id") or "").strip(), "url": str(form.get("url") or "").strip(),
             "events": [e for e in form.getlist("events") if isinstance(e, str)],
             "enabled": form.get("enabled") == "on"}
    answer = await visit.api("POST", "/api/v1/webhooks", body=shown)
    if not answer.ok:
        return await _listing(visit, status=answer.status, shown=shown,
                              problems=answer.problems(),
                              message=f"Not created: {answer.detail}")
    return await _secret_page(visit, answer.body["endpoint"], answer.body["secret"],
                              "created")


async def _replace(visit: Visit, form: FormData, **change: Any) -> Any:
    """PUT the endpoint with `change`, If-Match the form's revision: its answer."""
    endpoint_id = str(visit.request.path_params["id"])
    stored = await visit.get(f"/api/v1/webhooks/{endpoint_id}")
    body = {name: stored[name] for name in FIELDS} | change
    return await visit.api("PUT", f"/api/v1/webhooks/{endpoint_id}", body=body,
                           revision=_revision(form))


async def _not_done(visit: Visit, answer: Any) -> Response:
    endpoint_id = str(visit.request.path_params["id"])
    reason = ("it was changed by someone else since the page was loaded; here it is as it "
              "is now" if answer.status == 412 else answer.detail)
    await visit.flash(f"Nothing was done to {endpoint_id}: {reason}", "error")
    return redirect("/webhooks")


@action(ROLE)
async def switch(visit: Visit, form: FormData) -> Response:
    enabled = form.get("enabled") == "true"
    answer = await _replace(visit, form, enabled=enabled)
    if not answer.ok:
        return await _not_done(visit, answer)
    await visit.flash(f"{answer.body['id']}: {'enabled' if enabled else 'disabled'}")
    return redirect("/webhooks")


@action(ROLE)
async def rotate(visit: Visit, form: FormData) -> Response:
    secret = new_secret()
    answer = await _replace(visit, form, secret=secret)
    if not answer.ok:
        return await _not_done(visit, answer)
    return await _secret_page(visit, answer.body, secret, "rotated")


@action(ROLE)
async def delete(visit: Visit, form: FormData) -> Response:
    endpoint_id = str(visit.request.path_params["id"])
    answer = await visit.api("DELETE", f"/api/v1/webhooks/{endpoint_id}",
                             revision=_revision(form))
    if not answer.ok:
        return await _not_done(visit, answer)
    await visit.flash(f"Deleted webhook {endpoint_id} and its pending deliveries.")
    return redirect("/webhooks")


ROUTES = [
    Route("/webhooks", webhooks, methods=["GET"]),
    Route("/webhooks", create, methods=["POST"]),
    Route("/webhooks/{id}/switch", switch, methods=["POST"]),
    Route("/webhooks/{id}/rotate", rotate, methods=["POST"]),
    Route("/webhooks/{id}/delete", delete, methods=["POST"]),
]
