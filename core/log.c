/* log: Redis's log line format, one write() per line.
 *
 * The line is built whole in a stack buffer and handed to the kernel in a
 * single write() on an O_APPEND descriptor, so lines written by different
 * shard threads at the same moment never interleave and no lock is needed.
 * The descriptor and the level are atomics: log_set_level may run on any
 * thread (CONFIG SET loglevel). */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

/* Redis truncates a message at 1024 bytes; so does ringkv. */
#define LOG_MAX_LEN 1024

static int log_fd = STDOUT_FILENO;   /* atomically read/written */
static int log_level = LOG_NOTICE;   /* atomically read/written */

int log_setup(const char *path, int level)
{
    log_set_level(level);
    if (path == NULL || path[0] == '\0') {
        __atomic_store_n(&log_fd, STDOUT_FILENO, __ATOMIC_RELAXED);
        return 0;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int old = __atomic_exchange_n(&log_fd, fd, __ATOMIC_RELAXED);
    if (old > STDERR_FILENO)
        close(old);
    return 0;
}

void log_teardown(void)
{
    int old = __atomic_exchange_n(&log_fd, STDOUT_FILENO, __ATOMIC_RELAXED);
    if (old > STDERR_FILENO)
        close(old);
}

void log_set_level(int level)
{
    if (level < LOG_DEBUG)
        level = LOG_DEBUG;
    if (level > LOG_NOTHING)
        level = LOG_NOTHING;
    __atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

void log_msg(int level, const char *fmt, ...)
{
    int cur = __atomic_load_n(&log_level, __ATOMIC_RELAXED);
    if (level < cur || cur >= LOG_NOTHING || level >= LOG_NOTHING || level < LOG_DEBUG)
        return;

    static const char marks[] = ".-*#";
    char line[LOG_MAX_LEN + 128];
    int64_t now_us = clock_unix_us();
    struct tm tm;
    time_t secs = (time_t)(now_us / 1000000);
    localtime_r(&secs, &tm);

    char stamp[64];
    size_t sl = strftime(stamp, sizeof(stamp), "%d %b %Y %H:%M:%S", &tm);
    stamp[sl] = '\0';
    int n = snprintf(line, sizeof(line), "%d:M %s.%03d %c ", (int)getpid(), stamp,
                     (int)(now_us % 1000000 / 1000), marks[level]);
    if (n < 0)
        return;
    size_t len = (size_t)n;

    char msg[LOG_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t mlen = (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1;
    if (len + mlen + 1 > sizeof(line))
        mlen = sizeof(line) - len - 1;
    memcpy(line + len, msg, mlen);
    len += mlen;
    line[len++] = '\n';

    int fd = __atomic_load_n(&log_fd, __ATOMIC_RELAXED);
    const char *p = line;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report it */
        }
        p += w;
        len -= (size_t)w;
    }
}
