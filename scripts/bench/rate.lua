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

-- the requests and the RESULT line are random.lua's; its init() takes the
-- seed third
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./")
       .. "random.lua")

local random_init = init
local interval, due

function init(args)
    interval = 1000 / (tonumber(args[3]) or 1000)
    random_init({ args[1], args[2], args[4] })
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
