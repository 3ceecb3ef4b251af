/*
 * libFuzzer harness for account-seed's import loop, seed_import(): a whole
 * JSON Lines input, read the way the tool reads it (getline, the BOM, blank
 * lines, its allocator for jansson), stored with seed_put() in a write
 * transaction that is aborted after each input.
 *
 * Besides the sanitizers' checks: when the import succeeds, every stored
 * value is a compact JSON object whose "id" is its key.
 */

#define main  account_seed_main
#include "../store/account_seed.c"
#undef main


static MDB_env  *fuzz_env;


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

    /* the tool's messages about bad lines are expected: keep them quiet */
    stderr = fopen("/dev/null", "w");

    return 0;
}


static void
fuzz_check_stored(MDB_txn *txn, MDB_dbi dbi)
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
    }

    if (rc != MDB_NOTFOUND) {
        abort();
    }

    mdb_cursor_close(cur);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int      rc;
    FILE    *in;
    char    *copy;
    seed_t   s;

    if (size == 0) {
        return 0;
    }

    copy = malloc(size);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, data, size);

    in = fmemopen(copy, size, "r");
    if (in == NULL) {
        abort();
    }

    memset(&s, 0, sizeof(seed_t));

    if (mdb_txn_begin(fuzz_env, NULL, 0, &s.txn) != MDB_SUCCESS
        || account_store_open_db(s.txn, &s.dbi) != MDB_SUCCESS)
    {
        abort();
    }

    rc = seed_import(&s, in, "fuzz");

    if (rc == MDB_SUCCESS) {
        fuzz_check_stored(s.txn, s.dbi);

    } else if (rc != -1 && rc != MDB_MAP_FULL) {
        abort();
    }

    mdb_txn_abort(s.txn);
    fclose(in);
    free(copy);
    free(s.buf);

    return 0;
}
