/* dispatch: a client session's connection events: bytes in (parse, then
 * the command path), output drained, back-pressure, commands a pause held,
 * settings the open connections hold a copy of; and the shard's command
 * clock. The command path is route.c, running a command run.c, the reply
 * queue reply_queue.c, pipeline prefetching prefetch.c (dispatch.h,
 * dispatch_internal.h). */
#include "shards/dispatch.h"
#include "shards/dispatch_internal.h"

#include "core/config.h"
#include "core/log.h"
#include "core/reply.h"
#include "shards/node.h"

void shard_clock_start(struct shard *sh, bool refresh)
{
    if (refresh) {
        int64_t unix_us = clock_unix_us();
        uint64_t mono = clock_mono_ns();
        sh->unix_offset_ns = unix_us * 1000 - (int64_t)mono;
        sh->clock_ns = mono;
        return;
    }
    sh->clock_ns = clock_mono_ns();
}

static void set_query_limit(void *arg, struct conn *c)
{
    /* accepted connections have a limit from the start (clients.c); the
     * link to our master, which we opened, has none */
    if (c->owner && c->in_limit)
        c->in_limit = *(const size_t *)arg;
}

void dispatch_tick(struct shard *sh)
{
    const struct config *cfg = &sh->node->config;
    loop_set_hz(sh->loop, (int)config_load(cfg, hz));
    /* a connection takes the limit when it opens (clients.c); a change
     * reaches the open ones here, at most one tick after the CONFIG SET */
    size_t limit = (size_t)config_load(cfg, client_query_buffer_limit);
    if (limit != sh->query_limit) {
        sh->query_limit = limit;
        loop_each_conn(sh->loop, set_query_limit, &limit);
    }
    dispatch_acl_sweep(sh);
}

static bool over_limits(struct session *s)
{
    const struct config *cfg = &s->shard->node->config;
    return s->npending >= MAX_PENDING ||
           conn_output_bytes(s->conn) > (size_t)config_load(cfg, client_output_limit);
}

void session_maybe_unpause(struct session *s)
{
    if (s->backpressured && !over_limits(s)) {
        s->backpressured = false;
        if (!s->blocked && !s->held)
            conn_resume(s->conn);
    }
}

void dispatch_run_held(struct shard *sh, struct session *s, int argc, const struct slice *argv)
{
    struct conn *c = s->conn;
    if (!c)
        return;
    shard_clock_start(sh, false);
    dispatch_execute(sh, s, argc, argv);
    if (s->head && s->head->stage == STAGE_READY)
        session_drain(s);
    if (c->out.len)
        conn_flush(c);
    if (!s->held && !s->blocked && !s->backpressured)
        conn_resume(c); /* what the client sent after the held command */
}

void session_sent(struct shard *sh, struct conn *c)
{
    struct session *s = session_of_conn(c);
    session_maybe_unpause(s);
    if (s->feed && s->feed->sent)
        s->feed->sent(sh, c, &s->client);
}

/* An argument this big, announced before it arrives, gets its room at
 * once (conn_input_expect): Redis's PROTO_MBULK_BIG_ARG. */
#define BIG_ARG_BYTES (32u << 10)

size_t session_data(struct shard *sh, struct conn *c, const char *p, size_t n)
{
    struct session *s = session_of_conn(c);
    const struct config *cfg = &sh->node->config;
    struct resp_limits lim = {
        config_load(cfg, proto_max_bulk_len), 1024 * 1024, 64 * 1024, false,
    };
    /* the bytes a partial command left are given again with the next
     * read's: counted once (a 64 MB argument counted its bytes at every
     * read, 2.9 TB for a few hundred MB) */
    stat_add(&sh->stats.net_input_bytes, n > s->input_counted ? n - s->input_counted : 0);
    shard_clock_start(sh, false);
    if (n >= 64) /* p starts at a command: a partial one stays in the input */
        dispatch_prefetch_pipeline(sh, p, n);
    size_t used = 0;
    while (used < n) {
        if (s->blocked || s->held || c->closing || c->close_after_flush || s->client.close_after_reply) {
            conn_pause(c);
            break;
        }
        if (over_limits(s)) {
            s->backpressured = true;
            conn_pause(c);
            break;
        }
        size_t consumed = 0;
        const char *err = NULL;
        enum resp_status st = resp_parse(&s->parser, p + used, n - used, &lim, &consumed, &err);
        if (st == RESP_MORE) {
            /* a big argument announced: its room made at once (as Redis
             * does past 32 KB), not by doublings read after read */
            size_t wants = resp_parse_wants(&s->parser);
            if (wants >= BIG_ARG_BYTES)
                conn_input_expect(c, wants);
            break;
        }
        if (st == RESP_ERROR) {
            struct reply r = { session_reply_target(s), s->client.proto };
            reply_error(&r, err);
            log_verbose("Protocol error (%s) from client: id=%llu addr=%s", err,
                        (unsigned long long)s->client.id, s->client.addr);
            s->client.close_after_reply = true;
            used = n;
            break;
        }
        used += consumed;
        if (st == RESP_EMPTY)
            continue;
        dispatch_execute(sh, s, (int)s->parser.argc, s->parser.argv);
    }
    s->input_counted = n - used;
    if (n - used > (size_t)config_load(cfg, client_query_buffer_limit)) {
        log_warning("Closing client that reached max query buffer length: id=%llu addr=%s (qbuf=%zu)",
                    (unsigned long long)s->client.id, s->client.addr, n - used);
        conn_close(c, false);
        return n;
    }
    if (s->head && s->head->stage == STAGE_READY)
        session_drain(s); /* replies completed at once (all parts local) */
    if (s->client.close_after_reply && !s->head) {
        conn_close(c, true);
    } else if (c->out.len) {
        conn_flush(c);
    }
    return used;
}
