/* keyspace_state: a server's whole keyspace as one text, to compare two
 * servers (or one before and after a restart) key by key: every key,
 * sorted, with its type, its absolute expiry (PEXPIRETIME) and its value in
 * a canonical form (a set's members and a hash's fields sorted, a stream's
 * entries in order). Strings, hashes, sets, lists, sorted sets, streams. */
#ifndef RINGKV_TEST_KEYSPACE_STATE_H
#define RINGKV_TEST_KEYSPACE_STATE_H

#include "harness.h"

/* The text (malloc'd): bytes that are not printable as \xHH. */
char *keyspace_state(tconn *c);
/* The same over databases 0..ndbs-1 (SELECT each; "db<N>:" before the
 * keys of each one holding any); the connection is in database 0 after. */
char *keyspace_state_dbs(tconn *c, int ndbs);
/* Fails the test with the first difference, if a and b differ. */
void expect_same_keyspace(const char *a, const char *b);

#endif
