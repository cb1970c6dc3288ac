-- wrk script for benchmarks/edge.py: every target gets the same requests.
-- A ring of 4096 prebuilt requests: client addresses (sent as X-Forwarded-For from a
-- trusted proxy: two in three are the GeoIP test addresses of SPEC §9, the rest a spread of
-- 512 other v4/v6 addresses), 20 user agents (two of them bots), languages, referrers,
-- browser Accept headers and query strings with a per-request source click id, so GeoIP, UA
-- parsing, the splitter and the event all do their work, and every cache sees what a
-- production edge sees: many repeats of a few hundred addresses and agents.
-- benchmarks/edge_handler.py builds the same ring in Python (request_ring): keep in step.
-- benchmarks/edge_paced.lua sends this same ring at a fixed rate.
-- Usage: wrk -t1 -s benchmarks/edge.lua http://HOST:PORT -- /c/CODE
-- After wrk's report it prints one line, `turnout-wrk {json}` (done() below), that
-- benchmarks/wrk.py reads: latency percentiles in microseconds, p99.9 included.

local ips = {
  "214.78.0.1", "2.125.160.216", "89.160.20.113", "175.16.199.1", "202.196.224.1",
  "67.43.156.1", "2a02:d0c0::1", "2a02:d180::1", "2a02:d1c0::1", "2001:218::1",
  "214.78.0.77", "89.160.20.200",
}
local agents = {
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
  "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
  "Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 325.0.0.35.91 (iPhone14,5; iOS 17_3_1; en_US; en; scale=3.00; 1170x2532; 580117287)",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A.240205.004; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/122.0.6261.119 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/454.0.0.44.109;]",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:124.0) Gecko/20100101 Firefox/124.0",
  "Mozilla/5.0 (Linux; Android 12; Redmi Note 11) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.230 Mobile Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 16_7_8 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0",
  "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
  "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
}
local languages = {
  "en-US,en;q=0.9", "de-DE,de;q=0.8", "ru-RU,ru;q=0.9,en;q=0.5", "sv", "ja-JP",
  "pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7",
}
local referers = {
  "https://news.example.org/2024/05/article.html", "https://m.social.example.com/",
  "https://search.example.net/search?q=vpn",
}
local accept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

local path = "/c/CAMP_A"
local ring = 4096
local counter = 0
local requests = {}

-- The j-th address of the spread (j = 0..511): one in eight is IPv6.
local function spread(j)
  if j % 8 == 0 then
    return string.format("2a02:%x:%x::1", (j * 7919) % 65536, (j * 104729) % 65536)
  end
  local a = (j * 37) % 223 + 1
  if a == 10 or a == 127 then a = a + 1 end
  return string.format("%d.%d.%d.%d", a, (j * 101) % 256, (j * 53) % 256, (j * 29) % 254 + 1)
end

function init(args)
  if args[1] ~= nil then path = args[1] end
  -- Prebuilt, so wrk's own CPU stays low and equal for every target.
  for i = 0, ring - 1 do
    local ip
    if i % 3 == 2 then ip = spread((i * 7) % 512) else ip = ips[(i % #ips) + 1] end
    local headers = {
      ["X-Forwarded-For"] = ip,
      ["User-Agent"] = agents[(i % #agents) + 1],
      ["Accept"] = accept,
      ["Accept-Encoding"] = "gzip, deflate, br",
      ["Accept-Language"] = languages[(i % #languages) + 1],
    }
    if i % 4 == 1 then headers["Referer"] = referers[(i % #referers) + 1] end
    local query = "?zoneid=z" .. (i % 17) .. "&bid=0.00" .. (i % 9 + 1) .. "&creative=c" .. (i % 5)
      .. "&clickid=x" .. i
    requests[i] = wrk.format("GET", path .. query, headers)
  end
end

function request()
  counter = (counter + 1) % ring
  return requests[counter]
end

-- The figures, one JSON line: wrk's latency of a request runs from its first write to
-- the end of its response (c->start is set after any delay()), so pacing is not in it.
-- late_sends and max_lag_us are the paced script's (edge_paced.lua); 0 here.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local late, lag = 0, 0
  for _, thread in ipairs(threads) do
    late = late + (thread:get("late_sends") or 0)
    lag = math.max(lag, thread:get("max_lag_us") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'turnout-wrk {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "p999_us": %d, "max_us": %d, "mean_us": %.1f, '
      .. '"status_errors": %d, "socket_errors": %d, "timeouts": %d, '
      .. '"late_sends": %d, "max_lag_us": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean,
    errors.status, errors.connect + errors.read + errors.write, errors.timeout, late, lag))
end
