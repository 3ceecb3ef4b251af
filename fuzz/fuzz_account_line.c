/*
 * libFuzzer harness for account_line_parse(), the parser account-seed runs on
 * every line of a JSON Lines import.
 *
 * Besides the sanitizers' checks, it holds the parser to its contract: a
 * returned document is an object whose "id" string is exactly the validated
 * id and whose "name" is a string, it renders as account-seed stores it; a
 * refused non-blank line always says why.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "account_store.h"
#include "account_line.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char           *line, *out;
    size_t          id_len, n;
    json_t         *doc, *jid;
    json_error_t    err;
    unsigned char  *id;

    /* exact-size heap copies: any read or write past them is reported */

    line = malloc(size ? size : 1);
    id = malloc(ACCOUNT_ID_MAX);

    if (line == NULL || id == NULL) {
        abort();
    }

    memcpy(line, data, size);
    id_len = (size_t) -1;

    doc = account_line_parse(line, size, id, &id_len, &err);

    if (doc == NULL) {
        /* blank: only \r, space and tab; otherwise a reason */

        for (n = 0; n < size; n++) {
            if (line[n] != '\r' && line[n] != ' ' && line[n] != '\t') {
                break;
            }
        }

        if ((n < size) != (err.text[0] != '\0')) {
            abort();
        }

        if (memchr(err.text, '\0', sizeof(err.text)) == NULL) {
            abort();
        }

    } else {
        if (!json_is_object(doc)
            || !json_is_string(json_object_get(doc, "name")))
        {
            abort();
        }

        jid = json_object_get(doc, "id");

        if (!json_is_string(jid) || id_len == 0 || id_len > ACCOUNT_ID_MAX
            || json_string_length(jid) != id_len
            || memcmp(json_string_value(jid), id, id_len) != 0)
        {
            abort();
        }

        out = json_dumps(doc, JSON_COMPACT);
        if (out == NULL) {
            abort();
        }

        free(out);
        json_decref(doc);
    }

    free(line);
    free(id);

    return 0;
}
