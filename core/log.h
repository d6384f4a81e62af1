/* log: the server log, in Redis's line format
 *   pid:M 23 Nov 2026 19:04:42.123 * message
 * (level marks: . debug, - verbose, * notice, # warning). One write() per
 * line, so lines from different shard threads never interleave. Logging is
 * for the control path (start, stop, errors, closed clients), never per
 * request. */
#ifndef RINGKV_LOG_H
#define RINGKV_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_VERBOSE, LOG_NOTICE, LOG_WARNING, LOG_NOTHING };

/* path NULL or "": standard output. Returns 0, or -1 if the file cannot be opened. */
int  log_setup(const char *path, int level);
void log_teardown(void);
void log_set_level(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)   log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_verbose(...) log_msg(LOG_VERBOSE, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)

#endif
