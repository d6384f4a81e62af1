/* Every string command against a running server: options, results and Redis
 * 7's error texts. Runs unchanged against redis-server (RINGKV_TEST_TARGET=redis). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static struct server srv;
static tconn *c;

static int group_setup(void **state) { return server_start(&srv, NULL); }
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }
static int setup(void **state)
{
    c = tconnect(srv.port);
    expect_ok(tcmd(c, "FLUSHALL"));
    return 0;
}
static int teardown(void **state) { tclose(c); c = NULL; return 0; }

static void test_get_set(void **state)
{
    expect_nil(tcmd(c, "GET k"));
    expect_ok(tcmd(c, "SET k v"));
    expect_bulk(tcmd(c, "GET k"), "v");
    expect_ok(tcmd(c, "SET k w"));
    expect_bulk(tcmd(c, "GET k"), "w");
    expect_error(tcmd(c, "GET"), "ERR wrong number of arguments for 'get' command");
    expect_error(tcmd(c, "SET k"), "ERR wrong number of arguments for 'set' command");
    expect_error(tcmd(c, "SET k v BOGUS"), "ERR syntax error");
    /* an empty value */
    const char *argv[] = { "SET", "e", "" };
    size_t lens[] = { 3, 1, 0 };
    tsendb(c, 3, argv, lens);
    expect_ok(tread(c, 5000));
    expect_bulk(tcmd(c, "GET e"), "");
    expect_int(tcmd(c, "STRLEN e"), 0);
}

static void test_set_expire_options(void **state)
{
    expect_ok(tcmd(c, "SET k v EX 100"));
    long long ttl = get_int(tcmd(c, "TTL k"));
    assert_true(ttl > 95 && ttl <= 100);
    expect_ok(tcmd(c, "SET k v PX 100000"));
    long long pttl = get_int(tcmd(c, "PTTL k"));
    assert_true(pttl > 95000 && pttl <= 100000);
    expect_ok(tcmd(c, "SET k v EXAT 4102444800"));  /* 2100-01-01 */
    expect_int(tcmd(c, "EXPIRETIME k"), 4102444800LL);
    expect_ok(tcmd(c, "SET k v PXAT 4102444800123"));
    expect_int(tcmd(c, "PEXPIRETIME k"), 4102444800123LL);
    /* KEEPTTL keeps it, a plain SET clears it */
    expect_ok(tcmd(c, "SET k w KEEPTTL"));
    expect_int(tcmd(c, "PEXPIRETIME k"), 4102444800123LL);
    expect_bulk(tcmd(c, "GET k"), "w");
    expect_ok(tcmd(c, "SET k x"));
    expect_int(tcmd(c, "TTL k"), -1);
    /* an absolute time in the past deletes at once */
    expect_ok(tcmd(c, "SET k v PXAT 1000"));
    expect_nil(tcmd(c, "GET k"));

    expect_error(tcmd(c, "SET k v EX 0"), "ERR invalid expire time in 'set' command");
    expect_error(tcmd(c, "SET k v EX -5"), "ERR invalid expire time in 'set' command");
    expect_error(tcmd(c, "SET k v PX 0"), "ERR invalid expire time in 'set' command");
    expect_error(tcmd(c, "SET k v EX abc"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "SET k v EX"), "ERR syntax error");
    expect_error(tcmd(c, "SET k v EX 10 PX 100"), "ERR syntax error");
    expect_error(tcmd(c, "SET k v EX 10 KEEPTTL"), "ERR syntax error");
    expect_error(tcmd(c, "SET k v NX XX"), "ERR syntax error");
}

static void test_set_nx_xx_get(void **state)
{
    expect_nil(tcmd(c, "SET k v XX"));
    expect_nil(tcmd(c, "GET k"));
    expect_ok(tcmd(c, "SET k v NX"));
    expect_nil(tcmd(c, "SET k w NX"));
    expect_bulk(tcmd(c, "GET k"), "v");
    expect_ok(tcmd(c, "SET k w XX"));
    expect_bulk(tcmd(c, "GET k"), "w");
    /* GET returns the old value */
    expect_bulk(tcmd(c, "SET k x GET"), "w");
    expect_bulk(tcmd(c, "GET k"), "x");
    expect_nil(tcmd(c, "SET new 1 GET"));
    expect_bulk(tcmd(c, "GET new"), "1");
    /* NX GET: Redis 7 allows it; no set when present, returns old */
    expect_bulk(tcmd(c, "SET k y NX GET"), "x");
    expect_bulk(tcmd(c, "GET k"), "x");
    /* case-insensitive options */
    expect_ok(tcmd(c, "set k z xx ex 10"));
    expect_bulk(tcmd(c, "get k"), "z");
}

static void test_setnx_setex_psetex_getset(void **state)
{
    expect_int(tcmd(c, "SETNX k v"), 1);
    expect_int(tcmd(c, "SETNX k w"), 0);
    expect_bulk(tcmd(c, "GET k"), "v");
    expect_ok(tcmd(c, "SETEX s 100 v"));
    long long ttl = get_int(tcmd(c, "TTL s"));
    assert_true(ttl > 95 && ttl <= 100);
    expect_error(tcmd(c, "SETEX s 0 v"), "ERR invalid expire time in 'setex' command");
    expect_error(tcmd(c, "SETEX s x v"), "ERR value is not an integer or out of range");
    expect_ok(tcmd(c, "PSETEX p 100000 v"));
    long long pttl = get_int(tcmd(c, "PTTL p"));
    assert_true(pttl > 90000 && pttl <= 100000);
    expect_error(tcmd(c, "PSETEX p -1 v"), "ERR invalid expire time in 'psetex' command");
    expect_nil(tcmd(c, "GETSET g a"));
    expect_bulk(tcmd(c, "GETSET g b"), "a");
    expect_bulk(tcmd(c, "GET g"), "b");
    /* GETSET clears the TTL */
    expect_bulk(tcmd(c, "GETSET s x"), "v");
    expect_int(tcmd(c, "TTL s"), -1);
}

static void test_getdel_getex(void **state)
{
    expect_ok(tcmd(c, "SET k v"));
    expect_bulk(tcmd(c, "GETDEL k"), "v");
    expect_nil(tcmd(c, "GETDEL k"));
    expect_int(tcmd(c, "EXISTS k"), 0);
    expect_nil(tcmd(c, "GETEX nokey"));
    expect_ok(tcmd(c, "SET k v"));
    expect_bulk(tcmd(c, "GETEX k EX 100"), "v");
    long long ttl = get_int(tcmd(c, "TTL k"));
    assert_true(ttl > 95 && ttl <= 100);
    expect_bulk(tcmd(c, "GETEX k PX 50000"), "v");
    ttl = get_int(tcmd(c, "PTTL k"));
    assert_true(ttl > 45000 && ttl <= 50000);
    expect_bulk(tcmd(c, "GETEX k EXAT 4102444800"), "v");
    expect_int(tcmd(c, "EXPIRETIME k"), 4102444800LL);
    expect_bulk(tcmd(c, "GETEX k PXAT 4102444800500"), "v");
    expect_int(tcmd(c, "PEXPIRETIME k"), 4102444800500LL);
    expect_bulk(tcmd(c, "GETEX k"), "v");
    expect_int(tcmd(c, "PEXPIRETIME k"), 4102444800500LL);
    expect_bulk(tcmd(c, "GETEX k PERSIST"), "v");
    expect_int(tcmd(c, "TTL k"), -1);
    expect_error(tcmd(c, "GETEX k EX 0"), "ERR invalid expire time in 'getex' command");
    expect_error(tcmd(c, "GETEX k EX 10 PX 10"), "ERR syntax error");
    expect_error(tcmd(c, "GETEX k FOO"), "ERR syntax error");
}

static void test_mget_mset_msetnx(void **state)
{
    expect_ok(tcmd(c, "MSET a 1 b 2 c 3"));
    struct rval *v = tcmd(c, "MGET a b nokey c");
    assert_non_null(v);
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 4);
    assert_string_equal(v->elem[0]->str, "1");
    assert_string_equal(v->elem[1]->str, "2");
    assert_int_equal(v->elem[2]->type, R_NIL);
    assert_string_equal(v->elem[3]->str, "3");
    rval_free(v);
    expect_error(tcmd(c, "MSET a"), "ERR wrong number of arguments for 'mset' command");
    expect_error(tcmd(c, "MSET a 1 b"), "ERR wrong number of arguments for 'mset' command");
    expect_error(tcmd(c, "MGET"), "ERR wrong number of arguments for 'mget' command");
    expect_int(tcmd(c, "MSETNX a 9 z 9"), 0);
    expect_bulk(tcmd(c, "GET a"), "1");
    expect_int(tcmd(c, "EXISTS z"), 0);
    expect_int(tcmd(c, "MSETNX x 8 y 9"), 1);
    expect_bulk(tcmd(c, "GET x"), "8");
    expect_bulk(tcmd(c, "GET y"), "9");
    /* the last of repeated keys wins */
    expect_ok(tcmd(c, "MSET d 1 d 2"));
    expect_bulk(tcmd(c, "GET d"), "2");
}

static void test_append_strlen(void **state)
{
    expect_int(tcmd(c, "APPEND k Hello"), 5);
    expect_int(tcmd(c, "APPEND k _World"), 11);
    expect_bulk(tcmd(c, "GET k"), "Hello_World");
    expect_int(tcmd(c, "STRLEN k"), 11);
    expect_int(tcmd(c, "STRLEN nokey"), 0);
    expect_ok(tcmd(c, "SET n 10"));
    expect_int(tcmd(c, "APPEND n 5"), 3);
    expect_int(tcmd(c, "INCR n"), 106);
}

static void test_incr_decr(void **state)
{
    expect_int(tcmd(c, "INCR n"), 1);
    expect_int(tcmd(c, "INCRBY n 10"), 11);
    expect_int(tcmd(c, "DECR n"), 10);
    expect_int(tcmd(c, "DECRBY n 20"), -10);
    expect_int(tcmd(c, "INCRBY n -5"), -15);
    expect_bulk(tcmd(c, "GET n"), "-15");
    expect_ok(tcmd(c, "SET k abc"));
    expect_error(tcmd(c, "INCR k"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "INCRBY n x"), "ERR value is not an integer or out of range");
    expect_ok(tcmd(c, "SET k 1.5"));
    expect_error(tcmd(c, "INCR k"), "ERR value is not an integer or out of range");
    expect_ok(tcmd(c, "SET k 01"));
    expect_error(tcmd(c, "INCR k"), "ERR value is not an integer or out of range");
    expect_ok(tcmd(c, "SET max 9223372036854775807"));
    expect_error(tcmd(c, "INCR max"), "ERR increment or decrement would overflow");
    expect_ok(tcmd(c, "SET min -9223372036854775808"));
    expect_error(tcmd(c, "DECR min"), "ERR increment or decrement would overflow");
    expect_error(tcmd(c, "INCRBY n 9223372036854775808"), "ERR value is not an integer or out of range");
    /* TTL survives INCR */
    expect_ok(tcmd(c, "SET t 5 EX 100"));
    expect_int(tcmd(c, "INCR t"), 6);
    assert_true(get_int(tcmd(c, "TTL t")) > 0);
}

static void test_incrbyfloat(void **state)
{
    expect_ok(tcmd(c, "SET f 10.50"));
    expect_bulk(tcmd(c, "INCRBYFLOAT f 0.1"), "10.6");
    expect_bulk(tcmd(c, "INCRBYFLOAT f -5"), "5.6");
    expect_ok(tcmd(c, "SET f 5.0e3"));
    expect_bulk(tcmd(c, "INCRBYFLOAT f 2.0e2"), "5200");
    expect_bulk(tcmd(c, "INCRBYFLOAT new 3"), "3");
    expect_bulk(tcmd(c, "GET new"), "3");
    expect_ok(tcmd(c, "SET s abc"));
    expect_error(tcmd(c, "INCRBYFLOAT s 1"), "ERR value is not a valid float");
    expect_error(tcmd(c, "INCRBYFLOAT new abc"), "ERR value is not a valid float");
    expect_error(tcmd(c, "INCRBYFLOAT new inf"), "ERR increment would produce NaN or Infinity");
}

static void test_getrange_setrange_substr(void **state)
{
    const char *argv[] = { "SET", "s", "This is a string" };
    tsendv(c, 3, argv);
    expect_ok(tread(c, 5000));
    expect_bulk(tcmd(c, "GETRANGE s 0 3"), "This");
    expect_bulk(tcmd(c, "GETRANGE s -3 -1"), "ing");
    expect_bulk(tcmd(c, "GETRANGE s 0 -1"), "This is a string");
    expect_bulk(tcmd(c, "GETRANGE s 10 100"), "string");
    expect_bulk(tcmd(c, "GETRANGE s 5 2"), "");
    expect_bulk(tcmd(c, "GETRANGE nokey 0 -1"), "");
    expect_bulk(tcmd(c, "SUBSTR s 0 3"), "This");
    expect_error(tcmd(c, "GETRANGE s a 1"), "ERR value is not an integer or out of range");

    expect_int(tcmd(c, "SETRANGE s 10 STRING"), 16);
    expect_bulk(tcmd(c, "GET s"), "This is a STRING");
    /* padding with zero bytes */
    expect_int(tcmd(c, "SETRANGE p 3 hi"), 5);
    struct rval *v = tcmd(c, "GET p");
    assert_non_null(v);
    assert_int_equal(v->len, 5);
    assert_memory_equal(v->str, "\0\0\0hi", 5);
    rval_free(v);
    expect_error(tcmd(c, "SETRANGE p -1 x"), "ERR offset is out of range");
    expect_error(tcmd(c, "SETRANGE p 536870912 x"), "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    /* an empty value on a missing key creates nothing */
    const char *a2[] = { "SETRANGE", "none", "5", "" };
    tsendv(c, 4, a2);
    expect_int(tread(c, 5000), 0);
    expect_int(tcmd(c, "EXISTS none"), 0);
}

static void test_lcs(void **state)
{
    expect_ok(tcmd(c, "MSET key1 ohmytext key2 mynewtext"));
    expect_bulk(tcmd(c, "LCS key1 key2"), "mytext");
    expect_int(tcmd(c, "LCS key1 key2 LEN"), 6);
    expect_bulk(tcmd(c, "LCS key1 nokey"), "");
    struct rval *v = tcmd(c, "LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN");
    assert_non_null(v);
    /* RESP2: ["matches", [[[4,7],[5,8],4]], "len", 6] */
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 4);
    assert_string_equal(v->elem[0]->str, "matches");
    struct rval *m = v->elem[1];
    assert_int_equal(m->n, 1);
    assert_int_equal(m->elem[0]->n, 3);
    assert_int_equal(m->elem[0]->elem[0]->elem[0]->integer, 4);
    assert_int_equal(m->elem[0]->elem[0]->elem[1]->integer, 7);
    assert_int_equal(m->elem[0]->elem[1]->elem[0]->integer, 5);
    assert_int_equal(m->elem[0]->elem[1]->elem[1]->integer, 8);
    assert_int_equal(m->elem[0]->elem[2]->integer, 4);
    assert_string_equal(v->elem[2]->str, "len");
    assert_int_equal(v->elem[3]->integer, 6);
    rval_free(v);
    v = tcmd(c, "LCS key1 key2 IDX");
    assert_non_null(v);
    assert_int_equal(v->elem[1]->n, 2);  /* "text" and "my" */
    rval_free(v);
    expect_error(tcmd(c, "LCS key1 key2 LEN IDX"),
                 "ERR If you want both the length and indexes, please just use IDX.");
    expect_error(tcmd(c, "LCS key1"), "ERR wrong number of arguments for 'lcs' command");
    /* a table ((len+1)^2 32-bit cells) over proto-max-bulk-len is refused
     * before anything is allocated: 12304 bytes (a dense HyperLogLog's size)
     * need 605 MB, past the 512 MB default; at 1mb, 1000 bytes need 4 MB */
    expect_int(tcmd(c, "SETRANGE big 12303 x"), 12304);
    expect_error(tcmd(c, "LCS big big"),
                 "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    expect_int(tcmd(c, "SETRANGE mid 999 x"), 1000);
    expect_int(tcmd(c, "LCS mid mid LEN"), 1000);
    expect_ok(tcmd(c, "CONFIG SET proto-max-bulk-len 1mb"));
    expect_error(tcmd(c, "LCS mid mid LEN"),
                 "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    expect_ok(tcmd(c, "CONFIG SET proto-max-bulk-len 512mb"));
}

static void test_setbit_getbit(void **state)
{
    expect_int(tcmd(c, "SETBIT b 7 1"), 0);
    expect_int(tcmd(c, "SETBIT b 7 1"), 1);
    expect_int(tcmd(c, "GETBIT b 7"), 1);
    expect_int(tcmd(c, "GETBIT b 6"), 0);
    expect_int(tcmd(c, "GETBIT b 1000"), 0);
    expect_int(tcmd(c, "GETBIT nokey 0"), 0);
    expect_bulk(tcmd(c, "GET b"), "\x01");
    expect_int(tcmd(c, "SETBIT b 1 1"), 0);
    expect_bulk(tcmd(c, "GET b"), "A");
    expect_int(tcmd(c, "SETBIT b 23 1"), 0);
    expect_int(tcmd(c, "STRLEN b"), 3);
    expect_error(tcmd(c, "SETBIT b 1 2"), "ERR bit is not an integer or out of range");
    expect_error(tcmd(c, "SETBIT b -1 1"), "ERR bit offset is not an integer or out of range");
    expect_error(tcmd(c, "SETBIT b 4294967296 1"), "ERR bit offset is not an integer or out of range");
    expect_error(tcmd(c, "GETBIT b x"), "ERR bit offset is not an integer or out of range");
}

static void test_bitcount_bitpos(void **state)
{
    expect_ok(tcmd(c, "SET mykey foobar"));
    expect_int(tcmd(c, "BITCOUNT mykey"), 26);
    expect_int(tcmd(c, "BITCOUNT mykey 0 0"), 4);
    expect_int(tcmd(c, "BITCOUNT mykey 1 1"), 6);
    expect_int(tcmd(c, "BITCOUNT mykey 1 1 BYTE"), 6);
    expect_int(tcmd(c, "BITCOUNT mykey 5 30 BIT"), 17);
    expect_int(tcmd(c, "BITCOUNT mykey -2 -1"), 7);
    expect_int(tcmd(c, "BITCOUNT nokey"), 0);
    expect_error(tcmd(c, "BITCOUNT mykey 0"), "ERR syntax error");
    expect_error(tcmd(c, "BITCOUNT mykey 0 1 WORD"), "ERR syntax error");

    const char *a1[] = { "SET", "bp", "\xff\xf0\x00" };
    size_t l1[] = { 3, 2, 3 };
    tsendb(c, 3, a1, l1);
    expect_ok(tread(c, 5000));
    expect_int(tcmd(c, "BITPOS bp 0"), 12);
    const char *a2[] = { "SET", "bp2", "\x00\xff\xf0" };
    size_t l2[] = { 3, 3, 3 };
    tsendb(c, 3, a2, l2);
    expect_ok(tread(c, 5000));
    expect_int(tcmd(c, "BITPOS bp2 1 0"), 8);
    expect_int(tcmd(c, "BITPOS bp2 1 2 -1 BYTE"), 16);
    expect_int(tcmd(c, "BITPOS bp2 1 7 15 BIT"), 8);
    expect_int(tcmd(c, "BITPOS nokey 0"), 0);
    expect_int(tcmd(c, "BITPOS nokey 1"), -1);
    const char *a3[] = { "SET", "ones", "\xff\xff" };
    size_t l3[] = { 3, 4, 2 };
    tsendb(c, 3, a3, l3);
    expect_ok(tread(c, 5000));
    expect_int(tcmd(c, "BITPOS ones 0"), 16);      /* no end: past the string */
    expect_int(tcmd(c, "BITPOS ones 0 0 -1"), -1); /* explicit end: not found */
    expect_error(tcmd(c, "BITPOS bp 2"), "ERR The bit argument must be 1 or 0.");
}

static void test_bitop(void **state)
{
    expect_ok(tcmd(c, "SET a abc"));
    expect_ok(tcmd(c, "SET b ABCD"));
    expect_int(tcmd(c, "BITOP AND d a b"), 4);
    struct rval *v = tcmd(c, "GET d");
    assert_non_null(v);
    assert_int_equal(v->len, 4);
    assert_memory_equal(v->str, "ABC\0", 4);
    rval_free(v);
    expect_int(tcmd(c, "BITOP OR d a b"), 4);
    expect_bulk(tcmd(c, "GET d"), "abcD");
    expect_int(tcmd(c, "BITOP XOR d a a"), 3);
    v = tcmd(c, "GET d");
    assert_memory_equal(v->str, "\0\0\0", 3);
    rval_free(v);
    expect_int(tcmd(c, "BITOP NOT d a"), 3);
    v = tcmd(c, "GET d");
    assert_int_equal((unsigned char)v->str[0], 0x9e);
    rval_free(v);
    /* every source missing: the destination is deleted */
    expect_int(tcmd(c, "BITOP AND d nokey1 nokey2"), 0);
    expect_int(tcmd(c, "EXISTS d"), 0);
    expect_error(tcmd(c, "BITOP NOT d a b"), "ERR BITOP NOT must be called with a single source key.");
    expect_error(tcmd(c, "BITOP FOO d a"), "ERR syntax error");
    expect_error(tcmd(c, "BITOP AND d"), "ERR wrong number of arguments for 'bitop' command");
}

static void test_binary_values(void **state)
{
    char val[256];
    for (int i = 0; i < 256; i++)
        val[i] = (char)i;
    const char *argv[] = { "SET", "bin\r\n\0key", val };
    size_t lens[] = { 3, 9, sizeof val };
    tsendb(c, 3, argv, lens);
    expect_ok(tread(c, 5000));
    const char *g[] = { "GET", "bin\r\n\0key" };
    size_t gl[] = { 3, 9 };
    tsendb(c, 2, g, gl);
    struct rval *v = tread(c, 5000);
    assert_non_null(v);
    assert_int_equal(v->type, R_BULK);
    assert_int_equal(v->len, 256);
    assert_memory_equal(v->str, val, 256);
    rval_free(v);
}

/* OBJECT ENCODING of strings as Redis 7 answers it: by text and length
 * for a value given whole (int, embstr up to 44 bytes, raw beyond), raw
 * for one changed in place whatever its text, embstr for INCRBYFLOAT's
 * result even when whole, kept by COPY and RENAME, forgotten by the next
 * value given whole. */
#define enc(key, want) expect_bulk(tcmd(c, "OBJECT ENCODING %s", key), want)

static void test_string_encodings(void **state)
{
    expect_ok(tcmd(c, "SET a 123"));
    enc("a", "int");
    expect_ok(tcmd(c, "SET a 007"));
    enc("a", "embstr");
    expect_ok(tcmd(c, "SET a 123456789012345678901234567890123456789012345"));
    enc("a", "raw");
    expect_ok(tcmd(c, "SET a hello"));
    expect_int(tcmd(c, "APPEND a x"), 6);
    enc("a", "raw");
    expect_ok(tcmd(c, "SET a 10"));
    expect_int(tcmd(c, "APPEND a 5"), 3);
    enc("a", "raw"); /* "105", but changed in place */
    expect_int(tcmd(c, "INCR a"), 106);
    enc("a", "int");
    expect_ok(tcmd(c, "SET b abc"));
    const char *argv[] = { "APPEND", "b", "" };
    size_t lens[] = { 6, 1, 0 };
    tsendb(c, 3, argv, lens);
    expect_int(tread(c, 5000), 3);
    enc("b", "raw"); /* even an empty APPEND */
    expect_int(tcmd(c, "APPEND fresh 5"), 1);
    enc("fresh", "int"); /* a new key: the argument as given */
    expect_int(tcmd(c, "SETRANGE {t}c 0 abc"), 3);
    enc("{t}c", "raw");
    expect_int(tcmd(c, "COPY {t}c {t}d"), 1);
    enc("{t}d", "raw");
    expect_ok(tcmd(c, "RENAME {t}c {t}e"));
    enc("{t}e", "raw");
    expect_ok(tcmd(c, "SET {t}e y"));
    enc("{t}e", "embstr");
    expect_int(tcmd(c, "SETBIT f 3 1"), 0);
    enc("f", "raw");
    expect_ok(tcmd(c, "SET {b}g x"));
    expect_int(tcmd(c, "BITOP OR {b}h {b}g {b}g"), 1);
    enc("{b}h", "raw");
    expect_bulk(tcmd(c, "INCRBYFLOAT i 3"), "3");
    enc("i", "embstr");
    expect_int(tcmd(c, "INCR i"), 4);
    enc("i", "int");
    expect_ok(tcmd(c, "SET j 5"));
    expect_bulk(tcmd(c, "INCRBYFLOAT j 1.5"), "6.5");
    enc("j", "embstr");
}

static void test_wrongtype_free(void **state)
{
    /* with strings only, every key is a string: TYPE says so */
    expect_ok(tcmd(c, "SET k v"));
    expect_status(tcmd(c, "TYPE k"), "string");
    expect_status(tcmd(c, "TYPE nokey"), "none");
}

/* ---- BITFIELD and BITFIELD_RO ---- */

/* v is BITFIELD's array: one word of want per element, an integer or "nil"
 * ("" = an empty array). */
static void expect_fields(struct rval *v, const char *want)
{
    char *text = rval_text(v);
    char buf[1024];
    size_t n = 0;

    if (v->type != R_ARRAY)
        fail_msg("reply %s is not an array for '%s'", text, want);
    snprintf(buf, sizeof buf, "%s", want);
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "), n++) {
        bool nil = strcmp(t, "nil") == 0;
        if (n >= v->n || (nil ? v->elem[n]->type != R_NIL
                              : v->elem[n]->type != R_INT || v->elem[n]->integer != strtoll(t, NULL, 10)))
            fail_msg("reply %s is not '%s'", text, want);
    }
    if (n != v->n)
        fail_msg("reply %s is not '%s'", text, want);
    free(text);
    rval_free(v);
}

/* The value of key is the n bytes of want. */
static void expect_bytes(const char *key, const char *want, size_t n)
{
    struct rval *v = tcmd(c, "GET %s", key);
    assert_non_null(v);
    assert_int_equal(v->type, R_BULK);
    assert_int_equal(v->len, n);
    assert_memory_equal(v->str, want, n);
    rval_free(v);
}

static void test_bitfield_get_set_incrby(void **state)
{
    /* aligned: SET answers the old value; the bits read back as either sign */
    expect_fields(tcmd(c, "BITFIELD bf SET u8 0 200 GET u8 0 GET i8 0"), "0 200 -56");
    expect_bytes("bf", "\xc8", 1);
    /* unaligned inside a byte: bits 3..7 of 11001000 */
    expect_fields(tcmd(c, "BITFIELD bf GET u5 3 SET u5 3 31 GET u8 0"), "8 8 223");
    /* unaligned across three bytes, the most significant bit first:
     * -1000 in 13 bits is 1110000011000, at bits 7..19 */
    expect_fields(tcmd(c, "BITFIELD x SET i13 7 -1000 GET i13 7 GET u13 7 GET u24 0"),
                  "0 -1000 7192 115072");
    expect_bytes("x", "\x01\xc1\x80", 3);
    /* #N: the N-th field of the type's width */
    expect_fields(tcmd(c, "BITFIELD h SET u8 #1 65 SET u8 #0 66 GET u16 #0 GET i4 #3"), "0 0 16961 1");
    expect_bytes("h", "BA", 2);
    /* INCRBY answers the new value; subcommand and mode names in any case */
    expect_fields(tcmd(c, "BITFIELD cnt INCRBY u4 #2 5 incrby u4 #2 5 Get u4 #2 INCRBY i16 100 -7"),
                  "5 10 10 -7");
    expect_fields(tcmd(c, "BITFIELD cnt overflow Sat INCRBY u4 #2 10 GET i4 #2"), "15 -1");
    /* a string given whole is read as its bytes ("12" is 0x31 0x32) */
    expect_ok(tcmd(c, "SET n 12"));
    expect_fields(tcmd(c, "BITFIELD n GET u16 0 GET u4 4"), "12594 1");
    /* no subcommand: an empty array */
    expect_fields(tcmd(c, "BITFIELD n"), "");
    expect_fields(tcmd(c, "BITFIELD_RO n"), "");
}

static void test_bitfield_overflow(void **state)
{
    /* u8 255 + 1 */
    expect_fields(tcmd(c, "BITFIELD u SET u8 0 255 INCRBY u8 0 1"), "0 0");
    expect_fields(tcmd(c, "BITFIELD u SET u8 0 255 OVERFLOW SAT INCRBY u8 0 1"), "0 255");
    expect_fields(tcmd(c, "BITFIELD u OVERFLOW FAIL INCRBY u8 0 1 GET u8 0"), "nil 255");
    /* u8 0 - 1 */
    expect_fields(tcmd(c, "BITFIELD u SET u8 0 0 INCRBY u8 0 -1"), "255 255");
    expect_fields(tcmd(c, "BITFIELD u SET u8 0 0 OVERFLOW SAT INCRBY u8 0 -1"), "255 0");
    expect_fields(tcmd(c, "BITFIELD u OVERFLOW FAIL INCRBY u8 0 -1 GET u8 0"), "nil 0");
    /* i8 127 + 1 */
    expect_fields(tcmd(c, "BITFIELD s SET i8 0 127 INCRBY i8 0 1"), "0 -128");
    expect_fields(tcmd(c, "BITFIELD s SET i8 0 127 OVERFLOW SAT INCRBY i8 0 1"), "-128 127");
    expect_fields(tcmd(c, "BITFIELD s OVERFLOW FAIL INCRBY i8 0 1 GET i8 0"), "nil 127");
    /* i8 -128 - 1 */
    expect_fields(tcmd(c, "BITFIELD s SET i8 0 -128 INCRBY i8 0 -1"), "127 127");
    expect_fields(tcmd(c, "BITFIELD s SET i8 0 -128 OVERFLOW SAT INCRBY i8 0 -1"), "127 -128");
    expect_fields(tcmd(c, "BITFIELD s OVERFLOW FAIL INCRBY i8 0 -1 GET i8 0"), "nil -128");
    /* SET overflows too; an unsigned SET of a negative value overflows
     * upwards, as Redis reads it as an unsigned 64-bit number */
    expect_fields(tcmd(c, "BITFIELD t SET i8 0 200 GET i8 0"), "0 -56");
    expect_fields(tcmd(c, "BITFIELD t OVERFLOW SAT SET i8 0 200 SET i8 0 -200 GET i8 0"), "-56 127 -128");
    expect_fields(tcmd(c, "BITFIELD t SET u8 0 -5 OVERFLOW SAT SET u8 0 -5 GET u8 0"), "128 251 255");
    expect_fields(tcmd(c, "BITFIELD t OVERFLOW FAIL SET u8 0 256 SET i8 0 -129 GET u8 0"), "nil nil 255");
    /* and, as in Redis, SAT takes a signed SET's value far below the range
     * (below max - INT64_MAX) for one above it */
    expect_fields(tcmd(c, "BITFIELD t OVERFLOW SAT SET i8 0 -9223372036854775681 GET i8 0 "
                          "SET i8 0 -9223372036854775680 GET i8 0 SET i8 0 -9223372036854775808 GET i8 0"),
                  "-1 127 127 -128 -128 127");
    expect_fields(tcmd(c, "BITFIELD t OVERFLOW SAT SET i63 0 -4611686018427387905 GET i63 0 "
                          "SET i63 0 -4611686018427387904 GET i63 0"),
                  "4575657221408423936 4611686018427387903 4611686018427387903 -4611686018427387904");
    /* OVERFLOW applies to what follows it, until the next OVERFLOW */
    expect_fields(tcmd(c, "BITFIELD o INCRBY u2 0 4 OVERFLOW SAT INCRBY u2 0 4 OVERFLOW FAIL "
                          "INCRBY u2 0 4 INCRBY u2 0 -1 OVERFLOW WRAP INCRBY u2 0 6"),
                  "0 3 nil 2 0");
    /* i64 at both ends */
    expect_fields(tcmd(c, "BITFIELD e SET i64 0 9223372036854775807 INCRBY i64 0 1"),
                  "0 -9223372036854775808");
    expect_fields(tcmd(c, "BITFIELD e INCRBY i64 0 -1 OVERFLOW SAT INCRBY i64 0 1 INCRBY i64 0 1"),
                  "9223372036854775807 9223372036854775807 9223372036854775807");
    expect_fields(tcmd(c, "BITFIELD e SET i64 0 -9223372036854775808 OVERFLOW SAT INCRBY i64 0 -1 "
                          "OVERFLOW FAIL INCRBY i64 0 -1 INCRBY i64 0 9223372036854775807"),
                  "9223372036854775807 -9223372036854775808 nil -1");
    expect_bytes("e", "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
    /* u63 at both ends, at an unaligned offset */
    expect_fields(tcmd(c, "BITFIELD g SET u63 3 9223372036854775807 GET u63 3 INCRBY u63 3 1"),
                  "0 9223372036854775807 0");
    expect_fields(tcmd(c, "BITFIELD g OVERFLOW SAT INCRBY u63 3 -9223372036854775808 "
                          "INCRBY u63 3 9223372036854775807 INCRBY u63 3 1 "
                          "OVERFLOW FAIL INCRBY u63 3 1 INCRBY u63 3 -9223372036854775808 GET u63 3"),
                  "0 9223372036854775807 9223372036854775807 nil nil 9223372036854775807");
    expect_bytes("g", "\x1f\xff\xff\xff\xff\xff\xff\xff\xc0", 9); /* bits 3..65 */
}

static void test_bitfield_growth(void **state)
{
    /* GETs alone never create a key, and read past the end as zeros */
    expect_fields(tcmd(c, "BITFIELD nk GET u8 0 GET i64 1000 GET u8 4294967295"), "0 0 0");
    expect_fields(tcmd(c, "BITFIELD_RO nk GET u8 #536870911"), "0");
    expect_int(tcmd(c, "EXISTS nk"), 0);
    expect_ok(tcmd(c, "SET s ab"));
    expect_fields(tcmd(c, "BITFIELD s GET u16 8 GET i8 #5"), "25088 0");
    expect_bytes("s", "ab", 2);
    /* a write grows the string, zero-filled, to its field's last byte */
    expect_fields(tcmd(c, "BITFIELD s SET u8 #3 1"), "0");
    expect_bytes("s", "ab\0\x01", 4);
    expect_fields(tcmd(c, "BITFIELD s SET u4 37 15"), "0");
    expect_bytes("s", "ab\0\x01\x07\x80", 6);
    /* a new key is as long as its furthest field, even one that FAILs */
    expect_fields(tcmd(c, "BITFIELD w OVERFLOW FAIL SET u8 #5 256 GET u8 #5"), "nil 0");
    expect_int(tcmd(c, "STRLEN w"), 6);
    expect_fields(tcmd(c, "BITFIELD w GET u8 #9 SET u1 0 1 OVERFLOW FAIL INCRBY u8 #12 -1"), "0 0 nil");
    expect_bytes("w", "\x80\0\0\0\0\0\0\0\0\0\0\0\0", 13);
    /* a write marks the string raw, even one writing the bits already there */
    expect_ok(tcmd(c, "SET n 12"));
    expect_fields(tcmd(c, "BITFIELD n GET u8 0"), "49");
    expect_bulk(tcmd(c, "OBJECT ENCODING n"), "int");
    expect_fields(tcmd(c, "BITFIELD n SET u8 0 49"), "49");
    expect_bulk(tcmd(c, "OBJECT ENCODING n"), "raw");
    expect_bulk(tcmd(c, "GET n"), "12");
}

static void test_bitfield_errors(void **state)
{
    static const char *const bad_types[] = { "I8", "u64", "i65", "u0", "i0", "x8", "i08", "u", "i-1", "u+8" };
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++)
        expect_error(tcmd(c, "BITFIELD k GET %s 0", bad_types[i]),
                     "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.");
    static const char *const bad_offsets[] = { "-1", "4294967296", "#536870912", "#-1", "#", "x", "1.5", "##1" };
    for (size_t i = 0; i < sizeof bad_offsets / sizeof bad_offsets[0]; i++)
        expect_error(tcmd(c, "BITFIELD k SET u8 %s 1", bad_offsets[i]),
                     "ERR bit offset is not an integer or out of range");
    expect_error(tcmd(c, "BITFIELD k SET u8 0 x"), "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "BITFIELD k INCRBY i8 0 9223372036854775808"),
                 "ERR value is not an integer or out of range");
    expect_error(tcmd(c, "BITFIELD k GET u8"), "ERR syntax error");
    expect_error(tcmd(c, "BITFIELD k SET u8 0"), "ERR syntax error");
    expect_error(tcmd(c, "BITFIELD k INCR u8 0 1"), "ERR syntax error");
    expect_error(tcmd(c, "BITFIELD k GET u8 0 OVERFLOW"), "ERR syntax error");
    expect_error(tcmd(c, "BITFIELD k OVERFLOW BOGUS GET u8 0"), "ERR Invalid OVERFLOW type specified");
    expect_error(tcmd(c, "BITFIELD"), "ERR wrong number of arguments for 'bitfield' command");
    expect_error(tcmd(c, "BITFIELD_RO"), "ERR wrong number of arguments for 'bitfield_ro' command");
    /* every argument is checked before anything runs */
    expect_error(tcmd(c, "BITFIELD k SET u8 0 1 GET u8 x"), "ERR bit offset is not an integer or out of range");
    expect_int(tcmd(c, "EXISTS k"), 0);

    /* a key of another type: WRONGTYPE, after the arguments' errors */
    expect_int(tcmd(c, "RPUSH l a"), 1);
    expect_error(tcmd(c, "BITFIELD l GET u8 0"), "WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_error(tcmd(c, "BITFIELD l SET u8 0 1"), "WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_error(tcmd(c, "BITFIELD_RO l GET u8 0"), "WRONGTYPE Operation against a key holding the wrong kind of value");
    expect_error(tcmd(c, "BITFIELD l GET u99 0"),
                 "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.");

    /* BITFIELD_RO: GET (and OVERFLOW, which changes nothing) only */
    expect_ok(tcmd(c, "SET r A"));
    expect_fields(tcmd(c, "BITFIELD_RO r GET u8 0 OVERFLOW SAT GET i4 #1"), "65 1");
    expect_error(tcmd(c, "BITFIELD_RO r GET u8 0 SET u8 0 1"), "ERR BITFIELD_RO only supports the GET subcommand");
    expect_error(tcmd(c, "BITFIELD_RO r INCRBY u8 0 1"), "ERR BITFIELD_RO only supports the GET subcommand");
    expect_error(tcmd(c, "BITFIELD_RO nk SET u8 0 1"), "ERR BITFIELD_RO only supports the GET subcommand");
    expect_error(tcmd(c, "BITFIELD_RO l SET u8 0 1"), "ERR BITFIELD_RO only supports the GET subcommand");
    expect_error(tcmd(c, "BITFIELD_RO r SET u8 0 x"), "ERR value is not an integer or out of range");
    expect_bulk(tcmd(c, "GET r"), "A");
    expect_int(tcmd(c, "EXISTS nk"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_expire_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_nx_xx_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setnx_setex_psetex_getset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_getdel_getex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mget_mset_msetnx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_strlen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incr_decr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incrbyfloat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_getrange_setrange_substr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lcs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setbit_getbit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitcount_bitpos, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitfield_get_set_incrby, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitfield_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitfield_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitfield_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_encodings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrongtype_free, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
