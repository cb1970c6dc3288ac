"""Numbers for the values of each categorical visitor attribute, shared by every table.

A campaign's masks for an attribute are an array indexed by the value's number (see
`splitter.index`), so a click needs one lookup in a dict every campaign shares (hot in the
cache) and one byte of the campaign's own vector. Number 0 is every value no condition
has named. Numbers only grow and never change meaning, so tables built at different times
agree. A `view` of a domain maps each value straight to its position in a vector, for a
section at `base` with room for `capacity` numbers; views are shared by all campaigns with
the same layout and learn values numbered later (below their capacity) as they come: a
table built earlier simply has the default mask at that position. Views of case-folded
attributes (OS, browser, city) also learn the raw spellings visitors bring, so a click
folds a name only the first time the process sees that spelling.
"""

from __future__ import annotations

import threading

from turnout.splitter.conditions import CATEGORICAL, FOLDED
from turnout.splitter.groups import ISO_COUNTRIES

_MAX_SPELLINGS = 4096  # values a folded view learns, beyond which misses are folded each time
# Builds may run in several threads; a click takes the lock only the first time the
# process sees a spelling of a folded value (`Domain.locate`).
_lock = threading.Lock()

# Countries that bring most ad traffic are numbered first: their masks then share the
# vector's first cache lines, which most clicks touch anyway.
# fmt: off
_BUSY_COUNTRIES = (
    "US", "GB", "DE", "FR", "IN", "BR", "CA", "AU", "RU", "ES", "IT", "MX", "NL", "PL",
    "ID", "PH", "TR", "JP", "KR", "SE", "NG", "TH", "VN", "EG", "PK", "ZA", "AR", "CO",
)
# fmt: on


class Domain:
    __slots__ = ("attribute", "folded", "ids", "views")

    def __init__(self, attribute: str, folded: bool) -> None:
        self.attribute = attribute
        self.folded = folded  # values compared case-folded: OS, browser, city
        self.ids: dict[object, int] = {}
        self.views: dict[tuple[int, int], dict[object, int]] = {}

    def number(self, value: object) -> int:
        """The number of a condition value (folded already), given one when new."""
        number = self.ids.get(value)
        if number is None:
            with _lock:
                number = self.ids.get(value)
                if number is None:
                    number = self.ids[value] = len(self.ids) + 1
                    for (base, capacity), view in self.views.items():
                        if number < capacity:
                            view[value] = base + number
                            if self.folded:  # raw spellings remembered as unknown
                                for raw in list(view):
                                    if raw.casefold() == value:  # type: ignore[attr-defined]
                                        view[raw] = base + number
        return number

    def locate(self, raw: str, view: dict[object, int], base: int) -> int:
        """The position of a visitor's raw value in a folded domain's view (the slow path:
        the spelling is then remembered in the view, up to a bound)."""
        with _lock:  # so a value numbered meanwhile cannot leave a stale spelling behind
            position = view.get(raw.casefold(), base)
            if len(view) < _MAX_SPELLINGS:
                view[raw] = position
        return position

    def capacity(self) -> int:
        """Room for every number given so far plus 0, rounded up so layouts repeat."""
        size = len(self.ids) + 1
        if self.attribute in _CLOSED:
            return size
        return max(16, 1 << (size - 1).bit_length())

    def view(self, base: int, capacity: int) -> dict[object, int]:
        view = self.views.get((base, capacity))
        if view is None:
            with _lock:
                view = self.views.get((base, capacity))
                if view is None:
                    view = {v: base + n for v, n in self.ids.items() if n < capacity}
                    self.views[(base, capacity)] = view
        return view


DOMAINS: dict[str, Domain] = {
    attribute: Domain(attribute, kind in FOLDED) for kind, attribute in CATEGORICAL.items()
}
# Closed domains are numbered in full up front, so their sections never change size.
_CLOSED = frozenset({"country", "device", "is_bot"})
for _country in (*_BUSY_COUNTRIES, *sorted(ISO_COUNTRIES - set(_BUSY_COUNTRIES))):
    DOMAINS["country"].number(_country)
for _device in ("desktop", "mobile", "tablet"):
    DOMAINS["device"].number(_device)
for _flag in (False, True):
    DOMAINS["is_bot"].number(_flag)
