"""The decision engine: pure functions over compiled campaign tables.

No I/O, no asyncio; the clock (epoch milliseconds) and the visitor are passed in.
"""

from splitter.conditions import check
from splitter.decide import decide
from splitter.errors import SplitterError
from splitter.groups import GROUPS, ISO_COUNTRIES
from splitter.predicates import Predicate, compile_condition, compile_conditions
from splitter.table import CampaignTable, CompiledRule, build_table
from splitter.types import Choice, Condition, ConditionKind, Destination, Rule, Visitor

__all__ = [
    "GROUPS",
    "ISO_COUNTRIES",
    "CampaignTable",
    "Choice",
    "CompiledRule",
    "Condition",
    "ConditionKind",
    "Destination",
    "Predicate",
    "Rule",
    "SplitterError",
    "Visitor",
    "build_table",
    "check",
    "compile_condition",
    "compile_conditions",
    "decide",
]
