-- Load script for wrk (Debian's wrk 4.x, LuaJIT), used by liaison-bench's
-- feed benchmark: each request carries the token (and ETag) of a parent
-- picked at random from a plan file, every response's status is checked
-- against the one expected, and the figures are printed as one JSON line.
--
--   wrk -t1 -c64 -d8s --timeout 30s -s wrk.lua URL -- PLAN WANT [ORIGIN [ORDER]]
--
-- PLAN has one "token<TAB>etag" line per parent (etag may be empty);
-- an empty PLAN argument sends the URL bare (the /healthz baseline).
-- ORIGIN, when given, is sent as the Origin header, as the widget's
-- browser does (the ENT page's origin). ORDER "sequential" takes the
-- plan's parents in its order (from the first again after the last)
-- instead of at random.

local reqs, n, i = {}, 0, 0
local sequential = false
local want = 200
local mismatched = 0
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  want = tonumber(args[2] or "200")
  local plan = args[1] or ""
  local origin = args[3] or ""
  sequential = args[4] == "sequential"
  if plan ~= "" then
    for line in io.lines(plan) do
      local tok, tag = line:match("^([^\t]*)\t?(.*)$")
      local h = { ["Authorization"] = "Bearer " .. tok }
      if tag ~= "" then h["If-None-Match"] = tag end
      if origin ~= "" then h["Origin"] = origin end
      n = n + 1
      reqs[n] = wrk.format("GET", nil, h)
    end
  end
  math.randomseed(7)
end

function request()
  if n == 0 then
    return wrk.format("GET")
  end
  if sequential then
    i = i % n + 1
    return reqs[i]
  end
  return reqs[math.random(n)]
end

function response(status, headers, body)
  if status ~= want then
    mismatched = mismatched + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("mismatched") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"socket_errors":%d,"mismatched":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, bad))
end
