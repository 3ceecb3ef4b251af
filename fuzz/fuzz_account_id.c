/*
 * libFuzzer harness for account_id_parse(), the id rules the module applies
 * to the last segment of every /accounts/<id> request.
 *
 * The first input byte chooses "decode" (raw URI segment or already decoded
 * bytes); the rest is the segment.  Besides the sanitizers' checks, it holds
 * the parser to its contract: an accepted id is 1 to ACCOUNT_ID_MAX bytes of
 * A-Z a-z 0-9 - . _ ~, not "." or "..", and parses again to itself.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "account_store.h"


static int
fuzz_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
           || c == '~';
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              decode;
    size_t           i, len, len2, seen;
    unsigned char   *src, *dst, *dst2;
    account_id_rc_e  rc;

    if (size == 0) {
        return 0;
    }

    decode = data[0] & 1;
    data++;
    size--;

    /* exact-size heap copies: any read or write past them is reported */

    src = malloc(size ? size : 1);
    dst = malloc(ACCOUNT_ID_MAX);
    dst2 = malloc(ACCOUNT_ID_MAX);

    if (src == NULL || dst == NULL || dst2 == NULL) {
        abort();
    }

    memcpy(src, data, size);
    len = (size_t) -1;

    rc = account_id_parse(src, size, decode, dst, &len);

    if (account_id_strerror(rc) == NULL) {
        abort();
    }

    if (rc == ACCOUNT_ID_OK) {
        if (len == 0 || len > ACCOUNT_ID_MAX) {
            abort();
        }

        for (i = 0; i < len; i++) {
            if (!fuzz_unreserved(dst[i])) {
                abort();
            }
        }

        if ((len == 1 && dst[0] == '.')
            || (len == 2 && dst[0] == '.' && dst[1] == '.'))
        {
            abort();
        }

        /* without escapes the id is the input itself */

        if (!decode && (len != size || memcmp(dst, src, len) != 0)) {
            abort();
        }

        /* a valid id is its own URI segment */

        if (account_id_parse(dst, len, 1, dst2, &len2) != ACCOUNT_ID_OK
            || len2 != len || memcmp(dst, dst2, len) != 0)
        {
            abort();
        }

    } else {
        /* the unescaped input length bounds a too-long verdict */

        seen = 0;

        for (i = 0; i < size; i++) {
            seen += !(decode && src[i] == '%');
        }

        if (rc == ACCOUNT_ID_TOO_LONG && seen <= ACCOUNT_ID_MAX && !decode) {
            abort();
        }
    }

    free(src);
    free(dst);
    free(dst2);

    return 0;
}
