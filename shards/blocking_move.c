/* blocking_move: BLMOVE and BRPOPLPUSH whose source and destination are on
 * two shards (outside cluster mode, where they are -CROSSSLOT).
 *
 * On one shard they block there as any blocking command (blocking.h). Over
 * two, the connection's shard runs them in steps, each a command on the
 * shard of its key:
 *  1. BLPOP or BRPOP of the source with the command's timeout, sent as a
 *     blocking command: it waits on the source's shard as any blocked
 *     client does (in the order clients blocked there, CLIENT UNBLOCK, the
 *     timeout), and is served by popping one element (journaled there as
 *     the pop). Its null becomes BLMOVE's null, its error BLMOVE's error.
 *  2. LPUSH or RPUSH of that element to the destination (journaled there
 *     as the push); its count answered means the move is done, and the
 *     element is the reply.
 *  3. If the push is refused (the destination holds another type: Redis
 *     answers -WRONGTYPE at serve time and gives the element back), the
 *     element goes back to the end of the source it came from, and the
 *     client gets the error.
 * The pop and the push are each atomic on their own shard, not together:
 * between them another client may see the element in neither list (as
 * with LMOVE across shards). An element is never lost: a client gone
 * before its pop was served takes nothing; one gone after gets its element
 * back into the source (blocking_answer_orphaned) or, once the push was
 * sent, leaves it in the destination, as Redis would have moved it. */
#include "shards/blocking_move.h"

#include <string.h>
#include <strings.h>
#include <mimalloc.h>

#include "core/reply.h"
#include "shards/dispatch_internal.h"
#include "shards/message.h"
#include "shards/shard.h"

static bool where_ok(struct slice s, bool *head)
{
    if (s.len == 4 && strncasecmp(s.ptr, "left", 4) == 0)
        *head = true;
    else if (s.len == 5 && strncasecmp(s.ptr, "right", 5) == 0)
        *head = false;
    else
        return false;
    return true;
}

/* BLMOVE src dst wherefrom whereto timeout | BRPOPLPUSH src dst timeout */
static void ends(const struct pending *p, bool *from_head, bool *to_head)
{
    *from_head = false;
    *to_head = true;
    if (p->argc == 6) {
        where_ok(p->argv[3], from_head);
        where_ok(p->argv[4], to_head);
    }
}

static void send_step(struct shard *sh, struct pending *p, int target, int argc, const struct slice *argv,
                      bool may_block)
{
    const struct command *cmd = command_lookup(argv[0]);
    struct shard_msg *m = msg_create(MSG_EXEC, sh->id, target, p, -1, argv, argc);
    m->cmd = cmd;
    m->value = may_block ? 1 : 0; /* blocking.c's MAY_BLOCK */
    p->waiting = 1;
    dispatch_send_request(sh, p->session, m);
}

bool blocking_move_route(struct shard *sh, struct session *s, const struct command *cmd, int argc,
                         const struct slice *argv, int src_shard, int dst_shard)
{
    bool from_head, to_head;
    if (argc == 6 && (!where_ok(argv[3], &from_head) || !where_ok(argv[4], &to_head))) {
        session_reply_error(s, ERR_SYNTAX);
        return true;
    }
    struct pending *p = session_pending_add(s, STAGE_MOVE_POP);
    p->cmd = cmd;
    p->holds = true;
    p->count_once = true; /* as BLMOVE, not as its steps */
    s->blocked = true;
    pending_keep_command(sh, p, argc, argv);
    p->nparts = 2;
    p->parts = mi_calloc(2, sizeof(struct buf)); /* [0] the element, [1] the push's error */
    p->part_shard = mi_malloc(2 * sizeof(int));
    p->part_shard[0] = src_shard;
    p->part_shard[1] = dst_shard;
    ends(p, &from_head, &to_head);
    struct slice pop[] = { from_head ? SLICE_LIT("BLPOP") : SLICE_LIT("BRPOP"), p->argv[1], p->argv[argc - 1] };
    send_step(sh, p, src_shard, 3, pop, true);
    return true;
}

/* A bulk string at *at in b (advanced past it); false if it is not one. */
static bool read_bulk(const struct buf *b, size_t *at, struct slice *v)
{
    const char *p = b->data + *at, *end = b->data + b->len;
    if (p >= end || *p != '$')
        return false;
    const char *eol = memchr(p, '\r', (size_t)(end - p));
    if (!eol)
        return false;
    long long n = 0;
    for (const char *q = p + 1; q < eol; q++) {
        if (*q < '0' || *q > '9')
            return false;
        n = n * 10 + (*q - '0');
    }
    const char *data = eol + 2;
    if (data + n + 2 > end)
        return false;
    *v = (struct slice){ data, (size_t)n };
    *at = (size_t)(data + n + 2 - b->data);
    return true;
}

/* BLPOP's [key, element]: the element. */
static bool popped_element(const struct buf *out, struct slice *elem)
{
    if (out->len < 4 || memcmp(out->data, "*2\r\n", 4) != 0)
        return false;
    size_t at = 4;
    struct slice key;
    return read_bulk(out, &at, &key) && read_bulk(out, &at, elem);
}

void blocking_move_step(struct shard *sh, struct pending *p)
{
    struct session *s = p->session;
    bool from_head, to_head;
    ends(p, &from_head, &to_head);
    struct reply r = { &p->out, s->client.proto };
    switch (p->stage) {
    case STAGE_MOVE_POP: {
        struct slice elem;
        if (p->out.len && p->out.data[0] == '-') {
            p->stage = STAGE_READY; /* WRONGTYPE of the source, UNBLOCKED */
            return;
        }
        if (!popped_element(&p->out, &elem)) {
            buf_clear(&p->out);
            reply_null(&r); /* the timeout (or CLIENT UNBLOCK): BLMOVE's null */
            p->stage = STAGE_READY;
            return;
        }
        if (!s->conn) {
            p->stage = STAGE_READY; /* gone: the element went back (blocking_answer_orphaned) */
            return;
        }
        buf_clear(&p->parts[0]);
        buf_append(&p->parts[0], elem.ptr, elem.len);
        struct slice push[] = { to_head ? SLICE_LIT("LPUSH") : SLICE_LIT("RPUSH"), p->argv[2],
                                { p->parts[0].data, p->parts[0].len } };
        p->stage = STAGE_MOVE_PUSH;
        send_step(sh, p, p->part_shard[1], 3, push, false);
        return;
    }
    case STAGE_MOVE_PUSH:
        if (p->out.len && p->out.data[0] == '-') {
            /* refused: the element back where it was, then the error */
            buf_clear(&p->parts[1]);
            buf_append(&p->parts[1], p->out.data, p->out.len);
            struct slice back[] = { from_head ? SLICE_LIT("LPUSH") : SLICE_LIT("RPUSH"), p->argv[1],
                                    { p->parts[0].data, p->parts[0].len } };
            p->stage = STAGE_MOVE_BACK;
            send_step(sh, p, p->part_shard[0], 3, back, false);
            return;
        }
        buf_clear(&p->out);
        reply_bulk(&r, p->parts[0].data, p->parts[0].len);
        p->stage = STAGE_READY;
        return;
    case STAGE_MOVE_BACK:
        buf_clear(&p->out);
        buf_append(&p->out, p->parts[1].data, p->parts[1].len);
        p->stage = STAGE_READY;
        return;
    default:
        return;
    }
}
