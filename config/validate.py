"""Graph validation: every problem at once, each with the path of the field it is about."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from turnout import splitter
from turnout.config import chains, templates
from turnout.config.credentials import duplicate_credentials, pixel_problems
from turnout.config.domains import DEFAULT_DOMAIN, normal_domain
from turnout.config.errors import Problem
from turnout.config.model import (
    BOT_ACTIONS,
    BUDGET_ACTIONS,
    BUDGET_PERIODS,
    COST_MODELS,
    DEFAULT_RULE_ID,
    DESTINATION_KINDS,
    INACTIVE_ACTIONS,
    REDIRECT_MODES,
    SECTIONS,
    STATUSES,
    TOKENS,
    Campaign,
    Destination,
    Funnel,
    Graph,
    Lander,
    Network,
    Offer,
    TrafficSource,
    Workspace,
    budget_of,
)
from turnout.config.model import Condition as ConditionSpec
from turnout.config.values import (
    CURRENCIES,
    PARAM_NAME,
    SLUG,
    amount_problem,
    instant_problem,
    percent_problem,
    timezone_problem,
    to_epoch_ms,
)
from turnout.events import CONVERSION_STATUSES
from turnout.limits import MAX_ATTRIBUTION_DAYS
from turnout.splitter.types import Condition, ConditionKind

_KINDS = frozenset(kind.value for kind in ConditionKind)
_MAX_CTAS = 100
_MIN_SECRET = 8
_POSTBACK_FIELDS: Final = ("postback_statuses", "payout_percent", "postback_percent")
_PLAIN_SOURCE: Final = TrafficSource(id="", workspace="", name="")  # the defaults


def condition_values(spec: ConditionSpec) -> tuple[str, ...]:
    """The values as the splitter takes them: text (YAML may have given ints or bools)."""
    return tuple(
        ("true" if value else "false") if isinstance(value, bool) else str(value)
        for value in spec.values
    )


def condition_key(spec: ConditionSpec) -> tuple[Any, ...]:
    """What a condition's meaning depends on: equal keys, equal conditions. The types are
    part of it because 1 == True, yet hour 1 and bot true are different values."""
    return (spec.kind, spec.negate, spec.param, spec.values, tuple(map(type, spec.values)))


def is_available(destination: Destination) -> bool:
    return not destination.paused and destination.weight > 0


def _condition_problems(spec: ConditionSpec) -> list[tuple[str, str]]:
    """(field, message) for everything wrong with one condition."""
    if spec.kind not in _KINDS:
        return [("kind", f"unknown condition kind {spec.kind!r} (expected one of "
                         f"{', '.join(sorted(_KINDS))})")]
    condition = Condition(kind=ConditionKind(spec.kind), values=condition_values(spec),
                          negate=spec.negate, param=spec.param)
    return [("param" if "param" in message else "values", message)
            for message in splitter.check(condition)]


def validate(graph: Graph, changed: Mapping[str, Collection[str]] | None = None
             ) -> list[Problem]:
    """Every problem of `graph`, each with its path.

    `changed`: the ids, by section, that were added, changed or removed since a graph that
    `graph` otherwise equals and that had no problem (the version published before). Only
    the entities those ids can affect are then checked one by one: the changed ones, and
    those that refer to a changed or removed one (every entity of a changed workspace).
    The checks across the graph (ids, codes, domains, cycles, credentials) run in full.
    The answer, and its order, are those of a full validation (a property test holds it
    to that); at 10,000 campaigns a one-campaign change is checked in a few per cent of the time.
    """
    checker = _Checker(graph)
    if changed is not None:
        checker.chosen = affected(graph, changed)
    return checker.run()


def _destination_refs(destinations: Iterable[Destination]) -> Iterator[tuple[str, str]]:
    for d in destinations:
        if d.ref is not None:
            yield _SECTION_OF_KIND.get(d.kind, d.kind), d.ref
        for offer_id in d.offers:
            yield "offers", offer_id


def _campaign_refs(c: Campaign, sections: Collection[str]) -> Iterator[tuple[str, str]]:
    """(section, id) of what a campaign refers to in `sections`, bar its workspace."""
    if "traffic_sources" in sections:
        yield "traffic_sources", c.traffic_source
    if c.parent is not None and "campaigns" in sections:
        yield "campaigns", c.parent
    if not _DESTINATION_SECTIONS.isdisjoint(sections):
        for rule in c.rules:
            yield from _destination_refs(rule.destinations)
        yield from _destination_refs(c.default)


def _offer_refs(o: Offer, sections: Collection[str]) -> Iterator[tuple[str, str]]:
    yield "networks", o.network
    if o.fallback_offer is not None:
        yield "offers", o.fallback_offer


def _funnel_refs(f: Funnel, sections: Collection[str]) -> Iterator[tuple[str, str]]:
    for lander_id in f.landers:
        yield "landers", lander_id
    for offer_id in f.offers:
        yield "offers", offer_id


_SECTION_OF_KIND: Final = {"offer": "offers", "lander": "landers", "funnel": "funnels"}
_DESTINATION_SECTIONS: Final = frozenset(_SECTION_OF_KIND.values())
# What each section's entities refer to besides their workspace (none: only that), given
# the sections of interest (a campaign's destinations are only walked when they matter).
_REFS: Final[dict[str, Callable[[Any, Collection[str]], Iterator[tuple[str, str]]]]] = {
    "offers": _offer_refs, "funnels": _funnel_refs, "campaigns": _campaign_refs}
# Which sections can refer to entities of a section (so need a look when one changes).
_REFERRED_BY: Final = {
    "traffic_sources": ("campaigns",), "networks": ("offers",),
    "offers": ("offers", "funnels", "campaigns"), "landers": ("funnels", "campaigns"),
    "funnels": ("campaigns",), "campaigns": ("campaigns",)}


def affected(graph: Graph, changed: Mapping[str, Collection[str]]) -> dict[str, set[int]]:
    """Per section, the indexes of the entities whose own checks can answer differently
    after `changed` (see `validate`)."""
    ids = {section: frozenset(found) for section, found in changed.items() if found}
    spaces = ids.get("workspaces", frozenset())
    wanted: dict[str, set[int]] = {}
    for section, _ in SECTIONS:
        items = getattr(graph, section)
        mine = ids.get(section, frozenset())
        watched = {s: ids[s] for s in _REFERRED_BY if s in ids and section in _REFERRED_BY[s]}
        looked_at = watched.keys()
        refs = _REFS.get(section)
        chosen = wanted[section] = set()
        owned = spaces if section != "workspaces" else frozenset()
        for i, item in enumerate(items):
            touched = item.id in mine or (owned and item.workspace in owned)
            if not touched and watched and refs is not None:
                touched = any(ref in watched[s] for s, ref in refs(item, looked_at)
                              if s in watched)
            if touched:
                chosen.add(i)
    return wanted


class _Checker:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.problems: list[Problem] = []
        self.workspaces = self._index("workspaces", graph.workspaces)
        self.sources = self._index("traffic_sources", graph.traffic_sources)
        self.networks = self._index("networks", graph.networks)
        self.offers = self._index("offers", graph.offers)
        self.landers = self._index("landers", graph.landers)
        self.funnels = self._index("funnels", graph.funnels)
        self.campaigns = self._index("campaigns", graph.campaigns)
        # A big graph repeats the same conditions and URLs thousands of times: each
        # distinct one is checked once.
        self._condition_found: dict[tuple[Any, ...], list[tuple[str, str]]] = {}
        self._template_found: dict[tuple[str, frozenset[str]], list[str]] = {}
        # Per section, the indexes of the entities to check one by one (None: all).
        self.chosen: dict[str, set[int]] | None = None

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def run(self) -> list[Problem]:
        g = self.graph
        for i, workspace in self._each("workspaces"):
            self._workspace(f"workspaces[{i}]", workspace)
        for i, source in self._each("traffic_sources"):
            self._source(f"traffic_sources[{i}]", source)
        for i, network in self._each("networks"):
            self._network(f"networks[{i}]", network)
        for i, offer in self._each("offers"):
            self._offer(f"offers[{i}]", offer)
        for i, lander in self._each("landers"):
            self._lander(f"landers[{i}]", lander)
        for i, funnel in self._each("funnels"):
            self._funnel(f"funnels[{i}]", funnel)
        self._domains(g.workspaces)
        for i, campaign in self._each("campaigns"):
            self._campaign(f"campaigns[{i}]", campaign)
        self._codes(g.campaigns)
        self._cycles("campaigns", g.campaigns, lambda c: c.parent, "parent")
        self._cycles("offers", g.offers, lambda o: o.fallback_offer, "fallback_offer")
        self.problems.extend(duplicate_credentials(g))
        return self.problems

    def _each(self, section: str) -> Iterator[tuple[int, Any]]:
        """(index, entity) of the section's entities to check one by one, in order."""
        items = getattr(self.graph, section)
        if self.chosen is None:
            yield from enumerate(items)
            return
        for i in sorted(self.chosen.get(section, ())):
            yield i, items[i]

    # -- shared pieces -------------------------------------------------------------

    def _index(self, section: str, items: Sequence[Any]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        first: dict[str, int] = {}
        for i, item in enumerate(items):
            path = f"{section}[{i}].id"
            if SLUG.fullmatch(item.id) is None:
                self.add(path, f"must match [A-Za-z0-9_-]{{1,64}}, got {item.id!r}")
            if item.id in seen:
                self.add(path, f"duplicate id {item.id!r} (first at {section}[{first[item.id]}])")
            else:
                seen[item.id] = item
                first[item.id] = i
        return seen

    def _name(self, path: str, name: str) -> None:
        if not name.strip():
            self.add(f"{path}.name", "must not be empty")

    def _owner(self, path: str, workspace_id: str) -> str | None:
        """The entity's workspace id when it exists (else reports it and returns None)."""
        if workspace_id not in self.workspaces:
            self.add(f"{path}.workspace", f"unknown workspace {workspace_id!r}")
            return None
        return workspace_id

    def _ref(self, path: str, what: str, index: Mapping[str, Any], ref: str,
             workspace: str | None) -> Any:
        target = index.get(ref)
        if target is None:
            self.add(path, f"unknown {what} {ref!r}")
        elif (workspace is not None and target.workspace != workspace
              and target.workspace in self.workspaces):  # else reported at the target
            self.add(path, f"{what} {ref!r} belongs to workspace {target.workspace!r}, "
                           f"not {workspace!r}")
        return target

    def _template(self, path: str, text: str,
                  allowed: frozenset[str] = templates.MACROS) -> None:
        found = self._template_found.get((text, allowed))
        if found is None:
            found = self._template_found[text, allowed] = templates.problems(text, allowed)
        for message in found:
            self.add(path, message)

    def _amount(self, path: str, text: str) -> None:
        message = amount_problem(text)
        if message:
            self.add(path, message)

    def _cidrs(self, path: str, values: Iterable[str]) -> None:
        for i, value in enumerate(values):
            try:
                ipaddress.ip_network(value, strict=True)
            except ValueError as exc:
                self.add(f"{path}[{i}]", f"not a CIDR block: {exc}")

    def _range(self, path: str, value: int, low: int, high: int) -> None:
        if not low <= value <= high:
            self.add(path, f"must be between {low} and {high}, got {value}")

    def _cycles(self, section: str, items: Sequence[Any], parent: Callable[[Any], str | None],
                field: str) -> None:
        found = chains.cycles([item.id for item in items], [parent(item) for item in items])
        for i in sorted(found):
            self.add(f"{section}[{i}].{field}", "cycle: " + " -> ".join(found[i]))

    # -- entities ------------------------------------------------------------------

    def _workspace(self, path: str, ws: Workspace) -> None:
        self._name(path, ws.name)
        message = timezone_problem(ws.timezone)
        if message:
            self.add(f"{path}.timezone", message)
        if ws.currency not in CURRENCIES:
            self.add(f"{path}.currency", f"unknown ISO 4217 currency {ws.currency!r}")
        if ws.fallback_url is not None:
            self._template(f"{path}.fallback_url", ws.fallback_url)
        self._cidrs(f"{path}.bot_ip_ranges", ws.bot_ip_ranges)
        self.problems.extend(pixel_problems(path, ws))

    def _domains(self, workspaces: Sequence[Workspace]) -> None:
        """Each tracking domain a host name, claimed by one workspace once."""
        claimed: dict[str, str] = {}
        for i, workspace in enumerate(workspaces):
            for j, text in enumerate(workspace.domains):
                path = f"workspaces[{i}].domains[{j}]"
                try:
                    domain = normal_domain(text)
                except ValueError as exc:
                    self.add(path, f"{exc}, got {text!r}")
                    continue
                if domain in claimed:
                    self.add(path, f"domain {domain!r} is already claimed by {claimed[domain]}")
                else:
                    claimed[domain] = path

    def _codes(self, campaigns: Sequence[Campaign]) -> None:
        """Codes are unique per tracking domain: among the campaigns of a workspace with
        domains (served on each of them), and among those of all workspaces without (the
        default domain)."""
        codes: dict[tuple[str, str], str] = {}
        for i, campaign in enumerate(campaigns):
            path = f"campaigns[{i}]"
            owner = self.workspaces.get(campaign.workspace)
            site = campaign.workspace if owner is not None and owner.domains else DEFAULT_DOMAIN
            first = codes.setdefault((site, campaign.code), path)
            if first != path:
                where = "" if site == DEFAULT_DOMAIN else f" on the domains of workspace {site!r}"
                self.add(f"{path}.code", f"duplicate tracking code {campaign.code!r}{where} "
                                         f"(also {first}.code)")

    def _source(self, path: str, source: TrafficSource) -> None:
        self._name(path, source.name)
        self._owner(path, source.workspace)
        for token, param in source.tokens.items():
            if token not in TOKENS:
                self.add(f"{path}.tokens.{token}",
                         "unknown token (expected sub1..sub10, cost or external_id)")
            if PARAM_NAME.fullmatch(param) is None:
                self.add(f"{path}.tokens.{token}", f"not a query parameter name: {param!r}")
        if source.postback_url is not None:
            self._template(f"{path}.postback_url", source.postback_url,
                           templates.POSTBACK_MACROS)
        self._postback(path, source)

    def _postback(self, path: str, source: TrafficSource) -> None:
        statuses = source.postback_statuses
        if not statuses:
            self.add(f"{path}.postback_statuses",
                     "must name at least one status (leave postback_url out to send none)")
        for i, status in enumerate(statuses):
            if status not in CONVERSION_STATUSES:
                self.add(f"{path}.postback_statuses[{i}]",
                         f"must be one of {', '.join(CONVERSION_STATUSES)}, got {status!r}")
            elif status in statuses[:i]:
                self.add(f"{path}.postback_statuses[{i}]", f"duplicate status {status!r}")
        for name in ("payout_percent", "postback_percent"):
            message = percent_problem(getattr(source, name))
            if message:
                self.add(f"{path}.{name}", message)
        if source.postback_url is None:
            for name in _POSTBACK_FIELDS:
                if getattr(source, name) != getattr(_PLAIN_SOURCE, name):
                    self.add(f"{path}.{name}", "only used with a postback_url")

    def _network(self, path: str, network: Network) -> None:
        self._name(path, network.name)
        self._owner(path, network.workspace)
        if len(network.secret) < _MIN_SECRET:
            self.add(f"{path}.secret", f"must be at least {_MIN_SECRET} characters")
        if network.hmac_key is not None and len(network.hmac_key) < _MIN_SECRET:
            self.add(f"{path}.hmac_key", f"must be at least {_MIN_SECRET} characters")
        self._cidrs(f"{path}.ip_allowlist", network.ip_allowlist)
        for word, status in network.statuses.items():
            if not word:
                self.add(f"{path}.statuses", "a status word must not be empty")
            if status not in CONVERSION_STATUSES:
                self.add(f"{path}.statuses.{word}",
                         f"must be one of {', '.join(CONVERSION_STATUSES)}, got {status!r}")

    def _offer(self, path: str, offer: Offer) -> None:
        self._name(path, offer.name)
        workspace = self._owner(path, offer.workspace)
        self._template(f"{path}.url", offer.url)
        self._ref(f"{path}.network", "network", self.networks, offer.network, workspace)
        self._amount(f"{path}.payout", offer.payout)
        if offer.currency is not None and offer.currency not in CURRENCIES:
            self.add(f"{path}.currency", f"unknown ISO 4217 currency {offer.currency!r}")
        self._cap(f"{path}.daily_cap", offer.daily_cap)
        self._cap(f"{path}.daily_click_cap", offer.daily_click_cap)
        if offer.fallback_offer is not None:
            if offer.daily_cap is None and offer.daily_click_cap is None:
                self.add(f"{path}.fallback_offer", "only used with a daily_cap or a "
                                                   "daily_click_cap")
            if offer.fallback_offer == offer.id:
                self.add(f"{path}.fallback_offer", "must not be the offer itself")
            else:
                self._ref(f"{path}.fallback_offer", "offer", self.offers, offer.fallback_offer,
                          workspace)

    def _lander(self, path: str, lander: Lander) -> None:
        self._name(path, lander.name)
        self._owner(path, lander.workspace)
        self._template(f"{path}.url", lander.url)
        self._range(f"{path}.cta_count", lander.cta_count, 1, _MAX_CTAS)

    def _funnel(self, path: str, funnel: Funnel) -> None:
        self._name(path, funnel.name)
        workspace = self._owner(path, funnel.workspace)
        if not funnel.landers:
            self.add(f"{path}.landers", "needs at least one lander")
        last = None
        for i, lander_id in enumerate(funnel.landers):
            last = self._ref(f"{path}.landers[{i}]", "lander", self.landers, lander_id,
                             workspace)
        self._cta_offers(f"{path}.offers", funnel.offers, last, workspace)

    def _cta_offers(self, path: str, offers: Sequence[str], lander: Lander | None,
                    workspace: str | None) -> None:
        for i, offer_id in enumerate(offers):
            self._ref(f"{path}[{i}]", "offer", self.offers, offer_id, workspace)
        if (lander is not None and 1 <= lander.cta_count <= _MAX_CTAS
                and len(offers) != lander.cta_count):
            self.add(path, f"lander {lander.id!r} has {lander.cta_count} CTA(s): "
                           f"give {lander.cta_count} offer(s), got {len(offers)}")

    def _campaign(self, path: str, c: Campaign) -> None:
        self._name(path, c.name)
        workspace = self._owner(path, c.workspace)
        if SLUG.fullmatch(c.code) is None:
            self.add(f"{path}.code", f"must match [A-Za-z0-9_-]{{1,64}}, got {c.code!r}")
        if c.parent is not None:
            if c.parent == c.id:
                self.add(f"{path}.parent", "must not be the campaign itself")
            else:
                self._ref(f"{path}.parent", "campaign", self.campaigns, c.parent, workspace)
        self._ref(f"{path}.traffic_source", "traffic source", self.sources, c.traffic_source,
                  workspace)
        self._choice(f"{path}.status", c.status, STATUSES)
        self._campaign_money(path, c)
        self._schedule(path, c, workspace)
        self._choice(f"{path}.redirect_mode", str(c.redirect_mode), REDIRECT_MODES)
        if str(c.redirect_mode) == "301" and not c.allow_permanent:
            self.add(f"{path}.redirect_mode", "301 is cached by browsers, so repeat clicks "
                     "would never reach the tracker; set allow_permanent: true to use it")
        self._policy(f"{path}.bot_policy", c.bot_policy.action, c.bot_policy.url, BOT_ACTIONS)
        self._policy(f"{path}.inactive", c.inactive.action, c.inactive.url, INACTIVE_ACTIONS)
        self._range(f"{path}.attribution_window_days", c.attribution_window_days, 1,
                    MAX_ATTRIBUTION_DAYS)
        self._range(f"{path}.unique_window_hours", c.unique_window_hours, 1, 24 * 365)
        rule_ids: dict[str, int] = {}
        for i, rule in enumerate(c.rules):
            rule_path = f"{path}.rules[{i}]"
            if SLUG.fullmatch(rule.id) is None:
                self.add(f"{rule_path}.id", f"must match [A-Za-z0-9_-]{{1,64}}, got {rule.id!r}")
            elif rule.id == DEFAULT_RULE_ID:
                self.add(f"{rule_path}.id", f"{DEFAULT_RULE_ID!r} is reserved for the default "
                                            "path")
            elif rule.id in rule_ids:
                self.add(f"{rule_path}.id", f"duplicate rule id {rule.id!r} "
                                            f"(first at {path}.rules[{rule_ids[rule.id]}])")
            rule_ids.setdefault(rule.id, i)
            for j, condition in enumerate(rule.conditions):
                self._condition(f"{rule_path}.conditions[{j}]", condition)
            self._destinations(f"{rule_path}.destinations", rule.destinations, workspace)
            if not rule.destinations:
                self.add(f"{rule_path}.destinations", "needs at least one destination")
            elif all(d.weight == 0 for d in rule.destinations):
                self.add(f"{rule_path}.destinations", "all weights are 0")
        self._destinations(f"{path}.default", c.default, workspace)
        if not any(is_available(d) for d in c.default):
            self.add(f"{path}.default", "needs at least one destination that is not paused "
                                        "and has a weight > 0")

    def _choice(self, path: str, value: str, allowed: Sequence[str]) -> None:
        if value not in allowed:
            self.add(path, f"must be one of {', '.join(allowed)}, got {value!r}")

    def _campaign_money(self, path: str, c: Campaign) -> None:
        self._choice(f"{path}.cost_model.type", c.cost_model.type, COST_MODELS)
        message = amount_problem(c.cost_model.value)
        if message:
            self.add(f"{path}.cost_model.value", message)
        elif c.cost_model.type == "revshare" and Decimal(c.cost_model.value) > 100:
            self.add(f"{path}.cost_model.value", "a revshare percentage must be <= 100")
        self._cap(f"{path}.daily_click_cap", c.daily_click_cap)
        self._cap(f"{path}.daily_conversion_cap", c.daily_conversion_cap)
        budget = budget_of(c)
        if budget is None:
            return
        at = f"{path}.budget" if isinstance(c.budget, str) else f"{path}.budget.amount"
        self._amount(at, budget.amount)
        if not amount_problem(budget.amount) and Decimal(budget.amount) <= 0:
            self.add(at, "a budget must be > 0")
        self._choice(f"{path}.budget.period", budget.period, BUDGET_PERIODS)
        seen: dict[int, int] = {}
        for i, threshold in enumerate(budget.thresholds):
            here = f"{path}.budget.thresholds[{i}]"
            self._range(f"{here}.at", threshold.at, 1, 100)
            self._choice(f"{here}.action", threshold.action, BUDGET_ACTIONS)
            if threshold.at in seen:
                self.add(f"{here}.at", f"duplicate threshold {threshold.at} % "
                                       f"(first at thresholds[{seen[threshold.at]}])")
            seen.setdefault(threshold.at, i)
        if not any(t.action != "notify" for t in budget.thresholds):
            self.add(f"{path}.budget.thresholds", "needs a pause or complete threshold: a "
                                                  "budget must stop the campaign by 100 %")

    def _cap(self, path: str, value: int | None) -> None:
        if value is not None and value < 1:
            self.add(path, "must be >= 1")

    def _schedule(self, path: str, c: Campaign, workspace: str | None) -> None:
        ends: list[int] = []
        for field, text in (("start", c.schedule.start), ("end", c.schedule.end)):
            if text is None:
                continue
            message = instant_problem(text)
            if message:
                self.add(f"{path}.schedule.{field}", message)
            elif workspace is not None and not timezone_problem(
                tz := self.workspaces[workspace].timezone
            ):
                ends.append(to_epoch_ms(text, tz))
        if len(ends) == 2 and ends[1] <= ends[0]:
            self.add(f"{path}.schedule.end", "must be after schedule.start")

    def _policy(self, path: str, action: str, url: str | None, actions: Sequence[str]) -> None:
        self._choice(f"{path}.action", action, actions)
        if action == "url" and url is None:
            self.add(f"{path}.url", "required when action is url")
        elif action != "url" and url is not None:
            self.add(f"{path}.url", "only used when action is url")
        elif url is not None:
            self._template(f"{path}.url", url)

    def _condition(self, path: str, spec: ConditionSpec) -> None:
        key = condition_key(spec)
        found = self._condition_found.get(key)
        if found is None:
            found = self._condition_found[key] = _condition_problems(spec)
        for field, message in found:
            self.add(f"{path}.{field}", message)

    def _destinations(self, path: str, destinations: Sequence[Destination],
                      workspace: str | None) -> None:
        ids: dict[str, int] = {}
        for i, d in enumerate(destinations):
            here = f"{path}[{i}]"
            if SLUG.fullmatch(d.id) is None:
                self.add(f"{here}.id", f"must match [A-Za-z0-9_-]{{1,64}}, got {d.id!r}")
            elif d.id in ids:
                self.add(f"{here}.id", f"duplicate destination id {d.id!r} "
                                       f"(first at {path}[{ids[d.id]}])")
            ids.setdefault(d.id, i)
            if d.weight < 0:
                self.add(f"{here}.weight", "must be >= 0")
            if d.kind not in DESTINATION_KINDS:
                self._choice(f"{here}.kind", d.kind, DESTINATION_KINDS)
                continue
            if d.kind != "lander" and d.offers:
                self.add(f"{here}.offers", "only used with kind lander")
            if d.kind == "url":
                if d.ref is not None:
                    self.add(f"{here}.ref", "not used with kind url (give url)")
                if d.url is None:
                    self.add(f"{here}.url", "required with kind url")
                else:
                    self._template(f"{here}.url", d.url)
                continue
            if d.url is not None:
                self.add(f"{here}.url", f"not used with kind {d.kind} (give ref)")
            if d.ref is None:
                self.add(f"{here}.ref", f"required with kind {d.kind}")
            elif d.kind == "offer":
                self._ref(f"{here}.ref", "offer", self.offers, d.ref, workspace)
            elif d.kind == "funnel":
                self._ref(f"{here}.ref", "funnel", self.funnels, d.ref, workspace)
            else:
                lander = self._ref(f"{here}.ref", "lander", self.landers, d.ref, workspace)
                self._cta_offers(f"{here}.offers", d.offers, lander, workspace)
