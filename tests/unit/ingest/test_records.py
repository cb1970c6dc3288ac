from __future__ import annotations

from typing import Any

from turnout.clickid import ClickIds
from turnout.events import ENCODER, Click, Conversion, Event
from turnout.ingest import attribution, records, schema, validate
from turnout.ingest.dlq import DeadLetter, letter
from turnout.ingest.migrate import split_statements


def a_click(click_id: str, **fields: object) -> Click:
    values: dict[str, object] = dict(
        click_id=click_id, ts_ms=5, workspace_id="w", campaign_id="c", campaign_code="C",
        graph_version=1, rule_id="default", visitor_id="v",
    )
    values.update(fields)
    return Click(**values)  # type: ignore[arg-type]


def test_click_columns_follow_the_schema_and_pad_subs() -> None:
    columns = records.click_columns([a_click("A", subs=["x", "y"]), a_click("B")])
    names = [name for name, _type in schema.CLICKS]
    assert len(columns) == len(names)
    by_name = dict(zip(names, columns, strict=True))
    assert by_name["click_id"] == ["A", "B"]
    assert by_name["ts"] == [5, 5]
    assert by_name["sub1"] == ["x", ""] and by_name["sub2"] == ["y", ""]
    assert by_name["sub10"] == ["", ""]
    assert by_name["schema_version"] == [1, 1]


def _by_field(item: Any, name: str) -> Any:
    """The reference: what a column holds for one row, read by name."""
    if name == "ingest_batch":
        return "t/0/1-9"
    if name in schema.SUBS:
        subs = list(item.subs) + [""] * 10
        return subs[int(name[3:]) - 1]
    return getattr(item, {"schema_version": "v", "ts": "ts_ms"}.get(name, name))


def test_columns_hold_each_field_by_name_for_plain_and_checked_clicks() -> None:
    ids = ClickIds(seed=b"cols")
    plain = [
        a_click(ids.new(10), subs=["a"] * 10, asn=7, is_bot=True, params={"k": "v"}),
        a_click(ids.new(11), kind="lp_click", parent_click_id=ids.new(9), subs=["x", "", "z"]),
        a_click(ids.new(12), cost_micros=-5, offer_payout_micros=3, is_unique=True),
    ]
    # What ingest really inserts: validate's checked subclass, decoded from the wire.
    checked = [validate.click(ENCODER.encode(c)) for c in plain]
    assert type(checked[0]) is not Click
    rows = [*plain, *checked]
    columns = records.click_columns(rows, "t/0/1-9")
    for (name, _type), column in zip(schema.CLICKS, columns, strict=True):
        assert column == [_by_field(item, name) for item in rows], name
    assert records.click_columns([]) == [[] for _ in schema.CLICKS]


def test_columns_keep_row_order_across_many_rows() -> None:
    # Rows are transposed a chunk at a time; every row must land at its own index.
    ids = ClickIds(seed=b"many")
    rows = [
        a_click(ids.new(i), ts_ms=i, asn=i % 7, subs=[str(i)] * (i % 11), params={"i": str(i)})
        for i in range(1, 700)
    ]
    columns = records.click_columns(rows, "t/0/1-9")
    for (name, _type), column in zip(schema.CLICKS, columns, strict=True):
        assert column == [_by_field(item, name) for item in rows], name


def test_event_columns_hold_each_field_by_name() -> None:
    events = [
        Event(event_id="e1", name="signup", ts_ms=3, click_id="C", params={"a": "b"}),
        Event(event_id="e2", name="view", ts_ms=4, value_micros=9, workspace_id="w"),
    ]
    columns = records.event_columns(events)
    for (name, _type), column in zip(schema.EVENTS, columns, strict=True):
        assert column == [_by_field(item, name) for item in events], name


def test_conversion_columns_follow_the_schema_from_attributions_rows() -> None:
    rows = [
        attribution.unattributed_row(Conversion(conversion_id="A", ts_ms=7, campaign_id="c")),
        attribution.unattributed_row(Conversion(conversion_id="B", ts_ms=8, txid="t")),
    ]
    columns = records.conversion_columns(rows)
    for (name, _type), values in zip(schema.CONVERSIONS, columns, strict=True):
        assert values == [row[name] for row in rows], name
    by_name = dict(zip([name for name, _type in schema.CONVERSIONS], columns, strict=True))
    assert by_name["conversion_id"] == ["A", "B"] and by_name["ts"] == [7, 8]
    assert records.conversion_columns([]) == [[] for _ in schema.CONVERSIONS]


def test_repeats_within_a_batch_keep_the_first() -> None:
    kept = records.first_per_key([a_click("A", ts_ms=1), a_click("B"), a_click("A", ts_ms=2)])
    assert [(c.click_id, c.ts_ms) for c in kept] == [("A", 1), ("B", 5)]


class _Record:
    topic = "turnout.clicks"
    partition = 2
    offset = 41
    timestamp = 1234
    key = b"K"
    value = b"\xff"


def test_dead_letters_keep_where_the_message_was_and_its_raw_bytes() -> None:
    item = letter(_Record(), "malformed JSON: x", 99)
    assert item == DeadLetter(
        reason="malformed JSON: x", topic="turnout.clicks", partition=2, offset=41,
        timestamp_ms=1234, key="K", value=None, value_base64="/w==", failed_at_ms=99,
    )


def test_statements_split_at_line_end_semicolons_only() -> None:
    sql = (
        "-- a comment; not a split\nCREATE TABLE a (x String COMMENT 'a;b')\n"
        "ENGINE = Log;\n\nSELECT 1;\n"
    )
    assert split_statements(sql) == [
        "CREATE TABLE a (x String COMMENT 'a;b')\nENGINE = Log", "SELECT 1",
    ]
