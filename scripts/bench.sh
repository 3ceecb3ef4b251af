#!/bin/bash
# scripts/bench.sh: account_lookup against what else nginx could do, in one
# run, on loopback, and a table of the medians.
#
#   scripts/bench.sh             the full benchmark (about 15 minutes)
#   scripts/bench.sh --publish   the same, then docs/BENCHMARKS.md and
#                                docs/bench-concurrency.png from this run
#   scripts/bench.sh --smoke     a few seconds: every variant answers right
#   scripts/bench.sh --instructions
#                                seconds: callgrind's instructions per
#                                request only, ceiling, floor and module at
#                                SMALL accounts (and at LARGE when its
#                                database is cached); track it on every change
#   scripts/bench.sh --seeding   about a minute: account-seed's speed only
#   scripts/bench.sh --scale     about five minutes: the module at SMALL
#                                and at LARGE accounts in back-to-back pairs
#                                of runs only (the LARGE database is seeded
#                                first if it is not cached), then the
#                                store's lookup alone at both sizes
#
# The variants, each its own nginx with one worker pinned to SERVER_CPU,
# loaded by wrk (one thread, random ids over the seeded set) on CLIENT_CPU,
# one at a time, in an order that rotates from run to run:
#
#   ceiling  "return 200" of a constant account document: no lookup at all
#   static   one pre-rendered file per account, "try_files"
#   lua      a lua_shared_dict filled at start-up, content_by_lua
#   module   this repository's account_lookup on an account-seed database
#
# Then: req/s against concurrent connections (the plot), constant-rate runs
# (wrk with random ids, and hey with one), back-to-back pairs of runs (the
# module against the ceiling at SMALL accounts, the module at LARGE against
# the module at SMALL), user-space instructions per request under
# callgrind, worker memory, and the seeding tool's speed.  The targets are checked at the end.
#
# The environment sets the knobs (defaults in brackets):
#
#   DURATION [10]  seconds of a measured run     RUNS [3]  runs per variant
#   WARMUP [3]     seconds of load before them   CONNS [50]  connections
#   SMALL [100]    accounts, first size          LARGE [10000000]  second
#   STATIC_LARGE [1000000]  files at the second size (see docs/BENCHMARKS.md)
#   SWEEP ["1 10 50 200 1000"]  connections for the plot, SWEEP_DURATION [5]
#   RATE [1000]    req/s of the constant-rate runs, RATE_DURATION [10]
#   PAIRS [8]      pairs of back-to-back runs for the targets' ratios,
#                  PAIR_DURATION [DURATION] seconds each (a p99 needs
#                  long runs: one stall of the machine shifts a short run's)
#   CALLGRIND_REQUESTS [2000]  requests counted, after CALLGRIND_WARMUP [200]
#   LOOKUP_RUNS [3]  runs of the store's lookup alone at each size (outside
#                  nginx: account-lookup-bench), LOOKUP_SECONDS [3] each
#   DRAIN [1s]     the module's account_keepalive_drain, as shipped (0: off)
#   TIME_SEED [1]  time the seeding of LARGE accounts (0: reuse the cache)
#   SERVER_CPU [0], CLIENT_CPU [1]
#   NICE [-20 as root, else 0]  the priority of nginx and wrk: on a shared
#                  machine, what else runs takes less of their CPUs
#   QUIET [10]     before each run, wait until neither CPU is busier than
#                  this percent with other work, up to QUIET_WAIT [5] s
#                  (a bound: about 90 runs wait at most 8 minutes in all)
#   PORT [18080]   uses PORT..PORT+9, and PORT+10..PORT+14 for --smoke
#   BUILD [build]  where make put the module and account-seed
#   NGINX [/usr/sbin/nginx]
#   BENCH_DATA [/tmp/bench-data]  cached inputs: static files, JSON Lines,
#                  the LARGE database
#
# Exit status: 0 done (targets missed are reported, not failed), 1 a
# variant answered wrong or did not start, 64 bad arguments, 69 a tool or
# package is missing.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/scripts/bench

# the knobs this run was given, for the record
KNOBS=$(for v in DURATION RUNS WARMUP CONNS SMALL LARGE STATIC_LARGE SWEEP \
                 SWEEP_DURATION RATE RATE_DURATION RATE_CONNS \
                 PAIRS PAIR_DURATION \
                 CALLGRIND_REQUESTS CALLGRIND_WARMUP LOOKUP_RUNS \
                 LOOKUP_SECONDS IMPORT_LINES TIME_SEED \
                 SERVER_CPU CLIENT_CPU NICE PORT BUILD NGINX BENCH_DATA; do
            # the Makefile passes the defaults as absolute paths: not knobs
            case $v=${!v-} in
            BUILD="$ROOT/build" | NGINX=/usr/sbin/nginx) continue ;;
            esac
            if [ -n "${!v+set}" ]; then printf "%s='%s' " "$v" "${!v}"; fi
        done)

DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
[ "$RUNS" -ge 1 ] 2>/dev/null || { echo "$0: RUNS must be 1 or more" >&2; exit 64; }
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-50}
SMALL=${SMALL:-100}
LARGE=${LARGE:-10000000}
STATIC_LARGE=${STATIC_LARGE:-1000000}
SWEEP=${SWEEP:-1 10 50 200 1000}
SWEEP_DURATION=${SWEEP_DURATION:-5}
RATE=${RATE:-1000}
RATE_DURATION=${RATE_DURATION:-10}
RATE_CONNS=${RATE_CONNS:-10}
# hey's rate limit is per connection: what each one sends for RATE in all
RATE_EACH=$(( (RATE + RATE_CONNS - 1) / RATE_CONNS ))
PAIRS=${PAIRS:-8}
[ "$PAIRS" -ge 1 ] 2>/dev/null || { echo "$0: PAIRS must be 1 or more" >&2; exit 64; }
PAIR_DURATION=${PAIR_DURATION:-$DURATION}
CALLGRIND_REQUESTS=${CALLGRIND_REQUESTS:-2000}
CALLGRIND_WARMUP=${CALLGRIND_WARMUP:-200}
LOOKUP_RUNS=${LOOKUP_RUNS:-3}
[ "$LOOKUP_RUNS" -ge 1 ] 2>/dev/null || { echo "$0: LOOKUP_RUNS must be 1 or more" >&2; exit 64; }
LOOKUP_SECONDS=${LOOKUP_SECONDS:-3}
DRAIN=${DRAIN:-1s}
IMPORT_LINES=${IMPORT_LINES:-1000000}
TIME_SEED=${TIME_SEED:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NICE=${NICE:-$( [ "$(id -u)" = 0 ] && echo -20 || echo 0 )}
QUIET=${QUIET:-10}
QUIET_WAIT=${QUIET_WAIT:-5}
PORT=${PORT:-18080}
BUILD=${BUILD:-$ROOT/build}
NGINX=${NGINX:-/usr/sbin/nginx}
# nginx itself reads an NGINX variable (inherited sockets): keep it from them
export -n NGINX
BENCH_DATA=${BENCH_DATA:-/tmp/bench-data}

START=10000
VARIANTS="ceiling static lua module"
LUA_MODULES=/usr/lib/nginx/modules

MODULE=$BUILD/ngx_http_account_module.so
SEED=$BUILD/account-seed
LOOKUP=$BUILD/account-lookup-bench

mode=full

case ${1:-} in
"")         ;;
--smoke)    mode=smoke ;;
--publish)  mode=publish ;;
--instructions) mode=instructions ;;
--seeding)  mode=seeding ;;
--scale)    mode=scale ;;
-h|--help)  sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
*)          echo "usage: $0 [--smoke | --publish | --instructions | --seeding | --scale | --help]" >&2; exit 64 ;;
esac


say() {
    printf '%s\n' "$*" >&2
}

die() {
    say "bench: $1"
    exit "${2:-1}"
}

need() {
    [ -e "$1" ] || command -v "$1" >/dev/null 2>&1 \
        || die "$1 is missing: $2" 69
}

need "$NGINX" "install nginx, or set NGINX"
need "$MODULE" "run make (or set BUILD to where make put it)"
need "$SEED" "run make (or set BUILD to where make put it)"
need "$LOOKUP" "run make (or set BUILD to where make put it)"
need wrk "scripts/deps.sh bench installs it"
need curl "scripts/deps.sh bench installs it"
need taskset "install util-linux"
need "$LUA_MODULES/ngx_http_lua_module.so" \
     "scripts/deps.sh bench installs libnginx-mod-http-lua"

case $mode in
full|publish|instructions)
    need valgrind "scripts/deps.sh bench installs it"
    need callgrind_control "scripts/deps.sh bench installs valgrind"
    need callgrind_annotate "scripts/deps.sh bench installs valgrind"
    ;;
esac
case $mode in
full|publish)
    need gnuplot "scripts/deps.sh bench installs gnuplot-nox"
    need hey "scripts/deps.sh bench installs it"
    ;;
esac

MODULE=$(realpath "$MODULE")
SEED=$(realpath "$SEED")

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d /tmp/bench-run.XXXXXX)
RESULTS=$WORK/results
: > "$RESULTS"
mkdir -p "$BENCH_DATA"

# master pids of the servers this script started, killed on the way out
PIDS=""

cleanup() {
    local pid

    for pid in $PIDS; do
        kill -TERM "$pid" 2>/dev/null || true
    done

    for pid in $PIDS; do
        wait "$pid" 2>/dev/null || true
    done

    if [ "${KEEP_WORK:-0}" = 1 ]; then
        say "bench: kept $WORK"
    else
        rm -rf "$WORK"
    fi
}

trap cleanup EXIT
trap 'exit 130' INT TERM


# --- data ---------------------------------------------------------------

# the seeded document of the first account, the ceiling's constant body
BODY="{\"id\":\"$START\",\"name\":\"Person_0\"}"

# db_path COUNT: where the database of COUNT accounts lives
db_path() {
    echo "$BENCH_DATA/accounts-$1.mdb"
}

# db_for COUNT: an account-seed database of COUNT accounts, seeded now (a
# second a million), or the LARGE one that seeding() left in the cache
db_for() {
    local db

    db=$(db_path "$1")

    # only the LARGE one is worth keeping (seeding() makes it)
    if [ "$1" != "$LARGE" ] || [ ! -e "$db.done" ]; then
        rm -f "$db" "$db-lock" "$db.done"
        "$SEED" --quiet --db "$db" --count "$1" --start "$START" >&2
        : > "$db.done"
    fi

    echo "$db"
}

# static_for COUNT: the directory of COUNT pre-rendered documents, cached
# (a million files take about a minute to write)
static_for() {
    local dir=$BENCH_DATA/static-$1

    if [ ! -e "$dir/.done" ]; then
        say "bench: writing $1 static files into $dir (cached for next time)"
        rm -rf "$dir"
        mkdir -p "$dir/accounts"
        perl -e '
            my ($dir, $start, $count) = @ARGV;
            for my $i (0 .. $count - 1) {
                my $id = $start + $i;
                open(my $f, ">", "$dir/accounts/$id") or die "$dir: $!\n";
                print $f qq({"id":"$id","name":"Person_$i"});
                close($f) or die "$dir: $!\n";
            }' "$dir" "$START" "$1"
        : > "$dir/.done"
    fi

    echo "$dir"
}


# --- servers ------------------------------------------------------------

cpu_mask() {
    local mask=1 i

    for ((i = 0; i < $1; i++)); do
        mask=${mask}0
    done

    echo "$mask"
}

# render NAME VARIANT PORT COUNT: the configuration in $WORK/NAME
render() {
    local name=$1 variant=$2 port=$3 count=$4
    local dir=$WORK/$name db="" root="" user="" dict

    mkdir -p "$dir/tmp"

    case $variant in
    module) db=$(db_for "$count") ;;
    static) root=$(static_for "$count") ;;
    esac

    # a shared dict entry takes about 128 bytes of slab; and room to spare
    dict=$(( (count * 256 / 1048576) + 8 ))m

    [ "$(id -u)" = 0 ] && user="user root;"

    sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$port|g" \
        -e "s|@CPU_MASK@|$(cpu_mask "$SERVER_CPU")|g" \
        -e "s|@USER@|$user|g" -e "s|@MODULE@|$MODULE|g" \
        -e "s|@DB@|$db|g" -e "s|@ROOT@|$root|g" \
        -e "s|@START@|$START|g" -e "s|@COUNT@|$count|g" \
        -e "s|@DICT_SIZE@|$dict|g" -e "s|@BODY@|$BODY|g" \
        "$HERE/nginx.conf.in" > "$dir/nginx.conf"

    sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$port|g" \
        -e "s|@MODULE@|$MODULE|g" -e "s|@DB@|$db|g" -e "s|@ROOT@|$root|g" \
        -e "s|@START@|$START|g" -e "s|@COUNT@|$count|g" \
        -e "s|@DICT_SIZE@|$dict|g" -e "s|@BODY@|$BODY|g" \
        -e "s|@DRAIN@|$DRAIN|g" \
        "$HERE/$variant.conf.in" > "$dir/all.conf"

    grep '^load_module' "$dir/all.conf" > "$dir/modules.conf" || true
    grep -v '^load_module' "$dir/all.conf" > "$dir/variant.conf"

    echo "$variant $port $count" > "$dir/about"
}

# wait_ready NAME PID: until the server answers the first account
wait_ready() {
    local name=$1 pid=$2 port i

    port=$(awk '{ print $2 }' "$WORK/$name/about")

    for ((i = 0; i < 6000; i++)); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' \
                 "http://127.0.0.1:$port/accounts/$START")" = 200 ]
        then
            return 0
        fi

        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done

    cat "$WORK/$name/error.log" >&2 2>/dev/null || true
    die "$name did not start answering on port $port"
}

# start NAME VARIANT PORT COUNT: nginx, master and worker on SERVER_CPU
start() {
    local name=$1 pid

    render "$@"

    nice -n "$NICE" taskset -c "$SERVER_CPU" "$NGINX" -p "$WORK/$name" \
        -c nginx.conf -e "$WORK/$name/error.log" -g 'daemon off;' &
    pid=$!
    PIDS="$PIDS $pid"
    echo "$pid" > "$WORK/$name/master"

    wait_ready "$name" "$pid"

    # the worker: the master's only child
    cat "/proc/$pid/task/$pid/children" | tr -d ' ' > "$WORK/$name/worker"
    [ -s "$WORK/$name/worker" ] || die "$name: no worker process"

    echo "$PHASE $name $(memory "$name")" >> "$WORK/memory.idle"
}

stop() {
    local pid

    pid=$(cat "$WORK/$1/master")
    kill -QUIT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    PIDS=$(echo "$PIDS" | tr ' ' '\n' | grep -vx "$pid" | tr '\n' ' ')
}

port_of() {
    awk '{ print $2 }' "$WORK/$1/about"
}

count_of() {
    awk '{ print $3 }' "$WORK/$1/about"
}

variant_of() {
    awk '{ print $1 }' "$WORK/$1/about"
}

# memory NAME: in KiB, the worker's private, shared, private file-backed
# and anonymous memory, and the proportional share (Pss) of master and
# worker together
memory() {
    awk 'NR == FNR { if (/^Pss:/) pss += $2; next }
         /^Pss:/                   { pss += $2 }
         /^Private_(Clean|Dirty):/ { priv += $2 }
         /^Shared_(Clean|Dirty):/  { shared += $2 }
         /^Private_Clean:/         { clean = $2 }
         /^Anonymous:/             { anon = $2 }
         END { print priv, shared, clean, anon, pss }' \
        "/proc/$(cat "$WORK/$1/master")/smaps_rollup" \
        "/proc/$(cat "$WORK/$1/worker")/smaps_rollup"
}

# cpu_ns NAME: nanoseconds the worker has run on its CPU so far
cpu_ns() {
    awk '{ print $1 }' "/proc/$(cat "$WORK/$1/worker")/schedstat"
}

# check NAME: every answer right for a sample of ids (status, type, body)
check() {
    local name=$1 body=()

    [ "$(variant_of "$name")" = ceiling ] && body=(--body "$BODY")

    perl "$HERE/requests.pl" --port "$(port_of "$name")" --start "$START" \
        --count "$(count_of "$name")" --requests 200 --seed 7 "${body[@]}" \
        > /dev/null
}


# --- load ---------------------------------------------------------------

# busy: the busier of SERVER_CPU and CLIENT_CPU over half a second, in
# percent (between runs our servers are idle: this is everybody else)
busy() {
    local a b

    a=$(grep -E "^cpu($SERVER_CPU|$CLIENT_CPU) " /proc/stat)
    sleep 0.5
    b=$(grep -E "^cpu($SERVER_CPU|$CLIENT_CPU) " /proc/stat)

    printf '%s\n%s\n' "$a" "$b" | awk '{
        idle = $5 + $6; total = 0
        for (i = 2; i <= NF; i++) total += $i
        if ($1 in t0) {
            dt = total - t0[$1]; di = idle - i0[$1]
            b = dt > 0 ? 100 * (dt - di) / dt : 0
            if (b > max) max = b
        } else { t0[$1] = total; i0[$1] = idle }
    } END { printf "%.0f\n", max }'
}

# quiet: wait until the CPUs are quiet enough to measure on; prints the
# busy percent it measured at last
quiet() {
    local i b

    b=$(busy)

    for ((i = 0; i < QUIET_WAIT * 2; i++)); do
        if [ "$b" -le "$QUIET" ]; then
            echo "$b"
            return
        fi
        b=$(busy)
    done

    say "bench: the CPUs are still ${b}% busy with other work after" \
        "${QUIET_WAIT} s; measuring anyway"
    echo "$b"
}

# warm NAME: the module's database back in the page cache.  Some machines
# (this one among them) reclaim page cache that sits unused even with most
# memory free: a database idle for a minute is then partly read from disk
# again, and the first runs measure the disk.  Every run starts with the
# whole file cached.  (Static files are not warmed: reading a million of
# them takes minutes.)
warm() {
    [ "$(variant_of "$1")" = module ] || return 0
    cat "$(db_path "$(count_of "$1")")" > /dev/null
}

# load NAME SCRIPT SECONDS CONNS [ARGS]: one wrk run, its RESULT line plus
# the worker's CPU use in percent of one CPU, and in ns per request
load() {
    local name=$1 script=$2 seconds=$3 conns=$4 before after line other
    shift 4

    warm "$name"
    other=$(quiet)
    before=$(cpu_ns "$name")

    line=$(nice -n "$NICE" taskset -c "$CLIENT_CPU" \
               wrk -t1 -c"$conns" -d"${seconds}s" \
               --timeout 5s --latency -s "$HERE/$script" \
               "http://127.0.0.1:$(port_of "$name")" -- "$START" \
               "$(count_of "$name")" "$@" | grep '^RESULT ') \
        || die "wrk gave no result against $name"

    after=$(cpu_ns "$name")

    echo "$line" | awk -v ns=$((after - before)) -v s="$seconds" '{
        split($2, n, "=")
        printf "%s cpu=%.0f ns_req=%.0f other=%s\n", $0, ns / s / 1e7,
               n[2] ? ns / n[2] : 0, other }' other="$other"
}

# field LINE NAME: the value of NAME=... in a RESULT line
field() {
    echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# record KIND SIZE NAME RUN RESULT-LINE
record() {
    echo "$1 $2 $3 $4 $(field "$5" rps) $(field "$5" p50_us)" \
         "$(field "$5" p99_us) $(field "$5" p999_us) $(field "$5" cpu)" \
         "$(( $(field "$5" errors) + $(field "$5" non2xx) ))" \
         "$(field "$5" ns_req)" "$(field "$5" other)" >> "$RESULTS"
}

# median KIND SIZE NAME COLUMN: the median of a column of the results
median() {
    awk -v k="$1" -v s="$2" -v n="$3" -v c="$4" \
        '$1 == k && $2 == s && $3 == n { print $c }' "$RESULTS" \
    | sort -g | awk '{ v[NR] = $1 }
                     END { if (NR == 0) print "-";
                           else if (NR % 2) print v[(NR + 1) / 2];
                           else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# paired KIND SIZE NAME-A NAME-B COLUMN: A / B within each run (the variants
# of a run follow one another within seconds), then the median of those
# ratios and, in parentheses, each run's from lowest to highest: a drift of
# the machine's speed between runs cancels out, as it does not in a ratio of
# two medians (rounded to two decimals when printed, not before)
paired() {
    awk -v k="$1" -v s="$2" -v a="$3" -v b="$4" -v c="$5" '
        $1 == k && $2 == s && $3 == a { va[$4] = $c }
        $1 == k && $2 == s && $3 == b { vb[$4] = $c }
        END { for (r in va) if ((r in vb) && vb[r] > 0)
                  printf "%.6f\n", va[r] / vb[r] }' "$RESULTS" \
    | sort -g | awk '{ v[NR] = $1 }
                     END { if (NR == 0) { print "-"; exit }
                           m = NR % 2 ? v[(NR + 1) / 2] \
                                      : (v[NR / 2] + v[NR / 2 + 1]) / 2
                           printf "%.2f", m
                           for (i = 1; i <= NR; i++)
                               printf "%s%.2f", i == 1 ? " (" : ", ", v[i]
                           print ")" }'
}

# rotate N WORDS...: the words, starting with the Nth (modulo)
rotate() {
    local n=$1
    shift
    local words=("$@")
    local i

    for ((i = 0; i < ${#words[@]}; i++)); do
        echo "${words[(i + n) % ${#words[@]}]}"
    done
}

# measure SIZE NAMES...: warm-up, then RUNS alternated runs of each
measure() {
    local size=$1 name run line
    shift

    for name in "$@"; do
        say "bench: $size: warming up $name"
        load "$name" random.lua "$WARMUP" "$CONNS" 99 > /dev/null
    done

    for ((run = 1; run <= RUNS; run++)); do
        for name in $(rotate "$run" "$@"); do
            line=$(load "$name" random.lua "$DURATION" "$CONNS" "$run")
            say "bench: $size: run $run: $name: $line"
            record main "$size" "$name" "$run" "$line"
        done
    done

    for name in "$@"; do
        echo "$size $name $(memory "$name")" >> "$WORK/memory.loaded"
    done
}

# hey_rate NAME: RATE req/s for RATE_DURATION from hey (-q is per
# connection), every request for the first account: hey takes one URL.  A
# RESULT line as load() prints, from hey's CSV of every request's time (in
# steps of 0.1 ms)
hey_rate() {
    local name=$1 before after other csv=$WORK/hey.csv

    warm "$name"
    other=$(quiet)
    before=$(cpu_ns "$name")

    nice -n "$NICE" taskset -c "$CLIENT_CPU" \
        hey -z "${RATE_DURATION}s" -c "$RATE_CONNS" \
            -q "$RATE_EACH" -t 5 -o csv \
            "http://127.0.0.1:$(port_of "$name")/accounts/$START" > "$csv" \
        || die "hey failed against $name"

    after=$(cpu_ns "$name")

    # response-time (s), ..., status-code: a request that got no answer has
    # no status
    awk -F, 'NR > 1 { print $1 * 1e6, ($7 == 200) ? 0 : 1 }' "$csv" \
    | sort -g | awk -v ns=$((after - before)) -v s="$RATE_DURATION" \
                    -v other="$other" '
        # the nearest-rank percentile
        function at(q,  i) {
            i = int(q * n + 0.999999)
            return t[i < 1 ? 1 : i]
        }
        { t[++n] = $1; bad += $2 }
        END {
            if (n == 0) exit 1
            printf "RESULT requests=%d seconds=%s rps=%.1f p50_us=%.0f " \
                   "p99_us=%.0f p999_us=%.0f errors=0 non2xx=%d cpu=%.0f " \
                   "ns_req=%.0f other=%s\n", n, s, n / s, at(0.5), at(0.99),
                   at(0.999), bad, ns / s / 1e7, ns / n, other
        }' || die "hey sent no request to $name"
}

# constant SIZE NAMES...: RATE req/s for RATE_DURATION, each in turn, from
# wrk (random ids) and from hey (one id)
constant() {
    local size=$1 name line
    shift

    for name in "$@"; do
        line=$(load "$name" rate.lua "$RATE_DURATION" "$RATE_CONNS" "$RATE" 5)
        say "bench: $size: constant rate: $name: $line"
        record rate "$size" "$name" 1 "$line"

        line=$(hey_rate "$name")
        say "bench: $size: constant rate, hey: $name: $line"
        record hey "$size" "$name" 1 "$line"
    done
}

# sweep SIZE NAMES...: one run at each number of connections
sweep() {
    local size=$1 conns name line i=0
    shift

    for conns in $SWEEP; do
        for name in $(rotate "$i" "$@"); do
            load "$name" random.lua 1 "$conns" 3 > /dev/null
            line=$(load "$name" random.lua "$SWEEP_DURATION" "$conns" 4)
            say "bench: $size: $conns connections: $name: $line"
            record "sweep$conns" "$size" "$name" 1 "$line"
        done
        i=$((i + 1))
    done
}


# pairs KIND SIZE NAME-A NAME-B: A and B in PAIRS pairs of runs back to
# back, the order swapped from one pair to the next (AB BA AB ...), recorded
# as KIND: the ratio of two variants read from runs a few seconds apart (in
# measure(), other variants run between them), with a steady drift of the
# machine's speed cancelled by the swapped order
pairs() {
    local kind=$1 size=$2 a=$3 b=$4 pair name line

    for name in "$a" "$b"; do
        say "bench: $kind: warming up $name"
        load "$name" random.lua "$WARMUP" "$CONNS" 99 > /dev/null
    done

    for ((pair = 1; pair <= PAIRS; pair++)); do
        for name in $(rotate "$((pair + 1))" "$a" "$b"); do
            line=$(load "$name" random.lua "$PAIR_DURATION" "$CONNS" "$pair")
            say "bench: $kind: pair $pair: $name: $line"
            record "$kind" "$size" "$name" "$pair" "$line"
        done
    done
}


# lookups: the store's lookup alone, outside nginx, at SMALL and at LARGE
# accounts in turns, on the server's CPU: what a request's lookup costs
# at each size when nothing else runs between two lookups
lookups() {
    local run count line

    for ((run = 1; run <= LOOKUP_RUNS; run++)); do
        for count in $(rotate "$run" "$SMALL" "$LARGE"); do
            warm "module-$count"
            line=$(nice -n "$NICE" taskset -c "$SERVER_CPU" "$LOOKUP" \
                       -s "$START" -t "$LOOKUP_SECONDS" \
                       "$(db_path "$count")" "$count") \
                || die "account-lookup-bench failed at $count accounts"
            say "bench: lookup alone: run $run: $count accounts: $line"
            echo "lookup $count store $run $(field "$line" ns_per_lookup)" \
                >> "$RESULTS"
        done
    done
}


# --- callgrind ----------------------------------------------------------

# callgrind NAME VARIANT COUNT: user-space instructions per request of one
# nginx process (no master) under callgrind, counted over a fixed sequence
# of keep-alive requests after a warm-up
callgrind() {
    local name=$1 variant=$2 count=$3 port=$((PORT + 9)) pid dir ir lmdb i
    local body=()

    dir=$WORK/$name
    render "$name" "$variant" "$port" "$count"

    case $variant in
    ceiling) body=(--body "$BODY") ;;
    floor)   body=(--status-only) ;;
    esac

    (cd "$dir" && exec taskset -c "$SERVER_CPU" valgrind --tool=callgrind \
        --callgrind-out-file="$dir/callgrind.out" "$NGINX" -p "$dir" \
        -c nginx.conf -e "$dir/error.log" \
        -g 'daemon off; master_process off;' 2> "$dir/valgrind.log") &
    pid=$!
    PIDS="$PIDS $pid"
    echo "$pid" > "$dir/master"

    wait_ready "$name" "$pid"

    perl "$HERE/requests.pl" --port "$port" --start "$START" --count "$count" \
        --requests "$CALLGRIND_WARMUP" --seed 11 "${body[@]}" > /dev/null \
        || die "$name answered wrong under callgrind"

    callgrind_control -z "$pid" > /dev/null

    perl "$HERE/requests.pl" --port "$port" --start "$START" --count "$count" \
        --requests "$CALLGRIND_REQUESTS" --seed 13 "${body[@]}" > /dev/null \
        || die "$name answered wrong under callgrind"

    callgrind_control -d "$pid" > /dev/null

    # the dump of the counted requests is the first numbered one
    for ((i = 0; i < 100; i++)); do
        [ -s "$dir/callgrind.out.1" ] && break
        sleep 0.1
    done

    ir=$(awk '/^(summary|totals):/ { print $2; exit }' \
             "$dir/callgrind.out.1")

    # of which LMDB: its three calls per request, with all they call
    lmdb=$(callgrind_annotate --inclusive=yes --threshold=100 --auto=no \
               "$dir/callgrind.out.1" 2> "$dir/annotate.log" \
           | awk '!/=>/ && /:mdb_(get|txn_renew|txn_reset)( |$)/ {
                      gsub(",", "", $1); s += $1 }
                  END { print s + 0 }') || lmdb=0

    stop "$name"

    mkdir -p "$BENCH_DATA/callgrind"
    cp "$dir/callgrind.out.1" "$BENCH_DATA/callgrind/$variant-$count.out"
    echo "callgrind $count $variant 1 $((ir / CALLGRIND_REQUESTS))" \
         "$((lmdb / CALLGRIND_REQUESTS))" >> "$RESULTS"
    say "bench: callgrind: $name: $((ir / CALLGRIND_REQUESTS)) instructions" \
        "per request"
}


# --- seeding ------------------------------------------------------------

# timed KIND COUNT DB COMMAND...: RUNS timed runs of COMMAND, each into a
# new DB after a sync (so that no run pays for the last one's writeback);
# the median run (the lower middle one for an even RUNS) goes into the
# seeding table
timed() {
    local kind=$1 count=$2 db=$3 i t0 t1
    shift 3

    : > "$WORK/timed"

    for ((i = 1; i <= RUNS; i++)); do
        rm -f "$db" "$db-lock"
        sync
        t0=$(date +%s.%N)
        "$@"
        t1=$(date +%s.%N)
        echo "$kind $count $t0 $t1 $(( $(stat -c '%b * %B' "$db") ))" \
             >> "$WORK/timed"
        say "bench: $kind: run $i: $(awk -v a="$t0" -v b="$t1" \
                                          'BEGIN { printf "%.2f", b - a }') s"
    done

    awk '{ print $4 - $3, $0 }' "$WORK/timed" | sort -n \
        | sed -n "$(( (RUNS + 1) / 2 ))p" | cut -d' ' -f2- >> "$WORK/seeding"
}

# seeding: seed LARGE generated accounts and import IMPORT_LINES JSON Lines,
# timed; the seeded database is the LARGE one the benchmark serves
seeding() {
    local db jsonl

    db=$(db_path "$LARGE")

    if [ "$TIME_SEED" = 1 ] || [ ! -e "$db.done" ]; then
        rm -f "$db.done"
        say "bench: seeding $LARGE accounts"
        timed generate "$LARGE" "$db" \
            "$SEED" --quiet --db "$db" --count "$LARGE" --start "$START"
        : > "$db.done"
    fi

    jsonl=$BENCH_DATA/import-$IMPORT_LINES.jsonl

    if [ ! -e "$jsonl" ]; then
        awk -v n="$IMPORT_LINES" -v s="$START" 'BEGIN {
            for (i = 0; i < n; i++)
                printf "{\"id\":\"%d\",\"name\":\"Person_%d\"}\n", s + i, i
        }' > "$jsonl.tmp"
        mv "$jsonl.tmp" "$jsonl"
    fi

    # the input from the page cache, as the database is served from it
    cat "$jsonl" > /dev/null

    say "bench: importing $IMPORT_LINES JSON Lines"
    timed import "$IMPORT_LINES" "$WORK/import.mdb" \
        "$SEED" --quiet --db "$WORK/import.mdb" --from "$jsonl"
    rm -f "$WORK/import.mdb" "$WORK/import.mdb-lock"
}


# --- report -------------------------------------------------------------

# num KIND SIZE NAME COLUMN [DIVISOR [FORMAT]]: a median, formatted
num() {
    local v

    v=$(median "$1" "$2" "$3" "$4")
    [ "$v" = - ] && { echo -; return; }
    awk -v v="$v" -v d="${5:-1}" -v f="${6:-%.0f}" \
        'BEGIN { printf f "\n", v / d }'
}

# ratio A B: A / B to two decimals, or - when either is missing
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "-" || b == "-" || b == 0) print "-";
        else printf "%.2f\n", a / b }'
}

# mem FILE SIZE NAME COLUMN: KiB from a memory file, in MiB
mem() {
    awk -v s="$2" -v n="$3" -v c="$4" \
        '$1 == s && $2 == n { v = $(c + 2) }
         END { if (v == "") print "-"; else printf "%.1f\n", v / 1024 }' \
        "$1" 2>/dev/null || echo -
}

cg() {
    awk -v s="$1" -v v="$2" '$1 == "callgrind" && $2 == s && $3 == v {
        print $5 }' "$RESULTS"
}

# the throughput table of one size; ceiling first, the names that follow
table() {
    local size=$1 name variant count ceil_rps ceil_p99 rps p99 instr
    shift

    ceil_rps=$(median main "$size" "ceiling-$size" 5)
    ceil_p99=$(median main "$size" "ceiling-$size" 7)

    echo "| variant | accounts | req/s | × ceiling | p50 ms | p99 ms" \
         "| p99 × ceiling | worker CPU % | worker µs/req | errors" \
         "| other load % | instr/req |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"

    for name in "$@"; do
        variant=${name%-*}
        count=${name##*-}
        rps=$(median main "$size" "$name" 5)
        p99=$(median main "$size" "$name" 7)
        instr=$(cg "$count" "$variant")

        echo "| $variant | $count | $(num main "$size" "$name" 5)" \
             "| $(ratio "$rps" "$ceil_rps")" \
             "| $(num main "$size" "$name" 6 1000 %.3f)" \
             "| $(num main "$size" "$name" 7 1000 %.3f)" \
             "| $(ratio "$p99" "$ceil_p99")" \
             "| $(num main "$size" "$name" 9)" \
             "| $(num main "$size" "$name" 11 1000 %.1f)" \
             "| $(num main "$size" "$name" 10)" \
             "| $(num main "$size" "$name" 12)" \
             "| ${instr:--} |"
    done
}

memory_table() {
    local size name variant count

    echo "| variant | accounts | private MiB idle | private MiB loaded" \
         "| of which file pages | anonymous MiB loaded | shared MiB loaded" \
         "| master + worker Pss MiB |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"

    while read -r size name; do
        variant=${name%-*}
        count=${name##*-}
        echo "| $variant | $count" \
             "| $(mem "$WORK/memory.idle" "$size" "$name" 1)" \
             "| $(mem "$WORK/memory.loaded" "$size" "$name" 1)" \
             "| $(mem "$WORK/memory.loaded" "$size" "$name" 3)" \
             "| $(mem "$WORK/memory.loaded" "$size" "$name" 4)" \
             "| $(mem "$WORK/memory.loaded" "$size" "$name" 2)" \
             "| $(mem "$WORK/memory.loaded" "$size" "$name" 5) |"
    done < <(awk '{ print $1, $2 }' "$WORK/memory.loaded")
}

# rate_table KIND: the constant-rate runs of wrk (rate) or of hey (hey)
rate_table() {
    local kind=$1 size name

    echo "| variant | accounts | req/s sent | p50 ms | p99 ms | p99.9 ms" \
         "| errors |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"

    while read -r size name; do
        echo "| ${name%-*} | ${name##*-}" \
             "| $(num "$kind" "$size" "$name" 5)" \
             "| $(num "$kind" "$size" "$name" 6 1000 %.3f)" \
             "| $(num "$kind" "$size" "$name" 7 1000 %.3f)" \
             "| $(num "$kind" "$size" "$name" 8 1000 %.3f)" \
             "| $(num "$kind" "$size" "$name" 10) |"
    done < <(awk -v k="$kind" '$1 == k { print $2, $3 }' "$RESULTS")
}

# pair_table KIND SIZE NAME-A NAME-B: the pairs' req/s and p99, and B / A
pair_table() {
    local kind=$1 size=$2 a=$3 b=$4 pair la lb

    la="${a%-*} at ${a##*-}"
    lb="${b%-*} at ${b##*-}"

    echo "| pair | $la, req/s | $lb, req/s | req/s ratio | $la, p99 ms" \
         "| $lb, p99 ms | p99 ratio |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"

    for ((pair = 1; pair <= PAIRS; pair++)); do
        awk -v k="$kind" -v s="$size" -v p="$pair" -v a="$a" -v b="$b" '
            $1 == k && $2 == s && $4 == p && $3 == a { x = $5; px = $7 }
            $1 == k && $2 == s && $4 == p && $3 == b { y = $5; py = $7 }
            END { if (x > 0 && y > 0 && px > 0)
                      printf "| %d | %.0f | %.0f | %.2f | %.3f | %.3f | %.2f |\n",
                             p, x, y, y / x, px / 1000, py / 1000, py / px }' \
            "$RESULTS"
    done

    echo "| median | $(num "$kind" "$size" "$a" 5) | $(num "$kind" "$size" "$b" 5)" \
         "| $(paired "$kind" "$size" "$b" "$a" 5 | cut -d' ' -f1)" \
         "| $(num "$kind" "$size" "$a" 7 1000 %.3f)" \
         "| $(num "$kind" "$size" "$b" 7 1000 %.3f)" \
         "| $(paired "$kind" "$size" "$b" "$a" 7 | cut -d' ' -f1) |"
}

callgrind_table() {
    local ceil

    ceil=$(cg "$SMALL" ceiling)

    echo "| variant | accounts | instructions/request | × ceiling" \
         "| of which in LMDB |"
    echo "| --- | ---: | ---: | ---: | ---: |"

    awk '$1 == "callgrind" { print $3, $2, $5, $6 }' "$RESULTS" \
    | while read -r variant count instr lmdb; do
        [ "$variant" = floor ] && variant="floor: empty_gif, for reference"
        [ "${lmdb:-0}" = 0 ] && lmdb=-
        echo "| $variant | $count | $instr | $(ratio "$instr" "$ceil")" \
             "| $lmdb |"
    done
}

seeding_table() {
    echo "| what | accounts | seconds | accounts/s | bytes on disk" \
         "| bytes/account |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"

    awk '{
        t = $4 - $3
        printf "| %s | %d | %.2f | %.0f | %d | %.1f |\n",
            $1 == "generate" ? "account-seed --count" \
                             : "account-seed --from (JSON Lines)",
            $2, t, $2 / t, $5, $5 / $2
    }' "$WORK/seeding" 2>/dev/null
}

sweep_data() {
    local conns name

    echo "# connections $VARIANTS (req/s, $SMALL accounts)"

    for conns in $SWEEP; do
        printf '%s' "$conns"
        for name in $VARIANTS; do
            printf ' %s' "$(median "sweep$conns" "$SMALL" "$name-$SMALL" 5)"
        done
        printf '\n'
    done
}

sweep_table() {
    local conns name

    echo "| connections | $(echo $VARIANTS | sed 's/ / | /g') |"
    echo "|$(for name in connections $VARIANTS; do printf ' ---: |'; done)"

    for conns in $SWEEP; do
        printf '| %s |' "$conns"
        for name in $VARIANTS; do
            printf ' %s |' "$(num "sweep$conns" "$SMALL" "$name-$SMALL" 5)"
        done
        printf '\n'
    done
}

# check_target TEXT MEASURED OK: a row of the targets table
target() {
    echo "| $1 | $2 | $( [ "$3" = 1 ] && echo met || echo MISSED ) |"
}

# le A B: 1 if A <= B (numbers), else 0
le() {
    awk -v a="$1" -v b="$2" 'BEGIN { print (a != "-" && b != "-" && a + 0 <= b + 0) ? 1 : 0 }'
}

# both TEXT ge|le|info BOUND KIND SIZE NAME-A NAME-B COLUMN: a target on
# A / B, read within each run (or pair) and from the medians, met when both
# readings meet it; "info" shows the readings only, when there are any
both() {
    local text=$1 op=$2 bound=$3 kind=$4 p m g reading
    shift 4

    p=$(paired "$kind" "$@")
    m=$(ratio "$(median "$kind" "$1" "$2" "$4")" \
              "$(median "$kind" "$1" "$3" "$4")")
    reading="${p%% *} × within $( [ "$kind" = main ] && echo runs \
        || echo pairs) ${p#* }; $m × of the medians"

    case $op in
    ge)   g=$(( $(le "$bound" "${p%% *}") && $(le "$bound" "$m") )) ;;
    le)   g=$(( $(le "${p%% *}" "$bound") && $(le "$m" "$bound") )) ;;
    info) [ "$p" = - ] || echo "| for information: $text | $reading | - |"
          return 0 ;;
    esac

    target "$text" "$reading" "$g"
}

# info TEXT SIZE NAME-A NAME-B COLUMN: A / B in the throughput runs, where
# other variants run between the two
info() {
    both "$1, in the throughput runs above" info - main "${@:2}"
}

# the module at LARGE against the module at SMALL, from their pairs
scale_target() {
    both "req/s at $LARGE ≥ 0.90 × at $SMALL accounts ($PAIRS back-to-back pairs)" \
         ge 0.90 scale "$LARGE" "module-$LARGE" "module-$SMALL" 5
    info "the same" "$LARGE" "module-$LARGE" "module-$SMALL" 5
    lookup_bound
}

# what the store's lookup leaves of that ratio: a request at SMALL took the
# worker T ns of CPU in the pairs, and a lookup alone takes D ns more at
# LARGE than at SMALL, so no reader of this store can serve LARGE at more
# than T / (T + D) of its rate at SMALL
lookup_bound() {
    local x y t

    x=$(median lookup "$SMALL" store 5)
    y=$(median lookup "$LARGE" store 5)
    t=$(median scale "$LARGE" "module-$SMALL" 11)

    if [ "$x" = - ] || [ "$y" = - ] || [ "$t" = - ]; then
        return 0
    fi

    echo "| for information: the store's lookup alone, outside nginx" \
         "(account-lookup-bench, medians of $LOOKUP_RUNS runs) | $x ns at" \
         "$SMALL, $y ns at $LARGE accounts; a request at $SMALL took $t ns" \
         "of the worker's CPU in the pairs, so $LARGE accounts allow at most" \
         "$(awk -v x="$x" -v y="$y" -v t="$t" \
                'BEGIN { printf "%.2f", t / (t + y - x) }') × | - |"
}

targets() {
    local r c m ml lua st p g i d l

    echo "| target | measured | |"
    echo "| --- | --- | --- |"

    c=$(cg "$SMALL" ceiling)
    m=$(cg "$SMALL" module)
    r=$(ratio "${m:--}" "${c:--}")
    l=$(awk -v s="$SMALL" '$1 == "callgrind" && $2 == s && $3 == "module" {
            print $6 }' "$RESULTS")
    target "instructions/request ≤ 1.10 × ceiling ($SMALL accounts)" \
           "$m / $c = $r × (LMDB's calls alone: ${l:--}; 1.10 × leaves $(
            awk -v c="${c:-0}" 'BEGIN { printf "%d", c * 0.10 }') over the ceiling)" \
           "$(le "$r" 1.10)"

    # both ways of reading the runs must meet these: the median of the
    # ratios within each run (see paired()), and the ratio of the medians

    both "req/s ≥ 0.95 × ceiling ($SMALL accounts, $PAIRS back-to-back pairs)" \
         ge 0.95 head "$SMALL" "module-$SMALL" "ceiling-$SMALL" 5
    info "the same" "$SMALL" "module-$SMALL" "ceiling-$SMALL" 5
    both "p99 ≤ 1.2 × ceiling's ($SMALL accounts, $PAIRS back-to-back pairs)" \
         le 1.2 head "$SMALL" "module-$SMALL" "ceiling-$SMALL" 7
    info "the same" "$SMALL" "module-$SMALL" "ceiling-$SMALL" 7
    scale_target

    for p in "$SMALL $SMALL $SMALL" "$LARGE $LARGE $STATIC_LARGE"; do
        set -- $p
        m=$(median main "$1" "module-$2" 5)
        lua=$(median main "$1" "lua-$2" 5)
        st=$(median main "$1" "static-$3" 5)
        g=$(awk -v m="$m" -v l="$lua" -v s="$st" 'BEGIN {
                print (m != "-" && m + 0 > l + 0 && m + 0 > s + 0) ? 1 : 0 }')
        target "ahead of lua ($2) and static ($3)" \
               "$(num main "$1" "module-$2" 5) vs $(num main "$1" "lua-$2" 5) and $(num main "$1" "static-$3" 5) req/s" \
               "$g"
    done

    if [ -s "$WORK/seeding" ]; then
        i=$(awk '$1 == "generate" { printf "%.2f", $4 - $3 }' "$WORK/seeding")
        [ -n "$i" ] && target "seeding $LARGE accounts ≤ 15 s" "$i s" \
                              "$(le "$i" 15)"
        i=$(awk '$1 == "import" { printf "%.0f", $2 / ($4 - $3) }' \
                "$WORK/seeding")
        target "JSON Lines import ≥ 500000 lines/s" "$i lines/s" \
               "$(le 500000 "$i")"
    fi

    for p in 1 4; do
        d=$(awk -v s="$LARGE" -v n="module-$LARGE" -v c=$p '
                FILENAME ~ /idle/ && $1 == s && $2 == n { a = $(c + 2) }
                FILENAME ~ /loaded/ && $1 == s && $2 == n { b = $(c + 2) }
                END { if (a == "" || b == "") print "-";
                      else printf "%.1f\n", (b - a) / 1024 }' \
                "$WORK/memory.idle" "$WORK/memory.loaded")
        if [ $p = 1 ]; then
            # the LMDB file's page cache, mapped by one worker only: shown,
            # not a target (a second worker would make it shared)
            echo "| for information: private pages at $LARGE, the LMDB file's page cache included | +$d MiB | - |"
        else
            target "private memory at $LARGE ≤ idle + 2 MiB (anonymous: heap, stacks, pools)" \
                   "+$d MiB" "$(le "$d" 2)"
        fi
    done
}

report() {
    cat <<MD
### Throughput and latency, $SMALL accounts

$(table "$SMALL" "ceiling-$SMALL" "static-$SMALL" "lua-$SMALL" "module-$SMALL")

### Throughput and latency, $LARGE accounts (static files: $STATIC_LARGE)

$(table "$LARGE" "ceiling-$LARGE" "static-$STATIC_LARGE" "lua-$LARGE" \
        "module-$SMALL" "module-$STATIC_LARGE" "module-$LARGE")

The module runs here at $SMALL, $STATIC_LARGE and $LARGE accounts, taking turns
in the same runs, so that the cost of a larger database is read within one
section; the machine's speed drifts between sections, and from one run to
the next (see each run's figures in the script's output).

wrk 1 thread, $CONNS connections, $RUNS alternated runs of ${DURATION} s after
${WARMUP} s of warm-up, medians; "× ceiling" against the ceiling's median of
the same size; worker CPU: the nginx worker's user + system time over the
run (100 = its CPU saturated), and per request (kernel time included: on
loopback most of a request's cost is the kernel's); other load: how busy
the busier of the two CPUs was with other processes just before a run
(the script waits for at most $QUIET % for up to $QUIET_WAIT s);
instr/req: callgrind, below.

### Back to back: the module and the ceiling, $SMALL accounts

$(pair_table head "$SMALL" "ceiling-$SMALL" "module-$SMALL")

### Back to back: the module at $SMALL and at $LARGE accounts

$(pair_table scale "$LARGE" "module-$SMALL" "module-$LARGE")

The ratios of the targets come from these pairs: $PAIRS pairs of
${PAIR_DURATION} s runs, $CONNS connections, after ${WARMUP} s of warm-up
each; the two runs of a pair one right after the other, in the other order
in the next pair (AB BA AB ...).  In the throughput runs above, the other
variants run between the two, tens of seconds on a machine whose speed
drifts; a pair's ratio is free of that drift but for its few seconds.
Medians: of each column, and of the pairs' ratios.

### req/s against concurrent connections, $SMALL accounts

$(sweep_table)

### Constant rate: $RATE req/s, $RATE_CONNS connections, ${RATE_DURATION} s

$(rate_table rate)

wrk with [rate.lua](../scripts/bench/rate.lua): the random ids of the other
runs, each connection's requests sent on a fixed schedule.

### Constant rate with hey: $RATE req/s, $RATE_CONNS connections, ${RATE_DURATION} s

$(rate_table hey)

Debian's hey, \`-c $RATE_CONNS -q $RATE_EACH\`
(its rate limit is per connection), \`-o csv\`: every request's time, from
which the script takes the percentiles.  hey asks for one URL, so every
request is for account $START, and its times come in steps of 0.1 ms.

### User-space instructions per request (callgrind)

$(callgrind_table)

One nginx process (master_process off) under valgrind --tool=callgrind;
$CALLGRIND_WARMUP requests to warm up, counters zeroed (callgrind_control -z),
$CALLGRIND_REQUESTS keep-alive requests for random seeded ids on one
connection, counters dumped (callgrind_control -d); total Ir / requests.
The floor, nginx's own empty_gif content handler, is not a variant: it shows
what reaching the content phase costs any handler, which the ceiling's
"return" (answered in the rewrite phase) does not pay.  "Of which in LMDB":
the module's three LMDB calls a request (mdb_txn_renew, mdb_get,
mdb_txn_reset) with everything they call, from the same dump
(callgrind_annotate --inclusive=yes).

### Worker memory (/proc/PID/smaps_rollup)

$(memory_table)

"idle": after start-up and one request; "loaded": after the measured runs.
Private = Private_Clean + Private_Dirty; "file pages" = Private_Clean, pages
of the LMDB file mapped by this worker only (page cache: clean, the kernel
can drop them, and they would count as shared with a second worker);
anonymous = heap, pools, stacks.  Pss of master and worker together counts
what the worker does not see: the Lua shared dict lives in shared memory
that the master filled.

### Seeding

$(seeding_table)

The median of $RUNS runs, each into a new file after a \`sync\`: the wall time
of account-seed, its commit (which flushes the map to disk) included, the
JSON Lines file read from the page cache.

### Targets

$(targets)

The req/s and p99 targets are read from the back-to-back pairs, two ways,
and met only when both meet them: the median of the pairs' ratios (each
pair's in parentheses, from lowest to highest) and the ratio of the two
medians.  The same ratios
in the throughput runs, where other variants run between the two, are
shown for information.
MD
}

machine() {
    local cpu

    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)

    echo "- $(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r)," \
         "$(nproc) CPUs: $cpu, $(free -g | awk '/^Mem:/ { print $2 }') GiB"
    echo "- $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), wrk" \
         "$(dpkg-query -W -f='${Version}' wrk 2>/dev/null)," \
         "libnginx-mod-http-lua" \
         "$(dpkg-query -W -f='${Version}' libnginx-mod-http-lua 2>/dev/null)," \
         "liblmdb0 $(dpkg-query -W -f='${Version}' liblmdb0 2>/dev/null)," \
         "valgrind $(dpkg-query -W -f='${Version}' valgrind 2>/dev/null)"
    echo "- server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU, loopback"
    echo "- module commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(
         git -C "$ROOT" diff --quiet HEAD -- ngx_http_account_module.c store \
             2>/dev/null || echo ' (with local changes)')," \
         "run $(date -u '+%Y-%m-%d %H:%M UTC')"
}

publish() {
    local png=$ROOT/docs/bench-concurrency.png
    local md=$ROOT/docs/BENCHMARKS.md

    mkdir -p "$ROOT/docs"
    sweep_data > "$WORK/sweep.dat"
    gnuplot -e "data='$WORK/sweep.dat'; out='$png.tmp';
                subtitle='$SMALL accounts, one nginx worker, loopback'" \
            "$HERE/concurrency.gp"
    mv "$png.tmp" "$png"

    {
        cat <<MD
# Benchmarks

What \`account_lookup\` costs next to the other ways nginx could answer
\`GET /accounts/<id>\`, measured by one command on one machine, in one run.
Everything below, tables and plot, was written by that command; rerun it to
regenerate this page:

    ${KNOBS}make bench-publish

(\`scripts/bench.sh --help\` lists the knobs; this run: $RUNS runs of
${DURATION} s per variant and size, $CONNS connections.)

## The machine

$(machine)

## The variants

Each is its own nginx, \`worker_processes 1\` pinned with
\`worker_cpu_affinity\` (and the master with \`taskset\`) to one CPU, access log
off, keep-alive; \`wrk -t1\` pinned to the other CPU asks for
\`/accounts/<id>\` with ids drawn at random over the whole seeded set
([scripts/bench/random.lua](../scripts/bench/random.lua)); the variants take
turns, in an order that rotates from run to run.  Every variant is first
checked to answer 200 with the right document for a sample of ids.

| variant | what nginx does | configuration |
| --- | --- | --- |
| ceiling | \`return 200\` of one constant account document, same size: the cost of HTTP alone | [ceiling.conf.in](../scripts/bench/ceiling.conf.in) |
| static | one pre-rendered file per account, \`try_files\`: open, fstat, sendfile, close | [static.conf.in](../scripts/bench/static.conf.in) |
| lua | OpenResty style: a \`lua_shared_dict\` filled at start-up, \`content_by_lua\` (Debian's libnginx-mod-http-lua) | [lua.conf.in](../scripts/bench/lua.conf.in) |
| module | this repository's \`account_lookup\` on a database from \`account-seed\` | [module.conf.in](../scripts/bench/module.conf.in) |

Static files stop at $STATIC_LARGE accounts: one file per account takes one
inode and one 4 KiB block, so $LARGE accounts would be $((LARGE / 1000000)) million inodes
(this disk has $(df --output=itotal "$BENCH_DATA" | tail -1 | tr -d ' ') in all) and
about $((LARGE * 4 / 1000000)) GB of blocks for $((LARGE * 40 / 1000000)) MB of documents, and writing
them takes about ten minutes more per run than the whole benchmark.

Some machines, this one among them, give back page cache that sits unused
even with most of the memory free, so a database left idle for a minute is
partly read from disk again.  Before every run the script reads the module's
database file, so that each run starts with it cached, as a served database
is.  The static files are not read again (a million files take minutes):
at $STATIC_LARGE they are partly read from disk, which is part of their cost.

$(report)

## req/s against concurrent connections

![req/s against concurrent connections](bench-concurrency.png)
MD
    } > "$md.tmp"
    mv "$md.tmp" "$md"

    say "bench: wrote $md and $png"
}


# --- main ---------------------------------------------------------------

if [ "$mode" = smoke ]; then
    # a world of its own: data, ports, nothing cached
    BENCH_DATA=$WORK/data
    QUIET=100
    mkdir -p "$BENCH_DATA"
    PHASE=$SMALL
    i=10

    for variant in $VARIANTS; do
        start "$variant-$SMALL" "$variant" $((PORT + i)) "$SMALL"
        i=$((i + 1))
    done

    for variant in $VARIANTS; do
        check "$variant-$SMALL" \
            || die "$variant answered wrong (see above)"
        echo "ok $variant: 200 and the right document for 200 ids"
    done

    for variant in $VARIANTS; do
        line=$(load "$variant-$SMALL" random.lua 1 10 1)
        [ "$(field "$line" errors)" = 0 ] \
            && [ "$(field "$line" non2xx)" = 0 ] \
            || die "$variant: errors under wrk: $line"
        echo "ok $variant: wrk $(field "$line" rps) req/s, no errors" \
             "(1 s, not a measurement)"
    done

    # it exits 1 when an id of the range is missing
    line=$("$LOOKUP" -s "$START" -t 1 "$(db_path "$SMALL")" "$SMALL") \
        || die "account-lookup-bench failed: $line"
    echo "ok lookup alone: $(field "$line" lookups) lookups, every id" \
         "found (1 s, not a measurement)"

    exit 0
fi

if [ "$mode" = instructions ]; then
    rm -rf "$BENCH_DATA/callgrind"
    for variant in ceiling floor module; do
        callgrind "cg-$variant-$SMALL" "$variant" "$SMALL"
    done
    if [ -e "$(db_path "$LARGE").done" ]; then
        callgrind "cg-module-$LARGE" module "$LARGE"
    fi
    callgrind_table
    exit 0
fi

if [ "$mode" = seeding ]; then
    seeding
    seeding_table
    exit 0
fi

if [ "$mode" = scale ]; then
    if [ ! -e "$(db_path "$LARGE").done" ]; then
        say "bench: seeding $LARGE accounts (cached for next time)"
    fi
    PHASE=$LARGE
    start "module-$SMALL" module "$PORT" "$SMALL"
    start "module-$LARGE" module $((PORT + 1)) "$LARGE"
    check "module-$SMALL" || die "module-$SMALL answered wrong (see above)"
    check "module-$LARGE" || die "module-$LARGE answered wrong (see above)"
    pairs scale "$LARGE" "module-$SMALL" "module-$LARGE"
    lookups
    pair_table scale "$LARGE" "module-$SMALL" "module-$LARGE"
    echo
    echo "| target | measured | |"
    echo "| --- | --- | --- |"
    scale_target
    exit 0
fi

t0=$(date +%s)

seeding

PHASE=$SMALL
i=0
for variant in $VARIANTS; do
    start "$variant-$SMALL" "$variant" $((PORT + i)) "$SMALL"
    check "$variant-$SMALL" || die "$variant answered wrong (see above)"
    i=$((i + 1))
done

names=$(for v in $VARIANTS; do echo "$v-$SMALL"; done)
measure "$SMALL" $names
pairs head "$SMALL" "ceiling-$SMALL" "module-$SMALL"
sweep "$SMALL" $names
constant "$SMALL" $names

for name in $names; do
    stop "$name"
done

PHASE=$LARGE
# the module at SMALL once more, taking turns with the module at LARGE in
# the same runs: their ratio is then free of the drift between sections
# (not of the noise between runs)
big="ceiling-$LARGE static-$STATIC_LARGE lua-$LARGE module-$SMALL
     module-$STATIC_LARGE module-$LARGE"
i=0
for name in $big; do
    t1=$(date +%s)
    start "$name" "${name%-*}" $((PORT + i)) "${name##*-}"
    say "bench: $name ready in $(( $(date +%s) - t1 )) s"
    check "$name" || die "$name answered wrong (see above)"
    i=$((i + 1))
done

measure "$LARGE" $big
constant "$LARGE" $big
pairs scale "$LARGE" "module-$SMALL" "module-$LARGE"

for name in $big; do
    stop "$name"
done
lookups

rm -rf "$BENCH_DATA/callgrind"
for variant in ceiling floor static lua module; do
    callgrind "cg-$variant-$SMALL" "$variant" "$SMALL"
done
callgrind "cg-module-$LARGE" module "$LARGE"
say "bench: callgrind dumps in $BENCH_DATA/callgrind (callgrind_annotate)"

say "bench: done in $(( $(date +%s) - t0 )) s"

if [ "$mode" = publish ]; then
    publish
fi

report
