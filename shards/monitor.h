/* monitor: MONITOR's stream of the commands the node runs.
 *
 * A connection that sent MONITOR (a monitor) receives, as Redis 7 sends it,
 * one line per command any client of any shard runs:
 *     +1339518083.107412 [0 127.0.0.1:60866] "set" "key" "value"
 * (unix time in microseconds, database, the client's address, the
 * arguments quoted as Redis's sdscatrepr quotes them). Like Redis it leaves
 * out the commands refused before they run (unknown, wrong arity, NOAUTH,
 * -MOVED...), the admin commands (CONFIG, MONITOR, CLIENT LIST...), and the
 * passwords of AUTH and HELLO (shown as "(redacted)"); the commands of a
 * MULTI are shown when EXEC runs them, before "exec" (a watched EXEC's
 * once its check is known, as a null one ran nothing); the commands a
 * replica's link applies are shown with the master's address.
 *
 * Cost: nothing is formed while no monitor is attached anywhere in the node
 * (monitor_watching: one relaxed load on the command path). While one is,
 * the shard that accepted a command forms its line once and adds it to one
 * buffer per shard that has monitors; at the end of the loop turn each
 * buffer goes in one message (its own shard's straight to its monitors).
 *
 * Order: a shard's lines reach every monitor in the order that shard
 * accepted the commands, which for each key is the order they ran in;
 * lines from different shards' connections are interleaved as their
 * turns' batches arrive (README, "MONITOR").
 *
 * A monitor that does not read is closed (Redis's log line) once its unsent
 * output passes the normal class's client-output-buffer-limit, or, when that
 * class has no limit (Redis's default), client-output-buffer-limit-bytes:
 * a shard never waits for a monitor and never buffers without bound. */
#ifndef RINGKV_MONITOR_H
#define RINGKV_MONITOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include "core/buf.h"
#include "core/command.h"
#include "shards/node.h"

struct shard;
struct session;

/* Is a monitor attached anywhere in the node? The command path's only
 * cost while none is. */
static inline bool monitor_watching(const struct node *n)
{
    return atomic_load_explicit(&n->monitors, memory_order_relaxed) != 0;
}

/* The command path, only while monitor_watching: a client's command that
 * passed every check and is about to run (cmd: the row that runs, a
 * subcommand's own). Forms its line (and, for EXEC, the lines of the queue
 * it runs); refuses a monitor's own command that touches the keyspace with
 * Redis's error. Returns false if the command was refused (answered). */
bool monitor_command(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                     const struct slice *argv);

/* A watched EXEC (shards/watched.c), only while monitor_watching, once
 * its check is known: the lines of the queue it ran (cmds), then EXEC's
 * own (exec: its name as sent; it has no arguments); a null or refused
 * EXEC ran nothing and shows its own line alone, as in Redis. */
void monitor_exec_watched(struct shard *sh, const struct session *s, struct slice exec, const struct buf *cmds,
                          bool ran);

/* A command that came from no client connection, shown from peer: one of
 * the replication stream applied here (shard 0, the link to the master at
 * "ip:port"), or one a script ran (`redis.call`, peer "lua", as Redis
 * shows them); only while monitor_watching. Admin commands are not shown. */
void monitor_command_from(struct shard *sh, const char *peer, int argc, const struct slice *argv);

/* MONITOR: the session becomes a monitor (answered +OK by the caller). */
void monitor_start(struct shard *sh, struct session *s);

/* Is the session a monitor? */
bool monitor_is(const struct session *s);

/* The session stops being a monitor (RESET, its connection closed). */
void monitor_session_end(struct shard *sh, struct session *s);

/* Attach the monitor's shard module (per-shard state, the end-of-turn
 * delivery) to the node, before node_start. */
void monitor_attach(struct node *n);

/* Append arg quoted as Redis's sdscatrepr does: "..." with \\ \" \n \r \t
 * \a \b escaped, printable bytes as they are, others as \xhh. */
void monitor_quote(struct buf *out, const char *p, size_t len);

#endif
