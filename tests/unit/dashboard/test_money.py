"""The money page's and the reports page's templates with held conversions and postback
rates, as the API answers them: amounts in their own currency, the held note, escaping."""

from __future__ import annotations

from typing import Any

from turnout.dashboard import views_money
from turnout.dashboard.sessions import Session
from turnout.dashboard.web import templates

SESSION = Session(token="t", key_id="k", workspace="acme", role="viewer", csrf="c")


def _render(name: str, **context: Any) -> str:
    return templates().get_template(name).render(
        session=SESSION, can=lambda role: role == "viewer", csrf="c", notices=(),
        path="/ui/x", **context)


def _report(columns: list[tuple[str, str, str]], rows: list[dict[str, Any]],
            **meta: Any) -> dict[str, Any]:
    return {"columns": [{"name": n, "role": r, "kind": k} for n, r, k in columns],
            "rows": rows, "currency": "EUR", "timezone": "UTC", **meta}


def test_rates_are_grouped_by_day_newest_first():
    items = [{"date": "2026-12-01", "currency": "USD", "base": "EUR", "rate": "1.07"},
             {"date": "2026-12-02", "currency": "USD", "base": "EUR", "rate": "1.08"},
             {"date": "2026-12-02", "currency": "GBP", "base": "EUR", "rate": "0.85"}]
    assert [(day, [r["currency"] for r in rates]) for day, rates in
            views_money.by_day(items)] == [("2026-12-02", ["GBP", "USD"]),
                                           ("2026-12-01", ["USD"])]


def test_held_conversions_show_in_their_own_currency_and_postback_rates_as_percent():
    held = _report([("date", "dimension", ""), ("currency", "dimension", ""),
                    ("status", "dimension", ""), ("conversions", "metric", "count"),
                    ("payout", "metric", "money")],
                   [{"date": "2026-12-02", "currency": "GBP", "status": "approved",
                     "conversions": 1234, "payout": "56.5"}])
    postbacks = _report([("date", "dimension", ""), ("source", "dimension", ""),
                         ("delivered", "metric", "count"),
                         ("delivery_rate", "metric", "percent")],
                        [{"date": "2026-12-02", "source": "<b>push</b>", "delivered": 3,
                          "delivery_rate": "75.00"}])
    page = _render("money.html", days=[], since="2026-11-19", held=held,
                   postbacks=postbacks, may_import=False, csv_text="", base="",
                   problems={}, message="")
    table = page.split('id="held-conversions"', 1)[1].split("</table>", 1)[0]
    assert "£56.50" in table and "1,234" in table and "€" not in table
    rates = page.split('id="postbacks"', 1)[1].split("</table>", 1)[0]
    assert "75.00 %" in rates and "&lt;b&gt;push&lt;/b&gt;" in rates and "<b>" not in rates
    assert 'id="fx-import"' not in page and "No exchange rates since 2026-11-19" in page


def test_the_reports_page_notes_held_conversions():
    columns = [("campaign", "dimension", ""), ("conversions", "metric", "count")]
    report = _report(columns, [{"campaign": "a", "conversions": 3}], held_conversions=2,
                     totals=None)
    common: dict[str, Any] = {"groups": ["campaign"], "error": "", "params": {"from": "all"},
                              "filters": [], "filter_rows": 2, "dimensions": ["campaign"],
                              "metrics": ["conversions"], "timeline": None, "csv_query": []}
    page = _render("reports.html", report=report, **common)
    note = page.split('id="held-note"', 1)[1].split("</p>", 1)[0]
    assert "2 conversions in this report are held" in note and "/ui/money#held" in note
    none_held = _render("reports.html", report={**report, "held_conversions": 0}, **common)
    assert 'id="held-note"' not in none_held
