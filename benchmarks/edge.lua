-- wrk script for benchmarks/edge.py: every target gets the same requests.
-- Cycles through client addresses (sent as X-Forwarded-For from a trusted proxy),
-- user agents, languages and sub ids, so GeoIP, UA parsing and the splitter all work.
-- Usage: wrk -s benchmarks/edge.lua http://HOST:PORT -- /c/CODE

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
}
local languages = { "en-US,en;q=0.9", "de-DE,de;q=0.8", "ru-RU,ru;q=0.9,en;q=0.5", "sv", "ja-JP" }

local path = "/c/CAMP_A"
local counter = 0
local requests = {}

function init(args)
  if args[1] ~= nil then path = args[1] end
  -- Prebuild a ring of requests so wrk's own CPU stays low and equal for every target.
  for i = 0, 1019 do
    local headers = {
      ["X-Forwarded-For"] = ips[(i % #ips) + 1],
      ["User-Agent"] = agents[(i % #agents) + 1],
      ["Accept-Language"] = languages[(i % #languages) + 1],
    }
    local query = "?zoneid=z" .. (i % 17) .. "&bid=0.00" .. (i % 9 + 1) .. "&creative=c" .. (i % 5)
    requests[i] = wrk.format("GET", path .. query, headers)
  end
end

function request()
  counter = (counter + 1) % 1020
  return requests[counter]
end
