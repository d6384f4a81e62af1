/* The shard-to-shard mailbox: order, batching, a full ring, and two real
 * threads passing a million messages. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>

#include "shards/mailbox.h"

static void test_order_and_publish(void **state)
{
    (void)state;
    struct mailbox m;
    mailbox_init(&m, 8);
    assert_true(mailbox_push(&m, (void *)1));
    assert_true(mailbox_push(&m, (void *)2));
    /* pushed but not published: the consumer sees nothing yet */
    assert_null(mailbox_pop(&m));
    assert_false(mailbox_has_mail(&m));
    assert_true(mailbox_publish(&m));
    assert_false(mailbox_publish(&m)); /* nothing new */
    assert_true(mailbox_has_mail(&m));
    assert_ptr_equal(mailbox_pop(&m), (void *)1);
    assert_ptr_equal(mailbox_pop(&m), (void *)2);
    assert_null(mailbox_pop(&m));
    mailbox_deinit(&m);
}

static void test_full_ring(void **state)
{
    (void)state;
    struct mailbox m;
    mailbox_init(&m, 4);
    for (uintptr_t i = 1; i <= 4; i++)
        assert_true(mailbox_push(&m, (void *)i));
    assert_false(mailbox_push(&m, (void *)5));
    mailbox_publish(&m);
    assert_ptr_equal(mailbox_pop(&m), (void *)1);
    /* one slot freed: one more fits, in order after the others */
    assert_true(mailbox_push(&m, (void *)5));
    assert_false(mailbox_push(&m, (void *)6));
    mailbox_publish(&m);
    for (uintptr_t i = 2; i <= 5; i++)
        assert_ptr_equal(mailbox_pop(&m), (void *)i);
    assert_null(mailbox_pop(&m));
    mailbox_deinit(&m);
}

#define N_MESSAGES 1000000

static void *producer(void *arg)
{
    struct mailbox *m = arg;
    uintptr_t next = 1;
    while (next <= N_MESSAGES) {
        int batch = 0;
        while (next <= N_MESSAGES && batch < 37 && mailbox_push(m, (void *)next)) {
            next++;
            batch++;
        }
        mailbox_publish(m);
    }
    return NULL;
}

static void test_two_threads(void **state)
{
    (void)state;
    struct mailbox m;
    mailbox_init(&m, 64);
    pthread_t t;
    pthread_create(&t, NULL, producer, &m);
    uintptr_t expect = 1;
    while (expect <= N_MESSAGES) {
        void *p = mailbox_pop(&m);
        if (!p)
            continue;
        assert_ptr_equal(p, (void *)expect);
        expect++;
    }
    pthread_join(t, NULL);
    assert_null(mailbox_pop(&m));
    mailbox_deinit(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_publish),
        cmocka_unit_test(test_full_ring),
        cmocka_unit_test(test_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
