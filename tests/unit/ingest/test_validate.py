from __future__ import annotations

import contextlib

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.clickid import ClickIds
from turnout.events import ENCODER, Click, Conversion, Event
from turnout.ingest import validate

IDS = ClickIds(seed=b"validate")


def a_click(**fields: object) -> Click:
    values: dict[str, object] = dict(
        click_id=IDS.new(1_700_000_000_000), ts_ms=1_700_000_000_000, workspace_id="w",
        campaign_id="c", campaign_code="C", graph_version=1, rule_id="default", visitor_id="v",
    )
    values.update(fields)
    return Click(**values)  # type: ignore[arg-type]


def reason(decoder: object, raw: bytes | None) -> str:
    with pytest.raises(validate.Invalid) as info:
        decoder(raw)  # type: ignore[operator]
    return str(info.value)


def test_a_valid_click_passes_with_its_id_normalised() -> None:
    item = a_click()
    item.click_id = item.click_id.lower()
    decoded = validate.click(ENCODER.encode(item))
    assert decoded.click_id == item.click_id.upper()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "empty message (tombstone)"),
        (b"{nope", "malformed JSON"),
        (b'{"v": 2}', "unsupported schema version 2"),
        (ENCODER.encode(a_click(v=3)), "unsupported schema version 3"),
        (b'{"v": 1}', "schema: Object missing required field"),
        (ENCODER.encode(a_click(click_id="abc")), "click_id: click id must be 26 characters"),
        (ENCODER.encode(a_click(kind="view")), "kind: 'view' is not one of click, lp_click"),
        (ENCODER.encode(a_click(kind="lp_click")), "parent_click_id:"),
        (ENCODER.encode(a_click(asn=-1)), "asn: -1 is out of range"),
        (ENCODER.encode(a_click(funnel_step=256)), "funnel_step: 256 is out of range"),
        (ENCODER.encode(a_click(cost_micros=1 << 63)), "cost_micros:"),
        (ENCODER.encode(a_click(ts_ms=0)), "ts_ms: 0 is not a millisecond timestamp"),
        (ENCODER.encode(a_click(workspace_id="")), "workspace_id: must not be empty"),
        (ENCODER.encode(a_click(subs=["x"] * 11)), "subs: 11 values, at most 10"),
    ],
)
def test_invalid_clicks_say_why(raw: bytes | None, expected: str) -> None:
    assert reason(validate.click, raw).startswith(expected)


def test_conversion_rules() -> None:
    ok = Conversion(conversion_id=IDS.new(), click_id=IDS.new(), ts_ms=1_700_000_000_000,
                    workspace_id="w")
    assert validate.conversion(ENCODER.encode(ok)).status == "approved"
    nothing = Conversion(conversion_id=IDS.new(), ts_ms=1_700_000_000_000)
    assert reason(validate.conversion, ENCODER.encode(nothing)) == (
        "conversion has neither click_id nor visitor_id"
    )
    bad = Conversion(conversion_id=IDS.new(), visitor_id="v", status="won", ts_ms=1)
    assert reason(validate.conversion, ENCODER.encode(bad)).startswith("status: 'won'")


def test_event_rules() -> None:
    ok = Event(event_id="e1", name="signup", ts_ms=1_700_000_000_000)
    assert validate.event(ENCODER.encode(ok)).name == "signup"
    assert reason(validate.event, ENCODER.encode(Event(event_id="e", name="", ts_ms=1))) == (
        "name: must not be empty"
    )


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_escape_as_anything_but_invalid(raw: bytes) -> None:
    for decoder in (validate.click, validate.conversion, validate.event):
        with contextlib.suppress(validate.Invalid):
            decoder(raw)




def _around(*edges: int) -> st.SearchStrategy[object]:
    """Each edge and its neighbours, and a string where a number belongs."""
    return st.sampled_from([*(e + d for e in edges for d in (-1, 0, 1)), "5"])


_IDS = st.sampled_from([IDS.new(1_700_000_000_000), IDS.new(5).lower(), "", "abc",
                        "8" + IDS.new(1)[1:], IDS.new(9) + "\n", "0" * 26, "I" * 26, 7,
                        f"{IDS.new(3)}\n{IDS.new(4)} ", f"{IDS.new(6)} {IDS.new(7)}"])
_INT64 = _around(-(1 << 63), 0, (1 << 63) - 1)
_UINT64 = _around(0, (1 << 64) - 1)
_CHANGES = {
    "v": st.sampled_from([1, 2, 0, "1"]),
    "kind": st.sampled_from(["click", "lp_click", "view", ""]),
    "click_id": _IDS,
    "parent_click_id": _IDS,
    "ts_ms": _around(0, (1 << 48) - 1),
    "workspace_id": st.sampled_from(["w", "", 5]),
    "campaign_id": st.sampled_from(["c", ""]),
    "graph_version": _UINT64,
    "funnel_step": _around(0, 255),
    "asn": _around(0, (1 << 32) - 1),
    "cost_micros": _INT64,
    "cost_rate_micros": _INT64,
    "attribution_window_ms": _UINT64,
    "unique_window_ms": _UINT64,
    "subs": st.lists(st.sampled_from(["", "s"]), min_size=9, max_size=11),
}


_VARIED_CLICKS = st.tuples(
    st.lists(st.sampled_from(sorted(_CHANGES)), min_size=1, max_size=2).flatmap(
        lambda names: st.fixed_dictionaries({name: _CHANGES[name] for name in names})
    ),
    st.sets(st.sampled_from(["click_id", "ts_ms", "workspace_id", "subs", "kind", "v"]),
            max_size=1),
).map(lambda varied: _varied_click(*varied))


def _varied_click(changes: dict[str, object], removed: set[str]) -> bytes:
    fields = msgspec.to_builtins(a_click(subs=["a"], funnel_step=1, asn=7))
    fields.update(changes)
    for name in removed:
        fields.pop(name, None)
    return msgspec.json.encode(fields)


def _verdict(check: object, raw: bytes | None) -> object:
    """What a check makes of a message: the click's fields, or the reason it is refused."""
    try:
        return msgspec.structs.asdict(check(raw))  # type: ignore[operator]
    except validate.Invalid as exc:
        return str(exc)


@settings(max_examples=400, deadline=None)
@given(_VARIED_CLICKS)
def test_the_fast_click_check_agrees_with_the_reference_checks(raw: bytes) -> None:
    # validate.click decodes into a struct whose constraints msgspec checks in C; every
    # message must get the same verdict, and the same reason, as the field-by-field checks.
    assert _verdict(validate.click, raw) == _verdict(validate._checked_click, raw)


def _batch_verdicts(raws: list[bytes | None]) -> list[object]:
    return [
        str(outcome) if isinstance(outcome, validate.Invalid) else msgspec.structs.asdict(outcome)
        for outcome in validate.clicks(raws)
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_VARIED_CLICKS, st.just(ENCODER.encode(a_click())), st.none(),
                          st.binary(max_size=20)), max_size=12))
def test_a_batch_gets_the_verdict_of_each_message_alone(raws: list[bytes | None]) -> None:
    # validate.clicks checks the id patterns once per batch; the outcome of every message
    # must be what validate.click says of it alone, in order, valid ids upper-cased.
    assert _batch_verdicts(raws) == [_verdict(validate.click, raw) for raw in raws]


def test_an_id_cannot_pass_as_two_lines_of_the_batch_check() -> None:
    # "<valid id>\n<valid id> " as a parent id would read as two valid lines.
    sneaky = a_click(kind="lp_click", parent_click_id=f"{IDS.new(3)}\n{IDS.new(4)} ")
    raws: list[bytes | None] = [ENCODER.encode(a_click()), ENCODER.encode(sneaky)]
    assert _batch_verdicts(raws) == [_verdict(validate.click, raw) for raw in raws]
    assert str(validate.clicks(raws)[1]).startswith("parent_click_id:")


def test_one_bad_id_in_a_batch_refuses_that_message_only() -> None:
    good = [a_click(click_id=IDS.new(1_700_000_000_000 + i).lower()) for i in range(3)]
    bad = ENCODER.encode(a_click(click_id="8" + IDS.new(1)[1:]))
    outcomes = validate.clicks([ENCODER.encode(good[0]), bad, *map(ENCODER.encode, good[1:])])
    assert isinstance(outcomes[1], validate.Invalid)
    assert str(outcomes[1]).startswith("click_id:")
    assert [o.click_id for o in outcomes if isinstance(o, Click)] == [
        c.click_id.upper() for c in good
    ]
