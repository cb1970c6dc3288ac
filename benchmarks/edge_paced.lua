-- wrk script for benchmarks/edge.py's paced run: edge.lua's request ring (loaded from
-- this file's folder, so every target and both modes send the same requests), offered at
-- a fixed total rate over all connections of the thread.
-- Usage: wrk -t1 -s benchmarks/edge_paced.lua http://HOST:PORT -- /c/CODE RATE
--
-- Pacing is one schedule for the thread: slot k is due at start + k / RATE. Each time a
-- connection is free (its previous answer read), delay() hands it the next slot and
-- returns the milliseconds until it is due. So the connections together offer RATE
-- requests per second whatever each answer took, as long as one is free when a slot is
-- due; one that is not (every connection waiting on a slow server) is sent late and
-- counted in late_sends and max_lag_us, because wrk's latency (from the request's first
-- write) cannot see the time a request waited for a connection.
-- wrk's timers count whole milliseconds: the wait is rounded up or down at random with
-- the odds that make its mean exact, which also spreads the sends within a millisecond.

local folder = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(folder .. "edge.lua")

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } turnout_timespec;
int clock_gettime(int clock, turnout_timespec *now);
]]
local CLOCK_MONOTONIC = 1
local clock = ffi.new("turnout_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1e6 + tonumber(clock.tv_nsec) / 1e3
end

local interval_us = nil
local next_slot_us = nil
-- Read by edge.lua's done() through thread:get, so globals.
late_sends = 0
max_lag_us = 0

local ring_init = init

function init(args)
  ring_init(args)
  local rate = tonumber(args[2])
  if rate == nil or rate <= 0 then
    error("edge_paced.lua: give the offered rate in requests/s: -- /c/CODE RATE")
  end
  interval_us = 1e6 / rate
  math.randomseed(12345)
end

function delay()
  local now = now_us()
  local slot = next_slot_us or now
  next_slot_us = slot + interval_us
  local wait = slot - now
  if wait < -1000 then
    late_sends = late_sends + 1
    if -wait > max_lag_us then max_lag_us = -wait end
  end
  if wait <= 0 then return 0 end
  return math.floor(wait / 1000 + math.random())
end
