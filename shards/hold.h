/* hold: one shard holds every other shard of the node and runs work on
 * their threads, one call at a time, while it holds them: what a Lua
 * script needs to touch keys it did not declare that live on other
 * shards (Redis runs any script with the whole keyspace to itself).
 *
 * Only one holder at a time, node-wide: a token taken without waiting
 * (hold_take). The persistence module's park (shards/persist.c: SAVE,
 * BGSAVE, DEBUG RELOAD...) takes the same token, so a shard is never
 * asked to park by two at once (each would wait for the other).
 *
 * The holder posts each other shard a message; a shard reads it between
 * two messages of its turn, as any message, and from then on serves the
 * holder: it sleeps on a word of its own until the holder gives it a call
 * (run it on this thread, signal it done) or releases it. So everything a
 * held shard does for the holder happens on its own thread, against its
 * own store, journal, ring and heap, as if it had run a message: the
 * layers below see nothing new. A held shard serves nobody else: the
 * holder's work is isolated from every other command of the node.
 *
 * The holder waits for every shard to be held (bounded by their turns: a
 * shard never waits for another, except in a park or a hold, which the
 * token keeps to one at a time), and gives up if the node stops. */
#ifndef RINGKV_HOLD_H
#define RINGKV_HOLD_H

#include <stdbool.h>
#include <stddef.h>

struct node;
struct shard;

/* Who takes the token: a shard's id for a hold, this for persist's park. */
#define HOLD_BY_PERSIST (-2)

void hold_node_init(struct node *n);
void hold_node_free(struct node *n);

/* Take the token for `who` if nobody has it; false if somebody does. */
bool hold_take(struct node *n, int who);
/* Give back a token taken with hold_take (without holding anyone). */
void hold_give(struct node *n);

/* On sh's thread, between two commands of its turn (inside a command, a
 * script's): take the token and hold every other shard. 0, or -1 if the
 * token is taken (nothing done), or -2 if the node stops meanwhile (the
 * token given back, nobody held). */
int hold_all(struct shard *sh);
/* Run fn(target, arg) on the held shard target's thread and return once it
 * ran (the holder only; target == the holder runs it here). */
void hold_run(struct shard *holder, int target, void (*fn)(struct shard *sh, void *arg), void *arg);
/* Release every held shard and give the token back (the holder only). */
void hold_release(struct shard *sh);

/* What the node learned of its scripts, by what names them as sent
 * (EVAL's body, EVALSHA's sha, FCALL's function name): whether a run of
 * one touched a key of another shard (HOLD_HOLDS: it holds every shard
 * from its start, since a run that has written cannot be undone if it
 * then finds another holder) or not (HOLD_LOCAL); HOLD_UNKNOWN before its
 * first run, which holds them from its start too, to learn. Read by any
 * shard. At most HOLD_MARKS names are remembered, until the node stops:
 * past that, hold_known answers HOLD_LOCAL for a name it does not know
 * (the script takes the hold where it meets another shard's key). */
#define HOLD_MARKS 4096
enum hold_known { HOLD_UNKNOWN = -1, HOLD_LOCAL = 0, HOLD_HOLDS = 1 };
void hold_mark(struct node *n, const char *name, size_t len, enum hold_known known);
enum hold_known hold_known(const struct node *n, const char *name, size_t len);

#endif
