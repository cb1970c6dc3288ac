"""Who is not a person: user-agent bots, link-preview fetchers, prefetches, bot ranges.

A click is flagged with the first reason found; the campaign's bot policy decides where
it goes, and reports leave flagged clicks out unless asked.
"""

from __future__ import annotations

from typing import Final

EMPTY_UA: Final = "empty_ua"
UA_BOT: Final = "ua_bot"
LINK_PREVIEW: Final = "link_preview"
PREFETCH: Final = "prefetch"
IP_RANGE: Final = "ip_range"

# Chat and social apps fetch a link to draw its preview card; that is not a visit.
# Checked before the generic keywords so the reason says which kind of fetcher it was.
PREVIEW_MARKERS: Final = (
    "slackbot", "slack-imgproxy", "facebookexternalhit", "facebookcatalog", "twitterbot",
    "telegrambot", "whatsapp", "discordbot", "linkedinbot", "skypeuripreview", "pinterest",
    "redditbot", "embedly", "vkshare", "viber", "snapchat", "googledocs", "iframely",
    "applebot", "mastodon", "bitlybot", "tumblr", "line-poker", "kakaotalk-scrap",
)
BOT_MARKERS: Final = (
    "bot", "crawl", "spider", "slurp", "headless", "phantomjs", "puppeteer", "playwright",
    "selenium", "lighthouse", "pagespeed", "python-requests", "python-urllib", "aiohttp",
    "httpx", "go-http-client", "curl/", "wget/", "libwww", "java/", "okhttp", "axios",
    "node-fetch", "scrapy", "httpclient", "feedfetcher", "mediapartners", "adsbot",
    "preview", "monitor", "uptime", "scanner", "archiver", "facebookexternal",
)


def ua_reason(user_agent: str, device_family: str) -> str:
    """The bot reason a user agent alone gives ("" for a person's browser)."""
    if not user_agent.strip():
        return EMPTY_UA
    lowered = user_agent.lower()
    for marker in PREVIEW_MARKERS:
        if marker in lowered:
            return LINK_PREVIEW
    if device_family == "Spider":
        return UA_BOT
    for marker in BOT_MARKERS:
        if marker in lowered:
            return UA_BOT
    return ""


def is_prefetch(sec_purpose: str, purpose: str) -> bool:
    """`Sec-Purpose: prefetch` (and `prefetch;prerender`), or the older `Purpose: prefetch`."""
    return "prefetch" in sec_purpose.lower() or "prefetch" in purpose.lower()
