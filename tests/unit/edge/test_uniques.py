from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from turnout.edge.uniques import MAX_ENTRIES, _base36, _entries, campaign_key, check

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_790_000_000_000


def test_first_click_is_unique_and_sets_the_cookie():
    unique, cookie = check("", campaign_key("a"), T0, DAY)
    assert unique
    assert cookie is not None and cookie.startswith(campaign_key("a") + ":")


def test_repeat_within_the_window_is_not_unique_and_keeps_the_cookie():
    _, cookie = check("", campaign_key("a"), T0, DAY)
    assert cookie is not None
    assert check(cookie, campaign_key("a"), T0 + DAY - 1000, DAY) == (False, None)


def test_window_is_anchored_at_the_last_unique_click_not_the_last_click():
    key = campaign_key("a")
    _, cookie = check("", key, T0, 12 * HOUR)
    assert cookie is not None
    assert check(cookie, key, T0 + 8 * HOUR, 12 * HOUR)[0] is False
    unique, later = check(cookie, key, T0 + 16 * HOUR, 12 * HOUR)
    assert unique and later is not None
    assert check(later, key, T0 + 20 * HOUR, 12 * HOUR)[0] is False


def test_campaigns_have_separate_windows():
    _, cookie = check("", campaign_key("a"), T0, DAY)
    assert cookie is not None
    unique, both = check(cookie, campaign_key("b"), T0 + 1000, DAY)
    assert unique and both is not None
    assert check(both, campaign_key("a"), T0 + 2000, DAY)[0] is False
    assert check(both, campaign_key("b"), T0 + 2000, DAY)[0] is False


def test_a_timestamp_from_the_future_does_not_suppress_uniques():
    key = campaign_key("a")
    _, cookie = check("", key, T0 + DAY, DAY)
    assert cookie is not None
    assert check(cookie, key, T0, DAY)[0] is True


def test_the_cookie_keeps_the_most_recent_campaigns_only():
    cookie = ""
    for index in range(MAX_ENTRIES + 5):
        _, cookie = check(cookie, campaign_key(f"c{index}"), T0 + index * 1000, DAY)
    assert cookie.count(".") == MAX_ENTRIES - 1
    assert check(cookie, campaign_key(f"c{MAX_ENTRIES + 4}"), T0 + 10**6, DAY)[0] is False
    assert check(cookie, campaign_key("c0"), T0 + 10**6, DAY)[0] is True


@given(st.text(max_size=300))
def test_any_cookie_value_is_handled_without_error(value):
    unique, cookie = check(value, campaign_key("a"), T0, DAY)
    assert isinstance(unique, bool)
    assert cookie is None or (";" not in cookie and " " not in cookie)


def test_a_signed_timestamp_is_foreign_and_cannot_hang_the_handler():
    # int(..., 36) takes "-5": re-encoding a negative second used to loop forever.
    unique, cookie = check("a:-5.b:+7", campaign_key("c"), T0, DAY)
    assert unique and cookie == f"{campaign_key('c')}:{_base36(T0 // 1000)}.b:7"


def _reference_check(value: str, key: str, now_ms: int, window_ms: int
                     ) -> tuple[bool, str | None]:
    """check() before its first-visit shortcut and the stamp cache."""
    now_s = now_ms // 1000
    entries = _entries(value)
    for entry_key, seconds in entries:
        if entry_key == key:
            if (now_s - seconds) * 1000 < window_ms and seconds <= now_s:
                return False, None
            break
    kept = [entry for entry in entries if entry[0] != key][: MAX_ENTRIES - 1]
    return True, ".".join(f"{k}:{_base36(s)}" for k, s in [(key, now_s), *kept])


_entry = st.tuples(st.sampled_from(["a", "b", campaign_key("a"), ""]),
                   st.sampled_from([":", "", "::"]),
                   st.one_of(st.integers(0, T0 // 1000 + DAY).map(_base36),
                             st.text("0123456789az+-_ !", max_size=8)))
_cookies = st.lists(_entry, max_size=40).map(lambda parts: ".".join(map("".join, parts)))


@given(_cookies, st.integers(T0 - DAY, T0 + DAY), st.sampled_from([0, 1000, HOUR, DAY]))
def test_check_equals_the_reference(value, now_ms, window_ms):
    key = campaign_key("a")
    assert check(value, key, now_ms, window_ms) == _reference_check(value, key, now_ms,
                                                                      window_ms)


def test_entries_with_keys_campaign_key_never_writes_are_dropped_not_echoed():
    # Regression (issue #15): `tu` entries were echoed back unsanitised into Set-Cookie.
    tampered = ('"q":1.<x>:2.Expires=Thu:3.caf\u00e9:4.' + "k" * 8 + ":5."
                + campaign_key("b") + ":6")
    unique, cookie = check(tampered, campaign_key("c"), T0, DAY)
    assert unique
    assert cookie == f"{campaign_key('c')}:{_base36(T0 // 1000)}.{campaign_key('b')}:6"


@given(st.text(max_size=300))
def test_an_echoed_cookie_holds_only_base36_keys_and_stamps(value):
    _, cookie = check(value, campaign_key("a"), T0, DAY)
    assert cookie is not None
    for part in cookie.split("."):
        key, _, stamp = part.partition(":")
        assert key and stamp and set(key + stamp) <= set("0123456789abcdefghijklmnopqrstuvwxyz")
