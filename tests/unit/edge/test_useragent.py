from __future__ import annotations

import pytest

from turnout.edge import bots
from turnout.edge.useragent import UserAgents

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
IPAD = ("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/16.6 Mobile/15E148 Safari/604.1")
ANDROID_PHONE = ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like "
                 "Gecko) Chrome/124.0.0.0 Mobile Safari/537.36")
ANDROID_TABLET = ("Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko)"
                  " Chrome/120.0 Safari/537.36")
WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36")
MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
       "Version/17.4 Safari/605.1.15")

TABLE = [
    (IPHONE, "mobile", "iOS", "Mobile Safari", ""),
    (IPAD, "tablet", "iOS", "Mobile Safari", ""),
    (ANDROID_PHONE, "mobile", "Android", "Chrome Mobile", ""),
    (ANDROID_TABLET, "tablet", "Android", "Chrome", ""),
    (WINDOWS, "desktop", "Windows", "Chrome", ""),
    (MAC, "desktop", "Mac OS X", "Safari", ""),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "desktop", "",
     "Googlebot", bots.UA_BOT),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "desktop", "",
     None, bots.UA_BOT),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "desktop", "",
     None, bots.LINK_PREVIEW),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "desktop", None, None,
     bots.LINK_PREVIEW),
    ("Twitterbot/1.0", "desktop", None, None, bots.LINK_PREVIEW),
    ("TelegramBot (like TwitterBot)", "desktop", None, None, bots.LINK_PREVIEW),
    ("WhatsApp/2.23.20.0", "desktop", None, None, bots.LINK_PREVIEW),
    ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "desktop", None, None,
     bots.LINK_PREVIEW),
    ("LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
     "desktop", None, None, bots.LINK_PREVIEW),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5", "desktop", None, None,
     bots.LINK_PREVIEW),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/120.0.0.0 Safari/537.36", "desktop", None, None, bots.UA_BOT),
    ("curl/8.5.0", "desktop", None, None, bots.UA_BOT),
    ("python-requests/2.31", "desktop", None, None, bots.UA_BOT),
    ("", "desktop", "", "", bots.EMPTY_UA),
    ("   ", "desktop", None, None, bots.EMPTY_UA),
]


@pytest.fixture(scope="module")
def agents() -> UserAgents:
    return UserAgents(cache_size=64)


@pytest.mark.parametrize(("ua", "device", "os", "browser", "reason"), TABLE)
def test_classification(agents, ua, device, os, browser, reason):
    agent = agents.parse(ua)
    assert agent.bot_reason == reason
    assert agent.device == device
    if os is not None:
        assert agent.os == os
    if browser is not None:
        assert agent.browser == browser


def test_parses_are_cached(agents):
    assert agents.parse(IPHONE) is agents.parse(IPHONE)


def test_prefetch_headers():
    assert bots.is_prefetch("prefetch", "")
    assert bots.is_prefetch("prefetch;prerender", "")
    assert bots.is_prefetch("", "Prefetch")
    assert not bots.is_prefetch("", "")
    assert not bots.is_prefetch("prerender", "")
