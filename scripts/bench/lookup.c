/*
 * account-lookup-bench: the store's lookup alone, outside nginx, for
 * scripts/bench.sh.  What a worker does for each request, less nginx: renew
 * the read transaction, get the account, copy its document, reset.
 *
 *   account-lookup-bench [-s START] [-t SECONDS] DB COUNT
 *
 * Ids are drawn uniformly at random from [START, START + COUNT), as
 * scripts/bench/random.lua draws them, after a warm-up of as many lookups
 * as there are accounts (at most 1,000,000).  Prints one line:
 *
 *   RESULT lookups=N seconds=S ns_per_lookup=X
 *
 * Exits 1 when a lookup fails or an id is missing (the database must hold
 * every id of the range), 64 on bad arguments.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "account_store.h"

#define LOOKUP_BATCH  4096

static const char  *prog = "account-lookup-bench";


static void
usage(void)
{
    fprintf(stderr, "usage: %s [-s START] [-t SECONDS] DB COUNT\n", prog);
    exit(64);
}


static uint64_t
number(const char *s, const char *what)
{
    char                *end;
    unsigned long long   v;

    errno = 0;
    v = strtoull(s, &end, 10);

    if (errno || end == s || *end != '\0' || *s == '-') {
        fprintf(stderr, "%s: %s must be a whole number: \"%s\"\n",
                prog, what, s);
        exit(64);
    }

    return v;
}


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* xorshift64: the same sequence on every run */

static uint64_t
next_random(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;

    return *x;
}


/* n lookups of random ids; exits on a failed lookup or a missing id */

static void
lookups(MDB_txn *txn, MDB_dbi dbi, uint64_t start, uint64_t count,
    uint64_t n, uint64_t *x, char *copy)
{
    int       rc;
    char      id[24];
    MDB_val   key, val;
    uint64_t  i;

    for (i = 0; i < n; i++) {
        key.mv_size = snprintf(id, sizeof(id), "%" PRIu64,
                               start + next_random(x) % count);
        key.mv_data = id;

        rc = mdb_txn_renew(txn);

        if (rc == MDB_SUCCESS) {
            rc = mdb_get(txn, dbi, &key, &val);

            if (rc == MDB_SUCCESS) {
                memcpy(copy, val.mv_data,
                       val.mv_size < 4096 ? val.mv_size : 4096);
            }

            mdb_txn_reset(txn);
        }

        if (rc != MDB_SUCCESS) {
            fprintf(stderr, "%s: id %.*s: %s\n", prog, (int) key.mv_size,
                    id, mdb_strerror(rc));
            exit(1);
        }
    }
}


int
main(int argc, char **argv)
{
    int        c, rc;
    char       copy[4096];
    double     t0, t, seconds;
    MDB_env   *env;
    MDB_dbi    dbi;
    MDB_txn   *txn;
    uint64_t   start, count, done, warm, x;

    start = 10000;
    seconds = 5;

    while ((c = getopt(argc, argv, "s:t:")) != -1) {
        switch (c) {
        case 's':
            start = number(optarg, "START");
            break;
        case 't':
            seconds = number(optarg, "SECONDS");
            break;
        default:
            usage();
        }
    }

    if (argc - optind != 2) {
        usage();
    }

    count = number(argv[optind + 1], "COUNT");

    if (count == 0 || seconds == 0) {
        fprintf(stderr, "%s: COUNT and SECONDS must be at least 1\n", prog);
        exit(64);
    }

    rc = account_store_open_reader(argv[optind], 0, &env, &dbi);
    if (rc != MDB_SUCCESS) {
        fprintf(stderr, "%s: %s: %s\n", prog, argv[optind], mdb_strerror(rc));
        exit(1);
    }

    rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) {
        fprintf(stderr, "%s: %s: %s\n", prog, argv[optind], mdb_strerror(rc));
        exit(1);
    }

    mdb_txn_reset(txn);

    x = 88172645463325252ULL;
    warm = count < 1000000 ? count : 1000000;

    lookups(txn, dbi, start, count, warm, &x, copy);

    done = 0;
    t0 = now();

    do {
        lookups(txn, dbi, start, count, LOOKUP_BATCH, &x, copy);
        done += LOOKUP_BATCH;
        t = now() - t0;
    } while (t < seconds);

    printf("RESULT lookups=%" PRIu64 " seconds=%.3f ns_per_lookup=%.0f\n",
           done, t, t / done * 1e9);

    mdb_txn_abort(txn);
    mdb_env_close(env);

    return 0;
}
