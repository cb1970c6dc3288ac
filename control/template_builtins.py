"""The six built-in templates: what is promoted (e-commerce sales or an online offer) x
where the visitors come from (own site, social media, paid sources).

The rule behind the layouts: an e-commerce link is about one product (a review of X must
land on X), so e-commerce gets one campaign per product; an online offer is one of several
interchangeable offers that pay per country and device and come and go, so the link must
outlive any one of them: one campaign split by offer.
"""

from __future__ import annotations

from typing import Final

from turnout.config.model import BotPolicy, Condition, CostModel, Destination, InactivePolicy, Rule
from turnout.control.template_model import (
    COUNTRIES,
    DEVICES,
    INACTIVE_PAGE,
    LANDER,
    OFFER,
    OS,
    PER_PRODUCT,
    PRODUCT,
    QUESTIONS,
    SAFE_PAGE,
    SPLIT_BY_PRODUCT,
    Answer,
    CampaignTemplate,
)

_ORGANIC: Final = CostModel(type="cpc", value="0")
_FROM_URL: Final = CostModel(type="url_param")
_SITE_TOKENS: Final = {"sub1": "post", "sub2": "placement", "sub3": "utm_source"}
_SOCIAL_TOKENS: Final = {"sub1": "post", "sub2": "platform", "sub3": "placement"}
_PAID_TOKENS: Final = {"sub1": "zone", "sub2": "creative", "sub3": "campaign",
                       "sub4": "keyword", "cost": "cost", "external_id": "clickid"}
_SAFE_PAGE: Final = BotPolicy(action="url", url=SAFE_PAGE)
_INACTIVE_PAGE: Final = InactivePolicy(action="url", url=INACTIVE_PAGE)
_STRAIGHT: Final = Destination(id=PRODUCT, kind="offer", ref=OFFER)
_VIA_LANDER: Final = Destination(id=PRODUCT, kind="lander", ref=LANDER, offers=(OFFER,))


def _targeted(destination: Destination) -> Rule:
    return Rule(id=PRODUCT, name=PRODUCT, destinations=(destination,), conditions=(
        Condition(kind="country", values=(COUNTRIES,)),
        Condition(kind="device", values=(DEVICES,)),
        Condition(kind="os", values=(OS,)),
    ))


def _answers(promoted: str, where: str, *pairs: tuple[str, str]) -> tuple[Answer, ...]:
    """The two onboarding answers, then the template's own."""
    picked = [next(c.label for c in q.choices if c.value == value)
              for q, value in zip(QUESTIONS, (promoted, where), strict=True)]
    return (*(Answer(question=q.text, answer=a) for q, a in zip(QUESTIONS, picked, strict=True)),
            *(Answer(question=q, answer=a) for q, a in pairs))


_LAYOUT_Q: Final = "One campaign per product, or one campaign split by product?"
_SUBS_Q: Final = "How do I see what earns?"
_COST_Q: Final = "What does a click cost?"
_REDIRECT_Q: Final = "Which redirect?"
_BOTS_Q: Final = "Where do bots go?"
_WINDOW_Q: Final = "How long after the click does a conversion count?"
_INACTIVE_Q: Final = "What happens to clicks when a campaign is paused or ends?"
_RETURN_Q: Final = "How does a sale come back to the tracker?"

_ORGANIC_COST: Final = (_COST_Q, "Nothing per click: the visitors are yours, so cost is CPC 0 "
                        "and profit is revenue. Paid a creator or a sponsor a flat fee? Switch "
                        "the cost model to fixed total.")
_PAID_COST: Final = (_COST_Q, "What the source charged for that click, from the cost token "
                     "(cost={cost} or the source's bid macro in its URL), so ROI is exact "
                     "whatever the source's pricing (CPC, CPM, bids).")
_SITE_SUBS: Final = (_SUBS_Q, "Every link carries the post it sits in and where in the post: "
                     "/c/CODE?post=best-air-fryers&placement=table. sub1 is the post, sub2 the "
                     "placement, sub3 utm_source (a newsletter, say). Group a report by sub1 "
                     "for the EPC of each post.")
_SOCIAL_SUBS: Final = (_SUBS_Q, "Every link carries the post, the platform and the placement: "
                       "/c/CODE?post=reel-0612&platform=ig&placement=story. sub1 is the post, "
                       "story or video, sub2 the platform, sub3 bio, story, reel or "
                       "description. Group a report by sub1 for the EPC of each post.")
_PAID_SUBS: Final = (_SUBS_Q, "Put the source's macros in its campaign URL: zone (zone, "
                     "placement or site id), creative, campaign, keyword (search), cost and "
                     "clickid (the source's click id, for its postback). Group a report by "
                     "sub1 to find the zones to cut or raise bids on.")
_ORGANIC_BOTS: Final = (_BOTS_Q, "Where people go. Search engines call it cloaking when a "
                        "crawler is shown something else. Bot clicks are still counted as bot "
                        "clicks, apart from the visitors.")
_SOCIAL_BOTS: Final = (_BOTS_Q, "Where people go: the platform's link-preview crawler "
                       "(facebookexternalhit, TikTok's, X's) must see the real page, or the "
                       "post shows a broken card. Bot clicks are still counted apart.")
_PAID_BOTS: Final = (_BOTS_Q, "To your safe page (safe_page): bot clicks sent on through your "
                     "affiliate link are invalid traffic that programs ban accounts for, and "
                     "the source's ad reviewers need a page that works.")
_ORGANIC_INACTIVE: Final = (_INACTIVE_Q, "Published links live for years. A paused or ended "
                            "campaign sends its visitors to your page (inactive_page: your home "
                            "page or a category page) instead of a 404.")
_PAID_INACTIVE: Final = (_INACTIVE_Q, "A 404: you pay for those clicks and nobody can "
                         "monetise them, so pause the source's campaign too.")
_SHOP_WINDOW: Final = (_WINDOW_Q, "90 days, the longest turnout allows: the merchant's cookie "
                       "decides what earns (Amazon counts items added to the cart within 24 h "
                       "and bought within 89 days) and merchants report late; a shorter window "
                       "would drop commissions that really are yours.")
_SHOP_RETURN: Final = (_RETURN_Q, "Put {clickid} in the merchant's sub-id parameter of the "
                       "offer URL (eBay Partner Network: customid={clickid}; Amazon: ascsubtag "
                       "where your account has it) and report each commission to "
                       "/postback?clickid=... with the network's secret. In-app browsers keep "
                       "their own cookies, so the id travels in the URL, never in a cookie.")
_OFFER_RETURN: Final = (_RETURN_Q, "Put {clickid} in the network's sub-id parameter of the "
                        "offer URL (aff_sub, s2, subid...) and set the network's S2S postback "
                        "to /postback?clickid={its macro}&secret=...: server to server, no "
                        "cookie involved.")


TEMPLATES: Final = (
    CampaignTemplate(
        id="ecommerce-own-site",
        name="Product reviews on your site -> merchant (Amazon, eBay)",
        promoted="ecommerce", where="own_site", layout=PER_PRODUCT, builtin=True,
        explanation=(
            "One campaign per product. A product is linked from many posts (its review, "
            "best-of lists, comparisons), and each of those links is the one tracking link of "
            "the product's campaign with the post in it. The campaign's report is the "
            "product's EPC; by sub1 it is the EPC of every post that links it. When the "
            "product changes (out of stock, a new model, a merchant that pays more), you edit "
            "one campaign and every post follows, without touching an article. One campaign "
            "split by product would need the product in every link and mix all products' "
            "numbers in one campaign. No lander: the post is the pre-sell."),
        questions=_answers(
            "ecommerce", "own_site",
            (_LAYOUT_Q, "One campaign per product, the post in sub1."),
            _SITE_SUBS, _ORGANIC_COST,
            (_REDIRECT_Q, "302: the merchant sees your site as the referrer, which programs "
             "such as Amazon Associates expect of your registered site, and nothing is cached "
             "(a 301 would hide repeat clicks)."),
            _ORGANIC_BOTS, _SHOP_WINDOW, _ORGANIC_INACTIVE, _SHOP_RETURN),
        tokens=_SITE_TOKENS, cost_model=_ORGANIC, redirect_mode="302",
        bot_policy=BotPolicy(action="same"), inactive=_INACTIVE_PAGE,
        attribution_window_days=90, lander="none", default=(_STRAIGHT,),
    ),
    CampaignTemplate(
        id="ecommerce-social",
        name="Social posts and stories -> merchant (Amazon, eBay)",
        promoted="ecommerce", where="social", layout=PER_PRODUCT, builtin=True,
        explanation=(
            "One campaign per product. A post, story, reel or video shows one product, so its "
            "link must land on that product, and a link already posted (a story sticker, a "
            "video description, a pinned comment) cannot be edited: the product is chosen by "
            "the link's campaign. One campaign split by product would choose it by a "
            "parameter you would have to get right in every post, for good. Each product's "
            "campaign shows its EPC; by sub1 which post or story sold, by sub2 which "
            "platform. Changing the merchant link is one edit and every posted link "
            "follows. No lander: each extra page in an in-app browser loses people."),
        questions=_answers(
            "ecommerce", "social",
            (_LAYOUT_Q, "One campaign per product, the post or story in sub1."),
            _SOCIAL_SUBS, _ORGANIC_COST,
            (_REDIRECT_Q, "302: the in-app browsers of Instagram, TikTok and Facebook follow "
             "it in one hop; a meta refresh shows a blank page in a slow webview and loses "
             "people before the store loads."),
            _SOCIAL_BOTS, _SHOP_WINDOW, _ORGANIC_INACTIVE, _SHOP_RETURN),
        tokens=_SOCIAL_TOKENS, cost_model=_ORGANIC, redirect_mode="302",
        bot_policy=BotPolicy(action="same"), inactive=_INACTIVE_PAGE,
        attribution_window_days=90, lander="none", default=(_STRAIGHT,),
    ),
    CampaignTemplate(
        id="ecommerce-paid",
        name="Paid traffic -> pre-sell page -> merchant",
        promoted="ecommerce", where="other", layout=PER_PRODUCT, builtin=True,
        explanation=(
            "One campaign per product, for one traffic source. A commission of a few percent "
            "of the basket leaves thin margins, so the decision is per product (keep buying "
            "traffic for it or stop), and a campaign per product shows exactly its cost, "
            "revenue and ROI. At the source you run one campaign per product too (creatives "
            "about it), so the links map one to one and you pause both together; one "
            "campaign split by product would blend winners and losers into one ROI. Every "
            "product goes through its pre-sell page (a review or a comparison), because many "
            "merchant programs forbid sending paid ad clicks straight to the store (check "
            "your program's terms) and a visitor who read the review buys more."),
        questions=_answers(
            "ecommerce", "other",
            (_LAYOUT_Q, "One campaign per product with its pre-sell lander, per traffic "
             "source."),
            _PAID_SUBS, _PAID_COST,
            (_REDIRECT_Q, "302 to your lander: fast, and the merchant sees your lander as "
             "the referrer."),
            _PAID_BOTS, _SHOP_WINDOW, _PAID_INACTIVE, _SHOP_RETURN),
        tokens=_PAID_TOKENS, cost_model=_FROM_URL, redirect_mode="302",
        bot_policy=_SAFE_PAGE, attribution_window_days=90, lander="required",
        default=(_VIA_LANDER,),
    ),
    CampaignTemplate(
        id="offer-own-site",
        name="Offers recommended on your site (CPA, CPL, trials)",
        promoted="online_offer", where="own_site", layout=SPLIT_BY_PRODUCT, builtin=True,
        explanation=(
            "One campaign split by offer. A post recommends a kind of product (a VPN, a loan, "
            "a dating site), and the network offers behind it come and go, pay differently "
            "per country and device, and hit caps. Every post carries this campaign's one "
            "link with the post in sub1, and the campaign sends each visitor to the offer "
            "that pays for them: an offer given countries, devices or OS gets a rule of its "
            "own (in the order given, first match wins); the others share the default path "
            "by weight, which is an A/B test between them. Swapping or adding an offer is an "
            "edit of one campaign, never of your articles; a campaign per offer would "
            "hard-wire an offer into every post. No lander: the post is the pre-sell."),
        questions=_answers(
            "online_offer", "own_site",
            (_LAYOUT_Q, "One campaign split by offer: targeted offers get rules, the rest "
             "share the default by weight."),
            _SITE_SUBS, _ORGANIC_COST,
            (_REDIRECT_Q, "302: one fast hop, nothing cached, so every click is counted."),
            _ORGANIC_BOTS,
            (_WINDOW_Q, "30 days: networks post back within minutes of the action, and "
             "trials that turn into sales take up to a few weeks."),
            _ORGANIC_INACTIVE, _OFFER_RETURN),
        tokens=_SITE_TOKENS, cost_model=_ORGANIC, redirect_mode="302",
        bot_policy=BotPolicy(action="same"), inactive=_INACTIVE_PAGE,
        attribution_window_days=30, lander="none",
        product_rule=_targeted(_STRAIGHT), default=(_STRAIGHT,),
    ),
    CampaignTemplate(
        id="offer-social",
        name="Social bio links, posts and stories -> offers (CPA, app installs)",
        promoted="online_offer", where="social", layout=SPLIT_BY_PRODUCT, builtin=True,
        explanation=(
            "One campaign split by offer. Your bio link, story stickers and video "
            "descriptions all carry this one link (the post in sub1), and the campaign sends "
            "each follower to the offer that pays for them. A social audience is spread over "
            "many countries and both phone platforms, while offers are often limited to a few "
            "countries or to iOS or Android (app installs): give those offers their "
            "countries, devices or OS and each gets a rule, and a worldwide offer takes the "
            "rest by weight. A posted link cannot be edited, so the choice of offer has to be "
            "the tracker's; with a campaign per offer, every post would be stuck with its "
            "offer when it is paused or capped. No lander: each extra page in an in-app "
            "browser loses people."),
        questions=_answers(
            "online_offer", "social",
            (_LAYOUT_Q, "One campaign split by offer, routed by country, device and OS."),
            _SOCIAL_SUBS, _ORGANIC_COST,
            (_REDIRECT_Q, "302: the in-app browsers of Instagram, TikTok and Facebook follow "
             "it in one hop, where a meta refresh shows a blank page first."),
            _SOCIAL_BOTS,
            (_WINDOW_Q, "30 days: installs and sign-ups post back within hours, trials "
             "within weeks."),
            _ORGANIC_INACTIVE, _OFFER_RETURN),
        tokens=_SOCIAL_TOKENS, cost_model=_ORGANIC, redirect_mode="302",
        bot_policy=BotPolicy(action="same"), inactive=_INACTIVE_PAGE,
        attribution_window_days=30, lander="none",
        product_rule=_targeted(_STRAIGHT), default=(_STRAIGHT,),
    ),
    CampaignTemplate(
        id="offer-paid",
        name="Paid traffic (push, pop, native, search) -> offers",
        promoted="online_offer", where="other", layout=SPLIT_BY_PRODUCT, builtin=True,
        explanation=(
            "One campaign per traffic source (for its campaign at the source), split by "
            "offer. Paid traffic is bought per source and zone and the cost of every click "
            "comes in its URL, so this campaign's ROI is exactly the source campaign's. "
            "Inside it, an offer given countries, devices or OS gets a rule, because an "
            "offer shown traffic it does not accept pays nothing; the others share the "
            "default path by weight, to test offers against each other. Moving traffic "
            "between offers is an edit here: with a campaign per offer you would change the "
            "URL at the source, and go through its moderation again. A pre-lander per offer "
            "is optional. Bots and the source's moderators go to your safe page."),
        questions=_answers(
            "online_offer", "other",
            (_LAYOUT_Q, "One campaign per source, split by offer with rules by country, "
             "device and OS."),
            _PAID_SUBS, _PAID_COST,
            (_REDIRECT_Q, "Double meta refresh: the offer's advertiser never sees which "
             "source or zone sent the visitor (no referrer), so your traffic cannot be bought "
             "around you; it costs one extra page load."),
            _PAID_BOTS,
            (_WINDOW_Q, "7 days: push and pop visitors convert in the session or not at all, "
             "and a short window keeps old click ids from being turned into conversions."),
            _PAID_INACTIVE, _OFFER_RETURN),
        tokens=_PAID_TOKENS, cost_model=_FROM_URL, redirect_mode="double_meta",
        bot_policy=_SAFE_PAGE, attribution_window_days=7, lander="optional",
        product_rule=_targeted(_VIA_LANDER), default=(_VIA_LANDER,),
    ),
)
