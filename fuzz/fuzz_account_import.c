/*
 * libFuzzer harness for account-seed's import loop, seed_import(): a whole
 * JSON Lines input, read the way the tool reads it (blocks of whole lines,
 * the BOM, blank lines, parsing threads with their arenas for jansson),
 * stored in a write transaction that is aborted after each input.
 *
 * Each input is imported twice: in one block, as the tool reads a small
 * file, and in blocks of 1 to 64 bytes parsed by two threads, so that lines
 * cross blocks and are longer than them.  Besides the sanitizers' checks:
 * both give the same result, the same messages and the same accounts, and
 * when the import succeeds, every stored value is a compact JSON object
 * whose "id" is its key.
 */

#define main  account_seed_main
#include "../store/account_seed.c"
#undef main


typedef struct {
    int          rc;
    char        *messages;
    size_t       messages_len;
    char        *accounts;
    size_t       accounts_len;
} fuzz_result_t;


static MDB_env  *fuzz_env;
static FILE     *fuzz_null;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char  dir[] = "/tmp/fuzz-account-import-XXXXXX";
    char  path[sizeof(dir) + 16];

    (void) argc;
    (void) argv;

    if (mkdtemp(dir) == NULL) {
        abort();
    }

    snprintf(path, sizeof(path), "%s/db.mdb", dir);

    if (account_store_open_writer(path, 64 * 1024 * 1024, &fuzz_env)
        != MDB_SUCCESS)
    {
        abort();
    }

    /* stderr, between imports */
    fuzz_null = fopen("/dev/null", "w");
    if (fuzz_null == NULL) {
        abort();
    }

    stderr = fuzz_null;

    return 0;
}


/* checks every stored account and writes them all, in order, to out */

static void
fuzz_check_stored(MDB_txn *txn, MDB_dbi dbi, FILE *out)
{
    int           rc;
    json_t       *doc, *id;
    MDB_val       key, val;
    MDB_cursor   *cur;
    json_error_t  err;

    if (mdb_cursor_open(txn, dbi, &cur) != MDB_SUCCESS) {
        abort();
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        doc = json_loadb(val.mv_data, val.mv_size, JSON_REJECT_DUPLICATES,
                         &err);
        id = json_object_get(doc, "id");

        if (doc == NULL || !json_is_string(id)
            || json_string_length(id) != key.mv_size
            || memcmp(json_string_value(id), key.mv_data, key.mv_size) != 0)
        {
            abort();
        }

        json_decref(doc);

        fwrite(&key.mv_size, sizeof(size_t), 1, out);
        fwrite(key.mv_data, 1, key.mv_size, out);
        fwrite(&val.mv_size, sizeof(size_t), 1, out);
        fwrite(val.mv_data, 1, val.mv_size, out);
    }

    if (rc != MDB_NOTFOUND) {
        abort();
    }

    mdb_cursor_close(cur);
}


static void
fuzz_import(const uint8_t *data, size_t size, size_t block_size,
    unsigned workers, fuzz_result_t *res)
{
    FILE    *in, *out;
    char    *copy;
    seed_t   s;

    copy = malloc(size);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, data, size);

    in = fmemopen(copy, size, "r");
    if (in == NULL) {
        abort();
    }

    /* the tool's messages about bad lines are kept to be compared */

    stderr = open_memstream(&res->messages, &res->messages_len);
    out = open_memstream(&res->accounts, &res->accounts_len);

    if (stderr == NULL || out == NULL) {
        abort();
    }

    memset(&s, 0, sizeof(seed_t));
    s.block_size = block_size;
    s.workers = workers;

    if (mdb_txn_begin(fuzz_env, NULL, 0, &s.txn) != MDB_SUCCESS
        || account_store_open_db(s.txn, &s.dbi) != MDB_SUCCESS)
    {
        abort();
    }

    res->rc = seed_import(&s, in, "fuzz");

    if (res->rc == MDB_SUCCESS) {
        fuzz_check_stored(s.txn, s.dbi, out);

    } else if (res->rc != -1 && res->rc != MDB_MAP_FULL) {
        abort();
    }

    mdb_txn_abort(s.txn);
    fclose(stderr);
    stderr = fuzz_null;
    fclose(out);
    fclose(in);
    free(copy);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_result_t  one, small;

    if (size == 0) {
        return 0;
    }

    fuzz_import(data, size, size + 1, 1, &one);
    fuzz_import(data, size, 1 + size % 64, 2, &small);

    if (one.rc != small.rc
        || one.messages_len != small.messages_len
        || memcmp(one.messages, small.messages, one.messages_len) != 0
        || one.accounts_len != small.accounts_len
        || memcmp(one.accounts, small.accounts, one.accounts_len) != 0)
    {
        abort();
    }

    free(one.messages);
    free(one.accounts);
    free(small.messages);
    free(small.accounts);

    return 0;
}
