"""What a report can be grouped and filtered by, and the SQL each dimension reads.

Names here are a public whitelist: a group-by, filter or sort name that is not a key of
DIMENSIONS (or of metrics.METRICS) never reaches SQL. Expressions are templates over the
source table: `{ts}` is the time the row counts at (`ts` for clicks, `click_ts` for
conversions, so a conversion lands on its click's day and hour).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from turnout.events import SUB_NAMES

_ROLLUP_CAMPAIGN: Final = "if(parent_campaign_id = '', campaign_id, parent_campaign_id)"


@dataclass(frozen=True, slots=True)
class Names:
    """Where an entity's display name lives (the dim_* tables of ingest/migrations)."""

    table: str  # dim_x, keyed (workspace_id, id, graph_version)
    latest: str  # dim_x_latest view: the name in the newest version that has it


@dataclass(frozen=True, slots=True)
class Dimension:
    name: str
    expression: str  # SQL over a clicks/conversions row; `{ts}` = the row's time column
    param_type: str  # ClickHouse type of filter values
    names: Names | None = None

    def sql(self, ts: str, rollup: bool = False) -> str:
        if rollup and self.name == "campaign":
            return _ROLLUP_CAMPAIGN
        return self.expression.format(ts=ts)


def _names(entity: str) -> Names:
    return Names(f"dim_{entity}", f"dim_{entity}_latest")


_LIST: Final = (
    Dimension("workspace", "workspace_id", "String"),
    Dimension("campaign", "campaign_id", "String", _names("campaigns")),
    Dimension("rule", "rule_id", "String"),
    Dimension("destination", "destination_id", "String"),
    Dimension("offer", "offer_id", "String", _names("offers")),
    Dimension("lander", "lander_id", "String", _names("landers")),
    Dimension("funnel", "funnel_id", "String"),
    Dimension("funnel_step", "funnel_step", "UInt8"),
    Dimension("source", "traffic_source_id", "String", _names("sources")),
    Dimension("network", "network_id", "String", _names("networks")),
    Dimension("country", "country", "String"),
    Dimension("region", "region", "String"),
    Dimension("city", "city", "String"),
    Dimension("device", "device", "String"),
    Dimension("os", "os", "String"),
    Dimension("browser", "browser", "String"),
    Dimension("language", "language", "String"),
    *(Dimension(name, name, "String") for name in SUB_NAMES),
    Dimension("graph_version", "graph_version", "UInt64"),
    Dimension("date", "toDate({ts}, {{tz:String}})", "Date"),
    # A string with the UTC offset, so the repeated hour of a DST change stays two rows.
    Dimension("hour", "formatDateTime(toStartOfHour({ts}, {{tz:String}}), "
                      "'%Y-%m-%dT%H:00:00%z', {{tz:String}})", "String"),
)

DIMENSIONS: Final[dict[str, Dimension]] = {d.name: d for d in _LIST}
TIME_DIMENSIONS: Final = ("date", "hour")
