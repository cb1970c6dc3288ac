"""Graph -> CompiledGraph: templates parsed, money in micro-units, rules in priority order,
splitter tables built. Done once per published version, never per click."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from turnout import splitter
from turnout.config import model
from turnout.config.compiled import (
    CompiledCampaign,
    CompiledFunnel,
    CompiledGraph,
    CompiledLander,
    CompiledNetwork,
    CompiledOffer,
    CompiledTrafficSource,
    CompiledWorkspace,
    CostModel,
    IPNetwork,
    Policy,
    Target,
)
from turnout.config.domains import DEFAULT_DOMAIN, normal_domain
from turnout.config.errors import GraphInvalid
from turnout.config.model import DEFAULT_RULE_ID, Graph
from turnout.config.templates import POSTBACK_MACROS, Template
from turnout.config.validate import condition_key, condition_values, is_available, validate
from turnout.config.values import to_epoch_ms, to_micros
from turnout.events import CONVERSION_STATUSES
from turnout.splitter.types import Condition, ConditionKind, Destination, Rule

_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000


def compile_graph(
    graph: Graph, version: int, capped_offers: frozenset[str] = frozenset()
) -> CompiledGraph:
    """Compile a graph. Raises GraphInvalid (with every problem) when it does not validate.

    An offer in `capped_offers` hands its traffic to its fallback offer (the first one
    along the fallback chain that is not capped); with none, destinations pointing at it
    directly become unavailable, and lander CTAs keep it (the visitor already chose).
    """
    problems = validate(graph)
    if problems:
        raise GraphInvalid(problems)
    return _Compiler(graph, version, capped_offers).build()


def _networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=True) for cidr in cidrs)


def _codes(workspaces: Iterable[CompiledWorkspace], campaigns: Iterable[CompiledCampaign]
           ) -> dict[str, dict[str, CompiledCampaign]]:
    """The code index by tracking domain (validation made codes unique per domain); every
    claimed domain has an entry, with campaigns or without."""
    codes: dict[str, dict[str, CompiledCampaign]] = {DEFAULT_DOMAIN: {}}
    codes.update((domain, {}) for workspace in workspaces for domain in workspace.domains)
    for campaign in campaigns:
        for domain in campaign.workspace.domains or (DEFAULT_DOMAIN,):
            codes.setdefault(domain, {})[campaign.code] = campaign
    return codes


class _Compiler:
    def __init__(self, graph: Graph, version: int, capped: frozenset[str]) -> None:
        self.graph = graph
        self.version = version
        self.capped = capped
        # Campaigns share URLs and conditions by the thousand; both are immutable once
        # built, so each distinct one is built once and shared.
        self._templates: dict[str, Template] = {}
        self._conditions: dict[tuple[object, ...], Condition] = {}
        self.workspaces = {w.id: self._workspace(w) for w in graph.workspaces}
        self.sources = {s.id: self._source(s) for s in graph.traffic_sources}
        self.networks = {n.id: self._network(n) for n in graph.networks}
        self.offers = {o.id: self._offer(o) for o in graph.offers}
        self.landers = {
            lander.id: CompiledLander(
                id=lander.id,
                workspace_id=lander.workspace,
                name=lander.name,
                url=self._template(lander.url),
                cta_count=lander.cta_count,
            )
            for lander in graph.landers
        }
        self.funnels = {
            f.id: CompiledFunnel(
                id=f.id,
                workspace_id=f.workspace,
                name=f.name,
                lander_ids=f.landers,
                offer_ids=f.offers,
            )
            for f in graph.funnels
        }

    def _template(self, text: str) -> Template:
        template = self._templates.get(text)
        if template is None:
            template = self._templates[text] = Template.parse(text)
        return template

    def _optional(self, text: str | None) -> Template | None:
        return None if text is None else self._template(text)

    def _condition(self, spec: model.Condition) -> Condition:
        key = condition_key(spec)
        condition = self._conditions.get(key)
        if condition is None:
            condition = self._conditions[key] = Condition(
                kind=ConditionKind(spec.kind), values=condition_values(spec),
                negate=spec.negate, param=spec.param,
            )
        return condition

    def build(self) -> CompiledGraph:
        campaigns = {c.id: self._campaign(c) for c in self.graph.campaigns}
        return CompiledGraph(
            version=self.version,
            graph=self.graph,
            capped_offers=self.capped,
            codes=_codes(self.workspaces.values(), campaigns.values()),
            campaigns_by_id=campaigns,
            workspaces_by_id=self.workspaces,
            traffic_sources_by_id=self.sources,
            networks_by_id=self.networks,
            offers_by_id=self.offers,
            landers_by_id=self.landers,
            funnels_by_id=self.funnels,
            workspaces_by_domain={d: w for w in self.workspaces.values() for d in w.domains},
        )

    # -- entities ------------------------------------------------------------------

    def _workspace(self, w: model.Workspace) -> CompiledWorkspace:
        return CompiledWorkspace(
            id=w.id,
            name=w.name,
            timezone=w.timezone,
            currency=w.currency,
            raw_ip=w.raw_ip,
            fallback_url=self._optional(w.fallback_url),
            bot_networks=_networks(w.bot_ip_ranges),
            pixel_key=w.pixel_key,
            pixel_origins=frozenset(w.pixel_origins),
            domains=tuple(normal_domain(domain) for domain in w.domains),
        )

    def _source(self, s: model.TrafficSource) -> CompiledTrafficSource:
        return CompiledTrafficSource(
            id=s.id,
            workspace_id=s.workspace,
            name=s.name,
            tokens=dict(s.tokens),
            params=tuple((param, token) for token, param in s.tokens.items()),
            postback_url=None
            if s.postback_url is None
            else Template.parse(s.postback_url, POSTBACK_MACROS),
        )

    def _network(self, n: model.Network) -> CompiledNetwork:
        return CompiledNetwork(
            id=n.id,
            workspace_id=n.workspace,
            name=n.name,
            secret=n.secret,
            hmac_key=n.hmac_key,
            ip_allowlist=_networks(n.ip_allowlist),
            statuses={**{s: s for s in CONVERSION_STATUSES}, **n.statuses},
            convert_other_offers=n.convert_other_offers,
        )

    def _offer(self, o: model.Offer) -> CompiledOffer:
        return CompiledOffer(
            id=o.id,
            workspace_id=o.workspace,
            name=o.name,
            network_id=o.network,
            url=self._template(o.url),
            payout_micros=to_micros(o.payout),
            currency=o.currency or self.workspaces[o.workspace].currency,
            daily_cap=o.daily_cap,
            fallback_offer_id=o.fallback_offer,
        )

    def _campaign(self, c: model.Campaign) -> CompiledCampaign:
        workspace = self.workspaces[c.workspace]
        tz = workspace.timezone
        # Stable sort: equal priorities (and rules without one, as 0) keep file order.
        ordered = sorted(enumerate(c.rules), key=lambda pair: (pair[1].priority or 0, pair[0]))
        rules = [
            Rule(
                id=rule.id,
                conditions=tuple(self._condition(spec) for spec in rule.conditions),
                destinations=self._destinations(rule.destinations),
            )
            for _, rule in ordered
        ]
        default = Rule(id=DEFAULT_RULE_ID, conditions=(),
                       destinations=self._destinations(c.default))
        return CompiledCampaign(
            id=c.id,
            code=c.code,
            name=c.name,
            workspace=workspace,
            parent_id=c.parent,
            traffic_source=self.sources[c.traffic_source],
            status=c.status,
            start_ms=None if c.schedule.start is None else to_epoch_ms(c.schedule.start, tz),
            end_ms=None if c.schedule.end is None else to_epoch_ms(c.schedule.end, tz),
            redirect_mode=str(c.redirect_mode),
            bot_policy=Policy(c.bot_policy.action, self._optional(c.bot_policy.url)),
            inactive=Policy(c.inactive.action, self._optional(c.inactive.url)),
            cost_model=CostModel(c.cost_model.type, to_micros(c.cost_model.value)),
            budget_micros=None if c.budget is None else to_micros(c.budget),
            attribution_window_ms=c.attribution_window_days * _DAY_MS,
            unique_window_ms=c.unique_window_hours * _HOUR_MS,
            table=splitter.build_table(c.id, rules, default, tz),
        )

    # -- destinations --------------------------------------------------------------

    def _destinations(self, specs: Sequence[model.Destination]) -> tuple[Destination, ...]:
        compiled = []
        for spec in specs:
            target = self._target(spec)
            compiled.append(
                Destination(
                    id=spec.id,
                    weight=spec.weight,
                    available=target is not None and is_available(spec),
                    payload=target,
                )
            )
        return tuple(compiled)

    def _serving(self, offer_id: str) -> str | None:
        """The offer that takes `offer_id`'s traffic now: itself, an uncapped fallback, or
        None when it is capped without one."""
        seen: set[str] = set()
        current: str | None = offer_id
        while current is not None and current in self.capped and current not in seen:
            seen.add(current)
            current = self.offers[current].fallback_offer_id
        return None if current in seen else current

    def _offer_target(self, offer_id: str, destination_id: str) -> Target:
        offer = self.offers[offer_id]
        return Target(
            kind="offer",
            destination_id=destination_id,
            url=offer.url,
            offer_id=offer.id,
            network_id=offer.network_id,
            payout_micros=offer.payout_micros,
            currency=offer.currency,
        )

    def _cta_targets(self, offer_ids: Sequence[str], destination_id: str) -> tuple[Target, ...]:
        return tuple(
            self._offer_target(self._serving(offer_id) or offer_id, destination_id)
            for offer_id in offer_ids
        )

    def _target(self, spec: model.Destination) -> Target | None:
        if spec.kind == "url":
            assert spec.url is not None  # validated
            return Target(kind="url", destination_id=spec.id, url=self._template(spec.url))
        assert spec.ref is not None  # validated
        if spec.kind == "offer":
            serving = self._serving(spec.ref)
            return None if serving is None else self._offer_target(serving, spec.id)
        if spec.kind == "lander":
            lander = self.landers[spec.ref]
            return Target(
                kind="lander",
                destination_id=spec.id,
                url=lander.url,
                lander_id=lander.id,
                next_offers=self._cta_targets(spec.offers, spec.id),
            )
        funnel = self.funnels[spec.ref]
        first, *rest = (self.landers[lander_id] for lander_id in funnel.lander_ids)
        return Target(
            kind="funnel",
            destination_id=spec.id,
            url=first.url,
            lander_id=first.id,
            funnel_id=funnel.id,
            next_offers=self._cta_targets(funnel.offer_ids, spec.id),
            funnel_landers=tuple(
                Target(
                    kind="lander",
                    destination_id=spec.id,
                    url=lander.url,
                    lander_id=lander.id,
                    funnel_id=funnel.id,
                )
                for lander in rest
            ),
        )
