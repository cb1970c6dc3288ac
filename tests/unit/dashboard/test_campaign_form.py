"""The editor's form: field names are the API's problem paths, and back."""

from __future__ import annotations

import pytest

from turnout.dashboard import campaign_form
from turnout.dashboard.campaign_form import FormError

STORED = {
    "id": "c1", "workspace": "acme", "name": "C", "code": "C1", "traffic_source": "ts",
    "status": "active", "revision": 4, "attribution_window_days": 7, "parent": "p",
    "inactive": {"action": "url", "url": "https://x.example/"},
    "budget": {"amount": "100", "period": "daily",
               "thresholds": [{"at": 90, "action": "notify"}, {"at": 100, "action": "pause"}]},
    "rules": [{"id": "r", "destinations": [{"id": "a", "kind": "offer", "ref": "o",
                                            "weight": 1}]}],
}


def test_paths_parse_and_nest_into_lists_in_index_order():
    assert campaign_form.parse_path("rules[0].destinations[12].weight") == [
        "rules", 0, "destinations", 12, "weight"]
    nested = campaign_form.nest([("rules[1].id", "b"), ("rules[0].id", "a"),
                                 ("cost_model.type", "cpc")])
    assert nested == {"rules": [{"id": "a"}, {"id": "b"}], "cost_model": {"type": "cpc"}}


@pytest.mark.parametrize("path", ["", "[0]", "rules..id", "rules[x]", "rules[0]extra",
                                  "a.b[0].", "__proto__[99999]"])
def test_a_path_that_is_not_a_field_is_refused(path):
    with pytest.raises(FormError):
        campaign_form.parse_path(path)


def test_a_value_and_a_group_at_one_path_is_refused():
    with pytest.raises(FormError):
        campaign_form.nest([("rules[0]", "x"), ("rules[0].id", "y")])


def test_submitted_types_fields_and_leaves_bad_numbers_as_text_for_the_api():
    edited = campaign_form.submitted([
        ("csrf", "t"), ("revision", "4"), ("name", " New "),
        ("rules[0].id", "r"), ("rules[0].priority", ""),
        ("rules[0].conditions[0].kind", "country"), ("rules[0].conditions[0].values", "US, CA,"),
        ("rules[0].conditions[0].negate", "on"),
        ("rules[0].destinations[0].id", "a"), ("rules[0].destinations[0].weight", "-2"),
        ("rules[0].destinations[1].id", "b"), ("rules[0].destinations[1].weight", "heavy"),
        ("rules[0].destinations[1].offers", "o1, o2"),
    ])
    assert "csrf" not in edited and "revision" not in edited
    rule = edited["rules"][0]
    assert edited["name"] == "New" and rule["priority"] is None
    assert rule["conditions"][0] == {"kind": "country", "values": ["US", "CA"], "negate": True}
    assert [d["weight"] for d in rule["destinations"]] == [-2, "heavy"]
    assert rule["destinations"][1]["offers"] == ["o1", "o2"]
    assert edited["default"] == []


def test_document_keeps_what_the_editor_does_not_show_and_cleans_empties():
    edited = campaign_form.submitted([
        ("name", "C2"), ("budget.amount", "250"), ("budget.period", "total"),
        ("budget.thresholds", "80 notify, 100 complete"), ("daily_click_cap", ""),
        ("schedule.start", ""), ("schedule.end", "2030-01-01"), ("bot_policy.action", "same"),
        ("bot_policy.url", ""), ("rules[0].id", "r"), ("rules[0].priority", ""),
        ("rules[0].destinations[0].id", "a"), ("rules[0].destinations[0].kind", "url"),
        ("rules[0].destinations[0].ref", ""), ("rules[0].destinations[0].url", "https://u/"),
        ("rules[0].destinations[0].weight", "5"),
    ])
    document = campaign_form.document(STORED, edited)
    assert "revision" not in document
    assert document["parent"] == "p" and document["attribution_window_days"] == 7
    assert document["inactive"] == STORED["inactive"]
    assert document["name"] == "C2"
    assert document["budget"] == {"amount": "250", "period": "total", "thresholds": [
        {"at": 80, "action": "notify"}, {"at": 100, "action": "complete"}]}
    assert "daily_click_cap" not in document
    assert document["schedule"] == {"end": "2030-01-01"}
    assert document["bot_policy"] == {"action": "same"}
    assert document["rules"] == [{"id": "r", "destinations": [
        {"id": "a", "kind": "url", "url": "https://u/", "weight": 5}]}]


def test_an_empty_budget_removes_it():
    document = campaign_form.document(STORED, campaign_form.submitted([("budget.amount", "")]))
    assert "budget" not in document


def test_thresholds_text_round_trips():
    assert campaign_form.thresholds_text(STORED["budget"]) == "90 notify, 100 pause"
    assert campaign_form.thresholds_text(None) == ""


def test_apply_adds_and_removes_rules_conditions_and_destinations():
    edited = {"rules": [{"id": "rule-1", "destinations": [{"id": "d1"}]}], "default": []}
    campaign_form.apply(edited, "add:rules")
    assert edited["rules"][1]["id"] == "rule-2"
    assert edited["rules"][1]["destinations"] == [{"id": "d1", "kind": "offer", "ref": "",
                                                   "weight": 1}]
    campaign_form.apply(edited, "add:rules[0].destinations")
    assert [d["id"] for d in edited["rules"][0]["destinations"]] == ["d1", "d2"]
    campaign_form.apply(edited, "add:rules[0].conditions")
    assert edited["rules"][0]["conditions"][0]["kind"] == "country"
    campaign_form.apply(edited, "add:default")
    assert edited["default"][0]["id"] == "d1"
    campaign_form.apply(edited, "remove:rules[0].destinations[0]")
    assert [d["id"] for d in edited["rules"][0]["destinations"]] == ["d2"]
    campaign_form.apply(edited, "remove:rules[1]")
    assert len(edited["rules"]) == 1
    for bad in ("drop:rules", "add:name", "remove:rules", "add:rules[7].destinations"):
        with pytest.raises(FormError):
            campaign_form.apply({"rules": [], "name": "x"}, bad)


def test_problems_are_placed_at_the_longest_field_their_path_starts_with():
    fields = campaign_form.paths({"name": "x", "budget": {"amount": "1"},
                                  "rules": [{"id": "r", "destinations": [{"weight": 1}]}]})
    assert {"rules", "rules[0]", "rules[0].destinations[0].weight", "budget.amount"} <= \
        set(fields)
    at, loose = campaign_form.placed({
        "rules[0].destinations[0].weight": "must be >= 0",
        "rules[0].destinations[0].weight.x": "deeper",
        "budget.thresholds[0].at": "1..100",
        "rules[0].conditions[3]": "unknown kind",
        "": "whole body",
    }, [*fields, "budget.thresholds"])
    assert at["rules[0].destinations[0].weight"] == "must be >= 0; deeper"
    assert at["budget.thresholds"] == "1..100"
    assert at["rules[0]"] == "unknown kind"
    assert loose == {"": "whole body"}


def test_a_budget_the_form_did_not_send_is_kept_as_stored():
    document = campaign_form.document(STORED, campaign_form.submitted([("name", "C3")]))
    assert document["budget"] == STORED["budget"]
    bare = campaign_form.document({**STORED, "budget": "75"},
                                  campaign_form.submitted([("rules[0].id", "r"),
                                                           ("rules[0].priority", "")]))
    assert bare["budget"] == "75" and bare["rules"] == [{"id": "r"}]
