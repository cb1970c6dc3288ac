"""What a campaign template is: the answers it stands for, and the campaign(s) it builds.

A template's rules and default path are `config.model` structures in which some strings
are placeholders for what the user picks when creating from it:

- `{offer:N}`, `{lander:N}`, `{funnel:N}`: numbered slots, filled from the inputs in order
  (a saved campaign's offers, landers and funnels become these).
- `{product}`, `{offer}`, `{lander}`: one product (an offer, with its lander); the parts
  that hold them are repeated for every product given, as the template's layout says.
- `{countries}`, `{devices}`, `{os}`: a condition of `product_rule` whose only value is one
  of these takes the product's targeting, and is left out when the product has none.
- `{safe_page}`, `{inactive_page}`: the URL of a bot or inactive policy the user gives.
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

from turnout.config.model import BotPolicy, CostModel, Destination, InactivePolicy, Rule

PER_PRODUCT: Final = "campaign_per_product"
SPLIT_BY_PRODUCT: Final = "campaign_split_by_product"
LAYOUTS: Final = (PER_PRODUCT, SPLIT_BY_PRODUCT)
# A product's lander: never (straight to the offer), when the user gives one, or always.
LANDER_USES: Final = ("none", "optional", "required")
SLOT_KINDS: Final = ("offer", "lander", "funnel")

PRODUCT: Final = "{product}"
OFFER: Final = "{offer}"
LANDER: Final = "{lander}"
COUNTRIES: Final = "{countries}"
DEVICES: Final = "{devices}"
OS: Final = "{os}"
SAFE_PAGE: Final = "{safe_page}"
INACTIVE_PAGE: Final = "{inactive_page}"
SLOT: Final = re.compile(r"\{(offer|lander|funnel):([1-9][0-9]*)\}")


def slot(kind: str, number: int) -> str:
    """The placeholder of the `number`-th (from 1) offer, lander or funnel slot."""
    return f"{{{kind}:{number}}}"


class _Frozen(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class Choice(_Frozen, kw_only=True):
    value: str
    label: str


class Question(_Frozen, kw_only=True):
    """An onboarding question; its answers pick the template (`choose`)."""

    id: str  # promoted | where
    text: str
    choices: tuple[Choice, ...]


class Answer(_Frozen, kw_only=True):
    question: str
    answer: str


class CampaignTemplate(_Frozen, kw_only=True):
    id: str
    name: str
    promoted: str | None  # ecommerce | online_offer; None: a saved template
    where: str | None  # own_site | social | other; None: a saved template
    layout: str  # campaign_per_product | campaign_split_by_product
    explanation: str  # why this layout, in words a media buyer reads
    questions: tuple[Answer, ...] = ()  # the other decisions it makes, each answered
    builtin: bool = False
    # The token mapping of a traffic source created with it: our token -> query parameter.
    tokens: dict[str, str] = {}
    cost_model: CostModel = CostModel()
    redirect_mode: str = "302"
    allow_permanent: bool = False
    bot_policy: BotPolicy = BotPolicy()
    inactive: InactivePolicy = InactivePolicy()
    attribution_window_days: int = 30
    unique_window_hours: int = 24
    lander: str = "none"  # one of LANDER_USES, for the `{lander}` of each product
    rules: tuple[Rule, ...] = ()  # kept in every campaign built, before the product rules
    # Split layouts: one rule like this per product that has a targeting, in input order.
    product_rule: Rule | None = None
    # A destination with id `{product}` is repeated per product: in a per-product layout
    # for the campaign's product, in a split layout for each product without targeting.
    default: tuple[Destination, ...] = ()


QUESTIONS: Final = (
    Question(id="promoted", text="What do you promote?", choices=(
        Choice(value="ecommerce", label="E-commerce sales: products people buy on the "
               "merchant's site, for a share of the basket (Amazon Associates, eBay Partner "
               "Network)"),
        Choice(value="online_offer", label="An online offer from an affiliate network, paid "
               "per action: sale, lead, trial, app install, sweepstakes (CPA/CPL)"),
    )),
    Question(id="where", text="Where do your visitors come from?", choices=(
        Choice(value="own_site", label="Your own website or blog: posts and reviews link out"),
        Choice(value="social", label="Social media: Instagram, TikTok, Facebook, YouTube "
               "bio links, posts, stories and videos"),
        Choice(value="other", label="Other sources: paid traffic from push, pop, native or "
               "search ad networks"),
    )),
)
PROMOTED: Final = tuple(choice.value for choice in QUESTIONS[0].choices)
WHERE: Final = tuple(choice.value for choice in QUESTIONS[1].choices)


def _destinations(template: CampaignTemplate) -> list[Destination]:
    rules = (*template.rules, *filter(None, (template.product_rule,)))
    return [*(d for rule in rules for d in rule.destinations), *template.default]


def placeholders(template: CampaignTemplate) -> frozenset[str]:
    """Every placeholder the template's skeleton and policies hold (ids never start with
    `{`, so anything that does is one)."""
    found: set[str] = {template.bot_policy.url or "", template.inactive.url or ""}
    for d in _destinations(template):
        found.update((d.id, d.ref or "", *d.offers))
    if template.product_rule is not None:
        found.update(str(value) for condition in template.product_rule.conditions
                     for value in condition.values)
    return frozenset(text for text in found if text.startswith("{"))


def slot_counts(template: CampaignTemplate) -> dict[str, int]:
    """How many offer, lander and funnel slots it has ({kind: highest N})."""
    counts = dict.fromkeys(SLOT_KINDS, 0)
    for text in placeholders(template):
        match = SLOT.fullmatch(text)
        if match:
            counts[match[1]] = max(counts[match[1]], int(match[2]))
    return counts


def lander_ctas(template: CampaignTemplate) -> dict[str, int]:
    """The CTAs a lander put in a slot (or `{lander}`) needs: the offers its destination
    sends on to."""
    return {d.ref: len(d.offers) for d in _destinations(template)
            if d.kind == "lander" and d.ref is not None and d.ref.startswith("{")}
