/*
 * Unit tests of the store: id rules and the reader/writer open paths.
 * Prints TAP, so that prove runs it (through t/00-store.t).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "account_store.h"


static int  tests, failed;


static void
ok(int cond, const char *name)
{
    tests++;

    if (!cond) {
        failed++;
    }

    printf("%s %d - %s\n", cond ? "ok" : "not ok", tests, name);
}


static account_id_rc_e
parse(const char *s, int decode, char *out)
{
    size_t           n;
    account_id_rc_e  rc;
    unsigned char    buf[ACCOUNT_ID_MAX];

    rc = account_id_parse((const unsigned char *) s, strlen(s), decode, buf,
                          &n);

    if (rc == ACCOUNT_ID_OK && out) {
        memcpy(out, buf, n);
        out[n] = '\0';
    }

    return rc;
}


static void
test_ids(void)
{
    int                   safe;
    char                  out[ACCOUNT_ID_MAX + 1], longid[ACCOUNT_ID_MAX + 2];
    const char           *text;
    account_id_rc_e       rc;
    const unsigned char  *p;

    ok(parse("10000", 0, out) == ACCOUNT_ID_OK && strcmp(out, "10000") == 0,
       "a numeric id is valid");
    ok(parse("a-b.c_d~E9", 0, out) == ACCOUNT_ID_OK,
       "every unreserved punctuation byte is valid");
    ok(parse("", 0, NULL) == ACCOUNT_ID_EMPTY, "an empty id is refused");
    ok(parse(".", 0, NULL) == ACCOUNT_ID_DOT_SEGMENT, "\".\" is refused");
    ok(parse("..", 0, NULL) == ACCOUNT_ID_DOT_SEGMENT, "\"..\" is refused");
    ok(parse("...", 0, out) == ACCOUNT_ID_OK, "\"...\" is an ordinary id");
    ok(parse("%2e%2E", 1, NULL) == ACCOUNT_ID_DOT_SEGMENT,
       "an escaped \"..\" is refused");
    ok(parse("a/b", 0, NULL) == ACCOUNT_ID_SLASH, "a slash is refused");
    ok(parse("a%2fb", 1, NULL) == ACCOUNT_ID_SLASH,
       "an escaped slash is refused");
    ok(parse("a%2fb", 0, NULL) == ACCOUNT_ID_BAD_BYTE,
       "without decoding, '%' is just a bad byte");
    ok(parse("%31%30", 1, out) == ACCOUNT_ID_OK && strcmp(out, "10") == 0,
       "escaped unreserved bytes decode");
    ok(parse("%3", 1, NULL) == ACCOUNT_ID_BAD_ESCAPE,
       "a cut escape is refused");
    ok(parse("%g0", 1, NULL) == ACCOUNT_ID_BAD_ESCAPE,
       "a non-hex escape is refused");
    ok(parse("%00", 1, NULL) == ACCOUNT_ID_BAD_BYTE, "an escaped NUL is refused");
    ok(parse("caf\xc3\xa9", 0, NULL) == ACCOUNT_ID_BAD_BYTE,
       "non-ASCII is refused");
    ok(parse("a b", 0, NULL) == ACCOUNT_ID_BAD_BYTE, "a space is refused");

    memset(longid, 'x', ACCOUNT_ID_MAX);
    longid[ACCOUNT_ID_MAX] = '\0';
    ok(parse(longid, 0, out) == ACCOUNT_ID_OK, "an id of the maximum length");

    longid[ACCOUNT_ID_MAX] = 'x';
    longid[ACCOUNT_ID_MAX + 1] = '\0';
    ok(parse(longid, 0, NULL) == ACCOUNT_ID_TOO_LONG,
       "an id one byte too long is refused");

    /* every text goes into a JSON string as it is: printable, no " or \ */

    safe = 1;

    for (rc = ACCOUNT_ID_OK; rc <= ACCOUNT_ID_DOT_SEGMENT; rc++) {
        text = account_id_strerror(rc);

        if (*text == '\0') {
            safe = 0;
        }

        for (p = (const unsigned char *) text; *p; p++) {
            if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') {
                safe = 0;
            }
        }
    }

    ok(safe, "every error text is JSON-safe and not empty");
}


static void
test_open(void)
{
    int       rc;
    char      dir[] = "/tmp/account-store-XXXXXX", path[256];
    FILE     *f;
    MDB_env  *env;
    MDB_dbi   dbi;
    MDB_txn  *txn;
    MDB_val   key, val;
    size_t    size;
    struct stat  st;

    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp");
        return;
    }

    snprintf(path, sizeof(path), "%s/db.mdb", dir);

    rc = account_store_open_reader(path, 0, &env, &dbi);
    ok(rc == ENOENT && env == NULL,
       "a reader does not create a missing database");
    ok(access(path, F_OK) != 0, "and leaves no file behind");

    rc = account_store_open_writer(path, 0, &env);
    ok(rc == MDB_SUCCESS, "a writer creates the database");

    if (rc == MDB_SUCCESS) {
        size = account_store_map_size(env, 100 * 1024 * 1024);
        ok(size >= 200u * 1024 * 1024 && size % ACCOUNT_STORE_MAP_MIN == 0,
           "the map is sized for twice the payload, in whole steps");

        rc = mdb_txn_begin(env, NULL, 0, &txn);
        if (rc == MDB_SUCCESS) {
            rc = account_store_open_db(txn, &dbi);
        }

        key.mv_data = "1";
        key.mv_size = 1;
        val.mv_data = "{\"id\":\"1\"}";
        val.mv_size = 10;

        if (rc == MDB_SUCCESS) {
            rc = mdb_put(txn, dbi, &key, &val, 0);
        }

        ok(rc == MDB_SUCCESS && mdb_txn_commit(txn) == MDB_SUCCESS,
           "a writer stores an account");

        mdb_env_close(env);
    }

    /* a writer that asks for less keeps the map, and the file, it has */

    rc = account_store_open_writer(path, 64 * 1024 * 1024, &env);
    if (rc == MDB_SUCCESS) {

        /* a commit records the larger map in the file */

        if (mdb_txn_begin(env, NULL, 0, &txn) == MDB_SUCCESS) {
            key.mv_data = "2";
            key.mv_size = 1;
            val.mv_data = "{}";
            val.mv_size = 2;

            if (account_store_open_db(txn, &dbi) != MDB_SUCCESS
                || mdb_put(txn, dbi, &key, &val, 0) != MDB_SUCCESS
                || mdb_txn_commit(txn) != MDB_SUCCESS)
            {
                ok(0, "a second commit");
            }
        }

        mdb_env_close(env);
    }

    if (stat(path, &st) == 0) {
        size = (size_t) st.st_size;

        rc = account_store_open_writer(path, 0, &env);
        if (rc == MDB_SUCCESS) {
            mdb_env_close(env);
        }

        ok(rc == MDB_SUCCESS && stat(path, &st) == 0
           && (size_t) st.st_size == size && size >= 64 * 1024 * 1024,
           "a writer never shrinks the map or the file");
    }

    snprintf(path + strlen(path), 16, "-lock");
    ok(access(path, F_OK) == 0, "the lock file sits next to the database");
    path[strlen(path) - 5] = '\0';

    rc = account_store_open_reader(path, 0, &env, &dbi);
    ok(rc == MDB_SUCCESS, "a reader opens it");

    if (rc == MDB_SUCCESS) {
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
        key.mv_data = "1";
        key.mv_size = 1;

        ok(rc == MDB_SUCCESS && mdb_get(txn, dbi, &key, &val) == MDB_SUCCESS
           && val.mv_size == 10 && memcmp(val.mv_data, "{\"id\":\"1\"}", 10)
              == 0,
           "and reads the stored bytes back");

        mdb_txn_abort(txn);
        mdb_env_close(env);
    }

    snprintf(path, sizeof(path), "%s/garbage", dir);
    f = fopen(path, "w");
    if (f) {
        fputs("this is not an LMDB database, just some text\n", f);
        fclose(f);
    }

    rc = account_store_open_reader(path, MDB_NOLOCK, &env, &dbi);
    ok(rc == MDB_INVALID && env == NULL,
       "a file that is not LMDB is refused as such, with no environment left");

    ok(account_store_open_reader(dir, 0, &env, &dbi) == EINVAL,
       "a directory is refused");

    snprintf(path, sizeof(path), "%s/empty", dir);
    f = fopen(path, "w");
    if (f) {
        fclose(f);
    }

    rc = account_store_open_reader(path, 0, &env, &dbi);
    ok(rc == MDB_INVALID && env == NULL,
       "an empty file is refused as not LMDB, with no environment left");

    /* keys in another order (what mdb_load makes of "reversekey=1") */

    snprintf(path, sizeof(path), "%s/reverse.mdb", dir);
    rc = mdb_env_create(&env);

    if (rc == MDB_SUCCESS) {
        rc = mdb_env_open(env, path, MDB_NOSUBDIR, 0644);

        if (rc == MDB_SUCCESS) {
            rc = mdb_txn_begin(env, NULL, 0, &txn);
        }

        if (rc == MDB_SUCCESS) {
            rc = mdb_dbi_open(txn, NULL, MDB_REVERSEKEY, &dbi);
            key.mv_data = "10000";
            key.mv_size = 5;
            val.mv_data = "{}";
            val.mv_size = 2;

            if (rc == MDB_SUCCESS) {
                rc = mdb_put(txn, dbi, &key, &val, 0);
            }

            if (rc == MDB_SUCCESS) {
                rc = mdb_txn_commit(txn);

            } else {
                mdb_txn_abort(txn);
            }
        }

        mdb_env_close(env);
    }

    ok(rc == MDB_SUCCESS, "a database with reversed keys is made");

    rc = account_store_open_reader(path, 0, &env, &dbi);
    ok(rc == MDB_INCOMPATIBLE && env == NULL,
       "a reader refuses a database whose keys are in another order");

    rc = account_store_open_writer(path, 0, &env);

    if (rc == MDB_SUCCESS) {
        rc = mdb_txn_begin(env, NULL, 0, &txn);

        if (rc == MDB_SUCCESS) {
            rc = account_store_open_db(txn, &dbi);
            mdb_txn_abort(txn);
        }

        mdb_env_close(env);
    }

    ok(rc == MDB_INCOMPATIBLE, "and so does a writer");

    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    if (system(path) != 0) {
        ok(0, "cleanup");
    }
}


/* is fd the file at path? */

static int
same_file(int fd, const char *path)
{
    struct stat  a, b;

    return fstat(fd, &a) == 0 && stat(path, &b) == 0
           && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}


/*
 * The writers' lock is the flock() of the file named PATH-lock when it is
 * taken: a lock file renamed over or removed since it was opened is
 * followed.  flock() locks belong to an open file, so one process can hold
 * a lock against itself.
 */

static void
test_lock_writer(void)
{
    int   fd, other, made, rc;
    char  dir[] = "/tmp/account-store-XXXXXX", path[64], lock[80],
          next[80];

    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp");
        return;
    }

    snprintf(path, sizeof(path), "%s/db.mdb", dir);
    snprintf(lock, sizeof(lock), "%s-lock", path);
    snprintf(next, sizeof(next), "%s/new.mdb-lock", dir);

    fd = -1;
    made = -1;
    rc = account_store_lock_writer(path, 0, &fd, &made);
    ok(rc == 0 && fd != -1 && made == 1 && same_file(fd, lock),
       "the writers' lock: a missing lock file is made and locked");

    made = -1;
    other = fd;
    rc = account_store_lock_writer(path, 0, &fd, &made);
    ok(rc == 0 && fd == other && made == -1,
       "the writers' lock: taken again, the same file is kept");

    /* another lock file renamed over it */

    other = open(next, O_RDWR | O_CREAT, 0644);
    ok(other != -1 && rename(next, lock) == 0,
       "the writers' lock: a new lock file is renamed over the held one");

    made = -1;
    rc = account_store_lock_writer(path, 0, &fd, &made);
    ok(rc == 0 && made == 0 && same_file(fd, lock),
       "the writers' lock: then the new one is opened and locked");
    ok(flock(other, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK,
       "the writers' lock: ... really: its lock is held");
    close(other);

    /* held by another open file of it: not to be had without waiting */

    other = open(lock, O_RDWR);
    close(fd);
    fd = -1;
    ok(other != -1 && flock(other, LOCK_EX | LOCK_NB) == 0,
       "the writers' lock: another holds it");
    rc = account_store_lock_writer(path, 0, &fd, &made);
    ok(rc == EWOULDBLOCK, "the writers' lock: without waiting, EWOULDBLOCK");

    /* its file removed while another held it: a new one is made */

    ok(unlink(lock) == 0, "the writers' lock: the held lock file removed");
    made = -1;
    rc = account_store_lock_writer(path, 1, &fd, &made);
    ok(rc == 0 && made == 1 && same_file(fd, lock),
       "the writers' lock: then a new one is made and locked, no waiting");

    close(other);
    close(fd);

    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    if (system(path) != 0) {
        ok(0, "cleanup");
    }
}


/* LMDB's mdb_cmp_memn(), as its documentation describes it */

static int
memn_cmp(const MDB_val *a, const MDB_val *b)
{
    int     d;
    size_t  n;

    n = (a->mv_size < b->mv_size) ? a->mv_size : b->mv_size;
    d = n ? memcmp(a->mv_data, b->mv_data, n) : 0;

    if (d != 0) {
        return d;
    }

    return (a->mv_size < b->mv_size) ? -1 : (a->mv_size > b->mv_size);
}


static int
sign(int v)
{
    return (v > 0) - (v < 0);
}


static void
test_key_cmp(void)
{
    int            i, j, bad, first;
    size_t         k, prefix;
    MDB_val        a, b;
    unsigned char  x[40], y[40];

    /*
     * Pairs of keys of 0 to 39 bytes, any byte (0x80 and up too), that
     * share a prefix of any length: the first difference falls in each
     * word and each tail byte, or there is none.
     */

    srand(7);
    bad = 0;
    first = -1;

    for (i = 0; i < 200000; i++) {
        a.mv_size = rand() % 40;
        b.mv_size = rand() % 40;

        for (k = 0; k < a.mv_size; k++) {
            x[k] = (unsigned char) (rand() % 4 ? rand() % 3 + '0' : rand());
        }

        for (k = 0; k < b.mv_size; k++) {
            y[k] = (unsigned char) (rand() % 4 ? rand() % 3 + '0' : rand());
        }

        prefix = rand() % 41;
        memcpy(y, x, prefix < a.mv_size && prefix < b.mv_size ? prefix
                     : (a.mv_size < b.mv_size ? a.mv_size : b.mv_size));

        a.mv_data = x;
        b.mv_data = y;

        if (sign(account_store_key_cmp(&a, &b)) != sign(memn_cmp(&a, &b))
            || sign(account_store_key_cmp(&b, &a)) != sign(memn_cmp(&b, &a))
            || account_store_key_cmp(&a, &a) != 0)
        {
            bad++;
            if (first == -1) {
                first = i;
            }
        }
    }

    ok(bad == 0, "key order: 200000 random pairs ordered as LMDB orders "
       "them (bytes, then length)");

    if (bad) {
        printf("# %d pairs wrong, the first one at %d\n", bad, first);
    }

    /* the ids a generated database holds: decimal, 1 to 20 digits */

    bad = 0;

    for (i = 0; i < 2000; i++) {
        for (j = 0; j < 2000; j += 7) {
            snprintf((char *) x, sizeof(x), "%d", i * 104729 % 1000003);
            snprintf((char *) y, sizeof(y), "%d", j * 7919);
            a.mv_data = x;
            a.mv_size = strlen((char *) x);
            b.mv_data = y;
            b.mv_size = strlen((char *) y);

            bad += sign(account_store_key_cmp(&a, &b))
                   != sign(memn_cmp(&a, &b));
        }
    }

    ok(bad == 0, "key order: decimal ids ordered as LMDB orders them");

    /* a difference in the last byte of a word, and past a common prefix */

    a.mv_data = "12345678";
    a.mv_size = 8;
    b.mv_data = "12345679";
    b.mv_size = 8;
    ok(account_store_key_cmp(&a, &b) < 0, "key order: the 8th byte decides");

    a.mv_data = "1234";
    a.mv_size = 4;
    ok(account_store_key_cmp(&a, &b) < 0, "key order: a prefix comes first");

    a.mv_data = "\xff";
    a.mv_size = 1;
    b.mv_data = "\x01\x02";
    b.mv_size = 2;
    ok(account_store_key_cmp(&a, &b) > 0,
       "key order: bytes are unsigned, and come before length");
}


int
main(void)
{
    test_ids();
    test_open();
    test_lock_writer();
    test_key_cmp();

    printf("1..%d\n", tests);

    return failed ? 1 : 0;
}
