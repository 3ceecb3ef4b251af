/*
 * An LD_PRELOAD shim for t/37-open-fault.t: cuts a database to nothing
 * while an nginx worker is opening it, between LMDB's read of the header
 * (with pread) and its first look at the pages through the map.
 *
 * FAULT_TRUNCATE=PATH arms it; it fires once, in the first nginx worker
 * that reads PATH's second meta page while PATH.arm exists (it removes
 * PATH.arm, so that only one process fires).  The variable is read when the
 * master starts: nginx gives its workers an environment of its own.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>


static char  target_path[PATH_MAX];


__attribute__((constructor))
static void
init(void)
{
    const char  *path;

    path = getenv("FAULT_TRUNCATE");

    if (path != NULL && strlen(path) < sizeof(target_path)) {
        strcpy(target_path, path);
    }
}


/*
 * A worker is the child of a master that has set its title; it opens the
 * database before it sets its own, so its own title does not tell.
 */

static int
is_worker(void)
{
    int      fd;
    char     name[64], buf[64];
    ssize_t  n;

    snprintf(name, sizeof(name), "/proc/%d/cmdline", (int) getppid());

    fd = open(name, O_RDONLY);
    if (fd == -1) {
        return 0;
    }

    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);

    if (n <= 0) {
        return 0;
    }

    buf[n] = '\0';

    return strncmp(buf, "nginx: master process", 21) == 0;
}


static int
is_path(int fd, const char *path)
{
    char     link[64], target[PATH_MAX];
    ssize_t  n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);

    n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0) {
        return 0;
    }

    target[n] = '\0';

    return strcmp(target, path) == 0;
}


ssize_t
pread(int fd, void *buf, size_t count, off_t offset)
{
    char         arm[PATH_MAX + sizeof(".arm")];
    ssize_t      n;
    static ssize_t (*real)(int, void *, size_t, off_t);

    if (real == NULL) {
        real = (ssize_t (*)(int, void *, size_t, off_t))
                   dlsym(RTLD_NEXT, "pread");
    }

    n = real(fd, buf, count, offset);

    if (n > 0 && offset > 0 && target_path[0] != '\0'
        && is_path(fd, target_path) && is_worker())
    {
        snprintf(arm, sizeof(arm), "%s.arm", target_path);

        if (unlink(arm) == 0) {
            (void) truncate(target_path, 0);
        }
    }

    return n;
}
