/* reply_queue: a session's ordered replies (session.h). A reply that cannot
 * be written at once (it waits on other shards) takes a place in the queue,
 * and the replies behind it wait there too; the ready prefix moves to the
 * connection's output as soon as it is complete, so a pipeline's replies
 * leave in request order whichever shards answered. */
#include "shards/dispatch.h"
#include "shards/dispatch_internal.h"

#include <mimalloc.h>
#include <string.h>

#include "core/reply.h"
#include "shards/message.h"

struct pending *session_pending_add(struct session *s, enum pending_stage stage)
{
    struct pending *p = mi_zalloc(sizeof(*p));
    p->session = s;
    p->stage = stage;
    p->muted = s->muting;
    p->db = s->client.db;
    if (s->tail)
        s->tail->next = p;
    else
        s->head = p;
    s->tail = p;
    s->npending++;
    return p;
}

void pending_keep_command(struct shard *sh, struct pending *p, int argc, const struct slice *argv)
{
    struct shard_msg *copy = msg_create(MSG_EXEC, sh->id, sh->id, NULL, -1, argv, argc);
    p->argc = argc;
    p->argv = copy->argv;
    p->argv_mem = copy;
}

static void pending_free(struct pending *p)
{
    buf_free(&p->out);
    if (p->parts)
        for (int i = 0; i < p->nparts; i++)
            buf_free(&p->parts[i]);
    mi_free(p->parts);
    mi_free(p->part_of_key);
    mi_free(p->argv_mem);
    mi_free(p->part_shard);
    if (p->launch)
        msg_free(p->launch);
    mi_free(p);
}

void session_free(struct session *s)
{
    for (struct pending *p = s->head, *next; p; p = next) {
        next = p->next;
        pending_free(p);
    }
    resp_parser_deinit(&s->parser);
    buf_free(&s->multi_cmds);
    buf_free(&s->exec_cmds);
    buf_free(&s->watched);
    mi_free(s->watched_index);
    if (s->held)
        msg_free(s->held);
    mi_free(s);
}

/* Move the ready prefix of the reply queue to the connection's output. */
void session_drain(struct session *s)
{
    bool moved = false;
    while (s->head && s->head->stage == STAGE_READY) {
        struct pending *p = s->head;
        s->head = p->next;
        if (!s->head)
            s->tail = NULL;
        s->npending--;
        if (s->conn && p->out.len && !p->muted) { /* CLIENT REPLY OFF/SKIP: dropped */
            buf_move(&s->conn->out, &p->out);
            moved = true;
        }
        pending_free(p);
    }
    if (s->head && s->head->stage == STAGE_LAUNCH && s->head->launch)
        pending_launch(s->shard, s->head);
    if (!s->conn)
        return;
    if (s->client.close_after_reply && !s->head)
        conn_close(s->conn, true);
    else if (moved)
        conn_flush(s->conn);
    session_maybe_unpause(s);
}

/* Where the reply of a command run now goes: straight to the output when
 * nothing waits ahead of it, else to a ready entry at the queue's tail. A
 * muted command's reply (CLIENT REPLY) always takes a muted entry, which
 * session_drain drops: the one place a reply is suppressed, whichever shard
 * answers. */
struct buf *session_reply_target(struct session *s)
{
    if (!s->head && !s->muting)
        return &s->conn->out;
    if (s->tail && s->tail->stage == STAGE_READY && s->tail->muted == s->muting)
        return &s->tail->out;
    return &session_pending_add(s, STAGE_READY)->out;
}

struct buf *session_push_target(struct session *s)
{
    /* pushes are not replies: CLIENT REPLY OFF does not drop them (Redis) */
    bool muting = s->muting;
    s->muting = false;
    struct buf *b = session_reply_target(s);
    s->muting = muting;
    return b;
}

struct buf *session_reply_unmute(struct client *c)
{
    struct session *s = session_of_client(c);
    s->muting = false;
    return session_reply_target(s);
}

size_t session_output_bytes(const struct session *s)
{
    size_t n = s->conn ? conn_output_bytes(s->conn) : 0;
    for (const struct pending *p = s->head; p; p = p->next)
        n += p->out.len;
    return n;
}

void session_reply_error(struct session *s, const char *err)
{
    if (s->in_multi)
        s->multi_dirty = true; /* Redis aborts the EXEC of a transaction with refused commands */
    struct reply r = { session_reply_target(s), s->client.proto };
    reply_error(&r, err);
    stats_error_reply(&s->shard->stats, err, strlen(err)); /* refused before running: counted too, as Redis does */
}

void session_unknown_command(struct session *s, int argc, const struct slice *argv)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "ERR unknown command '%.*s', with args beginning with: ",
               (int)(argv[0].len > 128 ? 128 : argv[0].len), argv[0].ptr);
    for (int i = 1; i < argc && b.len < 1024; i++)
        buf_printf(&b, "'%.*s' ", (int)(argv[i].len > 128 ? 128 : argv[i].len), argv[i].ptr);
    buf_append(&b, "", 1);
    /* error replies are one line: replace CR/LF the client sent */
    for (size_t i = 0; i + 1 < b.len; i++)
        if (b.data[i] == '\r' || b.data[i] == '\n')
            b.data[i] = ' ';
    session_reply_error(s, b.data);
    buf_free(&b);
}
