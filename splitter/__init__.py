"""The decision engine: pure functions over compiled campaign tables.

No I/O, no asyncio; the clock (epoch milliseconds) and the visitor are passed in.
"""

from turnout.splitter.conditions import check
from turnout.splitter.decide import decide
from turnout.splitter.errors import SplitterError
from turnout.splitter.groups import GROUPS, ISO_COUNTRIES
from turnout.splitter.predicates import (
    Predicate,
    compile_condition,
    compile_conditions,
    forget_parsed,
)
from turnout.splitter.table import CampaignTable, CompiledRule, build_table
from turnout.splitter.types import Choice, Condition, ConditionKind, Destination, Rule, Visitor

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
    "forget_parsed",
]
