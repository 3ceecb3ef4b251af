
/*
 * ngx_http_account_module: answers GET /accounts/<id> with the JSON document
 * stored for <id> in an LMDB database, and GET /health with the state of
 * that database.  The layout of the database belongs to store/.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <setjmp.h>

#include "account_store.h"


/* how often a worker checks that the database file is still the same one */
#define NGX_HTTP_ACCOUNT_CHECK_INTERVAL  1000

/* room, at first, for the connections whose requests end in one event cycle */
#define NGX_HTTP_ACCOUNT_KEPT_INIT       64

/*
 * How long an opening worker waits for a lock file one transaction behind
 * its data file to catch up (a commit syncs the data file's meta page before
 * it updates the lock file), in 1 ms steps.
 */
#define NGX_HTTP_ACCOUNT_LOCK_WAIT       50

/* db->error, not LMDB's codes: the lock file in use is not the data file's */
#define NGX_HTTP_ACCOUNT_ELOCK           (MDB_LAST_ERRCODE + 1)

/* and the lock file in use was cut short under the map */
#define NGX_HTTP_ACCOUNT_ESHORT          (MDB_LAST_ERRCODE + 2)


typedef struct {
    ngx_str_t                  path;        /* null-terminated */
    ngx_str_t                  lock;        /* path-lock, null-terminated */
    unsigned                   nolock:1;

    /* per worker, after init_process */
    MDB_env                   *env;
    MDB_txn                   *txn;         /* reset between requests */
    MDB_cursor                *cursor;      /* the health probe's */
    MDB_dbi                    dbi;
    dev_t                      dev;
    ino_t                      ino;
    dev_t                      lock_dev;
    ino_t                      lock_ino;    /* 0: no lock file in use */
    off_t                      lock_size;   /* once LMDB had it open */
    size_t                     behind[2];   /* lock, file: waited for once */
    int                        error;       /* why env is NULL */
    ngx_msec_t                 check;       /* next file check */
} ngx_http_account_db_t;


typedef struct {
    ngx_array_t                dbs;         /* of ngx_http_account_db_t * */
    ngx_msec_t                 keepalive_drain;
} ngx_http_account_main_conf_t;


/* a connection that has just become an idle keep-alive one */

typedef struct {
    ngx_connection_t          *connection;
    ngx_atomic_uint_t          number;      /* c->number when it was kept */
} ngx_http_account_kept_t;


typedef struct {
    ngx_http_account_db_t     *db;

    /* account_lookup or account_health: its name, and where it was set */
    ngx_str_t                 *handler;
    u_char                    *file;
    ngx_uint_t                 line;
} ngx_http_account_loc_conf_t;


static ngx_int_t ngx_http_account_lookup_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_account_health_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_account_parse_id(ngx_http_request_t *r,
    u_char *id, size_t *len, account_id_rc_e *reason);
static ngx_int_t ngx_http_account_read(ngx_http_request_t *r,
    ngx_http_account_db_t *db, MDB_val *key, ngx_str_t *doc);
static int ngx_http_account_probe(ngx_http_account_db_t *db);
static ngx_int_t ngx_http_account_begin(ngx_http_request_t *r,
    ngx_http_account_db_t *db, ngx_uint_t force_check);
static int ngx_http_account_renew(ngx_http_account_db_t *db);
static ngx_int_t ngx_http_account_send(ngx_http_request_t *r,
    ngx_uint_t status, u_char *data, size_t len);
static ngx_int_t ngx_http_account_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *error, const char *field,
    u_char *value, size_t value_len);
static ngx_int_t ngx_http_account_not_allowed(ngx_http_request_t *r);

static ngx_int_t ngx_http_account_keep_init(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_account_keep_handler(ngx_http_request_t *r);
static void ngx_http_account_keep(ngx_event_t *ev);
static void ngx_http_account_drain(ngx_event_t *ev);
static ngx_uint_t ngx_http_account_is_kept(ngx_connection_t *c);
static ngx_uint_t ngx_http_account_kept_left(void);

static void ngx_http_account_fault_handler(int signo);
static void ngx_http_account_faulted(ngx_http_account_db_t *db,
    ngx_log_t *log, const char *what);
static ngx_int_t ngx_http_account_db_open(ngx_http_account_db_t *db,
    ngx_log_t *log);
static ngx_int_t ngx_http_account_db_open_guarded(ngx_http_account_db_t *db,
    ngx_log_t *log);
static int ngx_http_account_db_agree(ngx_http_account_db_t *db,
    ngx_log_t *log);
static const char *ngx_http_account_strerror(int err);
static void ngx_http_account_db_close(ngx_http_account_db_t *db,
    ngx_log_t *log);
static void ngx_http_account_db_check(ngx_http_account_db_t *db,
    ngx_log_t *log);
static ngx_uint_t ngx_http_account_check_due(ngx_http_account_db_t *db,
    ngx_uint_t force);
static void ngx_http_account_db_check_guarded(ngx_http_account_db_t *db,
    ngx_log_t *log);
static void ngx_http_account_idle_check(ngx_event_t *ev);
static ngx_uint_t ngx_http_account_db_short(ngx_http_account_db_t *db,
    ngx_file_info_t *fi);
static const char *ngx_http_account_user(ngx_core_conf_t *ccf);
static void ngx_http_account_db_check_user(ngx_http_account_db_t *db,
    ngx_cycle_t *cycle);
static ngx_uint_t ngx_http_account_may(ngx_file_info_t *fi, ngx_uid_t uid,
    ngx_gid_t gid, ngx_core_conf_t *ccf, mode_t mode, ngx_log_t *log);

static ngx_int_t ngx_http_account_init(ngx_conf_t *cf);
static void *ngx_http_account_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_account_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_account_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_account_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_account_db(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_account_handler(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_account_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_account_init_process(ngx_cycle_t *cycle);
static void ngx_http_account_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_account_commands[] = {

    { ngx_string("account_db"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_account_db,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("account_lookup"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_account_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_account_lookup_handler },

    { ngx_string("account_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_account_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      ngx_http_account_health_handler },

    { ngx_string("account_keepalive_drain"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_account_main_conf_t, keepalive_drain),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_account_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_account_init,                 /* postconfiguration */

    ngx_http_account_create_main_conf,     /* create main configuration */
    ngx_http_account_init_main_conf,       /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_account_create_loc_conf,      /* create location configuration */
    ngx_http_account_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_account_module = {
    NGX_MODULE_V1,
    &ngx_http_account_module_ctx,          /* module context */
    ngx_http_account_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_account_init_module,          /* init module */
    ngx_http_account_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_account_exit_process,         /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_account_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_account_health_up =
    ngx_string("{\"status\":\"UP\"}");

/*
 * Where a fault inside a database access returns to: the guard of the
 * innermost access under way, or NULL outside one.
 */
static sigjmp_buf *volatile           ngx_http_account_fault_jmp;
static struct sigaction               ngx_http_account_fault_sigbus;
static struct sigaction               ngx_http_account_fault_sigsegv;

/* per worker, with account_keepalive_drain: see ngx_http_account_keep() */
static ngx_msec_t                     ngx_http_account_drain_time;
static ngx_array_t                   *ngx_http_account_kept;
static volatile ngx_cycle_t          *ngx_http_account_kept_cycle;
static ngx_event_t                    ngx_http_account_keep_event;
static ngx_event_t                    ngx_http_account_drain_event;
static ngx_event_handler_pt           ngx_http_account_idle_handler;
static ngx_uint_t                     ngx_http_account_draining;

/* the file checks of a worker that no request asks for */
static ngx_event_t                    ngx_http_account_check_event;

/* the events' data: nginx's debug lines read ((ngx_connection_t *) data)->fd */
static ngx_connection_t               ngx_http_account_dummy;


static ngx_int_t
ngx_http_account_lookup_handler(ngx_http_request_t *r)
{
    u_char                       *why;
    size_t                        len;
    MDB_val                       key;
    ngx_int_t                     rc;
    ngx_str_t                     doc;
    account_id_rc_e               reason;
    ngx_http_account_loc_conf_t  *alcf;
    u_char                        id[ACCOUNT_ID_MAX];

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_account_not_allowed(r);
    }

    if (ngx_http_account_parse_id(r, id, &len, &reason) != NGX_OK) {
        why = (u_char *) account_id_strerror(reason);

        return ngx_http_account_send_error(r, NGX_HTTP_BAD_REQUEST,
                                           "invalid account id", "reason",
                                           why, ngx_strlen(why));
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_account_module);

    key.mv_size = len;
    key.mv_data = id;

    rc = ngx_http_account_read(r, alcf->db, &key, &doc);

    if (rc == NGX_DECLINED) {
        return ngx_http_account_send_error(r, NGX_HTTP_NOT_FOUND,
                                           "account not found", "id", id, len);
    }

    if (rc == NGX_HTTP_INTERNAL_SERVER_ERROR) {
        return ngx_http_account_send_error(r, rc, "internal error", NULL,
                                           NULL, 0);
    }

    if (rc != NGX_OK) {
        return ngx_http_account_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "account database unavailable",
                                           NULL, NULL, 0);
    }

    return ngx_http_account_send(r, NGX_HTTP_OK, doc.data, doc.len);
}


static ngx_int_t
ngx_http_account_health_handler(ngx_http_request_t *r)
{
    u_char                       *reason;
    ngx_int_t                     rc;
    ngx_http_account_db_t        *db;
    ngx_http_account_loc_conf_t  *alcf;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_account_not_allowed(r);
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_account_module);
    db = alcf->db;

    if (ngx_http_account_read(r, db, NULL, NULL) == NGX_OK) {
        return ngx_http_account_send(r, NGX_HTTP_OK,
                                     ngx_http_account_health_up.data,
                                     ngx_http_account_health_up.len);
    }

    reason = (u_char *) ngx_http_account_strerror(db->error);

    return ngx_http_account_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "account database unavailable",
                                       "reason", reason, ngx_strlen(reason));
}


/*
 * Copies the document stored under key into the request pool (only its
 * length for HEAD); with no key, checks that the database can be read (see
 * ngx_http_account_probe()).
 * Returns NGX_OK, NGX_DECLINED for an unknown id, NGX_ERROR when the
 * database cannot be read, or NGX_HTTP_INTERNAL_SERVER_ERROR when the copy
 * cannot be made (no memory: the database is fine).
 *
 * A read that faults (a database file or its lock file cut short or
 * overwritten in place under the map) lands back here through the worker's
 * SIGBUS/SIGSEGV handler: the database is closed, reopened by the next
 * check, and the worker lives on.
 */

static ngx_int_t
ngx_http_account_read(ngx_http_request_t *r, ngx_http_account_db_t *db,
    MDB_val *key, ngx_str_t *doc)
{
    int         rc;
    MDB_val     val;
    sigjmp_buf  jmp;

    if (sigsetjmp(jmp, 0) != 0) {
        ngx_http_account_faulted(db, r->connection->log, "read");
        return NGX_ERROR;
    }

    ngx_http_account_fault_jmp = &jmp;

    if (ngx_http_account_begin(r, db, key == NULL) != NGX_OK) {
        ngx_http_account_fault_jmp = NULL;
        return NGX_ERROR;
    }

    if (key == NULL) {
        rc = ngx_http_account_probe(db);

    } else {
        rc = mdb_get(db->txn, db->dbi, key, &val);
    }

    if (rc == MDB_SUCCESS && key) {
        doc->len = val.mv_size;
        doc->data = NULL;

        /* nginx makes a HEAD header only for the main request */

        if (!r->header_only && (r->method != NGX_HTTP_HEAD || r != r->main)) {
            doc->data = ngx_pnalloc(r->pool, val.mv_size);

            if (doc->data == NULL) {
                mdb_txn_reset(db->txn);
                ngx_http_account_fault_jmp = NULL;
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_memcpy(doc->data, val.mv_data, val.mv_size);
        }
    }

    mdb_txn_reset(db->txn);
    ngx_http_account_fault_jmp = NULL;

    if (rc == MDB_SUCCESS) {
        return NGX_OK;
    }

    if (rc == MDB_NOTFOUND) {
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "account_db \"%V\" lookup failed: %s",
                  &db->path, mdb_strerror(rc));

    /* the map may be what is wrong: the close has a guard of its own */

    ngx_http_account_db_close(db, r->connection->log);
    db->error = rc;

    return NGX_ERROR;
}


/*
 * For the health check: walk to the first and the last account, so that the
 * root, the edges of the tree and their leaves are read.
 */

static int
ngx_http_account_probe(ngx_http_account_db_t *db)
{
    int      rc;
    MDB_val  key, val;

    /* one cursor for the life of the environment, renewed for each probe */

    if (db->cursor == NULL) {
        rc = mdb_cursor_open(db->txn, db->dbi, &db->cursor);

    } else {
        rc = mdb_cursor_renew(db->txn, db->cursor);
    }

    if (rc != MDB_SUCCESS) {
        return rc;
    }

    rc = mdb_cursor_get(db->cursor, &key, &val, MDB_FIRST);

    if (rc == MDB_SUCCESS) {
        rc = mdb_cursor_get(db->cursor, &key, &val, MDB_LAST);
    }

    /* an empty database is a healthy one */

    return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}


/*
 * The id is the last segment of the request's path.  When the client sent
 * escapes or dot segments, it is taken from the request line as sent (so
 * that an escaped "/" is seen for what it is) and decoded here; otherwise,
 * and after a rewrite, r->uri holds the path as it is.
 */

static ngx_int_t
ngx_http_account_parse_id(ngx_http_request_t *r, u_char *id, size_t *len,
    account_id_rc_e *reason)
{
    u_char     *p, *start, *end;
    ngx_uint_t  raw;

    raw = r->valid_unparsed_uri && (r->quoted_uri || r->complex_uri);

    if (raw) {
        start = r->unparsed_uri.data;
        end = start + r->unparsed_uri.len;

        p = ngx_strlchr(start, end, '?');
        if (p) {
            end = p;
        }

    } else {
        start = r->uri.data;
        end = start + r->uri.len;
    }

    for (p = end; p > start && p[-1] != '/'; p--) {
        /* void */
    }

    *reason = account_id_parse(p, end - p, raw, id, len);

    return *reason == ACCOUNT_ID_OK ? NGX_OK : NGX_ERROR;
}


/*
 * Makes db->txn a live read transaction on the newest committed data.  The
 * caller resets it as soon as it has copied what it needs.
 */

static ngx_int_t
ngx_http_account_begin(ngx_http_request_t *r, ngx_http_account_db_t *db,
    ngx_uint_t force_check)
{
    int  rc;

    if (ngx_http_account_check_due(db, force_check)) {
        ngx_http_account_db_check(db, r->connection->log);
    }

    if (db->env == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_account_renew(db);

    if (rc != MDB_SUCCESS) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "account_db \"%V\" cannot be read: %s",
                      &db->path, mdb_strerror(rc));

        ngx_http_account_db_close(db, r->connection->log);
        db->error = rc;

        return NGX_ERROR;
    }

    return NGX_OK;
}


/* db->txn renewed on the newest data, whatever size of map that needs */

static int
ngx_http_account_renew(ngx_http_account_db_t *db)
{
    int  rc;

    rc = mdb_txn_renew(db->txn);

    if (rc == MDB_MAP_RESIZED) {
        /* a seeder grew the map: adopt the size it wrote */

        rc = mdb_env_set_mapsize(db->env, 0);

        if (rc == MDB_SUCCESS) {
            rc = mdb_txn_renew(db->txn);
        }
    }

    return rc;
}


static ngx_int_t
ngx_http_account_send(ngx_http_request_t *r, ngx_uint_t status, u_char *data,
    size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type = ngx_http_account_json_type;
    r->headers_out.content_type_len = ngx_http_account_json_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = data;
    b->last = data + len;
    b->memory = len ? 1 : 0;    /* an empty document: a special buf */
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    b->sync = (r == r->main || len) ? 0 : 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* {"error":"<error>"} or {"error":"<error>","<field>":"<value>"} */

static ngx_int_t
ngx_http_account_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *error, const char *field, u_char *value, size_t value_len)
{
    u_char  *body, *p;
    size_t   len;

    len = sizeof("{\"error\":\"\"}") - 1 + ngx_strlen(error);

    if (field) {
        len += sizeof(",\"\":\"\"") - 1 + ngx_strlen(field)
               + value_len + ngx_escape_json(NULL, value, value_len);
    }

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"error\":\"%s\"", error);

    if (field) {
        p = ngx_sprintf(p, ",\"%s\":\"", field);
        p = (u_char *) ngx_escape_json(p, value, value_len);
        *p++ = '"';
    }

    *p++ = '}';

    return ngx_http_account_send(r, status, body, p - body);
}


static ngx_int_t
ngx_http_account_not_allowed(ngx_http_request_t *r)
{
    ngx_table_elt_t  *allow;

    allow = ngx_list_push(&r->headers_out.headers);
    if (allow == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    allow->hash = 1;
    ngx_str_set(&allow->key, "Allow");
    ngx_str_set(&allow->value, "GET, HEAD");

    return ngx_http_account_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                       "method not allowed", "allow",
                                       (u_char *) "GET, HEAD", 9);
}


/*
 * account_keepalive_drain: a graceful shutdown (a reload, a binary upgrade,
 * "docker stop") without a lost request on keep-alive connections.
 *
 * An exiting worker closes its idle keep-alive connections at once, and a
 * request that the client had just sent on one of them is lost: the client
 * reads a reset.  nginx 1.27.4 added keepalive_min_timeout for this; the
 * nginx of Debian 12 and 13 has no such thing.  So, with this directive, a
 * connection that nginx has just made an idle keep-alive one is taken off
 * the "idle" list that a graceful shutdown closes (c->idle; it stays
 * reusable, for when connections run short).  Its next request is served,
 * with "Connection: close" once the worker is exiting, and then it is
 * closed; one that stays quiet is closed by ngx_http_account_drain() after
 * the drain time, as nginx would have closed it at once.
 *
 * The log phase runs inside ngx_http_set_keepalive(), before it sets
 * c->idle: the connection is noted there, and a posted event, which runs
 * before the worker looks at a shutdown command, clears the flag.
 */

/*
 * The keep-alive state of a worker, for its cycle: set up by the first
 * request of each cycle (a process without a master, master_process off,
 * gets a new cycle from a reload, without an init_process).
 */

static ngx_int_t
ngx_http_account_keep_init(ngx_cycle_t *cycle)
{
    ngx_array_t                   *kept;
    ngx_http_account_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_account_module);

    kept = ngx_array_create(cycle->pool, NGX_HTTP_ACCOUNT_KEPT_INIT,
                            sizeof(ngx_http_account_kept_t));
    if (kept == NULL) {
        return NGX_ERROR;
    }

    ngx_http_account_kept = kept;
    ngx_http_account_kept_cycle = cycle;
    ngx_http_account_drain_time = amcf->keepalive_drain;

    ngx_http_account_keep_event.handler = ngx_http_account_keep;
    ngx_http_account_keep_event.data = &ngx_http_account_dummy;
    ngx_http_account_keep_event.log = cycle->log;

    ngx_http_account_drain_event.handler = ngx_http_account_drain;
    ngx_http_account_drain_event.data = &ngx_http_account_dummy;
    ngx_http_account_drain_event.log = cycle->log;
    ngx_http_account_drain_event.cancelable = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_account_keep_handler(ngx_http_request_t *r)
{
    ngx_http_account_kept_t  *k;

    /*
     * ngx_http_set_keepalive() has cleared r->keepalive by now: which
     * connections became idle ones is seen in ngx_http_account_keep()
     */

    if (ngx_exiting || r->http_version > NGX_HTTP_VERSION_11) {
        return NGX_OK;
    }

    if (ngx_http_account_kept_cycle != ngx_cycle
        && ngx_http_account_keep_init((ngx_cycle_t *) ngx_cycle) != NGX_OK)
    {
        return NGX_OK;
    }

    k = ngx_array_push(ngx_http_account_kept);
    if (k == NULL) {
        return NGX_OK;
    }

    k->connection = r->connection;
    k->number = r->connection->number;

    if (!ngx_http_account_keep_event.posted) {
        ngx_post_event(&ngx_http_account_keep_event, &ngx_posted_events);
    }

    return NGX_OK;
}


static void
ngx_http_account_keep(ngx_event_t *ev)
{
    ngx_uint_t                i;
    ngx_connection_t         *c;
    ngx_http_account_kept_t  *k;

    k = ngx_http_account_kept->elts;

    for (i = 0; i < ngx_http_account_kept->nelts; i++) {
        c = k[i].connection;

        /* closed, or closed and reused, or already reading a request */

        if (c->fd == (ngx_socket_t) -1 || c->number != k[i].number
            || !c->idle)
        {
            continue;
        }

        c->idle = 0;

        /* nginx's keep-alive handler: how the drain finds these again */

        ngx_http_account_idle_handler = c->read->handler;

        if (!ngx_http_account_drain_event.timer_set) {
            ngx_add_timer(&ngx_http_account_drain_event,
                          ngx_http_account_drain_time);
        }
    }

    ngx_http_account_kept->nelts = 0;
}


/*
 * Every drain time while connections are being kept.  Once the worker is
 * exiting: the first tick notes it, the next one closes what is still idle,
 * as ngx_close_idle_connections() does.  A kept connection that got a
 * request in between was closed after its answer; the rest have been quiet
 * for at least the drain time.  One whose request nginx has already seen
 * (ready, or posted) is left to be answered, and looked at again later.
 */

static void
ngx_http_account_drain(ngx_event_t *ev)
{
    ngx_uint_t         i, n, busy;
    ngx_connection_t  *c;

    if (!ngx_exiting) {

        /* none left: ngx_http_account_keep() arms the timer again */

        if (ngx_http_account_kept_left()) {
            ngx_add_timer(ev, ngx_http_account_drain_time);
        }

        return;
    }

    if (!ngx_http_account_draining) {
        ngx_http_account_draining = 1;
        ngx_add_timer(ev, ngx_http_account_drain_time);
        return;
    }

    c = ngx_cycle->connections;
    n = 0;
    busy = 0;

    for (i = 0; i < ngx_cycle->connection_n; i++) {
        if (!ngx_http_account_is_kept(&c[i])) {
            continue;
        }

        if (c[i].read->ready || c[i].read->posted) {
            busy++;
            continue;
        }

        c[i].close = 1;
        c[i].read->handler(c[i].read);
        n++;
    }

    ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                  "account_keepalive_drain: closed %ui quiet keep-alive "
                  "connections", n);

    if (busy) {
        ngx_add_timer(ev, ngx_http_account_drain_time);
    }
}


/* is c one that ngx_http_account_keep() took, still open and quiet? */

static ngx_uint_t
ngx_http_account_is_kept(ngx_connection_t *c)
{
    return c->fd != (ngx_socket_t) -1
           && !c->idle
           && !c->close
           && c->read->handler == ngx_http_account_idle_handler;
}


/* is any connection still kept? */

static ngx_uint_t
ngx_http_account_kept_left(void)
{
    ngx_uint_t         i;
    ngx_connection_t  *c;

    c = ngx_cycle->connections;

    for (i = 0; i < ngx_cycle->connection_n; i++) {
        if (ngx_http_account_is_kept(&c[i])) {
            return 1;
        }
    }

    return 0;
}


static void
ngx_http_account_fault_handler(int signo)
{
    if (ngx_http_account_fault_jmp) {
        siglongjmp(*ngx_http_account_fault_jmp, signo);
    }

    /*
     * not a database read: fault again, with the handler there was before
     * this one (the default one, or a sanitizer's that reports the fault)
     */

    (void) sigaction(signo, signo == SIGBUS ? &ngx_http_account_fault_sigbus
                                            : &ngx_http_account_fault_sigsegv,
                     NULL);
}


/*
 * After a fault was caught: the mapping cannot be trusted, let it go.  The
 * guard that caught it is spent; the close runs under one of its own.
 */

static void
ngx_http_account_faulted(ngx_http_account_db_t *db, ngx_log_t *log,
    const char *what)
{
    ngx_file_info_t  fi;

    ngx_http_account_fault_jmp = NULL;

    /* LMDB maps the whole lock file: one shorter than it was is the cause */

    if (db->lock_ino
        && ngx_file_info(db->lock.data, &fi) != NGX_FILE_ERROR
        && fi.st_ino == db->lock_ino && fi.st_dev == db->lock_dev
        && fi.st_size < db->lock_size)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "account_db \"%V\" faulted while being %s: its lock "
                      "file \"%V\" was cut short in place (%O bytes, %O "
                      "when opened); closing it (the first process to open "
                      "it alone sets it up again)", &db->path, what,
                      &db->lock, fi.st_size, db->lock_size);

        ngx_http_account_db_close(db, log);
        db->error = NGX_HTTP_ACCOUNT_ESHORT;
        return;
    }

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "account_db \"%V\" faulted while being %s: the file "
                  "was changed in place; closing it", &db->path, what);

    ngx_http_account_db_close(db, log);
    db->error = MDB_CORRUPTED;
}


/*
 * Opening reads the meta pages through the map: a file cut short at that
 * moment faults there too.  The once-a-second check opens inside
 * ngx_http_account_read()'s guard; init_process opens through this one.
 */

static ngx_int_t
ngx_http_account_db_open_guarded(ngx_http_account_db_t *db, ngx_log_t *log)
{
    ngx_int_t   rc;
    sigjmp_buf  jmp;

    if (sigsetjmp(jmp, 0) != 0) {
        ngx_http_account_faulted(db, log, "opened");
        return NGX_ERROR;
    }

    ngx_http_account_fault_jmp = &jmp;
    rc = ngx_http_account_db_open(db, log);
    ngx_http_account_fault_jmp = NULL;

    return rc;
}


static ngx_int_t
ngx_http_account_db_open(ngx_http_account_db_t *db, ngx_log_t *log)
{
    int               rc, fd;
    char             *hint;
    ngx_file_info_t   fi;
    ngx_core_conf_t  *ccf;

    /*
     * The lock file's identity is taken before LMDB opens it: one replaced
     * in between is then seen as replaced at the next check, and reopened.
     */

    db->lock_ino = 0;
    db->lock_size = 0;

    if (!db->nolock && ngx_file_info(db->lock.data, &fi) != NGX_FILE_ERROR) {
        db->lock_dev = fi.st_dev;
        db->lock_ino = fi.st_ino;
    }

    rc = account_store_open_reader((char *) db->path.data,
                                   db->nolock ? MDB_NOLOCK : 0,
                                   &db->env, &db->dbi);

    if (rc == MDB_SUCCESS) {
        rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &db->txn);

        if (rc != MDB_SUCCESS) {
            ngx_http_account_db_close(db, log);
        }
    }

    if (rc != MDB_SUCCESS) {
        db->error = rc;

        ccf = (ngx_core_conf_t *) ngx_get_conf(ngx_cycle->conf_ctx,
                                               ngx_core_module);

        /* LMDB opens the data file first: which of the two was refused */

        hint = "";

        if (rc == EACCES && access((char *) db->path.data, R_OK) == -1) {
            hint = " (the database file itself is not readable)";

        } else if (rc == EACCES && !db->nolock) {
            hint = " (LMDB readers need write access to the lock file "
                   "next to the database, or \"lock=off\" for a "
                   "database that nobody writes)";

        } else if (rc == EINVAL && !db->nolock
                   && ngx_file_info(db->lock.data, &fi) != NGX_FILE_ERROR
                   && fi.st_size == 0)
        {
            /* LMDB maps the lock file as it finds it, unless it is alone */

            hint = " (its lock file is empty and another process has it "
                   "open: the first process to open it alone sets it up "
                   "again)";
            db->error = NGX_HTTP_ACCOUNT_ESHORT;
        }

        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "account_db \"%V\" cannot be opened by worker user "
                      "\"%s\": %s%s", &db->path,
                      ngx_http_account_user(ccf), mdb_strerror(rc), hint);
        return NGX_ERROR;
    }

    rc = ngx_http_account_db_agree(db, log);

    if (rc != MDB_SUCCESS) {
        ngx_http_account_db_close(db, log);
        db->error = rc;
        return NGX_ERROR;
    }

    if (!db->nolock && ngx_file_info(db->lock.data, &fi) != NGX_FILE_ERROR) {

        if (db->lock_ino == 0) {
            /* created by LMDB just now */
            db->lock_dev = fi.st_dev;
            db->lock_ino = fi.st_ino;
        }

        /* its length as LMDB set it up: see ngx_http_account_faulted() */

        if (fi.st_ino == db->lock_ino && fi.st_dev == db->lock_dev) {
            db->lock_size = fi.st_size;
        }
    }

    /* the file LMDB has open, whatever the path names by now */

    if (mdb_env_get_fd(db->env, &fd) == MDB_SUCCESS
        && ngx_fd_info(fd, &fi) != NGX_FILE_ERROR)
    {
        db->dev = fi.st_dev;
        db->ino = fi.st_ino;

        if (ngx_http_account_db_short(db, &fi)) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "account_db \"%V\" ends before its last page "
                          "(%O bytes): a damaged or truncated copy",
                          &db->path, fi.st_size);
            ngx_http_account_db_close(db, log);
            db->error = MDB_INVALID;
            return NGX_ERROR;
        }
    }

    db->error = 0;

    return NGX_OK;
}


/*
 * Whether the lock file this worker shares with the other readers and the
 * seeder is the data file's (see account_store_check_lock()).  One
 * transaction behind is the moment of a commit, and lasts as long as the
 * seeder's sync of the meta page: wait a little for it to pass, once for
 * a given pair of ids (a lock file behind for good would stall the worker
 * at every check).  Takes db->txn live and leaves it reset.
 */

static int
ngx_http_account_db_agree(ngx_http_account_db_t *db, ngx_log_t *log)
{
    int                   rc;
    size_t                lock, file;
    ngx_uint_t            i;
    account_store_lock_e  agree;

    for (i = 0; /* void */; i++) {
        agree = account_store_check_lock(db->txn, 0, &lock, &file);
        mdb_txn_reset(db->txn);

        if (agree == ACCOUNT_STORE_LOCK_AGREES) {
            db->behind[0] = 0;
            db->behind[1] = 0;
            return MDB_SUCCESS;
        }

        /* the same two ids as the last open waited for in vain: no wait */

        if (agree == ACCOUNT_STORE_LOCK_FOREIGN
            || i == NGX_HTTP_ACCOUNT_LOCK_WAIT
            || (db->behind[0] == lock && db->behind[1] == file))
        {
            break;
        }

        ngx_msleep(1);

        rc = ngx_http_account_renew(db);

        if (rc != MDB_SUCCESS) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "account_db \"%V\" cannot be read: %s",
                          &db->path, mdb_strerror(rc));
            return rc;
        }
    }

    if (agree == ACCOUNT_STORE_LOCK_BEHIND) {
        db->behind[0] = lock;
        db->behind[1] = file;
    }

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "account_db \"%V\" does not match its lock file \"%V\" "
                  "(transaction %uz in the lock file, %uz in the database): "
                  "the database was replaced while the old lock file was "
                  "still open; rename the new lock file over \"%V\" too "
                  "(if there is none, a writer was killed within its "
                  "commit: the lock file is made again from the database "
                  "once no process has it open, nginx included)",
                  &db->path, &db->lock, lock, file, &db->lock);

    return NGX_HTTP_ACCOUNT_ELOCK;
}


static const char *
ngx_http_account_strerror(int err)
{
    if (err == NGX_HTTP_ACCOUNT_ELOCK) {
        return "the lock file belongs to another database file";
    }

    if (err == NGX_HTTP_ACCOUNT_ESHORT) {
        return "the lock file was cut short";
    }

    return mdb_strerror(err);
}


/*
 * Each handle is let go of before it is closed, and the closes that write
 * to the lock file's map (the reader slot) run under a fault guard of their
 * own: with the lock file cut short under the map, mdb_txn_abort() and
 * mdb_env_close() fault there.  A close that faults is given up: what it
 * had not let go of yet (a map, descriptors) stays with the worker until it
 * exits, detached from db, which the next check opens anew.  Its fcntl()
 * lock on the lock file goes at the next open, when LMDB closes any
 * descriptor of that file (POSIX drops all of a process's fcntl() locks on
 * a file then), so that the first process alone can set the file up again.
 * It may be called inside another guard, whose place it restores.
 */

static void
ngx_http_account_db_close(ngx_http_account_db_t *db, ngx_log_t *log)
{
    MDB_txn              *txn;
    MDB_env              *env;
    MDB_cursor           *cursor;
    sigjmp_buf            jmp, *outer;
    volatile ngx_uint_t   step, faults;

    cursor = db->cursor;
    txn = db->txn;
    env = db->env;

    db->cursor = NULL;
    db->txn = NULL;
    db->env = NULL;

    /* a read-only transaction's cursor is its own memory only */

    if (cursor) {
        mdb_cursor_close(cursor);
    }

    outer = ngx_http_account_fault_jmp;
    step = 0;
    faults = 0;

    /* after a fault: on to the next step */

    if (sigsetjmp(jmp, 0) != 0) {
        faults++;
    }

    ngx_http_account_fault_jmp = &jmp;

    if (step == 0) {
        step = 1;

        if (txn) {
            mdb_txn_abort(txn);
        }
    }

    if (step == 1) {
        step = 2;

        if (env) {
            mdb_env_close(env);
        }
    }

    ngx_http_account_fault_jmp = outer;

    if (faults) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "account_db \"%V\" faulted while being closed: the "
                      "worker keeps what was left of it open until it exits",
                      &db->path);
    }
}


/*
 * Once a second: follow a database or a lock file that was replaced (a new
 * file under the same path) or a lock file cut short, let go of a database
 * that was removed or cut short, and try again to open one that could not
 * be opened.  It reads the map, so it runs inside ngx_http_account_read()'s
 * fault guard.
 */

static void
ngx_http_account_db_check(ngx_http_account_db_t *db, ngx_log_t *log)
{
    int              rc;
    ngx_file_info_t  fi, lfi;

    if (db->env == NULL) {
        if (ngx_http_account_db_open(db, log) == NGX_OK) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "account_db \"%V\" is open", &db->path);
        }

        return;
    }

    if (ngx_file_info(db->path.data, &fi) == NGX_FILE_ERROR) {
        rc = ngx_errno;
        ngx_log_error(NGX_LOG_ERR, log, rc,
                      "account_db \"%V\" is gone", &db->path);
        goto close;
    }

    if (fi.st_ino != db->ino || fi.st_dev != db->dev) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "account_db \"%V\" was replaced, reopening",
                      &db->path);
        ngx_http_account_db_close(db, log);
        (void) ngx_http_account_db_open(db, log);
        return;
    }

    if (db->lock_ino
        && (ngx_file_info(db->lock.data, &lfi) == NGX_FILE_ERROR
            || lfi.st_ino != db->lock_ino || lfi.st_dev != db->lock_dev))
    {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "account_db \"%V\": its lock file \"%V\" was replaced "
                      "or removed, reopening", &db->path, &db->lock);
        ngx_http_account_db_close(db, log);
        (void) ngx_http_account_db_open(db, log);
        return;
    }

    /* the next read would fault on it; the close may, under its guard */

    if (db->lock_ino && lfi.st_size < db->lock_size) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "account_db \"%V\": its lock file \"%V\" was cut "
                      "short in place to %O bytes, reopening",
                      &db->path, &db->lock, lfi.st_size);
        ngx_http_account_db_close(db, log);
        (void) ngx_http_account_db_open(db, log);
        return;
    }

    if (ngx_http_account_db_short(db, &fi)) {
        rc = MDB_INVALID;
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "account_db \"%V\" was truncated to %O bytes",
                      &db->path, fi.st_size);
        goto close;
    }

    return;

close:

    ngx_http_account_db_close(db, log);
    db->error = rc;
}


/* is a file check of db due (or forced)?  Then the next is an interval on */

static ngx_uint_t
ngx_http_account_check_due(ngx_http_account_db_t *db, ngx_uint_t force)
{
    if (!force && (ngx_msec_int_t) (ngx_current_msec - db->check) < 0) {
        return 0;
    }

    db->check = ngx_current_msec + NGX_HTTP_ACCOUNT_CHECK_INTERVAL;

    return 1;
}


/* ngx_http_account_db_check() outside a request, under a guard of its own */

static void
ngx_http_account_db_check_guarded(ngx_http_account_db_t *db, ngx_log_t *log)
{
    sigjmp_buf  jmp;

    if (sigsetjmp(jmp, 0) != 0) {
        ngx_http_account_faulted(db, log, "checked");
        return;
    }

    ngx_http_account_fault_jmp = &jmp;
    ngx_http_account_db_check(db, log);
    ngx_http_account_fault_jmp = NULL;
}


/*
 * Once a second, the check of each database that no request has checked
 * since (ngx_http_account_begin() does it for a request): a worker that
 * serves nothing still lets go of a lock file cut short or replaced, which
 * a process opening it would otherwise wait for, and opens a database that
 * is back.
 */

static void
ngx_http_account_idle_check(ngx_event_t *ev)
{
    ngx_uint_t                     i;
    ngx_http_account_db_t        **dbp;
    ngx_http_account_main_conf_t  *amcf;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    amcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_account_module);

    if (amcf != NULL) {
        dbp = amcf->dbs.elts;

        for (i = 0; i < amcf->dbs.nelts; i++) {
            if (ngx_http_account_check_due(dbp[i], 0)) {
                ngx_http_account_db_check_guarded(dbp[i], ev->log);
            }
        }
    }

    ngx_add_timer(ev, NGX_HTTP_ACCOUNT_CHECK_INTERVAL);
}


/* does the newest data have pages past the end of the file? */

static ngx_uint_t
ngx_http_account_db_short(ngx_http_account_db_t *db, ngx_file_info_t *fi)
{
    MDB_stat     st;
    MDB_envinfo  info;

    if (mdb_env_info(db->env, &info) != MDB_SUCCESS
        || mdb_env_stat(db->env, &st) != MDB_SUCCESS)
    {
        return 0;
    }

    return fi->st_size < (off_t) ((info.me_last_pgno + 1) * st.ms_psize);
}


/*
 * The user the workers serve as: without a master process, nginx serves as
 * the user that started it, whatever "user" says.
 */

static const char *
ngx_http_account_user(ngx_core_conf_t *ccf)
{
    struct passwd  *pwd;

    if (ccf->master && ccf->username) {
        return ccf->username;
    }

    pwd = getpwuid(geteuid());

    return pwd ? pwd->pw_name : "(current)";
}


/*
 * What "nginx -t" can tell about the worker user's access to the files: the
 * database file it must read, and the lock file it must write (or, before
 * the first reader made it, the directory that will hold it).
 */

static void
ngx_http_account_db_check_user(ngx_http_account_db_t *db, ngx_cycle_t *cycle)
{
    u_char           *lock, *dir, *p;
    mode_t            mode;
    ngx_uid_t         uid;
    ngx_gid_t         gid;
    ngx_file_info_t   fi;
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    /* as ngx_http_account_user() */

    if (ccf->user == (ngx_uid_t) NGX_CONF_UNSET_UINT || !ccf->master) {
        uid = geteuid();
        gid = getegid();

    } else {
        uid = ccf->user;
        gid = ccf->group;
    }

    if (uid == 0) {
        return;
    }

    if (ngx_file_info(db->path.data, &fi) != NGX_FILE_ERROR
        && !ngx_http_account_may(&fi, uid, gid, ccf, S_IRUSR, cycle->log))
    {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "account_db \"%V\": worker user \"%s\" cannot read "
                      "it; the workers answer 503 until it can",
                      &db->path, ngx_http_account_user(ccf));
    }

    if (db->nolock) {
        return;
    }

    lock = db->lock.data;
    mode = S_IWUSR;

    if (ngx_file_info(lock, &fi) == NGX_FILE_ERROR) {

        /* the first reader creates the lock file in the directory */

        dir = ngx_pnalloc(cycle->pool, db->path.len + 1);
        if (dir == NULL) {
            return;
        }

        p = ngx_cpymem(dir, db->path.data, db->path.len);
        *p = '\0';

        while (p > dir && *p != '/') {
            p--;
        }

        *(p == dir ? p + 1 : p) = '\0';

        if (ngx_file_info(dir, &fi) == NGX_FILE_ERROR) {
            return;
        }

        lock = dir;
        mode = S_IWUSR|S_IXUSR;
    }

    if (ngx_http_account_may(&fi, uid, gid, ccf, mode, cycle->log)) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                  "account_db \"%V\": worker user \"%s\" cannot write \"%s\"; "
                  "LMDB readers need write access to the lock file, or "
                  "\"lock=off\" for a database that nobody writes",
                  &db->path, ngx_http_account_user(ccf),
                  lock);
}


/*
 * Whether the worker user has all the "mode" bits (S_IRUSR, S_IWUSR,
 * S_IXUSR) on a file, by its mode bits as the kernel reads them without
 * ACLs: the owner's bits for the owner, the group's for a member of the
 * file's group (the worker's supplementary groups included: nginx sets them
 * with initgroups()), the others' for the rest.
 */

static ngx_uint_t
ngx_http_account_may(ngx_file_info_t *fi, ngx_uid_t uid, ngx_gid_t gid,
    ngx_core_conf_t *ccf, mode_t mode, ngx_log_t *log)
{
    int          i, n;
    gid_t        one, *groups;
    ngx_uint_t   member, self;

    if (fi->st_uid == uid) {
        return (fi->st_mode & mode) == mode;
    }

    member = (fi->st_gid == gid);
    self = (uid == geteuid());

    if (!member) {

        /* how many groups, then which */

        n = 0;

        if (self) {
            n = getgroups(0, NULL);

        } else {
            n = 1;
            (void) getgrouplist(ccf->username, gid, &one, &n);
        }

        groups = (n > 0) ? ngx_alloc(n * sizeof(gid_t), log) : NULL;

        if (groups) {
            if (self) {
                n = getgroups(n, groups);

            } else if (getgrouplist(ccf->username, gid, groups, &n) == -1) {
                n = -1;
            }

            for (i = 0; i < n; i++) {
                if (groups[i] == fi->st_gid) {
                    member = 1;
                    break;
                }
            }

            ngx_free(groups);
        }
    }

    if (member) {
        return (fi->st_mode & (mode >> 3)) == (mode >> 3);
    }

    return (fi->st_mode & (mode >> 6)) == (mode >> 6);
}


static ngx_int_t
ngx_http_account_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt           *h;
    ngx_http_core_main_conf_t     *cmcf;
    ngx_http_account_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_account_module);

    if (amcf->keepalive_drain == 0) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_account_keep_handler;

    return NGX_OK;
}


static void *
ngx_http_account_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_account_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_account_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&amcf->dbs, cf->pool, 1,
                       sizeof(ngx_http_account_db_t *))
        != NGX_OK)
    {
        return NULL;
    }

    amcf->keepalive_drain = NGX_CONF_UNSET_MSEC;

    return amcf;
}


static char *
ngx_http_account_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_account_main_conf_t *amcf = conf;

    ngx_conf_init_msec_value(amcf->keepalive_drain, 0);

    return NGX_CONF_OK;
}


static void *
ngx_http_account_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_account_loc_conf_t  *alcf;

    alcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_account_loc_conf_t));
    if (alcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     alcf->db = NULL;
     *     alcf->handler = NULL;
     *     alcf->file = NULL;
     *     alcf->line = 0;
     */

    return alcf;
}


static char *
ngx_http_account_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_account_loc_conf_t *prev = parent;
    ngx_http_account_loc_conf_t *conf = child;

    if (conf->db == NULL) {
        conf->db = prev->db;
    }

    /* named where it was set: the parser is at the end of the http block */

    if (conf->handler && conf->db == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%V\" in %s:%ui needs an \"account_db\" in the same "
                      "or an enclosing block",
                      conf->handler, conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_account_db(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_account_loc_conf_t *alcf = conf;

    int                            rc;
    char                          *hint;
    MDB_env                       *env;
    MDB_dbi                        dbi;
    ngx_str_t                     *value, path;
    ngx_uint_t                     i, nolock;
    ngx_file_info_t                fi;
    ngx_http_account_db_t        **dbp, *db;
    ngx_http_account_main_conf_t  *amcf;

    if (alcf->db) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];
    nolock = 0;

    if (cf->args->nelts == 3) {
        if (ngx_strcmp(value[2].data, "lock=off") == 0) {
            nolock = 1;

        } else if (ngx_strcmp(value[2].data, "lock=on") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", "
                               "expected \"lock=on\" or \"lock=off\"",
                               &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    /* ngx_conf_full_name() leaves the name null-terminated */

    if (ngx_conf_full_name(cf->cycle, &path, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_account_module);
    dbp = amcf->dbs.elts;

    /*
     * One environment for each file in a worker, whatever path names it:
     * LMDB must not open a file twice in one process.
     */

    if (ngx_file_info(path.data, &fi) == NGX_FILE_ERROR) {
        fi.st_dev = 0;
        fi.st_ino = 0;
    }

    for (i = 0; i < amcf->dbs.nelts; i++) {
        if ((dbp[i]->path.len == path.len
             && ngx_strncmp(dbp[i]->path.data, path.data, path.len) == 0)
            || (fi.st_ino != 0
                && dbp[i]->ino == fi.st_ino && dbp[i]->dev == fi.st_dev))
        {
            if (dbp[i]->nolock != nolock) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "account_db \"%V\" is used with different "
                                   "\"lock\" parameters", &path);
                return NGX_CONF_ERROR;
            }

            alcf->db = dbp[i];
            return NGX_CONF_OK;
        }
    }

    /*
     * Validate the database now, so that "nginx -t" tells.  Without a lock
     * file: the master must not create one that the workers could not use.
     */

    rc = account_store_open_reader((char *) path.data, MDB_NOLOCK,
                                   &env, &dbi);

    if (rc != MDB_SUCCESS) {

        if (rc == ENOENT) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "account_db \"%V\" is not a usable LMDB "
                               "database: %s (create it with account-seed "
                               "--db %V)", &path, mdb_strerror(rc), &path);
            return NGX_CONF_ERROR;
        }

        /* what else the operator can do about it */

        if (fi.st_ino != 0 && ngx_is_dir(&fi)) {
            hint = " (a directory: name the database file in it)";

        } else if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH
                   || rc == MDB_INCOMPATIBLE)
        {
            hint = " (not a database that account-seed wrote)";

        } else {
            hint = "";
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "account_db \"%V\" is not a usable LMDB "
                           "database: %s%s", &path, mdb_strerror(rc), hint);
        return NGX_CONF_ERROR;
    }

    mdb_env_close(env);

    db = ngx_pcalloc(cf->pool, sizeof(ngx_http_account_db_t));
    if (db == NULL) {
        return NGX_CONF_ERROR;
    }

    db->path = path;
    db->nolock = nolock;
    db->error = ENOENT;
    db->dev = fi.st_dev;
    db->ino = fi.st_ino;

    db->lock.len = path.len + sizeof(ACCOUNT_STORE_LOCK_SUFFIX) - 1;
    db->lock.data = ngx_pnalloc(cf->pool, db->lock.len + 1);
    if (db->lock.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(db->lock.data, "%V%s%Z", &path, ACCOUNT_STORE_LOCK_SUFFIX);

    dbp = ngx_array_push(&amcf->dbs);
    if (dbp == NULL) {
        return NGX_CONF_ERROR;
    }

    *dbp = db;
    alcf->db = db;

    return NGX_CONF_OK;
}


static char *
ngx_http_account_handler(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_account_loc_conf_t *alcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (alcf->handler == &cmd->name) {
        return "is duplicate";
    }

    if (alcf->handler) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" conflicts with \"%V\" in this location",
                           &cmd->name, alcf->handler);
        return NGX_CONF_ERROR;
    }

    alcf->handler = &cmd->name;
    alcf->file = cf->conf_file->file.name.data;
    alcf->line = cf->conf_file->line;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = (ngx_http_handler_pt) cmd->post;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_account_init_module(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i;
    ngx_http_account_db_t        **dbp;
    ngx_http_account_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_account_module);
    if (amcf == NULL) {
        return NGX_OK;
    }

    dbp = amcf->dbs.elts;

    for (i = 0; i < amcf->dbs.nelts; i++) {
        ngx_http_account_db_check_user(dbp[i], cycle);
    }

    return NGX_OK;
}


/*
 * LMDB environments must not cross fork(): each worker opens its own.  The
 * cache manager and loader run this too, but serve no request: they would
 * hold a map, the lock file and a reader slot that they never check again.
 */

static ngx_int_t
ngx_http_account_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i;
    struct sigaction               sa, bus, segv;
    ngx_http_account_db_t        **dbp;
    ngx_http_account_main_conf_t  *amcf;

    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_account_module);
    if (amcf == NULL) {
        return NGX_OK;
    }

    if (amcf->dbs.nelts == 0) {
        return NGX_OK;
    }

    ngx_memzero(&sa, sizeof(struct sigaction));
    sa.sa_handler = ngx_http_account_fault_handler;
    sa.sa_flags = SA_NODEFER;
    sigemptyset(&sa.sa_mask);

    /*
     * What a fault outside a database read goes to: the handler there was
     * (never this one), or the default one (the zeroed statics).
     */

    if (sigaction(SIGBUS, &sa, &bus) == -1
        || sigaction(SIGSEGV, &sa, &segv) == -1)
    {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "sigaction(SIGBUS, SIGSEGV) failed");

    } else {
        if (bus.sa_handler != ngx_http_account_fault_handler) {
            ngx_http_account_fault_sigbus = bus;
        }

        if (segv.sa_handler != ngx_http_account_fault_handler) {
            ngx_http_account_fault_sigsegv = segv;
        }
    }

    dbp = amcf->dbs.elts;

    for (i = 0; i < amcf->dbs.nelts; i++) {

        /* a worker that failed here would not be respawned: serve 503s */

        (void) ngx_http_account_db_open_guarded(dbp[i], cycle->log);
        dbp[i]->check = ngx_current_msec + NGX_HTTP_ACCOUNT_CHECK_INTERVAL;
    }

    ngx_http_account_dummy.fd = (ngx_socket_t) -1;

    ngx_http_account_check_event.handler = ngx_http_account_idle_check;
    ngx_http_account_check_event.data = &ngx_http_account_dummy;
    ngx_http_account_check_event.log = cycle->log;
    ngx_http_account_check_event.cancelable = 1;

    ngx_add_timer(&ngx_http_account_check_event,
                  NGX_HTTP_ACCOUNT_CHECK_INTERVAL);

    return NGX_OK;
}


static void
ngx_http_account_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i;
    ngx_http_account_db_t        **dbp;
    ngx_http_account_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_account_module);
    if (amcf == NULL) {
        return;
    }

    dbp = amcf->dbs.elts;

    for (i = 0; i < amcf->dbs.nelts; i++) {
        ngx_http_account_db_close(dbp[i], cycle->log);
    }
}
