-- scripts/bench/random.lua: wrk script for scripts/bench.sh.
--
-- Every request is GET /accounts/<id> for an id drawn uniformly at random
-- from the seeded set [start, start + count), as the original service's
-- load test walked its feed of ids.  At the end one machine-readable line:
--
--   RESULT requests=N seconds=S rps=R p50_us=.. p99_us=.. p999_us=..
--          errors=E non2xx=N
--
--   wrk -t1 -c50 -d10s --latency -s random.lua URL -- START COUNT [SEED]

local start, count
local prefix, suffix

function init(args)
    start = tonumber(args[1]) or 10000
    count = tonumber(args[2]) or 100
    math.randomseed(tonumber(args[3]) or 1)

    -- what wrk.format() would build, without rebuilding it per request
    prefix = "GET /accounts/"
    suffix = " HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port
             .. "\r\n\r\n"
end

function request()
    return prefix .. (start + math.random(0, count - 1)) .. suffix
end

function done(summary, latency, requests)
    local e = summary.errors
    local seconds = summary.duration / 1e6

    io.write(string.format(
        "RESULT requests=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d "
        .. "p999_us=%d errors=%d non2xx=%d\n",
        summary.requests, seconds, summary.requests / seconds,
        latency:percentile(50), latency:percentile(99),
        latency:percentile(99.9),
        e.connect + e.read + e.write + e.timeout, e.status))
end
