"""Everything wrong with a user's inputs for a template, each with its input path.

Paths are the inputs' (`offers[2].new.url`), so that a form or an API client can point at
the field. References to existing entities are only checked for shape here: whether they
exist is for `config.validate` on the graph they are added to.
"""

from __future__ import annotations

from collections.abc import Sequence

from turnout import splitter
from turnout.config import templates
from turnout.config.errors import Problem
from turnout.config.model import DEFAULT_RULE_ID
from turnout.config.values import CURRENCIES, SLUG, amount_problem
from turnout.control.template_inputs import (
    LanderPick,
    NewLander,
    NewOffer,
    OfferPick,
    SetupInputs,
    picked_id,
    product_campaign,
)
from turnout.control.template_model import (
    COUNTRIES,
    DEVICES,
    INACTIVE_PAGE,
    LANDER,
    OFFER,
    OS,
    PER_PRODUCT,
    PRODUCT,
    SAFE_PAGE,
    CampaignTemplate,
    placeholders,
    slot_counts,
)
from turnout.splitter.types import Condition, ConditionKind

_MAX_ID = 64


class _Checker:
    def __init__(self, template: CampaignTemplate, inputs: SetupInputs) -> None:
        self.template = template
        self.inputs = inputs
        self.found: list[Problem] = []
        self.slots = slot_counts(template)
        self.uses = placeholders(template)
        self.new_ids: dict[tuple[str, str], str] = {}  # (kind, id) -> path first defining it

    def add(self, path: str, message: str) -> None:
        self.found.append(Problem(path, message))

    def run(self) -> list[Problem]:
        i = self.inputs
        self._slug("workspace", i.workspace)
        self._slug("campaign_id", i.campaign_id)
        self._slug("code", i.code)
        self._name("name", i.name)
        if i.parent is not None:
            self._slug("parent", i.parent)
        self._source()
        self._offers()
        self._slots("landers", i.landers, "lander")
        self._slots("funnels", i.funnels, "funnel")
        for j, funnel in enumerate(i.funnels):
            self._slug(f"funnels[{j}]", funnel)
        for j, pick in enumerate(i.landers):
            self._lander(f"landers[{j}]", pick)
        self._page("safe_page", i.safe_page, SAFE_PAGE, "sends bots to a safe page")
        self._page("inactive_page", i.inactive_page, INACTIVE_PAGE,
                   "sends visitors of a paused or ended campaign to a page of yours")
        return self.found

    # -- pieces --------------------------------------------------------------------

    def _slug(self, path: str, text: str) -> None:
        if SLUG.fullmatch(text) is None:
            self.add(path, f"must match [A-Za-z0-9_-]{{1,64}}, got {text!r}")

    def _name(self, path: str, text: str) -> None:
        if not text.strip():
            self.add(path, "must not be empty")

    def _url(self, path: str, text: str, allowed: frozenset[str] = templates.MACROS) -> None:
        for message in templates.problems(text, allowed):
            self.add(path, message)

    def _new(self, path: str, kind: str, new_id: str) -> None:
        self._slug(f"{path}.id", new_id)
        first = self.new_ids.setdefault((kind, new_id), path)
        if first != path:
            self.add(f"{path}.id", f"new {kind} {new_id!r} is already defined at {first}")

    def _one_of(self, path: str, existing: str | None, new: object, fields: str,
                kind: str) -> bool:
        """Exactly one of an existing entity's id and a new one: `fields` names the two."""
        if (existing is None) == (new is None):
            self.add(path, f"give either {fields} ({'not both' if new else 'neither was given'}"
                           f"): the id of an existing {kind}, or a new one to create")
            return False
        return True

    def _source(self) -> None:
        i = self.inputs
        if not self._one_of("traffic_source", i.traffic_source, i.new_traffic_source,
                            "traffic_source or new_traffic_source", "traffic source"):
            return
        if i.traffic_source is not None:
            self._slug("traffic_source", i.traffic_source)
            return
        new = i.new_traffic_source
        assert new is not None
        self._slug("new_traffic_source.id", new.id)
        self._name("new_traffic_source.name", new.name)
        if new.postback_url is not None:
            self._url("new_traffic_source.postback_url", new.postback_url,
                      templates.POSTBACK_MACROS)

    def _new_entity(self, path: str, pick: OfferPick | LanderPick, kind: str
                    ) -> NewOffer | NewLander | None:
        """Checks the pick as far as offers and landers agree; the new entity to check
        further, if one is to be created."""
        if not self._one_of(path, pick.id, pick.new, "id or new", kind):
            return None
        if pick.new is None:
            self._slug(f"{path}.id", picked_id(pick))
            return None
        new = pick.new
        self._new(f"{path}.new", kind, new.id)
        self._name(f"{path}.new.name", new.name)
        self._url(f"{path}.new.url", new.url)
        return new

    def _offer(self, path: str, pick: OfferPick) -> None:
        new = self._new_entity(path, pick, "offer")
        if not isinstance(new, NewOffer):
            return
        here = f"{path}.new"
        self._slug(f"{here}.network", new.network)
        message = amount_problem(new.payout)
        if message:
            self.add(f"{here}.payout", message)
        if new.currency is not None and new.currency not in CURRENCIES:
            self.add(f"{here}.currency", f"unknown ISO 4217 currency {new.currency!r}")

    def _lander(self, path: str, pick: LanderPick) -> None:
        self._new_entity(path, pick, "lander")

    def _slots(self, path: str, given: Sequence[object], kind: str) -> None:
        wanted = self.slots[kind]
        if len(given) != wanted:
            self.add(path, f"this template has {wanted} {kind} slot(s): give exactly "
                           f"{wanted} {kind}(s) in order, got {len(given)}")

    def _page(self, path: str, url: str | None, placeholder: str, what: str) -> None:
        if placeholder not in self.uses:
            if url is not None:
                self.add(path, f"not used: this template never {what}")
        elif url is None:
            self.add(path, f"required: this template {what}")
        else:
            self._url(path, url)

    def _offers(self) -> None:
        offers = self.inputs.offers
        fixed = self.slots["offer"]
        for j, pick in enumerate(offers):
            self._offer(f"offers[{j}]", pick)
        for j, pick in enumerate(offers[:fixed]):
            if pick.lander or pick.targeted or pick.weight is not None:
                self.add(f"offers[{j}]", f"fills offer slot {j + 1}: lander, countries, "
                         "devices, os and weight are only used by products (offers after "
                         "the slots, in templates that repeat a path per product)")
        if OFFER not in self.uses:
            if len(offers) != fixed:
                self.add("offers", f"this template has {fixed} offer slot(s): give exactly "
                                   f"{fixed} offer(s) in order, got {len(offers)}")
            return
        if len(offers) <= fixed:
            self.add("offers", f"give at least one product offer after the {fixed} slot "
                               "offer(s)" if fixed else "give at least one offer")
            return
        seen: dict[str, int] = {}
        for j, pick in enumerate(offers[fixed:], start=fixed):
            key = picked_id(pick) if self._picked(pick) else None
            if key is not None and key in seen:
                if pick.new is None or offers[seen[key]].new is None:  # else: _new said it
                    self.add(f"offers[{j}]", f"offer {key!r} is already a product "
                                             f"(offers[{seen[key]}])")
            elif key is not None:
                seen[key] = j
                self._derived_ids(f"offers[{j}]", key)
            self._product(f"offers[{j}]", pick)
        if self.template.layout != PER_PRODUCT:
            self._split_default(offers[fixed:])

    @staticmethod
    def _picked(pick: OfferPick) -> bool:
        return (pick.id is None) != (pick.new is None)

    def _derived_ids(self, path: str, key: str) -> None:
        if self.template.layout != PER_PRODUCT:
            return
        for field, built in product_campaign(self.inputs, key).items():
            if len(built) > _MAX_ID:
                self.add(path, f"its campaign's {field} {built!r} ({field} + its id) is "
                               f"longer than {_MAX_ID} characters")

    def _product(self, path: str, pick: OfferPick) -> None:
        rule = self.template.product_rule
        if (pick.targeted and rule is not None and rule.id == PRODUCT and self._picked(pick)
                and picked_id(pick) == DEFAULT_RULE_ID):
            self.add(path, f"an offer with id {DEFAULT_RULE_ID!r} cannot be targeted: its rule "
                           "would take the id of the default path")
        use = self.template.lander if LANDER in self.uses else "none"
        if pick.lander is not None:
            if use == "none":
                self.add(f"{path}.lander", "not used: this template sends visitors straight "
                                           "to the offer")
            else:
                self._lander(f"{path}.lander", pick.lander)
        elif use == "required":
            self.add(f"{path}.lander", "required: this template puts a lander in front of "
                                       "every offer")
        per_product = self.template.layout == PER_PRODUCT
        for field, kind, placeholder, values in (
            ("countries", ConditionKind.COUNTRY, COUNTRIES, pick.countries),
            ("devices", ConditionKind.DEVICE, DEVICES, pick.devices),
            ("os", ConditionKind.OS, OS, pick.os),
        ):
            if not values:
                continue
            if placeholder not in self.uses:
                self.add(f"{path}.{field}", "not used: in this template every offer has a "
                         "campaign of its own, so there is nothing to target between offers"
                         if per_product else f"not used: this template does not target by "
                         f"{field}")
                continue
            for message in splitter.check(Condition(kind=kind, values=values)):
                self.add(f"{path}.{field}", message)
        if pick.weight is not None:
            if per_product:
                self.add(f"{path}.weight", "not used: in this template every offer has a "
                                           "campaign of its own")
            elif pick.targeted:
                self.add(f"{path}.weight", "not used: a targeted offer has a rule of its own; "
                                           "weights split the offers without targeting")
            elif pick.weight < 0:
                self.add(f"{path}.weight", "must be >= 0")

    def _split_default(self, picks: Sequence[OfferPick]) -> None:
        untargeted = [pick for pick in picks if not pick.targeted]
        if not untargeted:
            self.add("offers", "give at least one offer without countries, devices or os: "
                               "it takes the visitors no targeted offer's rule matches")
        elif all(pick.weight == 0 for pick in untargeted):
            self.add("offers", "the offers without targeting all have weight 0: the visitors "
                               "no rule matches would have nowhere to go")


def problems(template: CampaignTemplate, inputs: SetupInputs) -> list[Problem]:
    """Everything wrong with `inputs` for `template`, each with its input path."""
    return _Checker(template, inputs).run()
