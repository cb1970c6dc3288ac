"""Report metrics: integer sums read from the sources, and formulas over those sums.

Counts are UInt64 and money is Int64 micro-units all the way through the sums; only the
last step turns money into Decimal (6 places, exact) and ratios into rounded Decimals, so
no float ever touches money. A ratio whose denominator is 0 is NULL, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["count", "money", "money_rate", "percent"]
Source = Literal["clicks", "conversions", "fixed_cost"]

# Base sums: name -> the sources that contribute to it. Each source emits an `n_<name>`
# column per base (0 when it has nothing to add) so they can be UNION ALL-ed.
BASES: Final[dict[str, tuple[Source, ...]]] = {
    "clicks": ("clicks",),
    "unique_clicks": ("clicks",),
    "bot_clicks": ("clicks",),
    "lp_views": ("clicks",),
    "lp_clicks": ("clicks",),
    "conversions": ("conversions",),
    "approved": ("conversions",),
    "pending": ("conversions",),
    "declined": ("conversions",),
    "chargebacks": ("conversions",),
    "held_conversions": ("conversions",),
    "revenue_micros": ("conversions",),
    "cost_micros": ("clicks", "conversions", "fixed_cost"),
}
MONEY_BASES: Final = frozenset({"revenue_micros", "cost_micros"})


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    kind: Kind
    needs: tuple[str, ...]  # base sums the formula reads
    formula: str  # SQL over the base sums; "" means the base sum of the same name
    places: int = 0
    description: str = ""

    def sql(self) -> str:
        return self.formula or self.name


def _money(micros: str) -> str:
    return f"toDecimal128({micros}, 6) / 1000000"


def _ratio(numerator: str, denominator: str, places: int) -> str:
    # 12 places before rounding: the quotient is exact to well past the places we keep.
    return (f"if({denominator} = 0, NULL, toDecimal128(round(toDecimal128({numerator}, 12)"
            f" / ({denominator}), {places}), {places}))")


def _count(name: str, description: str) -> Metric:
    return Metric(name, "count", (name,), "", 0, description)


_LIST: Final = (
    _count("clicks", "campaign clicks (bots excluded unless include_bots)"),
    _count("unique_clicks", "clicks the edge flagged unique: the visitor had no unique click "
                            "on the campaign within its unique window (default 24 h)"),
    _count("bot_clicks", "campaign clicks flagged as bots (always counted here)"),
    _count("lp_views", "campaign clicks that were sent to a lander"),
    _count("lp_clicks", "lander to offer clicks"),
    Metric("lp_ctr", "percent", ("lp_clicks", "lp_views"),
           _ratio("lp_clicks * 100", "lp_views", 4), 4, "lp_clicks / lp_views x 100"),
    _count("conversions", "counted conversions with a status in `statuses` (approved)"),
    _count("approved", "approved conversions"),
    _count("pending", "pending conversions"),
    _count("declined", "declined conversions"),
    _count("chargebacks", "conversions charged back"),
    _count("held_conversions", "counted conversions (status in `statuses`) whose money is "
                               "held: no exchange rate for their currency on their UTC day; "
                               "they add nothing to revenue until the rate is imported"),
    Metric("revenue", "money", ("revenue_micros",), _money("revenue_micros"), 6,
           "payouts of approved conversions in the workspace currency (each converted at "
           "the rate of its UTC day, rounded half-even to the micro-unit; held ones left out)"),
    Metric("cost", "money", ("cost_micros",), _money("cost_micros"), 6,
           "click costs + CPA + RevShare + fixed total spread over clicks"),
    Metric("profit", "money", ("revenue_micros", "cost_micros"),
           _money("revenue_micros - cost_micros"), 6, "revenue - cost"),
    Metric("roi", "percent", ("revenue_micros", "cost_micros"),
           _ratio("(revenue_micros - cost_micros) * 100", "cost_micros", 2), 2,
           "(revenue - cost) / cost x 100"),
    Metric("roas", "percent", ("revenue_micros", "cost_micros"),
           _ratio("revenue_micros * 100", "cost_micros", 2), 2, "revenue / cost x 100"),
    Metric("epc", "money_rate", ("revenue_micros", "clicks"),
           _ratio("revenue_micros", "clicks * 1000000", 6), 6, "revenue / clicks"),
    Metric("cr", "percent", ("conversions", "clicks"),
           _ratio("conversions * 100", "clicks", 4), 4, "conversions / clicks x 100"),
    Metric("cpa", "money_rate", ("cost_micros", "conversions"),
           _ratio("cost_micros", "conversions * 1000000", 6), 6, "cost / conversions"),
    Metric("cpc", "money_rate", ("cost_micros", "clicks"),
           _ratio("cost_micros", "clicks * 1000000", 6), 6, "cost / clicks"),
    Metric("aov", "money_rate", ("revenue_micros", "conversions"),
           _ratio("revenue_micros", "conversions * 1000000", 6), 6, "revenue / conversions"),
)

METRICS: Final[dict[str, Metric]] = {m.name: m for m in _LIST}
# unique_clicks costs what clicks cost (a summed flag) but stays out of the default so the
# default columns of the API and CLI do not change.
DEFAULT_METRICS: Final = ("clicks", "conversions", "revenue", "cost", "profit", "roi", "epc",
                          "cr")
