/*
 * One line of a JSON Lines import: validated with jansson, its id checked
 * with the store's id rules.  Used by account-seed and its fuzzer.
 */

#ifndef ACCOUNT_LINE_H
#define ACCOUNT_LINE_H

#include <stddef.h>
#include <jansson.h>


#define ACCOUNT_LINE_MAX  (1024 * 1024)

/* the reason given for a longer line, by the parser and by its readers */
#define ACCOUNT_LINE_TOO_LONG  "the line is longer than 1048576 bytes"


/* the length of [line, line + len) without the blanks and "\r" that end it */
size_t account_line_trim(const char *line, size_t len);

/*
 * Parses [line, line + len), a line without its "\n" (a trailing "\r" and
 * blanks are ignored).  Returns the account document, with the validated id
 * in id (ACCOUNT_ID_MAX bytes) and *id_len; the caller json_decref()s it.
 * Returns NULL for a blank line with err->text empty, or for a bad line with
 * the reason in err->text and its column in err->column (0 if none).
 */
json_t *account_line_parse(const char *line, size_t len, unsigned char *id,
    size_t *id_len, json_error_t *err);

#endif /* ACCOUNT_LINE_H */
