/* check_stream: the invariants of a stream the fuzz targets check after
 * each command (fuzz_commands) and on each decoded payload (fuzz_payload),
 * aborting through the including file's CHECK. */
#ifndef RINGKV_TESTS_FUZZ_STREAM_CHECK_H
#define RINGKV_TESTS_FUZZ_STREAM_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "shards/store/stream.h"

/* A stream: its entries walked either way are its length, in ascending
 * order, none past its last ID; each group's PEL is ascending and as long as
 * it says, each pending entry owned by one of its consumers, whose own PELs
 * (as long as they say) hold exactly the group's. */
static inline void check_stream(const struct stream *st)
{
    const struct stream_id all_end = { UINT64_MAX, UINT64_MAX }, last = stream_last_id(st);
    for (int rev = 0; rev < 2; rev++) {
        struct stream_iter it;
        struct stream_entry en;
        struct stream_id prev = { 0, 0 };
        size_t n = 0;
        stream_iter_init(&it, st, (struct stream_id){ 0, 0 }, all_end, rev);
        while (stream_iter_next(&it, &en)) {
            CHECK(stream_id_cmp(en.id, last) <= 0);
            CHECK(n == 0 || (rev ? stream_id_cmp(en.id, prev) < 0 : stream_id_cmp(en.id, prev) > 0));
            prev = en.id;
            n++;
        }
        CHECK(n == stream_len(st));
    }
    for (size_t i = 0; i < stream_groups(st); i++) {
        const struct stream_group *g = stream_group_at(st, i);
        size_t n = 0, owned = 0;
        struct stream_id at = { 0, 0 };
        for (const struct stream_nack *p; (p = stream_pel_from(g, at)) != NULL; n++) {
            CHECK(n == 0 || stream_id_cmp(p->id, at) >= 0);
            bool known = false;
            for (size_t k = 0; k < g->nconsumers; k++)
                known |= p->consumer == g->consumers[k];
            CHECK(known);
            at = p->id;
            if (!stream_id_incr(&at)) {
                n++;
                break;
            }
        }
        CHECK(n == g->pel_count);
        for (size_t k = 0; k < g->nconsumers; k++) {
            const struct stream_consumer *c = g->consumers[k];
            size_t m = 0;
            at = (struct stream_id){ 0, 0 };
            for (const struct stream_nack *p; (p = stream_consumer_pel_from(c, at)) != NULL; m++) {
                CHECK(p->consumer == c && stream_pel_find(g, p->id) == p);
                at = p->id;
                if (!stream_id_incr(&at)) {
                    m++;
                    break;
                }
            }
            CHECK(m == c->pel_count);
            owned += m;
        }
        CHECK(owned == g->pel_count);
    }
}

#endif
