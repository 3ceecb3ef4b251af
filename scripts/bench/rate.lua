-- scripts/bench/rate.lua: wrk script for scripts/bench.sh's constant-rate
-- run: the requests of random.lua, sent on a fixed schedule of RATE
-- requests a second (shared by the thread's connections) instead of as
-- fast as the server answers.  hey has the rate limit (-q) but takes one
-- URL; this keeps the random ids.  Same RESULT line as random.lua.
--
--   wrk -t1 -c10 -d10s --latency -s rate.lua URL -- START COUNT RATE [SEED]

local ffi = require("ffi")

ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec_t;
    int clock_gettime(int clk_id, bench_timespec_t *tp);
]]

local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec_t")

local function now_ms()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local start, count, interval, due
local prefix, suffix

function init(args)
    start = tonumber(args[1]) or 10000
    count = tonumber(args[2]) or 100
    interval = 1000 / (tonumber(args[3]) or 1000)
    math.randomseed(tonumber(args[4]) or 1)

    prefix = "GET /accounts/"
    suffix = " HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port
             .. "\r\n\r\n"
end

-- milliseconds until the next free slot of the schedule (wrk rounds down)
function delay()
    local now = now_ms()

    if due == nil or due < now - 1000 then
        -- the start, or more than a second behind: do not burst to catch up
        due = now
    end

    due = due + interval

    return math.max(0, due - now)
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
