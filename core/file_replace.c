/* file_replace: see file_replace.h. */
#include "core/file_replace.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void sync_dir_of(const char *path)
{
    char *copy = mi_strdup(path);
    if (!copy)
        abort();
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    mi_free(copy);
}

int file_replace(const char *path, const char *content, size_t len, mode_t new_mode)
{
    size_t tlen = strlen(path) + sizeof(".tmp-") + 24;
    char *tmp = mi_malloc(tlen);
    if (!tmp)
        abort();
    snprintf(tmp, tlen, "%s.tmp-%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, new_mode);
    if (fd < 0) {
        int saved = errno;
        mi_free(tmp);
        errno = saved;
        return -1;
    }
    struct stat st;
    mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : new_mode;
    int rc = 0;
    if (fchmod(fd, mode) != 0 || write_all(fd, content, len) != 0 || fsync(fd) != 0)
        rc = -1;
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0)
        unlink(tmp);
    mi_free(tmp);
    if (rc == 0)
        sync_dir_of(path);
    errno = saved;
    return rc;
}
