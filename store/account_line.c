/*
 * One line of a JSON Lines import.
 */

#include <stdio.h>
#include <string.h>

#include "account_store.h"
#include "account_line.h"


static json_t *
account_line_error(json_t *doc, json_error_t *err, const char *text)
{
    json_decref(doc);

    err->column = 0;
    snprintf(err->text, sizeof(err->text), "%s", text);

    return NULL;
}


size_t
account_line_trim(const char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '
                       || line[len - 1] == '\t'))
    {
        len--;
    }

    return len;
}


json_t *
account_line_parse(const char *line, size_t len, unsigned char *id,
    size_t *id_len, json_error_t *err)
{
    json_t           *doc, *jid, *name;
    account_id_rc_e   rc;

    len = account_line_trim(line, len);

    err->text[0] = '\0';
    err->column = 0;

    if (len == 0) {
        return NULL;
    }

    if (len > ACCOUNT_LINE_MAX) {
        return account_line_error(NULL, err, ACCOUNT_LINE_TOO_LONG);
    }

    doc = json_loadb(line, len, JSON_REJECT_DUPLICATES, err);

    if (doc == NULL) {
        if (err->text[0] == '\0') {
            snprintf(err->text, sizeof(err->text), "invalid JSON");
        }

        return NULL;
    }

    if (!json_is_object(doc)) {
        return account_line_error(doc, err, "expected a JSON object with "
                                  "string \"id\" and \"name\" members");
    }

    jid = json_object_get(doc, "id");
    name = json_object_get(doc, "name");

    if (!json_is_string(jid)) {
        return account_line_error(doc, err, "\"id\" must be a string");
    }

    if (!json_is_string(name)) {
        return account_line_error(doc, err, "\"name\" must be a string");
    }

    rc = account_id_parse((const unsigned char *) json_string_value(jid),
                          json_string_length(jid), 0, id, id_len);

    if (rc != ACCOUNT_ID_OK) {
        snprintf(err->text, sizeof(err->text), "invalid \"id\": %s",
                 account_id_strerror(rc));
        json_decref(doc);
        err->column = 0;
        return NULL;
    }

    return doc;
}
