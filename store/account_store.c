/*
 * The accounts store: id rules and the LMDB layout, shared by the nginx
 * module and the seeding tool.
 */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account_store.h"


/* RFC 3986 "unreserved": ALPHA / DIGIT / "-" / "." / "_" / "~" */
static const unsigned char  account_id_byte[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1
};


static int
account_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


account_id_rc_e
account_id_parse(const unsigned char *src, size_t len, int decode,
    unsigned char *dst, size_t *dst_len)
{
    int                  hi, lo;
    size_t               n;
    unsigned char        c;
    const unsigned char *end;

    end = src + len;
    n = 0;

    while (src < end) {
        c = *src++;

        if (c == '%' && decode) {
            if (end - src < 2
                || (hi = account_hex(src[0])) < 0
                || (lo = account_hex(src[1])) < 0)
            {
                return ACCOUNT_ID_BAD_ESCAPE;
            }

            c = (unsigned char) (hi << 4 | lo);
            src += 2;

            if (c == '/') {
                return ACCOUNT_ID_SLASH;
            }
        }

        if (!account_id_byte[c]) {
            return c == '/' ? ACCOUNT_ID_SLASH : ACCOUNT_ID_BAD_BYTE;
        }

        if (n == ACCOUNT_ID_MAX) {
            return ACCOUNT_ID_TOO_LONG;
        }

        dst[n++] = c;
    }

    if (n == 0) {
        return ACCOUNT_ID_EMPTY;
    }

    if (dst[0] == '.' && (n == 1 || (n == 2 && dst[1] == '.'))) {
        return ACCOUNT_ID_DOT_SEGMENT;
    }

    *dst_len = n;

    return ACCOUNT_ID_OK;
}


const char *
account_id_strerror(account_id_rc_e rc)
{
    switch (rc) {
    case ACCOUNT_ID_OK:
        return "valid";
    case ACCOUNT_ID_EMPTY:
        return "the id is empty";
    case ACCOUNT_ID_TOO_LONG:
        return "the id is longer than 128 bytes";
    case ACCOUNT_ID_BAD_ESCAPE:
        return "the id has a malformed percent-escape";
    case ACCOUNT_ID_SLASH:
        return "the id contains a slash";
    case ACCOUNT_ID_BAD_BYTE:
        return "the id may only contain A-Z a-z 0-9 - . _ ~";
    case ACCOUNT_ID_DOT_SEGMENT:
        return "the id may not be '.' or '..'";
    }

    return "the id is invalid";
}


int
account_store_open_reader(const char *path, unsigned int flags,
    MDB_env **envp, MDB_dbi *dbi)
{
    int          rc;
    MDB_env     *env;
    MDB_txn     *txn;
    struct stat  st;

    *envp = NULL;

    /* LMDB would create a missing file even read-only: refuse first */
    if (stat(path, &st) == -1) {
        return errno;
    }

    if (!S_ISREG(st.st_mode)) {
        return EINVAL;
    }

    /* LMDB would take an empty file for a new one and fail to write it */
    if (st.st_size == 0) {
        return MDB_INVALID;
    }

    rc = mdb_env_create(&env);
    if (rc != MDB_SUCCESS) {
        return rc;
    }

    /*
     * The caller holds the environment from here on: should a read of the
     * map below fault (a file cut short under it) and the caller's fault
     * guard jump out, closing what *envp holds gives back the descriptors,
     * the mapping, the locks and the reader slot (a few small allocations
     * are lost: the transaction handle, the lock file's name).
     */
    *envp = env;

    rc = mdb_env_set_maxreaders(env, ACCOUNT_STORE_MAX_READERS);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    rc = mdb_env_open(env, path,
                      ACCOUNT_STORE_ENV_FLAGS | MDB_RDONLY | flags, 0644);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    rc = account_store_open_db(txn, dbi);
    mdb_txn_abort(txn);

    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    return MDB_SUCCESS;

failed:

    /* let go of first: a caller whose close faults must not close it again */

    *envp = NULL;
    mdb_env_close(env);

    return rc;
}


int
account_store_open_writer(const char *path, size_t map_size, MDB_env **envp)
{
    int           rc;
    MDB_env      *env;
    MDB_envinfo   info;

    *envp = NULL;

    rc = mdb_env_create(&env);
    if (rc != MDB_SUCCESS) {
        return rc;
    }

    rc = mdb_env_set_maxreaders(env, ACCOUNT_STORE_MAX_READERS);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    /*
     * No map size before the open: LMDB then keeps the one the file has.
     * A smaller one would cut a file written through the map down to it,
     * under the feet of the readers.
     */

    rc = mdb_env_open(env, path, ACCOUNT_STORE_WRITER_FLAGS, 0644);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    rc = mdb_env_info(env, &info);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    if (map_size < ACCOUNT_STORE_MAP_MIN) {
        map_size = ACCOUNT_STORE_MAP_MIN;
    }

    if (info.me_mapsize < map_size) {
        rc = account_store_set_map_size(env, map_size);
        if (rc != MDB_SUCCESS) {
            goto failed;
        }
    }

    /*
     * Free the reader slots of processes that died without closing (a
     * killed worker): a stale slot pins old pages and the file would grow.
     */

    rc = mdb_reader_check(env, NULL);
    if (rc != MDB_SUCCESS) {
        goto failed;
    }

    *envp = env;

    return MDB_SUCCESS;

failed:

    mdb_env_close(env);

    return rc;
}


/*
 * How many lock files a writer follows, each replaced while it waited for
 * it, before it gives up (ESTALE): a bound, should a file system give
 * an open file and its path different numbers.
 */
#define ACCOUNT_STORE_LOCK_PASSES  100


/*
 * The lock file a writer holds must be the one named PATH-lock when it
 * holds it: a lock file renamed over or removed while the writer waited
 * (the database replaced, or a failed first seed taking back what it made)
 * is no longer the one other writers lock, and a writer holding it would
 * write beside them.  Returns 1 if the descriptor is the lock file at the
 * path, 0 if it is not (or the path names nothing), -1 with errno set.
 */

static int
account_store_lock_current(const char *lock, int fd)
{
    struct stat  fst, pst;

    if (fstat(fd, &fst) == -1) {
        return -1;
    }

    if (stat(lock, &pst) == -1) {
        return (errno == ENOENT) ? 0 : -1;
    }

    return fst.st_dev == pst.st_dev && fst.st_ino == pst.st_ino;
}


int
account_store_lock_writer(const char *path, int wait, int *fdp,
    int *madep)
{
    int       fd, rc, err, made;
    char     *lock;
    size_t    len;
    unsigned  pass;

    len = strlen(path) + sizeof(ACCOUNT_STORE_LOCK_SUFFIX);

    lock = malloc(len);
    if (lock == NULL) {
        return ENOMEM;
    }

    memcpy(lock, path, len - sizeof(ACCOUNT_STORE_LOCK_SUFFIX));
    memcpy(lock + len - sizeof(ACCOUNT_STORE_LOCK_SUFFIX),
           ACCOUNT_STORE_LOCK_SUFFIX, sizeof(ACCOUNT_STORE_LOCK_SUFFIX));

    /*
     * The file is checked before the wait (a writer of a file replaced
     * since it was opened is not waited for) and after it.  Each pass that
     * finds it replaced follows a rename or an unlink by another process,
     * and then waits for the new file's lock: the loop ends once no other
     * process replaces the file while this one waits.
     */

    for (pass = 0; pass < ACCOUNT_STORE_LOCK_PASSES; pass++) {
        if (*fdp == -1) {

            /* whether this writer made the file: an existing one first */

            made = 0;
            fd = open(lock, O_RDWR | O_CLOEXEC);

            if (fd == -1 && errno == ENOENT) {
                made = 1;
                fd = open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            }

            if (fd == -1 && errno == EEXIST) {

                /* made meanwhile, or a dangling symbolic link: as LMDB */

                made = 0;
                fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
            }

            if (fd == -1) {
                rc = errno;
                break;
            }

            *fdp = fd;
            *madep = made;

        } else if (account_store_lock_current(lock, *fdp) == 0) {

            /* no need to wait for the holder of a stale one */

            close(*fdp);
            *fdp = -1;
            continue;
        }

        while ((rc = flock(*fdp, LOCK_EX | (wait ? 0 : LOCK_NB))) == -1
               && errno == EINTR)
        {
            /* void */
        }

        /* held, or held by another: is it the file named PATH-lock? */

        err = (rc == -1) ? errno : 0;
        rc = account_store_lock_current(lock, *fdp);

        if (rc == -1) {
            rc = errno;
            break;
        }

        if (rc == 1) {
            rc = err;
            break;
        }

        /* a stale lock: the path names another file now, or none */

        close(*fdp);
        *fdp = -1;
    }

    if (pass == ACCOUNT_STORE_LOCK_PASSES) {
        rc = ESTALE;
    }

    free(lock);

    return rc;
}


int
account_store_open_db(MDB_txn *txn, MDB_dbi *dbi)
{
    int           rc;
    unsigned int  flags;

    rc = mdb_dbi_open(txn, NULL, 0, dbi);

    if (rc == MDB_SUCCESS) {
        rc = mdb_dbi_flags(txn, *dbi, &flags);
    }

    /*
     * A database made with other flags (MDB_REVERSEKEY, MDB_INTEGERKEY,
     * MDB_DUPSORT: mdb_load takes them from a dump's header) keeps its keys
     * in another order, or several values to a key: not an accounts one.
     */

    if (rc == MDB_SUCCESS && flags != 0) {
        rc = MDB_INCOMPATIBLE;
    }

    if (rc == MDB_SUCCESS) {
        rc = mdb_set_compare(txn, *dbi, account_store_key_cmp);
    }

    return rc;
}


/*
 * The bytes of both keys up to the shorter one's length, a word at a time
 * read as big-endian numbers (the first byte that differs decides), then
 * byte by byte; then the lengths.
 */

int
account_store_key_cmp(const MDB_val *a, const MDB_val *b)
{
    size_t                n, i;
    uint32_t              x4, y4;
    uint64_t              x8, y8;
    const unsigned char  *p, *q;

    p = a->mv_data;
    q = b->mv_data;
    n = (a->mv_size < b->mv_size) ? a->mv_size : b->mv_size;

    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(&x8, p + i, 8);
        memcpy(&y8, q + i, 8);

        if (x8 != y8) {
            return (be64toh(x8) < be64toh(y8)) ? -1 : 1;
        }
    }

    if (i + 4 <= n) {
        memcpy(&x4, p + i, 4);
        memcpy(&y4, q + i, 4);

        if (x4 != y4) {
            return (be32toh(x4) < be32toh(y4)) ? -1 : 1;
        }

        i += 4;
    }

    for ( /* void */ ; i < n; i++) {
        if (p[i] != q[i]) {
            return (p[i] < q[i]) ? -1 : 1;
        }
    }

    return (a->mv_size < b->mv_size) ? -1 : (a->mv_size > b->mv_size);
}


account_store_lock_e
account_store_check_lock(MDB_txn *txn, int write, size_t *lock,
    size_t *file)
{
    MDB_envinfo  info;

    if (mdb_env_info(mdb_txn_env(txn), &info) != MDB_SUCCESS) {
        return ACCOUNT_STORE_LOCK_FOREIGN;
    }

    /* a write transaction has the id its commit will write */

    *lock = mdb_txn_id(txn);

    if (write) {
        *lock -= 1;
    }

    *file = info.me_last_txnid;

    /*
     * A file that has had no commit yet (just created, by this opener or
     * another) has two empty meta pages alike: any id reads and writes it
     * the same way.
     */

    if (*lock == *file || *file == 0) {
        return ACCOUNT_STORE_LOCK_AGREES;
    }

    return *lock + 1 == *file ? ACCOUNT_STORE_LOCK_BEHIND
                              : ACCOUNT_STORE_LOCK_FOREIGN;
}


int
account_store_set_map_size(MDB_env *env, size_t size)
{
    int          rc, fd;
    struct stat  st;

    if (mdb_env_get_fd(env, &fd) != MDB_SUCCESS || fstat(fd, &st) == -1) {
        fd = -1;
    }

    rc = mdb_env_set_mapsize(env, size);

    /*
     * Back to the length of the map it had: the data all lies below that.
     * Should that fail too, the map's error is still the one to report.
     */

    if (rc != MDB_SUCCESS && fd != -1 && ftruncate(fd, st.st_size) == -1) {
        /* void */
    }

    return rc;
}


size_t
account_store_map_size(MDB_env *env, size_t bytes)
{
    size_t        used, want, step;
    MDB_stat      st;
    MDB_envinfo   info;

    if (mdb_env_info(env, &info) != MDB_SUCCESS
        || mdb_env_stat(env, &st) != MDB_SUCCESS)
    {
        return 0;
    }

    used = (info.me_last_pgno + 1) * (size_t) st.ms_psize;

    /*
     * Pages of a B+tree filled in random order are about two thirds full,
     * and a rewrite needs room for the copy-on-write pages of the old
     * version: twice the payload is enough for both.
     */
    step = ACCOUNT_STORE_MAP_MIN;

    if (bytes > (SIZE_MAX - used - 2 * step) / 2) {
        /* more than any map can hold: LMDB refuses it */
        return SIZE_MAX / step * step;
    }

    want = used + 2 * bytes + step;

    if (want <= info.me_mapsize) {
        return info.me_mapsize;
    }

    return (want + step - 1) / step * step;
}
