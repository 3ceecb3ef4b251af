/*
 * A realloc() that fails with ENOMEM for any size of FAIL_REALLOC_AT bytes
 * or more: preloaded (LD_PRELOAD) into account-seed by t/22-seed-hostile.t,
 * so that its out-of-memory paths can be seen to name the file and the line
 * and to write nothing.  Built by that test.
 */

#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>


void *
realloc(void *p, size_t size)
{
    const char    *at;
    static void  *(*next)(void *, size_t);

    if (next == NULL) {
        next = (void *(*)(void *, size_t)) dlsym(RTLD_NEXT, "realloc");
    }

    at = getenv("FAIL_REALLOC_AT");

    if (at != NULL && size >= strtoul(at, NULL, 10)) {
        errno = ENOMEM;
        return NULL;
    }

    return next(p, size);
}
