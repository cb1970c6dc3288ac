"""Who the synthetic visitors are: addresses with a known country, user agents with a known
device type, and the bots.

Countries are those the MaxMind test databases give the SPEC §2 addresses (the edge's
default GeoIP files); the visitor's address reaches the edge as X-Forwarded-For, which it
believes from a trusted proxy (127.0.0.1 by default).

Device types follow the edge's conventions: a user agent flagged as a bot (crawler,
link-preview fetcher, empty) is recorded as `desktop`; a prefetch request keeps the device
of its (browser) user agent.
"""

from __future__ import annotations

from typing import Final

COUNTRY_IPS: Final = {
    "US": "214.78.0.1", "GB": "2.125.160.216", "SE": "89.160.20.113", "CN": "175.16.199.1",
    "PH": "202.196.224.1", "BT": "67.43.156.1", "RU": "2a02:d0c0::1", "DE": "2a02:d180::1",
    "IT": "2a02:d1c0::1", "JP": "2001:218::1",
}
# Where network postbacks come from when the network has no allowlist (TEST-NET-3).
POSTBACK_IP: Final = "203.0.113.9"

HUMAN_AGENTS: Final = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36", "desktop"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4 Safari/605.1.15", "desktop"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "desktop"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
     "like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "mobile"),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Mobile Safari/537.36", "mobile"),
    ("Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4 Mobile/15E148 Safari/604.1", "tablet"),
    ("Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36", "tablet"),
)

# (user agent, the kind of bot it is); every one of them is recorded as a desktop.
BOT_AGENTS: Final = (
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "ua_bot"),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "ua_bot"),
    ("curl/8.5.0", "ua_bot"),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
     "link_preview"),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "link_preview"),
    ("TelegramBot (like TwitterBot)", "link_preview"),
    ("WhatsApp/2.23.20.0 A", "link_preview"),
    ("Twitterbot/1.0", "link_preview"),
    ("", "empty_ua"),
)
BOT_DEVICE: Final = "desktop"

# Browsers announce a speculative load with one of these; the edge flags it as a bot.
PREFETCH_HEADERS: Final = (("sec-purpose", "prefetch"), ("purpose", "prefetch"),
                           ("sec-purpose", "prefetch;prerender"))

LANGUAGES: Final = ("en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.5", "ru-RU,ru;q=0.9",
                    "sv-SE,sv;q=0.8", "ja-JP,ja;q=0.9", "")
