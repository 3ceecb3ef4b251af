/*
 * The accounts store: the one place that knows the LMDB layout.
 *
 * An accounts database is a single-file LMDB environment (MDB_NOSUBDIR)
 * with its lock file next to it ("<path>-lock").  The unnamed database maps
 * an account id (the raw id bytes, no terminator) to the exact JSON document
 * that a GET of that id returns, rendered once by the seeding tool.
 *
 * An id is 1 to ACCOUNT_ID_MAX bytes from the URI "unreserved" set
 * (A-Z a-z 0-9 - . _ ~), and is neither "." nor "..": every valid id can be
 * written in a URI path segment as it is.
 */

#ifndef ACCOUNT_STORE_H
#define ACCOUNT_STORE_H

#include <stddef.h>
#include <lmdb.h>


#define ACCOUNT_ID_MAX          128

/* the flags every opener uses; readers add MDB_RDONLY */
#define ACCOUNT_STORE_ENV_FLAGS  (MDB_NOSUBDIR | MDB_NOTLS | MDB_NORDAHEAD)

/*
 * A writer writes its pages through the map: no copy of each dirty page in
 * the heap, and large loads go about half again as fast.  The file is then
 * as long as the map, sparse past the data.
 */
#define ACCOUNT_STORE_WRITER_FLAGS  (ACCOUNT_STORE_ENV_FLAGS | MDB_WRITEMAP)
#define ACCOUNT_STORE_LOCK_SUFFIX  "-lock"

/*
 * Reader slots in the lock file: one for each worker of every nginx that
 * serves the database, old workers still draining after a reload included.
 * Whoever creates the lock file sets the number.
 */
#define ACCOUNT_STORE_MAX_READERS  1024

/* the smallest map a seeder creates, and the step it grows by */
#define ACCOUNT_STORE_MAP_MIN   (16 * 1024 * 1024)


typedef enum {
    ACCOUNT_ID_OK = 0,
    ACCOUNT_ID_EMPTY,
    ACCOUNT_ID_TOO_LONG,
    ACCOUNT_ID_BAD_ESCAPE,
    ACCOUNT_ID_SLASH,
    ACCOUNT_ID_BAD_BYTE,
    ACCOUNT_ID_DOT_SEGMENT
} account_id_rc_e;


/*
 * Checks the id in [src, src + len).  With "decode" set, %XX escapes are
 * decoded first (the input is a raw URI path segment).  On ACCOUNT_ID_OK the
 * id is in dst (at least ACCOUNT_ID_MAX bytes) and its length in *dst_len.
 */
account_id_rc_e account_id_parse(const unsigned char *src, size_t len,
    int decode, unsigned char *dst, size_t *dst_len);

/* a short English reason for an id error, a static string */
const char *account_id_strerror(account_id_rc_e rc);

/*
 * Opens the environment at path read-only (flags may add MDB_NOLOCK) and the
 * accounts database in it.  On error *envp is NULL and the LMDB or errno code
 * is returned.  *envp is set as soon as the environment exists, so that a
 * caller whose fault guard jumps out of a read of the map can close it.
 */
int account_store_open_reader(const char *path, unsigned int flags,
    MDB_env **envp, MDB_dbi *dbi);

/*
 * Opens (creating if needed) the environment at path for writing, with a map
 * of at least "map_size" bytes, and never smaller than the map it has.
 */
int account_store_open_writer(const char *path, size_t map_size,
    MDB_env **envp);

/*
 * Takes the writers' lock of the environment at path: an flock() on its lock
 * file (created if needed, as LMDB would), which LMDB's own fcntl() locks on
 * it do not see.  Writers open the environment only while they hold it: with
 * MDB_WRITEMAP, opening it and setting its map size cut the file to the
 * opener's map, without LMDB's writer lock, under the pages that another
 * writer's transaction is writing.
 *
 * *fdp is -1 the first time; the lock file is then opened and kept in it,
 * and *madep says whether this call made the file (1) or found it (0).
 * With "wait" unset, returns EWOULDBLOCK if another process holds the lock;
 * with it set, waits for it.  Returns 0 or an errno code.  The lock is held
 * until *fdp is closed, which must be after mdb_env_close(): closing a
 * descriptor of the lock file drops the process's fcntl() locks on it.
 *
 * The lock held is always that of the file named PATH-lock at the moment
 * it is taken: one renamed over or removed while the writer waited for it
 * (the database replaced, a failed first seed removing what it made) is
 * closed, and PATH-lock opened and locked again (*fdp and *madep change;
 * ESTALE after a hundred such files); one found replaced before the wait
 * is not waited for.  Called again with the lock held, it checks that
 * again, at once: a writer that opens the environment more than once does
 * so before each open.
 */
int account_store_lock_writer(const char *path, int wait, int *fdp,
    int *madep);

/*
 * Opens the accounts database inside a transaction, and gives it
 * account_store_key_cmp() to search with.  MDB_INCOMPATIBLE: the database
 * was made with flags (MDB_REVERSEKEY, MDB_INTEGERKEY, MDB_DUPSORT...) that
 * an accounts database does not have.
 */
int account_store_open_db(MDB_txn *txn, MDB_dbi *dbi);

/*
 * The order of the keys: LMDB's own for a database without MDB_REVERSEKEY
 * or MDB_INTEGERKEY (the bytes as unsigned numbers, then the shorter key
 * first), which every LMDB tool uses on these files, but compared a word at
 * a time instead of through a call to memcmp(): a lookup compares its id
 * with a few keys at a hundred accounts and over twenty at ten million, each
 * a few bytes long.
 */
int account_store_key_cmp(const MDB_val *a, const MDB_val *b);

/*
 * LMDB takes the newest transaction id from the lock file, not from the data
 * file, whenever another process has the lock file open: a data file
 * replaced under a lock file still in use (or the other way round) would be
 * read at a wrong snapshot, and written over one.  Compares, inside the live
 * transaction txn (a write one if "write" is set), the lock file's newest
 * id with the data file's.
 * ACCOUNT_STORE_LOCK_BEHIND is, for a reader, the moment of a commit (the
 * data file's meta page is written and synced first); a writer never sees
 * it otherwise (LMDB sets the lock file from the data file when a writer
 * died between the two).  "lock" and "file" get the two ids.
 */
typedef enum {
    ACCOUNT_STORE_LOCK_AGREES = 0,
    ACCOUNT_STORE_LOCK_BEHIND,
    ACCOUNT_STORE_LOCK_FOREIGN
} account_store_lock_e;

account_store_lock_e account_store_check_lock(MDB_txn *txn, int write,
    size_t *lock, size_t *file);

/*
 * A writer's mdb_env_set_mapsize().  With MDB_WRITEMAP, LMDB makes the file
 * as long as the new map before it maps it: when the map cannot be made
 * (more than the address space), the file is cut back to its length.
 */
int account_store_set_map_size(MDB_env *env, size_t size);

/*
 * The map size a writer needs to add "bytes" of keys and values to what the
 * environment already holds, with room for LMDB's page overhead.
 */
size_t account_store_map_size(MDB_env *env, size_t bytes);

#endif /* ACCOUNT_STORE_H */
