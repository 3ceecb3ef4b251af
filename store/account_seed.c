/*
 * account-seed: fills an accounts database, generated or from JSON Lines,
 * in one write transaction: all of the input or nothing.
 */

#define _GNU_SOURCE       /* memrchr(), sched_getaffinity(), fallocate() */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "account_store.h"
#include "account_line.h"

/* under AddressSanitizer, the free part of the arena is poisoned */
#if defined(__SANITIZE_ADDRESS__)
#define SEED_ASAN  1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SEED_ASAN  1
#endif
#endif

#ifdef SEED_ASAN
#include <sanitizer/asan_interface.h>
#define seed_arena_poison(p, n)    ASAN_POISON_MEMORY_REGION(p, n)
#define seed_arena_unpoison(p, n)  ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define seed_arena_poison(p, n)
#define seed_arena_unpoison(p, n)
#endif


/* what one generated account costs in the map, keys, values and pages */
#define SEED_ACCOUNT_BYTES  64

/* the largest --count and --start: their sum still fits in 64 bits */
#define SEED_NUMBER_MAX     (UINT64_MAX / 4)

#define EX_USAGE            64
#define EX_DATAERR          65
#define EX_NOINPUT          66

/* seed_run(): an error already told, not an LMDB one */
#define SEED_FAILED         (-2)

/* seed_run(): the input could not be read (told) */
#define SEED_UNREADABLE     (-3)

/* seed_lock(): the writers' lock could not be taken (told) */
#define SEED_NOLOCK         (-4)


typedef struct {
    const char     *db_path;
    const char     *from;            /* JSON Lines file, "-" for stdin */
    uint64_t        start;
    uint64_t        count;
    int             quiet;
} seed_options_t;


/*
 * The files of the database that a run holds, and the ones it made: a run
 * that commits nothing to a database that did not exist takes them back.
 */
typedef struct {
    char           *lock_path;       /* PATH-lock */
    int             lock;            /* PATH-lock, locked by the run; -1 */
    int             lock_made;       /* the run made PATH-lock */
    int             db_made;         /* PATH did not exist when locked */
    dev_t           db_dev;          /* the file the run opened at PATH */
    ino_t           db_ino;          /* 0: none yet */
} seed_files_t;


/* an account of an import: its key and then its value, in seed_t.chunk */
typedef struct {
    size_t          off;
    uint32_t        key_len;
    uint32_t        val_len;
} seed_rec_t;


/*
 * The most bytes of a line an import keeps: ACCOUNT_LINE_MAX, and a byte
 * order mark.  Blanks after them may follow, and are left out.
 */
#define SEED_LINE_MAX       (ACCOUNT_LINE_MAX + 3)

/* how many accounts an import sorts at a time */
#define SEED_CHUNK_RECS     (1024 * 1024)

/*
 * An import reads its input a block of whole lines at a time, and parsing
 * threads turn blocks into rendered accounts while it stores earlier ones.
 */
#define SEED_BLOCK_SIZE     (1024 * 1024)

/* blocks read and not yet stored: the memory an import has in flight */
#define SEED_BLOCKS         8

/* parsing threads: one a CPU, up to this many */
#define SEED_WORKERS_MAX    4

/* a parsing thread's arena for jansson: a line's values, and more */
#define SEED_ARENA_SIZE     (256 * 1024)


typedef struct {
    MDB_txn        *txn;
    MDB_dbi         dbi;
    size_t          done;            /* accounts written */
    size_t          before;          /* accounts the database had */
    int             quiet;
    int             progress;
    struct timespec started;
    struct timespec shown;

    /* an import's accounts, rendered, until they are sorted and stored */
    char           *chunk;
    size_t          chunk_len;
    size_t          chunk_size;
    seed_rec_t     *recs;
    size_t          nrecs;
    size_t          recs_size;

    /* an import's block size and parsing threads; 0: the defaults */
    size_t          block_size;
    unsigned        workers;

    /*
     * With no txn, an import checks the lines and stores nothing, and
     * copies what it reads to tee (seed_spool()).
     */
    FILE           *tee;
} seed_t;


/*
 * A block of an import: whole lines as read, then what a parsing thread
 * made of them: their accounts, rendered and laid out as in seed_t.chunk,
 * up to the first bad line.
 */
typedef struct {
    char           *in;
    size_t          in_len;          /* up to the end of its last line */
    size_t          in_read;         /* and the start of the next one */
    size_t          in_size;
    int             first;           /* it opens the input: a BOM may */
    int             parsed;

    char           *out;
    size_t          out_len;
    size_t          out_size;
    seed_rec_t     *recs;
    size_t          nrecs;
    size_t          recs_size;
    size_t          lines;           /* lines parsed, a bad one included */
    int             rc;              /* MDB_SUCCESS, ENOMEM, -1: bad line */
    json_error_t    err;             /* why the line is bad */
} seed_block_t;


/*
 * The blocks go round a ring: the main thread reads them into free places,
 * the parsing threads take them in the order they were read, and the main
 * thread stores them in that order too, each when it has been parsed.
 */
typedef struct {
    FILE             *in;
    size_t            block_size;
    int               eof;
    int               read_errno;    /* what ended the input, if not EOF */
    int               read_rc;       /* ENOMEM: a line did not fit */
    int               too_long;      /* a line is longer than a line may be */
    int               check;         /* the lines are checked, not kept */
    FILE             *tee;           /* where what is read is copied */
    int               tee_errno;     /* what ended the copy */

    seed_block_t      blocks[SEED_BLOCKS];
    size_t            filled;        /* blocks read */
    size_t            taken;         /* blocks a parsing thread has taken */
    size_t            stored;        /* blocks stored */
    int               stop;

    pthread_mutex_t   lock;
    pthread_cond_t    work;          /* a block was read, or stop was set */
    pthread_cond_t    done;          /* a block was parsed */
} seed_import_t;


/*
 * jansson allocates every value of a line on its own, and an import frees
 * them all together when the line is stored.  A bump arena, emptied after
 * each line, makes both nearly free; what does not fit comes from malloc.
 * jansson's allocator is one for the process: each parsing thread points
 * seed_arena at an arena of its own, and other threads have none.
 */
typedef struct {
    _Alignas(16) char   data[SEED_ARENA_SIZE];
    size_t              used;
} seed_arena_t;


typedef struct {
    seed_import_t      *import;
    pthread_t           tid;
    seed_arena_t        arena;
} seed_worker_t;


/*
 * A transaction writes its pages through the map (MDB_WRITEMAP), and a page
 * that the file system has no block for, the disk being full or the file
 * cut short, raises SIGBUS in the thread that writes it: the main thread,
 * in mdb_put() or mdb_txn_commit().  While it writes, a handler says so,
 * gives back the blocks of the pages past the last committed one, which
 * only this transaction wrote, removes the files of a database that the run
 * made (see seed_unmake()), and exits.  LMDB writes the meta page last:
 * nothing of the transaction is committed.  A seed or an import that fails
 * otherwise gives those blocks back too, before it aborts.
 */
typedef struct {
    char             *msg;           /* written as it is, by the handler */
    size_t            msg_len;
    int               fd;            /* the database file, or -1 */
    off_t             from;          /* the end of the last committed page */
    off_t             len;           /* and the end of the map, from it */
    const char       *db_path;
    seed_files_t     *files;         /* taken back by the handler */
    int               armed;
    struct sigaction  old;
} seed_bus_t;


static const char             *progname = "account-seed";
static __thread seed_arena_t  *seed_arena;
static seed_bus_t              seed_bus;

/* a progress line is drawn and not ended (read by the SIGBUS handler) */
static volatile sig_atomic_t   seed_line_open;


static void
usage(FILE *out)
{
    fprintf(out,
"Usage: %s --db PATH [--count N] [--start ID] [--quiet]\n"
"       %s --db PATH --from FILE [--quiet]\n"
"\n"
"Writes accounts into the LMDB database at PATH (created if needed; its\n"
"lock file is PATH-lock), in one transaction: all of them or none.\n"
"\n"
"  -d, --db PATH      the database file that nginx's account_db serves\n"
"  -n, --count N      generate N accounts (default 100, at most 2^62 - 1)\n"
"  -s, --start ID     the first generated id (default 10000); account i\n"
"                     is {\"id\":\"<ID+i>\",\"name\":\"Person_<i>\"}\n"
"  -f, --from FILE    import JSON Lines instead (\"-\" reads standard input):\n"
"                     one object a line with string \"id\" and \"name\";\n"
"                     other members are kept in the stored document as\n"
"                     jansson renders them: numbers as it read them (0.1\n"
"                     as 0.10000000000000001, 1E2 as 100.0), and integers\n"
"                     beyond 64 bits are refused.\n"
"                     Blank lines and a leading UTF-8 BOM are skipped; a\n"
"                     later line with the same id replaces an earlier one.\n"
"  -q, --quiet        print nothing but errors\n"
"  -h, --help         show this help\n"
"\n"
"An id is 1 to %d bytes of A-Z a-z 0-9 - . _ ~ and is not \".\" or \"..\".\n"
"Existing accounts with other ids are kept; a rerun is idempotent.\n"
"Another account-seed writing PATH is waited for (PATH-lock is locked).\n"
"Running nginx workers see the new data at their next request.\n"
"\n"
"Exit status: 0 done, 1 database error, %d bad arguments, %d bad input\n"
"line (file, line and reason printed; nothing written), %d unreadable "
"input.\n",
        progname, progname, ACCOUNT_ID_MAX, EX_USAGE, EX_DATAERR,
        EX_NOINPUT);
}


static double
seed_elapsed(struct timespec *since)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    return (double) (now.tv_sec - since->tv_sec)
           + (double) (now.tv_nsec - since->tv_nsec) / 1e9;
}


static void
seed_progress(seed_t *s, int last)
{
    double  t;

    if (!s->progress || (!last && (s->done & 0xffff) != 0)) {
        return;
    }

    if (!last && seed_elapsed(&s->shown) < 0.5) {
        return;
    }

    clock_gettime(CLOCK_MONOTONIC, &s->shown);
    t = seed_elapsed(&s->started);

    fprintf(stderr, "\r%zu accounts, %.0f/s%s", s->done,
            t > 0 ? (double) s->done / t : 0.0, last ? "\n" : "");

    seed_line_open = !last;
}


/* ends the progress line, if one is drawn, before an error is printed */

static void
seed_progress_end(void)
{
    if (seed_line_open) {
        fputc('\n', stderr);
        seed_line_open = 0;
    }
}


static void *
seed_arena_alloc(size_t size)
{
    void          *p;
    size_t         rounded;
    seed_arena_t  *a;

    a = seed_arena;
    rounded = (size + 15) & ~(size_t) 15;

    if (a == NULL || rounded > SEED_ARENA_SIZE - a->used) {
        return malloc(size);
    }

    p = a->data + a->used;
    a->used += rounded;
    seed_arena_unpoison(p, size);

    return p;
}


/* what was handed out goes back; the rest has been poisoned all along */

static void
seed_arena_reset(void)
{
    seed_arena_poison(seed_arena->data, seed_arena->used);
    seed_arena->used = 0;
}


static void
seed_arena_free(void *p)
{
    char          *c;
    seed_arena_t  *a;

    a = seed_arena;
    c = p;

    if (a != NULL && c >= a->data && c < a->data + SEED_ARENA_SIZE) {
        return;
    }

    free(p);
}


static int
seed_store(seed_t *s, const char *id, size_t id_len, const char *doc,
    size_t len)
{
    int      rc;
    MDB_val  key, val;

    key.mv_data = (void *) id;
    key.mv_size = id_len;
    val.mv_data = (void *) doc;
    val.mv_size = len;

    /*
     * Keys that come in order are appended: pages fill up instead of
     * splitting in half, and nothing is searched.  A key that is not past
     * the last one is put in its place (and replaces an equal one).
     */

    rc = mdb_put(s->txn, s->dbi, &key, &val, MDB_APPEND);

    if (rc == MDB_KEYEXIST) {
        rc = mdb_put(s->txn, s->dbi, &key, &val, 0);
    }

    if (rc == MDB_SUCCESS) {
        s->done++;
        seed_progress(s, 0);
    }

    return rc;
}


/*
 * An import keeps its accounts, rendered, and stores them a chunk at a time
 * in key order: as fast as a sorted input, whatever the order of the file.
 * Equal keys keep the order of the file, so the last line wins.
 *
 * This adds n accounts of a parsed block, from its first, to the chunk:
 * MDB_SUCCESS, or ENOMEM.
 */

static int
seed_stash(seed_t *s, seed_block_t *b, size_t first, size_t n)
{
    char        *p;
    size_t       i, from, len, size;
    seed_rec_t  *r, *last;

    if (s->recs_size - s->nrecs < n) {
        size = 2 * s->recs_size;

        if (size < s->nrecs + n) {
            size = s->nrecs + n;
        }

        if (size > SEED_CHUNK_RECS) {
            size = SEED_CHUNK_RECS;
        }

        r = realloc(s->recs, size * sizeof(seed_rec_t));
        if (r == NULL) {
            return ENOMEM;
        }

        s->recs = r;
        s->recs_size = size;
    }

    /* the accounts of a block lie one after another, in the order read */

    last = &b->recs[first + n - 1];
    from = b->recs[first].off;
    len = last->off + last->key_len + last->val_len - from;

    if (s->chunk_size - s->chunk_len < len) {
        size = 2 * (s->chunk_size + len);
        p = realloc(s->chunk, size);
        if (p == NULL) {
            return ENOMEM;
        }

        s->chunk = p;
        s->chunk_size = size;
    }

    memcpy(s->chunk + s->chunk_len, b->out + from, len);

    for (i = first; i < first + n; i++) {
        r = &s->recs[s->nrecs++];
        *r = b->recs[i];
        r->off = r->off - from + s->chunk_len;
    }

    s->chunk_len += len;

    return MDB_SUCCESS;
}


static const char  *seed_sort_chunk;


/* LMDB's order of keys (bytes, then length), then the order of the file */

static int
seed_rec_cmp(const void *one, const void *two)
{
    int                a;
    size_t             n;
    const seed_rec_t  *r1, *r2;

    r1 = one;
    r2 = two;
    n = r1->key_len < r2->key_len ? r1->key_len : r2->key_len;

    a = memcmp(seed_sort_chunk + r1->off, seed_sort_chunk + r2->off, n);

    if (a == 0) {
        a = (r1->key_len > r2->key_len) - (r1->key_len < r2->key_len);
    }

    if (a == 0) {
        a = (r1->off > r2->off) - (r1->off < r2->off);
    }

    return a;
}


static int
seed_flush(seed_t *s)
{
    int          rc;
    size_t       i;
    const char  *p;
    seed_rec_t  *r;

    seed_sort_chunk = s->chunk;
    qsort(s->recs, s->nrecs, sizeof(seed_rec_t), seed_rec_cmp);

    rc = MDB_SUCCESS;

    for (i = 0; i < s->nrecs && rc == MDB_SUCCESS; i++) {
        r = &s->recs[i];
        p = s->chunk + r->off;
        rc = seed_store(s, p, r->key_len, p + r->key_len, r->val_len);
    }

    s->nrecs = 0;
    s->chunk_len = 0;

    return rc;
}


/*
 * Generated accounts are written in key order, which for decimal ids is not
 * numeric order ("10000" < "100000" < "10001"): a walk of the decimal prefix
 * tree, depth first, visits [lo, hi] in exactly that order.
 */

#define SEED_GEN_HEAD  "{\"id\":\""
#define SEED_GEN_MID   "\",\"name\":\"Person_"
#define SEED_GEN_TAIL  "\"}"

typedef struct {
    seed_t         *s;
    uint64_t        lo;
    uint64_t        hi;

    /* the document, rendered here: see seed_gen_put() */
    char            doc[sizeof(SEED_GEN_HEAD SEED_GEN_MID SEED_GEN_TAIL)
                        + 2 * 20];
} seed_gen_t;


/* is some number in [lo, hi] written with the digits of p and more? */

static int
seed_gen_reaches(seed_gen_t *g, uint64_t p)
{
    uint64_t  scale;

    for (scale = 1; p <= g->hi / scale; scale *= 10) {

        /* the numbers p * scale .. p * scale + scale - 1 */

        if (p * scale + (scale - 1) >= g->lo) {
            return 1;
        }

        if (scale > UINT64_MAX / 10) {
            break;
        }
    }

    return 0;
}


/* n in decimal at p, which has room for 20 digits; returns the end */

static char *
seed_gen_digits(char *p, uint64_t n)
{
    char   *d;
    size_t  len;
    char    tmp[20];

    d = tmp + sizeof(tmp);

    do {
        *--d = (char) ('0' + n % 10);
        n /= 10;
    } while (n);

    len = tmp + sizeof(tmp) - d;
    memcpy(p, d, len);

    return p + len;
}


/*
 * Stores account n as {"id":"<n>","name":"Person_<n - lo>"}: what jansson
 * renders of that object with JSON_COMPACT, byte for byte (t/05 checks it
 * against an import of the same accounts).  Decimal digits need no escape,
 * so the document is written here: jansson's dump of the object, its loop
 * check included, cost most of the time of a large seed.
 */

static int
seed_gen_put(seed_gen_t *g, uint64_t n)
{
    char    *p, *id;
    size_t   id_len;

    id = g->doc + sizeof(SEED_GEN_HEAD) - 1;
    memcpy(g->doc, SEED_GEN_HEAD, sizeof(SEED_GEN_HEAD) - 1);

    p = seed_gen_digits(id, n);
    id_len = p - id;

    memcpy(p, SEED_GEN_MID, sizeof(SEED_GEN_MID) - 1);
    p = seed_gen_digits(p + sizeof(SEED_GEN_MID) - 1, n - g->lo);

    memcpy(p, SEED_GEN_TAIL, sizeof(SEED_GEN_TAIL) - 1);
    p += sizeof(SEED_GEN_TAIL) - 1;

    return seed_store(g->s, id, id_len, g->doc, p - g->doc);
}


static int
seed_gen_walk(seed_gen_t *g, uint64_t p)
{
    int       rc;
    unsigned  d;

    if (p >= g->lo) {
        rc = seed_gen_put(g, p);
        if (rc != MDB_SUCCESS) {
            return rc;
        }
    }

    if (p > g->hi / 10) {
        return MDB_SUCCESS;
    }

    for (d = 0; d < 10; d++) {
        if (seed_gen_reaches(g, p * 10 + d)) {
            rc = seed_gen_walk(g, p * 10 + d);
            if (rc != MDB_SUCCESS) {
                return rc;
            }
        }
    }

    return MDB_SUCCESS;
}


static int
seed_generate(seed_t *s, seed_options_t *o)
{
    int         rc;
    unsigned    d;
    seed_gen_t  g;

    if (o->count == 0) {
        return MDB_SUCCESS;
    }

    g.s = s;
    g.lo = o->start;
    g.hi = o->start + (o->count - 1);

    /* "0" sorts first; every other number starts with 1 to 9 */

    rc = (g.lo == 0) ? seed_gen_put(&g, 0) : MDB_SUCCESS;

    for (d = 1; d < 10 && rc == MDB_SUCCESS; d++) {
        if (seed_gen_reaches(&g, d)) {
            rc = seed_gen_walk(&g, d);
        }
    }

    return rc;
}


/*
 * Is the start of a line, [p, p + len), no longer than a line may be, the
 * blanks that may end it aside?
 */

static int
seed_line_fits(const char *p, size_t len)
{
    return len <= SEED_LINE_MAX || account_line_trim(p, len) <= SEED_LINE_MAX;
}


/*
 * Reads the next block into b: the line that the block before it began,
 * then block_size bytes more, cut after their last newline; a line that
 * does not end in them makes the block larger, up to SEED_LINE_MAX bytes
 * of the line and a block.  At the end of the input, im->eof is set and
 * the block keeps what is left, a last line without a newline included; it
 * is empty if nothing is.  A read error, a line that does not fit in
 * memory or one longer than SEED_LINE_MAX ends the input too, with
 * im->read_errno, im->read_rc or im->too_long set: the blocks before are
 * stored first, and may have the bad line that the import reports.  With
 * im->tee, each byte read is copied there first; a failed copy ends the
 * input at once, with im->tee_errno.
 */

static void
seed_read(seed_import_t *im, seed_block_t *b, seed_block_t *prev)
{
    char    *p, *nl;
    size_t   carry, want, n, from;

    carry = (prev != NULL) ? prev->in_read - prev->in_len : 0;
    want = carry + im->block_size;

    b->in_len = 0;

    /* with room for the lines that the next blocks carry over */

    if (b->in_size < want) {
        free(b->in);
        b->in_size = want + im->block_size / 4;

        b->in = malloc(b->in_size);
        if (b->in == NULL) {
            b->in_size = 0;
            goto nomem;
        }
    }

    if (carry > 0) {
        memcpy(b->in, prev->in + prev->in_len, carry);
    }

    b->in_read = carry;
    from = carry;

    for ( ;; ) {
        errno = 0;
        n = fread(b->in + b->in_read, 1, want - b->in_read, im->in);

        if (im->tee != NULL && n > 0
            && fwrite(b->in + b->in_read, 1, n, im->tee) != n)
        {
            im->tee_errno = errno ? errno : EIO;
            im->eof = 1;
            b->in_len = 0;
            return;
        }

        b->in_read += n;

        if (b->in_read < want) {
            im->eof = 1;
            b->in_len = b->in_read;

            if (ferror(im->in)) {
                im->read_errno = errno ? errno : EIO;

                /* a line the error cut short is not one: the error is */

                nl = memrchr(b->in, '\n', b->in_read);
                b->in_len = (nl != NULL) ? (size_t) (nl + 1 - b->in) : 0;
            }

            return;
        }

        nl = memrchr(b->in + from, '\n', b->in_read - from);

        if (nl != NULL) {
            b->in_len = nl + 1 - b->in;
            return;
        }

        /*
         * A line longer than a block: the block is this one line, which may
         * be no longer than SEED_LINE_MAX but for the blanks that end it,
         * and those need not be kept.
         */

        if (!seed_line_fits(b->in, b->in_read)) {
            im->eof = 1;
            im->too_long = 1;
            return;
        }

        if (b->in_read > SEED_LINE_MAX) {
            b->in_read = SEED_LINE_MAX;
        }

        from = b->in_read;
        want *= 2;

        if (want > SEED_LINE_MAX + im->block_size) {
            want = SEED_LINE_MAX + im->block_size;
        }

        if (b->in_size < want) {
            p = realloc(b->in, want);
            if (p == NULL) {
                goto nomem;
            }

            b->in = p;
            b->in_size = want;
        }
    }

nomem:

    im->eof = 1;
    im->read_rc = ENOMEM;
}


/* renders the document after its id at the end of the block's accounts */

static int
seed_render_into(seed_block_t *b, json_t *doc, const unsigned char *id,
    size_t id_len)
{
    char        *p;
    size_t       room, len, size;
    seed_rec_t  *r;

    for ( ;; ) {
        room = b->out_size - b->out_len;
        len = 0;

        if (room > id_len) {
            len = json_dumpb(doc, b->out + b->out_len + id_len, room - id_len,
                             JSON_COMPACT);
            if (len == 0) {
                return ENOMEM;
            }

            if (len <= room - id_len) {
                break;
            }
        }

        size = 2 * b->out_size + id_len + len + 4096;
        p = realloc(b->out, size);
        if (p == NULL) {
            return ENOMEM;
        }

        b->out = p;
        b->out_size = size;
    }

    if (b->nrecs == b->recs_size) {
        size = b->recs_size ? 2 * b->recs_size : 4096;
        r = realloc(b->recs, size * sizeof(seed_rec_t));
        if (r == NULL) {
            return ENOMEM;
        }

        b->recs = r;
        b->recs_size = size;
    }

    r = &b->recs[b->nrecs++];
    r->off = b->out_len;
    r->key_len = (uint32_t) id_len;
    r->val_len = (uint32_t) len;

    memcpy(b->out + b->out_len, id, id_len);
    b->out_len += id_len + len;

    return MDB_SUCCESS;
}


/*
 * A parsing thread's part of an import: the lines of one block, rendered
 * unless the import only checks them (render unset).
 */

static void
seed_parse(seed_block_t *b, int render)
{
    char           *p, *end, *nl;
    size_t          len, id_len;
    json_t         *doc;
    unsigned char   id[ACCOUNT_ID_MAX];

    b->out_len = 0;
    b->nrecs = 0;
    b->lines = 0;
    b->rc = MDB_SUCCESS;

    p = b->in;
    end = b->in + b->in_len;

    while (p < end) {
        nl = memchr(p, '\n', end - p);
        len = (nl != NULL ? nl : end) - p;
        b->lines++;

        /* a byte order mark may open the file */

        if (b->first && b->lines == 1 && len >= 3
            && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        {
            p += 3;
            len -= 3;
        }

        seed_arena_reset();

        doc = account_line_parse(p, len, id, &id_len, &b->err);

        if (doc == NULL) {
            if (b->err.text[0] != '\0') {
                b->rc = -1;
                return;
            }

        } else {
            b->rc = render ? seed_render_into(b, doc, id, id_len)
                           : MDB_SUCCESS;
            json_decref(doc);

            if (b->rc != MDB_SUCCESS) {
                return;
            }
        }

        p = (nl != NULL) ? nl + 1 : end;
    }
}


static void *
seed_work(void *data)
{
    seed_block_t    *b;
    seed_import_t   *im;
    seed_worker_t   *w;

    w = data;
    im = w->import;
    seed_arena = &w->arena;
    seed_arena->used = 0;
    seed_arena_poison(seed_arena->data, SEED_ARENA_SIZE);

    pthread_mutex_lock(&im->lock);

    for ( ;; ) {
        while (!im->stop && im->taken == im->filled) {
            pthread_cond_wait(&im->work, &im->lock);
        }

        if (im->stop) {
            break;
        }

        b = &im->blocks[im->taken++ % SEED_BLOCKS];
        pthread_mutex_unlock(&im->lock);

        seed_parse(b, !im->check);

        pthread_mutex_lock(&im->lock);
        b->parsed = 1;
        pthread_cond_signal(&im->done);
    }

    pthread_mutex_unlock(&im->lock);

    seed_arena_unpoison(w->arena.data, SEED_ARENA_SIZE);
    seed_arena = NULL;

    return NULL;
}


/*
 * Stores the accounts of a parsed block, a chunk at a time as if its lines
 * had been read one by one, and then reports its bad line, if it has one;
 * lineno counts the lines of the blocks stored.
 */

static int
seed_store_block(seed_t *s, seed_block_t *b, const char *file,
    size_t *lineno)
{
    int     rc;
    size_t  i, n;

    /* the import ends there: the accounts before it need no room */

    if (b->rc == ENOMEM) {
        seed_progress_end();
        fprintf(stderr, "%s: %s:%zu: out of memory rendering the account\n",
                progname, file, *lineno + b->lines);
        return SEED_FAILED;
    }

    /* a check of the lines (no transaction) keeps no account */

    for (i = 0; s->txn != NULL && i < b->nrecs; i += n) {
        n = b->nrecs - i;

        if (n > SEED_CHUNK_RECS - s->nrecs) {
            n = SEED_CHUNK_RECS - s->nrecs;
        }

        if (seed_stash(s, b, i, n) != MDB_SUCCESS) {
            seed_progress_end();
            fprintf(stderr, "%s: %s:%zu: out of memory keeping the accounts "
                    "read up to this line for sorting\n", progname, file,
                    *lineno + b->lines);
            return SEED_FAILED;
        }

        rc = MDB_SUCCESS;

        if (s->nrecs == SEED_CHUNK_RECS) {
            rc = seed_flush(s);
        }

        if (rc != MDB_SUCCESS) {
            return rc;
        }
    }

    *lineno += b->lines;

    if (b->rc == -1) {
        seed_progress_end();

        if (b->err.column > 0) {
            fprintf(stderr, "%s: %s:%zu:%d: %s\n", progname, file, *lineno,
                    b->err.column, b->err.text);

        } else {
            fprintf(stderr, "%s: %s:%zu: %s\n", progname, file, *lineno,
                    b->err.text);
        }
    }

    return b->rc;
}


/* parsing threads: one for each CPU the process may run on, up to a few */

static unsigned
seed_cpus(void)
{
    long       n;
    cpu_set_t  set;

    if (sched_getaffinity(0, sizeof(cpu_set_t), &set) == 0) {
        n = CPU_COUNT(&set);

    } else {
        n = sysconf(_SC_NPROCESSORS_ONLN);
    }

    if (n < 1) {
        return 1;
    }

    return (n > SEED_WORKERS_MAX) ? SEED_WORKERS_MAX : (unsigned) n;
}


/*
 * Returns MDB_SUCCESS or an LMDB code; or, already reported with the file
 * name (and the line number, where there is one): -1 for a bad line,
 * SEED_FAILED for no memory or no thread, SEED_UNREADABLE for a read error;
 * or the errno code of a failed copy to s->tee, not reported.
 *
 * The main thread reads blocks and stores them in the order of the file,
 * while the parsing threads work on the next ones: the first bad line in
 * the file is the one reported, whatever was parsed after it, and of two
 * lines with the same id the later one wins.
 */

static int
seed_import(seed_t *s, FILE *in, const char *file)
{
    int              rc;
    size_t           i, lineno;
    unsigned         n, nw;
    seed_block_t    *b, *prev;
    seed_worker_t   *w;
    seed_import_t   *im;

    n = s->workers ? s->workers : seed_cpus();

    /* the arenas are not cleared: each line begins by emptying its own */

    im = calloc(1, sizeof(seed_import_t));
    w = malloc(n * sizeof(seed_worker_t));

    if (im == NULL || w == NULL) {
        fprintf(stderr, "%s: %s: no memory to start the import: %s\n",
                progname, file, strerror(ENOMEM));
        free(im);
        free(w);
        return SEED_FAILED;
    }

    im->in = in;
    im->check = (s->txn == NULL);
    im->tee = s->tee;
    im->block_size = s->block_size ? s->block_size : SEED_BLOCK_SIZE;

    pthread_mutex_init(&im->lock, NULL);
    pthread_cond_init(&im->work, NULL);
    pthread_cond_init(&im->done, NULL);

    /* jansson seeds its hash function once, before threads may race to */

    json_object_seed(0);
    json_set_alloc_funcs(seed_arena_alloc, seed_arena_free);

    rc = MDB_SUCCESS;

    for (nw = 0; nw < n; nw++) {
        w[nw].import = im;

        rc = pthread_create(&w[nw].tid, NULL, seed_work, &w[nw]);
        if (rc != 0) {
            break;
        }
    }

    /* fewer threads than CPUs will do, but not none */

    if (nw > 0) {
        rc = MDB_SUCCESS;

    } else {
        fprintf(stderr, "%s: %s: cannot start a thread to parse the "
                "input: %s\n", progname, file, strerror(rc));
        rc = SEED_FAILED;
    }

    lineno = 0;
    prev = NULL;

    while (rc == MDB_SUCCESS) {

        /* read ahead as far as there are free blocks */

        while (!im->eof && im->filled - im->stored < SEED_BLOCKS) {
            b = &im->blocks[im->filled % SEED_BLOCKS];

            seed_read(im, b, prev);
            if (b->in_len == 0) {
                break;
            }

            b->first = (im->filled == 0);
            prev = b;

            pthread_mutex_lock(&im->lock);
            b->parsed = 0;
            im->filled++;
            pthread_cond_signal(&im->work);
            pthread_mutex_unlock(&im->lock);
        }

        if (im->stored == im->filled) {
            break;
        }

        b = &im->blocks[im->stored % SEED_BLOCKS];

        pthread_mutex_lock(&im->lock);

        while (!b->parsed) {
            pthread_cond_wait(&im->done, &im->lock);
        }

        pthread_mutex_unlock(&im->lock);

        rc = seed_store_block(s, b, file, &lineno);
        im->stored++;
    }

    /* what ended the input, once the blocks before it are stored */

    if (rc == MDB_SUCCESS && im->tee_errno != 0) {
        rc = im->tee_errno;     /* told by the caller, who knows where */

    } else if (rc == MDB_SUCCESS && im->read_rc != MDB_SUCCESS) {
        seed_progress_end();
        fprintf(stderr, "%s: %s:%zu: the line does not fit in memory: %s\n",
                progname, file, lineno + 1, strerror(im->read_rc));
        rc = SEED_FAILED;

    } else if (rc == MDB_SUCCESS && im->too_long) {
        seed_progress_end();
        fprintf(stderr, "%s: %s:%zu: %s\n", progname, file, lineno + 1,
                ACCOUNT_LINE_TOO_LONG);
        rc = -1;

    } else if (rc == MDB_SUCCESS && im->read_errno != 0) {
        seed_progress_end();
        fprintf(stderr, "%s: %s: read error: %s\n", progname, file,
                strerror(im->read_errno));
        rc = SEED_UNREADABLE;
    }

    if (rc == MDB_SUCCESS && s->nrecs > 0) {
        rc = seed_flush(s);
    }

    pthread_mutex_lock(&im->lock);
    im->stop = 1;
    pthread_cond_broadcast(&im->work);
    pthread_mutex_unlock(&im->lock);

    for (i = 0; i < nw; i++) {
        pthread_join(w[i].tid, NULL);
    }

    json_set_alloc_funcs(malloc, free);

    if (rc == MDB_SUCCESS && s->txn != NULL && s->done == 0 && !s->quiet) {
        fprintf(stderr, "%s: %s: no accounts in the input\n", progname,
                file);
    }

    for (i = 0; i < SEED_BLOCKS; i++) {
        b = &im->blocks[i];
        free(b->in);
        free(b->out);
        free(b->recs);
    }

    pthread_cond_destroy(&im->done);
    pthread_cond_destroy(&im->work);
    pthread_mutex_destroy(&im->lock);
    free(im);
    free(w);

    free(s->chunk);
    free(s->recs);
    s->chunk = NULL;
    s->recs = NULL;
    s->chunk_len = 0;
    s->chunk_size = 0;
    s->nrecs = 0;
    s->recs_size = 0;

    return rc;
}


/*
 * The work of seed_unmake(), async-signal-safe for the handler of SIGBUS:
 * returns 1 if the data file was removed; *failed names the file that could
 * not be (errno says why), or is NULL.
 */

static int
seed_unmake_files(const char *db_path, const seed_files_t *f,
    const char **failed)
{
    int          removed;
    struct stat  st, fi;

    removed = 0;
    *failed = NULL;

    if (f->db_made && lstat(db_path, &st) == 0 && S_ISREG(st.st_mode)
        && (f->db_ino == 0
            || (st.st_dev == f->db_dev && st.st_ino == f->db_ino)))
    {
        if (unlink(db_path) == -1) {
            *failed = db_path;
            return 0;
        }

        removed = 1;
    }

    if (!f->lock_made || (stat(db_path, &st) == 0 && S_ISREG(st.st_mode))) {
        return removed;
    }

    if (stat(f->lock_path, &st) == 0 && fstat(f->lock, &fi) == 0
        && st.st_dev == fi.st_dev && st.st_ino == fi.st_ino
        && unlink(f->lock_path) == -1)
    {
        *failed = f->lock_path;
    }

    return removed;
}


/*
 * What the handler of SIGBUS says about the database at path, and the files
 * it takes back (f, with the name of the lock file set here)
 */

static int
seed_bus_init(const char *path, seed_files_t *f)
{
    int          n;
    size_t       len;
    const char  *fmt;

    fmt = "%s: %s: no room to write the database (SIGBUS): the disk is "
          "full, or the file was cut short; nothing was written\n";

    n = snprintf(NULL, 0, fmt, progname, path);

    seed_bus.msg = malloc(n + 1);
    if (seed_bus.msg == NULL) {
        return -1;
    }

    len = strlen(path) + sizeof(ACCOUNT_STORE_LOCK_SUFFIX);

    f->lock_path = malloc(len);
    if (f->lock_path == NULL) {
        free(seed_bus.msg);
        return -1;
    }

    snprintf(f->lock_path, len, "%s%s", path, ACCOUNT_STORE_LOCK_SUFFIX);

    seed_bus.msg_len = snprintf(seed_bus.msg, n + 1, fmt, progname, path);
    seed_bus.fd = -1;
    seed_bus.db_path = path;
    seed_bus.files = f;

    return 0;
}


/*
 * Gives back the blocks of the pages past the last committed one, which
 * only the transaction armed for wrote: before it is aborted, or from the
 * handler of SIGBUS (async-signal-safe).  Not after a failed commit: the
 * meta page may have been written, and those pages be committed after all.
 */

static void
seed_bus_give_back(void)
{
    if (seed_bus.fd != -1 && seed_bus.len > 0) {
        (void) fallocate(seed_bus.fd,
                         FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                         seed_bus.from, seed_bus.len);
    }
}


/* the handler of SIGBUS: async-signal-safe, all prepared beforehand */

static void
seed_bus_handler(int signo)
{
    const char  *failed;

    (void) signo;

    seed_bus_give_back();

    /* a database this run made and committed nothing to: see seed_unmake() */

    (void) seed_unmake_files(seed_bus.db_path, seed_bus.files, &failed);

    if (seed_line_open) {
        (void) write(STDERR_FILENO, "\n", 1);
    }

    (void) write(STDERR_FILENO, seed_bus.msg, seed_bus.msg_len);

    _exit(1);
}


/* arms the handler for the transaction about to begin in env */

static void
seed_bus_arm(MDB_env *env)
{
    MDB_stat          st;
    MDB_envinfo       info;
    struct sigaction  sa;

    seed_bus.fd = -1;

    if (mdb_env_info(env, &info) == MDB_SUCCESS
        && mdb_env_stat(env, &st) == MDB_SUCCESS
        && mdb_env_get_fd(env, &seed_bus.fd) == MDB_SUCCESS)
    {
        seed_bus.from = (off_t) (info.me_last_pgno + 1) * st.ms_psize;
        seed_bus.len = (off_t) info.me_mapsize - seed_bus.from;

    } else {
        seed_bus.fd = -1;
    }

    memset(&sa, 0, sizeof(struct sigaction));
    sa.sa_handler = seed_bus_handler;
    sigfillset(&sa.sa_mask);

    seed_bus.armed = (sigaction(SIGBUS, &sa, &seed_bus.old) == 0);
}


static void
seed_bus_disarm(void)
{
    if (seed_bus.armed) {
        sigaction(SIGBUS, &seed_bus.old, NULL);
        seed_bus.armed = 0;
    }

    seed_bus.fd = -1;
}


/* one attempt at the whole load, in one write transaction */

static int
seed_run(seed_options_t *o, FILE *in, size_t estimate, size_t *done,
    size_t *added, size_t *map_size, seed_files_t *f)
{
    int          rc, fd;
    size_t       want, lock, file;
    MDB_env     *env;
    MDB_stat     st;
    seed_t       s;
    struct stat  fi;

    memset(&s, 0, sizeof(seed_t));

    rc = account_store_open_writer(o->db_path, *map_size, &env);
    if (rc != MDB_SUCCESS) {
        return rc;
    }

    /* which file that is, should the run have to take it back */

    if (mdb_env_get_fd(env, &fd) == MDB_SUCCESS && fstat(fd, &fi) == 0) {
        f->db_dev = fi.st_dev;
        f->db_ino = fi.st_ino;
    }

    /* at least the map it has: account_store_map_size() never shrinks it */

    want = account_store_map_size(env, estimate);

    rc = account_store_set_map_size(env, want);
    if (rc != MDB_SUCCESS) {
        fprintf(stderr, "%s: %s: cannot map the %zu bytes the accounts "
                "need: %s\n", progname, o->db_path, want, mdb_strerror(rc));
        rc = SEED_FAILED;
        goto failed;
    }

    *map_size = want;

    seed_bus_arm(env);

    rc = mdb_txn_begin(env, NULL, 0, &s.txn);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    /* the writer's lock is held: the two agree, or do not belong together */

    if (account_store_check_lock(s.txn, 1, &lock, &file)
        != ACCOUNT_STORE_LOCK_AGREES)
    {
        fprintf(stderr, "%s: %s does not match its lock file %s%s "
                "(transaction %zu in the lock file, %zu in the database): "
                "the database was replaced while the old lock file was "
                "still open; rename the new lock file over it too (if "
                "there is none, a writer was killed within its commit: the "
                "lock file is made again from the database once no process "
                "has it open, nginx included)\n",
                progname, o->db_path, o->db_path, ACCOUNT_STORE_LOCK_SUFFIX,
                lock, file);
        mdb_txn_abort(s.txn);
        rc = SEED_FAILED;
        goto failed;
    }

    rc = account_store_open_db(s.txn, &s.dbi);

    if (rc == MDB_SUCCESS) {
        rc = mdb_stat(s.txn, s.dbi, &st);
        s.before = st.ms_entries;
    }

    if (rc != MDB_SUCCESS) {
        mdb_txn_abort(s.txn);
        goto failed;
    }

    s.quiet = o->quiet;
    s.progress = !o->quiet && isatty(STDERR_FILENO);
    clock_gettime(CLOCK_MONOTONIC, &s.started);
    s.shown = s.started;

    rc = o->from ? seed_import(&s, in, o->from) : seed_generate(&s, o);

    /* a line whose id the database or an earlier line had replaced it */

    if (rc == MDB_SUCCESS) {
        rc = mdb_stat(s.txn, s.dbi, &st);
        *added = st.ms_entries - s.before;
    }

    if (rc == MDB_SUCCESS) {
        if (s.progress) {
            seed_progress(&s, 1);
        }

        rc = mdb_txn_commit(s.txn);

    } else {
        seed_progress_end();

        /* while LMDB's writer mutex is held: nothing else writes there */

        seed_bus_give_back();
        mdb_txn_abort(s.txn);
    }

    *done = s.done;

failed:

    seed_bus_disarm();
    mdb_env_close(env);

    return rc;
}


/*
 * Input that is not a regular file (a pipe, a terminal, a socket) can be
 * read only once, and an import whose map fills up starts again from the
 * first line: such input is first copied into an unnamed file beside the
 * database, where there is room for the data anyway.  The copy is an
 * import that checks the lines as it reads them and stores nothing: the
 * first bad line ends it, and is reported with its number, before the
 * rest of the input (which may never end) is read.  Returns the copy,
 * rewound, or NULL with the error printed and *status set.
 */

static FILE *
seed_spool(FILE *in, const char *name, const char *db_path, int *status)
{
    int      fd, rc;
    char    *path, *dir, *tmp;
    FILE    *out;
    size_t   len;
    seed_t   s;

    out = NULL;
    tmp = NULL;
    *status = 1;

    path = strdup(db_path);
    if (path == NULL) {
        fprintf(stderr, "%s: %s\n", progname, strerror(errno));
        return NULL;
    }

    dir = dirname(path);

    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    if (fd == -1 && (errno == EOPNOTSUPP || errno == EISDIR)) {
        /* a file system without O_TMPFILE: a named file, unlinked at once */

        len = strlen(dir) + sizeof("/.account-seed-XXXXXX");
        tmp = malloc(len);
        if (tmp == NULL) {
            goto failed;
        }

        snprintf(tmp, len, "%s/.account-seed-XXXXXX", dir);

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd != -1) {
            unlink(tmp);
        }
    }

    if (fd == -1) {
        goto failed;
    }

    out = fdopen(fd, "w+");
    if (out == NULL) {
        close(fd);
        goto failed;
    }

    memset(&s, 0, sizeof(seed_t));
    s.tee = out;

    rc = seed_import(&s, in, name);

    if (rc == -1 || rc == SEED_FAILED || rc == SEED_UNREADABLE) {
        *status = (rc == -1) ? EX_DATAERR
                             : (rc == SEED_UNREADABLE ? EX_NOINPUT : 1);
        goto done;
    }

    if (rc != MDB_SUCCESS) {
        errno = rc;
        goto failed;
    }

    if (fflush(out) != 0 || fseek(out, 0, SEEK_SET) != 0) {
        goto failed;
    }

    free(tmp);
    free(path);

    return out;

failed:

    fprintf(stderr, "%s: cannot copy %s into %s, to be able to read it "
            "again: %s\n", progname, name, dir, strerror(errno));

done:

    if (out) {
        fclose(out);
    }

    free(tmp);
    free(path);

    return NULL;
}


/*
 * Takes the writers' lock of the database, or checks that the lock held is
 * still that of PATH-lock: the files may have been renamed over or removed
 * since (see account_store_lock_writer()).  Whether PATH exists is noted
 * each time a lock file is opened, while no other writer can make it.
 * Returns 0, or SEED_NOLOCK (told).
 */

static int
seed_lock(seed_options_t *o, seed_files_t *f)
{
    int          rc, made;
    struct stat  st;

    made = -1;
    rc = account_store_lock_writer(o->db_path, 0, &f->lock, &made);

    if (rc == EWOULDBLOCK) {
        if (!o->quiet) {
            fprintf(stderr, "%s: waiting for another account-seed writing "
                    "%s\n", progname, o->db_path);
        }

        rc = account_store_lock_writer(o->db_path, 1, &f->lock, &made);
    }

    if (rc != 0) {
        fprintf(stderr, "%s: %s%s: %s\n", progname, o->db_path,
                ACCOUNT_STORE_LOCK_SUFFIX, strerror(rc));
        return SEED_NOLOCK;
    }

    if (made != -1) {
        f->lock_made = made;
        f->db_made = (lstat(o->db_path, &st) == -1 && errno == ENOENT);
        f->db_ino = 0;
    }

    return 0;
}


/*
 * Removes the files of a database that this run made and committed nothing
 * to, while it holds the writers' lock: a failed or empty first seed leaves
 * no empty database for nginx to serve (404s, where a missing one is 503s).
 *
 * The data file goes first.  A writer that has opened the lock file waits
 * for the lock, and then finds that file removed (or, if this run did not
 * make it, still in place) and makes the database anew; one that comes
 * after the lock file is gone makes a new lock file, and the data file is
 * gone by then.  Removed the other way round, a writer could lock a new
 * lock file and open the data file just before its removal.
 *
 * The lock file goes only if this run made it and there is no database at
 * PATH now (--db naming a directory: the run made only DIR-lock): a lock
 * file made beforehand for its owner and mode stays, and so does one that
 * nginx's workers may have opened beside a data file this run did not make.
 * Returns 1 if the data file was removed.
 */

static int
seed_unmake(seed_options_t *o, seed_files_t *f)
{
    int          removed;
    const char  *failed;

    removed = seed_unmake_files(o->db_path, f, &failed);

    if (failed) {
        fprintf(stderr, "%s: cannot remove %s, which this run made: %s\n",
                progname, failed, strerror(errno));
    }

    return removed;
}


/*
 * Parses a decimal number of at most max: returns 0, EINVAL for what is not
 * a number, or ERANGE for one above max.
 */

static int
parse_u64(const char *s, uint64_t max, uint64_t *v)
{
    char  *end;

    errno = 0;

    if (*s < '0' || *s > '9') {
        return EINVAL;
    }

    *v = strtoull(s, &end, 10);

    if (*end != '\0') {
        return EINVAL;
    }

    return (errno == ERANGE || *v > max) ? ERANGE : 0;
}


/* reports a bad --count or --start, the kind that parse_u64() found */

static int
bad_number(const char *opt, const char *arg, int rc)
{
    if (rc == ERANGE) {
        fprintf(stderr, "%s: %s: \"%s\" is out of range (at most %" PRIu64
                ")\n", progname, opt, arg, SEED_NUMBER_MAX);

    } else {
        fprintf(stderr, "%s: %s: \"%s\" is not a number\n", progname, opt,
                arg);
    }

    return EX_USAGE;
}


/*
 * Reports what getopt_long() refused, under our name: an option it does not
 * know (optopt 0 for a long one, the character for a short one), one that
 * lacks its argument (':'), or a long one given an argument it does not
 * take (optopt is then the option's own character).
 */

static int
bad_option(int c, char **argv, const struct option *longopts)
{
    int                    len;
    const char            *arg;
    const struct option   *opt;

    for (opt = longopts; opt->name != NULL; opt++) {
        if (optopt != 0 && opt->val == optopt) {
            break;
        }
    }

    if (c == ':' && opt->name != NULL) {
        fprintf(stderr, "%s: option -%c (--%s) needs an argument\n",
                progname, optopt, opt->name);

    } else if (opt->name != NULL) {
        fprintf(stderr, "%s: option --%s takes no argument\n", progname,
                opt->name);

    } else if (optopt != 0) {
        fprintf(stderr, "%s: unknown option -%c\n", progname, optopt);

    } else {
        arg = argv[optind - 1];
        len = (int) strcspn(arg, "=");
        fprintf(stderr, "%s: unknown option %.*s\n", progname, len, arg);
    }

    usage(stderr);

    return EX_USAGE;
}


int
main(int argc, char **argv)
{
    int              c, rc, generate, unmade;
    FILE            *in, *spool;
    off_t            origin;
    size_t           estimate, done, added, map_size;
    struct stat      st;
    seed_files_t     f;
    seed_options_t   o;

    static const struct option  longopts[] = {
        { "db",    required_argument, NULL, 'd' },
        { "count", required_argument, NULL, 'n' },
        { "start", required_argument, NULL, 's' },
        { "from",  required_argument, NULL, 'f' },
        { "quiet", no_argument,       NULL, 'q' },
        { "help",  no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    memset(&o, 0, sizeof(seed_options_t));
    o.start = 10000;
    o.count = 100;
    generate = 0;

    /* getopt's own messages would begin with argv[0]: bad_option()'s */

    opterr = 0;

    while ((c = getopt_long(argc, argv, ":d:n:s:f:qh", longopts, NULL))
           != -1)
    {
        switch (c) {
        case 'd':
            o.db_path = optarg;
            break;
        case 'n':
            rc = parse_u64(optarg, SEED_NUMBER_MAX, &o.count);
            if (rc != 0) {
                return bad_number("--count", optarg, rc);
            }
            generate = 1;
            break;
        case 's':
            rc = parse_u64(optarg, SEED_NUMBER_MAX, &o.start);
            if (rc != 0) {
                return bad_number("--start", optarg, rc);
            }
            generate = 1;
            break;
        case 'f':
            o.from = optarg;
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return bad_option(c, argv, longopts);
        }
    }

    if (optind != argc || o.db_path == NULL || o.db_path[0] == '\0') {
        fprintf(stderr, "%s: %s\n", progname, optind != argc
                ? "unexpected argument"
                : (o.db_path == NULL ? "--db PATH is required"
                                     : "--db: the path is empty"));
        usage(stderr);
        return EX_USAGE;
    }

    if (generate && o.from) {
        fprintf(stderr, "%s: --count and --start generate accounts, --from "
                "imports them: not both\n", progname);
        usage(stderr);
        return EX_USAGE;
    }

    in = NULL;

    if (o.from) {
        if (strcmp(o.from, "-") == 0) {
            in = stdin;
            o.from = "(stdin)";

        } else {
            in = fopen(o.from, "r");
            if (in == NULL) {
                fprintf(stderr, "%s: %s: %s\n", progname, o.from,
                        strerror(errno));
                return EX_NOINPUT;
            }
        }

        if (fstat(fileno(in), &st) == -1 || !S_ISREG(st.st_mode)) {
            spool = seed_spool(in, o.from, o.db_path, &rc);

            if (in != stdin) {
                fclose(in);
            }

            if (spool == NULL) {
                fprintf(stderr, "%s: nothing was written to %s\n",
                        progname, o.db_path);
                return rc;
            }

            in = spool;
        }

        /*
         * Where the import starts: standard input can be a file that the
         * shell has already read a part of.  A file of JSON Lines is about
         * as large as the data it holds.
         */

        origin = ftello(in);

        if (origin < 0) {
            origin = 0;
        }

        if (fstat(fileno(in), &st) == 0) {
            estimate = (st.st_size > origin) ? (size_t) (st.st_size - origin)
                                             : 0;

        } else {
            estimate = ACCOUNT_STORE_MAP_MIN * 16;
        }

    } else {
        origin = 0;
        estimate = (o.count > SIZE_MAX / SEED_ACCOUNT_BYTES)
                   ? SIZE_MAX : o.count * SEED_ACCOUNT_BYTES;
    }

    memset(&f, 0, sizeof(seed_files_t));
    f.lock = -1;

    if (seed_bus_init(o.db_path, &f) != 0) {
        fprintf(stderr, "%s: %s\n", progname, strerror(errno));

        if (in && in != stdin) {
            fclose(in);
        }

        return 1;
    }

    /*
     * One writer at a time, from before its first open of the environment
     * to after its last: each attempt below opens it again, with a larger
     * map, and another writer's open would cut the file under it.  The lock
     * is checked before each open: the files may have been replaced since.
     */

    map_size = 0;
    added = 0;
    done = 0;

    for ( ;; ) {
        rc = seed_lock(&o, &f);
        if (rc != 0) {
            break;
        }

        done = 0;
        rc = seed_run(&o, in, estimate, &done, &added, &map_size, &f);

        if (rc != MDB_MAP_FULL) {
            break;
        }

        /* the estimate was short: start again with a map twice as large */

        if (in && fseeko(in, origin, SEEK_SET) != 0) {
            fprintf(stderr, "%s: the map of %s is full and %s cannot be "
                    "read again; import from a regular file\n",
                    progname, o.db_path, o.from);
            break;
        }

        map_size *= 2;
    }

    if (in && in != stdin) {
        fclose(in);    /* a copy of standard input goes with it */
    }

    /* nothing committed (or nothing to commit) to a database it made */

    unmade = 0;

    if (rc != SEED_NOLOCK && (rc != MDB_SUCCESS || done == 0)) {
        unmade = seed_unmake(&o, &f);
    }

    if (unmade && rc == MDB_SUCCESS && !o.quiet) {
        fprintf(stderr, "%s: %s was not created: no accounts to write\n",
                progname, o.db_path);
    }

    /* the environment is closed: no fcntl() lock of LMDB's is left to drop */

    if (f.lock != -1) {
        close(f.lock);
    }

    free(f.lock_path);

    if (rc == SEED_NOLOCK) {
        return 1;
    }

    if (rc == -1 || rc == SEED_FAILED || rc == SEED_UNREADABLE) {
        fprintf(stderr, "%s: nothing was written to %s\n", progname,
                o.db_path);
        return rc == -1 ? EX_DATAERR
                        : (rc == SEED_UNREADABLE ? EX_NOINPUT : 1);
    }

    if (rc != MDB_SUCCESS) {
        fprintf(stderr, "%s: %s: %s\n", progname, o.db_path,
                mdb_strerror(rc));
        return 1;
    }

    /* a run that made nothing has said so */

    if (!o.quiet && !unmade) {
        if (o.from) {
            printf("Imported %zu account%s from %s: %zu new, %zu "
                   "replaced\n", done, done == 1 ? "" : "s", o.from, added,
                   done - added);

        } else {
            printf("Seeded %zu fake accounts...\n", done);
        }
    }

    return 0;
}
