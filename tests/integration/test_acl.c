/* ACL users: the rules of ACL SETUSER and what ACL GETUSER / LIST show of
 * them, AUTH and HELLO AUTH as a user, -NOPERM for commands, keys (the
 * %R~ / %W~ split) and channels, ACL CAT, ACL LOG, ACL DELUSER closing the
 * user's clients, an aclfile loaded at start, saved and loaded again,
 * `user` lines in a config file (and refused beside an aclfile), and a
 * replica that logs in to its master as a user of its own (masteruser).
 *
 * The expectations are redis-server 7.0's answers, error texts included:
 * the test runs unchanged against it (RINGKV_TEST_TARGET=redis). ACL CAT's
 * lists are compared with a redis-server started here (skipped when none
 * is installed), for the commands both servers have. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static struct server srv;
static tconn *c;

static int group_setup(void **state) { return server_start(&srv, NULL); }
static int group_teardown(void **state) { return server_stop(&srv) == 0 ? 0 : -1; }

/* Every test starts from the default user alone, and an empty log. */
static int setup(void **state)
{
    c = tconnect(srv.port);
    struct rval *users = tcmd(c, "ACL USERS");
    for (size_t i = 0; users && i < users->n; i++)
        if (strcmp(users->elem[i]->str, "default") != 0)
            rval_free(tcmd(c, "ACL DELUSER %s", users->elem[i]->str));
    rval_free(users);
    expect_ok(tcmd(c, "ACL LOG RESET"));
    expect_ok(tcmd(c, "FLUSHALL"));
    return 0;
}
static int teardown(void **state) { tclose(c); c = NULL; return 0; }

/* The value of field in an ACL GETUSER reply (RESP2: a flat array). */
static const struct rval *field(const struct rval *v, const char *name)
{
    for (size_t i = 0; v && i + 1 < v->n; i += 2)
        if (v->elem[i]->str && strcmp(v->elem[i]->str, name) == 0)
            return v->elem[i + 1];
    fail_msg("no field %s", name);
    return NULL;
}

/* The line of user `name` in ACL LIST, malloc'd, or NULL. */
static char *list_line(tconn *t, const char *name)
{
    struct rval *v = tcmd(t, "ACL LIST");
    assert_int_equal(v->type, R_ARRAY);
    char want[128];
    snprintf(want, sizeof want, "user %s ", name);
    char *line = NULL;
    for (size_t i = 0; i < v->n; i++)
        if (strncmp(v->elem[i]->str, want, strlen(want)) == 0)
            line = strdup(v->elem[i]->str);
    rval_free(v);
    return line;
}

static void expect_list_line(tconn *t, const char *name, const char *want)
{
    char *line = list_line(t, name);
    assert_non_null(line);
    assert_string_equal(line, want);
    free(line);
}

/* A connection logged in as user/pass. */
static tconn *login(const char *user, const char *pass)
{
    tconn *t = tconnect(srv.port);
    expect_ok(tcmd(t, "AUTH %s %s", user, pass));
    return t;
}

#define PW_HASH "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4" /* sha256("pw") */

static void test_rules_and_getuser(void **state)
{
    expect_ok(tcmd(c, "ACL SETUSER alice on >pw ~app:* %%R~ro:* &ch* -@all +@string -append"));
    struct rval *v = tcmd(c, "ACL GETUSER alice");
    assert_int_equal(v->type, R_ARRAY);
    const struct rval *flags = field(v, "flags");
    assert_int_equal(flags->n, 1);
    assert_string_equal(flags->elem[0]->str, "on");
    const struct rval *pw = field(v, "passwords");
    assert_int_equal(pw->n, 1);
    assert_string_equal(pw->elem[0]->str, PW_HASH);
    assert_string_equal(field(v, "commands")->str, "-@all +@string -append");
    assert_string_equal(field(v, "keys")->str, "~app:* %R~ro:*");
    assert_string_equal(field(v, "channels")->str, "&ch*");
    assert_int_equal(field(v, "selectors")->n, 0);
    rval_free(v);
    expect_list_line(c, "alice", "user alice on #" PW_HASH " ~app:* %R~ro:* resetchannels &ch* -@all +@string -append");
    expect_list_line(c, "default", "user default on nopass ~* &* +@all");

    /* a new user: off, no password, no keys, the default channels (none) */
    expect_ok(tcmd(c, "ACL SETUSER bob"));
    expect_list_line(c, "bob", "user bob off resetchannels -@all");
    /* +@all then one command less; allkeys; nopass drops the passwords */
    expect_ok(tcmd(c, "ACL SETUSER bob on >x nopass allcommands -get allkeys allchannels"));
    expect_list_line(c, "bob", "user bob on nopass ~* &* +@all -get");
    /* resetpass, #hash and !hash, <pass, resetkeys and the R/W merge of one pattern */
    expect_ok(tcmd(c, "ACL SETUSER bob resetpass #" PW_HASH " >b >c <c resetkeys %%R~k %%W~k %%W~w resetchannels"));
    expect_list_line(c, "bob", "user bob on #" PW_HASH " #"
                     "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d ~k %W~w resetchannels +@all -get");
    expect_ok(tcmd(c, "ACL SETUSER bob !" PW_HASH " nocommands +client|id"));
    v = tcmd(c, "ACL GETUSER bob");
    assert_int_equal(field(v, "passwords")->n, 1);
    assert_string_equal(field(v, "commands")->str, "-@all +client|id");
    rval_free(v);
    expect_ok(tcmd(c, "ACL SETUSER bob -client|id +@hash -hset"));
    v = tcmd(c, "ACL GETUSER bob");
    assert_string_equal(field(v, "commands")->str, "-@all +@hash -hset");
    rval_free(v);
    /* categories as Redis names them back, one inside another included */
    static const char *const described[][2] = {
        { "+@all -@dangerous", "+@all -@dangerous" }, { "-@all +@admin", "-@all +@admin" },
        { "+@all -@write", "+@all -@write" }, { "-@all +@fast", "-@all +@fast" },
        { "-@all +@pubsub -publish", "-@all +@pubsub -publish" },
    };
    for (size_t i = 0; i < sizeof described / sizeof described[0]; i++) {
        expect_ok(tcmd(c, "ACL SETUSER cats %s", described[i][0]));
        v = tcmd(c, "ACL GETUSER cats");
        assert_string_equal(field(v, "commands")->str, described[i][1]);
        rval_free(v);
    }
    expect_int(tcmd(c, "ACL DELUSER cats"), 1);
    /* reset: as a new user, with sanitize-payload */
    expect_ok(tcmd(c, "ACL SETUSER bob reset"));
    expect_list_line(c, "bob", "user bob off sanitize-payload resetchannels -@all");
    expect_nil(tcmd(c, "ACL GETUSER nobody"));
    v = tcmd(c, "ACL USERS");
    assert_int_equal(v->n, 3);
    assert_string_equal(v->elem[0]->str, "alice");
    assert_string_equal(v->elem[1]->str, "bob");
    assert_string_equal(v->elem[2]->str, "default");
    rval_free(v);
}

static void test_rule_errors(void **state)
{
    expect_error(tcmd(c, "ACL SETUSER x bogus"), "ERR Error in ACL SETUSER modifier 'bogus': Syntax error");
    expect_error(tcmd(c, "ACL SETUSER x +nosuch"),
                 "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL");
    expect_error(tcmd(c, "ACL SETUSER x +@nosuch"),
                 "ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL");
    expect_error(tcmd(c, "ACL SETUSER x #abc"),
                 "ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters "
                 "and contain only lowercase hexadecimal characters");
    expect_error(tcmd(c, "ACL SETUSER x <nope"),
                 "ERR Error in ACL SETUSER modifier '<nope': The password you are trying to remove from the "
                 "user does not exist");
    expect_error(tcmd(c, "ACL SETUSER x %%X~a"), "ERR Error in ACL SETUSER modifier '%X~a': Syntax error");
    expect_error(tcmd(c, "ACL SETUSER x allkeys ~a"),
                 "ERR Error in ACL SETUSER modifier '~a': Adding a pattern after the * pattern (or the "
                 "'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with "
                 "an empty list of patterns");
    expect_error(tcmd(c, "ACL SETUSER x allchannels &a"),
                 "ERR Error in ACL SETUSER modifier '&a': Adding a pattern after the * pattern (or the "
                 "'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to "
                 "start with an empty list of channels");
    /* a failed SETUSER changes nothing, not even creates the user */
    expect_nil(tcmd(c, "ACL GETUSER x"));
    expect_error(tcmd(c, "ACL DELUSER default"), "ERR The 'default' user cannot be removed");
    expect_int(tcmd(c, "ACL DELUSER nobody"), 0);
    expect_error(tcmd(c, "ACL WHOAMI x"), "ERR wrong number of arguments for 'acl|whoami' command");
    expect_error(tcmd(c, "ACL CAT nosuch"), "ERR Unknown category 'nosuch'");
    expect_error(tcmd(c, "ACL NOSUCH"), "ERR unknown subcommand 'NOSUCH'. Try ACL HELP.");
}

static void test_auth_and_hello(void **state)
{
    /* the default user has no password: AUTH <password> is an error */
    expect_error_prefix(tcmd(c, "AUTH x"), "ERR AUTH <password> called without any password configured");
    expect_ok(tcmd(c, "ACL SETUSER alice on >pw +@all ~*"));
    expect_error(tcmd(c, "AUTH alice wrong"), "WRONGPASS invalid username-password pair or user is disabled.");
    expect_error(tcmd(c, "AUTH nobody pw"), "WRONGPASS invalid username-password pair or user is disabled.");
    expect_bulk(tcmd(c, "ACL WHOAMI"), "default");
    expect_ok(tcmd(c, "AUTH alice pw"));
    expect_bulk(tcmd(c, "ACL WHOAMI"), "alice");
    /* CLIENT LIST names the user */
    struct rval *v = tcmd(c, "CLIENT INFO");
    assert_non_null(strstr(v->str, " user=alice "));
    rval_free(v);
    /* HELLO AUTH */
    tconn *t = tconnect(srv.port);
    expect_error(tcmd(t, "HELLO 3 AUTH alice nope"), "WRONGPASS invalid username-password pair or user is disabled.");
    v = tcmd(t, "HELLO 3 AUTH alice pw");
    assert_int_equal(v->type, R_MAP);
    rval_free(v);
    expect_bulk(tcmd(t, "ACL WHOAMI"), "alice");
    /* a user turned off cannot log in */
    expect_ok(tcmd(c, "ACL SETUSER alice off"));
    expect_error(tcmd(t, "AUTH alice pw"), "WRONGPASS invalid username-password pair or user is disabled.");
    /* RESET: back to the default user */
    expect_status(tcmd(t, "RESET"), "RESET");
    expect_bulk(tcmd(t, "ACL WHOAMI"), "default");
    tclose(t);

    /* requirepass is the default user's password */
    expect_ok(tcmd(c, "CONFIG SET requirepass sekret"));
    t = tconnect(srv.port);
    expect_error(tcmd(t, "GET x"), "NOAUTH Authentication required.");
    expect_error(tcmd(t, "AUTH wrong"), "WRONGPASS invalid username-password pair or user is disabled.");
    expect_ok(tcmd(t, "AUTH sekret"));
    expect_ok(tcmd(t, "AUTH default sekret"));
    char *line = list_line(t, "default");
    assert_non_null(strstr(line, "user default on #"));
    free(line);
    const char *clear[] = { "CONFIG", "SET", "requirepass", "" };
    tsendv(t, 4, clear);
    expect_ok(tread(t, 10000));
    tclose(t);
    t = tconnect(srv.port);
    expect_nil(tcmd(t, "GET x"));
    tclose(t);
}

static void test_noperm(void **state)
{
    expect_ok(tcmd(c, "ACL SETUSER app on >pw ~app:* %%R~ro:* %%W~wo:* &news.* -@all +get +set +publish +subscribe +psubscribe +client|id +multi +exec"));
    tconn *t = login("app", "pw");
    expect_ok(tcmd(t, "SET app:1 v"));
    expect_bulk(tcmd(t, "GET app:1"), "v");
    /* commands */
    expect_error(tcmd(t, "HSET app:2 f v"), "NOPERM this user has no permissions to run the 'hset' command");
    expect_error(tcmd(t, "CLIENT LIST"), "NOPERM this user has no permissions to run the 'client|list' command");
    get_int(tcmd(t, "CLIENT ID"));
    /* keys, with the read/write split */
    static const char nokey[] = "NOPERM this user has no permissions to access one of the keys used as arguments";
    expect_error(tcmd(t, "GET other"), nokey);
    expect_error(tcmd(t, "SET ro:1 v"), nokey);
    expect_nil(tcmd(t, "GET ro:1"));
    expect_ok(tcmd(t, "SET wo:1 v"));
    expect_error(tcmd(t, "GET wo:1"), nokey);
    /* channels: PUBLISH's and SUBSCRIBE's globs, PSUBSCRIBE's patterns as written */
    static const char nochan[] = "NOPERM this user has no permissions to access one of the channels used as arguments";
    expect_int(tcmd(t, "PUBLISH news.a x"), 0);
    expect_error(tcmd(t, "PUBLISH sports x"), nochan);
    expect_error(tcmd(t, "SUBSCRIBE news.a sports"), nochan);
    expect_error(tcmd(t, "PSUBSCRIBE news.a*"), nochan);
    struct rval *v = tcmd(t, "PSUBSCRIBE news.*");
    assert_int_equal(v->type, R_ARRAY);
    rval_free(v);
    tclose(t);
    /* inside MULTI: refused while queuing, and EXEC aborts */
    t = login("app", "pw");
    expect_ok(tcmd(t, "MULTI"));
    expect_error(tcmd(t, "GET other"), nokey);
    expect_error_prefix(tcmd(t, "EXEC"), "EXECABORT");
    tclose(t);
    /* a change reaches a logged-in client at its next command */
    t = login("app", "pw");
    expect_ok(tcmd(c, "ACL SETUSER app +hset"));
    expect_int(tcmd(t, "HSET app:2 f v"), 1);
    tclose(t);
    /* ACL DRYRUN */
    expect_ok(tcmd(c, "ACL DRYRUN app get app:1"));
    expect_bulk(tcmd(c, "ACL DRYRUN app lpush app:1 x"), "This user has no permissions to run the 'lpush' command");
    expect_bulk(tcmd(c, "ACL DRYRUN app get zz"), "This user has no permissions to access the 'zz' key");
    expect_error(tcmd(c, "ACL DRYRUN nobody get a"), "ERR User 'nobody' not found");
    expect_error(tcmd(c, "ACL DRYRUN app nosuchcmd a"), "ERR Command 'nosuchcmd' not found");
}

/* A script's calls are checked against the user that runs it. */
static void test_script_calls_checked(void **state)
{
    /* the keys share a slot, so that an undeclared one is on the script's shard */
    expect_ok(tcmd(c, "ACL SETUSER sc on >pw ~{app}:* +eval +get"));
    tconn *t = login("sc", "pw");
    const char *set[] = { "EVAL", "return redis.call('set',KEYS[1],'x')", "1", "{app}:1" };
    tsendv(t, 4, set);
    expect_error_prefix(tread(t, 10000), "ERR The user executing the script can't run this command or subcommand");
    const char *get[] = { "EVAL", "return redis.pcall('get','{app}zz')", "1", "{app}:1" };
    tsendv(t, 4, get);
    expect_error(tread(t, 10000), "ERR The user executing the script can't access at least one of the keys "
                                  "mentioned in the command arguments");
    const char *ok[] = { "EVAL", "return redis.call('get',KEYS[1])", "1", "{app}:1" };
    tsendv(t, 4, ok);
    expect_nil(tread(t, 10000));
    tclose(t);
    struct rval *v = tcmd(c, "ACL LOG 1");
    assert_string_equal(field(v->elem[0], "context")->str, "lua");
    assert_string_equal(field(v->elem[0], "reason")->str, "key");
    assert_string_equal(field(v->elem[0], "object")->str, "{app}zz");
    rval_free(v);
}

static void test_log(void **state)
{
    expect_ok(tcmd(c, "ACL SETUSER app on >pw ~app:* +get"));
    tconn *t = login("app", "pw");
    expect_error_prefix(tcmd(t, "SET app:1 v"), "NOPERM");
    expect_error_prefix(tcmd(t, "GET other"), "NOPERM");
    expect_error_prefix(tcmd(t, "GET other"), "NOPERM");
    expect_error_prefix(tcmd(t, "AUTH app wrong"), "WRONGPASS");
    tclose(t);
    struct rval *v = tcmd(c, "ACL LOG");
    assert_int_equal(v->type, R_ARRAY);
    assert_int_equal(v->n, 3);
    /* newest first: the AUTH, the key (twice, one entry), the command */
    const struct rval *e = v->elem[0];
    assert_string_equal(field(e, "reason")->str, "auth");
    assert_string_equal(field(e, "context")->str, "toplevel");
    assert_string_equal(field(e, "object")->str, "AUTH");
    assert_string_equal(field(e, "username")->str, "app");
    e = v->elem[1];
    assert_int_equal(field(e, "count")->integer, 2);
    assert_string_equal(field(e, "reason")->str, "key");
    assert_string_equal(field(e, "object")->str, "other");
    assert_string_equal(field(e, "username")->str, "app");
    assert_non_null(strstr(field(e, "client-info")->str, " user=app "));
    e = v->elem[2];
    assert_int_equal(field(e, "count")->integer, 1);
    assert_string_equal(field(e, "reason")->str, "command");
    assert_string_equal(field(e, "object")->str, "set");
    rval_free(v);
    v = tcmd(c, "ACL LOG 1");
    assert_int_equal(v->n, 1);
    rval_free(v);
    expect_ok(tcmd(c, "ACL LOG RESET"));
    v = tcmd(c, "ACL LOG");
    assert_int_equal(v->n, 0);
    rval_free(v);
}

static void test_deluser_closes_clients(void **state)
{
    expect_ok(tcmd(c, "ACL SETUSER gone on >pw ~* +@all"));
    expect_ok(tcmd(c, "ACL SETUSER stays on >pw ~* +@all"));
    tconn *a = login("gone", "pw");
    tconn *b = login("gone", "pw");
    tconn *s = login("stays", "pw");
    expect_int(tcmd(c, "ACL DELUSER gone"), 1);
    /* the idle one is closed without sending anything */
    assert_true(tclosed(a, 10000));
    /* the other finds its connection closed */
    tsend_raw(b, "PING\r\n", 6);
    assert_true(tclosed(b, 10000));
    expect_status(tcmd(s, "PING"), "PONG");
    expect_bulk(tcmd(s, "ACL WHOAMI"), "stays");
    /* CLIENT KILL USER */
    expect_error(tcmd(c, "CLIENT KILL USER nobody"), "ERR No such user 'nobody'");
    expect_int(tcmd(c, "CLIENT KILL USER stays"), 1);
    assert_true(tclosed(s, 10000));
    tclose(a);
    tclose(b);
    tclose(s);
}

/* A subscriber whose user loses one of its channels is closed. */
static void test_channels_lost_close_subscribers(void **state)
{
    expect_ok(tcmd(c, "ACL SETUSER sub on >pw resetchannels &news.* &sports +subscribe +psubscribe"));
    tconn *a = login("sub", "pw");
    tconn *b = login("sub", "pw");
    struct rval *v = tcmd(a, "SUBSCRIBE sports");
    assert_int_equal(v->type, R_ARRAY);
    rval_free(v);
    v = tcmd(b, "PSUBSCRIBE news.*");
    assert_int_equal(v->type, R_ARRAY);
    rval_free(v);
    /* sports goes: a is closed, b keeps its pattern */
    expect_ok(tcmd(c, "ACL SETUSER sub resetchannels &news.*"));
    assert_true(tclosed(a, 10000));
    expect_int(tcmd(c, "PUBLISH news.x hello"), 1);
    v = tread(b, 10000);
    assert_non_null(v);
    assert_int_equal(v->n, 4);
    assert_string_equal(v->elem[3]->str, "hello");
    rval_free(v);
    tclose(a);
    tclose(b);
}

/* ACL CAT's categories, and for each its commands that both servers
 * have, against a redis-server started here. */
static void test_cat_matches_redis(void **state)
{
    if (system("redis-server --version >/dev/null 2>&1") != 0) {
        skip();
        return;
    }
    int ref_port = free_port();
    char port[16];
    snprintf(port, sizeof port, "%d", ref_port);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--logfile", "/dev/null", (char *)NULL);
        _exit(127);
    }
    long long until = now_ms() + 10000;
    while (now_ms() < until) {
        char cmd[96], *out = NULL;
        snprintf(cmd, sizeof cmd, "redis-cli -p %d PING 2>/dev/null", ref_port);
        bool up = run_cmd(cmd, &out) == 0 && out && strstr(out, "PONG");
        free(out);
        if (up)
            break;
        usleep(50000);
    }
    tconn *ref = tconnect(ref_port);
    struct rval *cats = tcmd(c, "ACL CAT"), *ref_cats = tcmd(ref, "ACL CAT");
    assert_int_equal(cats->n, ref_cats->n);
    struct rval *ours_all = tcmd(c, "COMMAND LIST"), *theirs_all = tcmd(ref, "COMMAND LIST");
    for (size_t i = 0; i < ref_cats->n; i++) {
        assert_string_equal(cats->elem[i]->str, ref_cats->elem[i]->str);
        struct rval *a = tcmd(c, "ACL CAT %s", cats->elem[i]->str);
        struct rval *b = tcmd(ref, "ACL CAT %s", cats->elem[i]->str);
        /* each of redis-server's that ringkv has is in ringkv's list, and
         * each of ringkv's that redis-server has is in its list */
        for (int dir = 0; dir < 2; dir++) {
            struct rval *from = dir ? a : b, *to = dir ? b : a, *has = dir ? theirs_all : ours_all;
            for (size_t k = 0; k < from->n; k++) {
                bool known = false, listed = false;
                for (size_t j = 0; j < has->n && !known; j++)
                    known = strcmp(has->elem[j]->str, from->elem[k]->str) == 0;
                for (size_t j = 0; j < to->n && !listed; j++)
                    listed = strcmp(to->elem[j]->str, from->elem[k]->str) == 0;
                if (known && !listed)
                    fail_msg("ACL CAT %s: %s is in one server's list only", cats->elem[i]->str,
                             from->elem[k]->str);
            }
        }
        rval_free(a);
        rval_free(b);
    }
    rval_free(ours_all);
    rval_free(theirs_all);
    rval_free(cats);
    rval_free(ref_cats);
    tclose(ref);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_aclfile_round_trip(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/ringkv-test-acl-%d.acl", (int)getpid());
    write_file(path, "user alice on >pw ~app:* +get\nuser default on nopass ~* &* +@all\n");
    struct server s2;
    const char *const args[] = { "--aclfile", path, NULL };
    assert_int_equal(server_start(&s2, args), 0);
    tconn *t = tconnect(s2.port);
    expect_list_line(t, "alice", "user alice on #" PW_HASH " ~app:* resetchannels -@all +get");
    expect_ok(tcmd(t, "ACL SETUSER bob on nopass ~b:* +set"));
    expect_ok(tcmd(t, "ACL SAVE"));
    const char *saved = read_text(path);
    assert_non_null(strstr(saved, "user alice on #" PW_HASH " ~app:* resetchannels -@all +get\n"));
    assert_non_null(strstr(saved, "user bob on nopass ~b:* resetchannels -@all +set\n"));
    assert_non_null(strstr(saved, "user default on nopass ~* &* +@all\n"));
    /* the file changed by hand, then loaded: bob is gone, carol is there */
    write_file(path, "user alice on >pw ~app:* +get\nuser carol on nopass ~* +@read\n");
    expect_ok(tcmd(t, "ACL LOAD"));
    struct rval *v = tcmd(t, "ACL USERS");
    assert_int_equal(v->n, 3);
    assert_string_equal(v->elem[0]->str, "alice");
    assert_string_equal(v->elem[1]->str, "carol");
    assert_string_equal(v->elem[2]->str, "default");
    rval_free(v);
    /* a file with a bad line is refused whole */
    write_file(path, "user dave on +nosuch\n");
    expect_error_prefix(tcmd(t, "ACL LOAD"), "ERR");
    v = tcmd(t, "ACL USERS");
    assert_int_equal(v->n, 3);
    rval_free(v);
    tclose(t);
    assert_int_equal(server_stop(&s2), 0);
    unlink(path);
}

static void test_user_lines_in_config(void **state)
{
    struct server s2;
    assert_int_equal(server_start_conf(&s2, "user alice on >pw ~* +@all\nuser default on nopass ~* &* +@all\n", NULL), 0);
    tconn *t = tconnect(s2.port);
    expect_ok(tcmd(t, "AUTH alice pw"));
    expect_bulk(tcmd(t, "ACL WHOAMI"), "alice");
    expect_error(tcmd(t, "ACL SAVE"),
                 "ERR This Redis instance is not configured to use an ACL file. You may want to specify users "
                 "via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis "
                 "configuration file set) in order to store users in the Redis configuration.");
    tclose(t);
    assert_int_equal(server_stop(&s2), 0);

    /* user lines and an aclfile at once: the server does not start */
    char path[128], cmd[512], *out = NULL;
    snprintf(path, sizeof path, "/tmp/ringkv-test-acl-both-%d.acl", (int)getpid());
    write_file(path, "user default on nopass ~* &* +@all\n");
    snprintf(cmd, sizeof cmd, "%s --port %d --bind 127.0.0.1 --save '' --user 'alice on' --aclfile %s 2>&1",
             server_binary(), free_port(), path);
    int rc = run_cmd(cmd, &out);
    assert_int_not_equal(rc, 0);
    assert_non_null(out);
    assert_non_null(strstr(out, "Configuring Redis with users defined in redis.conf and at the same setting an "
                                "ACL file path is invalid."));
    free(out);
    unlink(path);
}

/* A replica logs in to its master as a user that may only replicate. */
static void test_replica_masteruser(void **state)
{
    struct server m, r;
    const char *const margs[] = { "--requirepass", "adminpw", NULL };
    assert_int_equal(server_start(&m, margs), 0);
    tconn *mc = tconnect(m.port);
    expect_ok(tcmd(mc, "AUTH adminpw"));
    expect_ok(tcmd(mc, "ACL SETUSER repl on >replpw +psync +replconf +ping"));
    char mport[16];
    snprintf(mport, sizeof mport, "%d", m.port);
    const char *const rargs[] = { "--masteruser", "repl", "--masterauth", "replpw", "--replicaof", "127.0.0.1",
                                  mport, NULL };
    assert_int_equal(server_start(&r, rargs), 0);
    tconn *rc = tconnect(r.port);
    expect_ok(tcmd(mc, "SET k v1"));
    /* bounded: the link comes up and the write arrives */
    bool seen = false;
    for (long long until = now_ms() + 20000; now_ms() < until && !seen;) {
        struct rval *v = tcmd(rc, "GET k");
        seen = v && v->type == R_BULK && strcmp(v->str, "v1") == 0;
        rval_free(v);
        if (!seen)
            usleep(50000);
    }
    assert_true(seen);
    /* the link is the user repl's on the master */
    bool listed = false;
    for (long long until = now_ms() + 10000; now_ms() < until && !listed;) {
        struct rval *v = tcmd(mc, "CLIENT LIST");
        listed = v->str && strstr(v->str, " user=repl ");
        if (!listed)
            fprintf(stderr, "CLIENT LIST: %s\n", v->str ? v->str : "");
        rval_free(v);
        if (!listed)
            usleep(50000);
    }
    assert_true(listed);
    tclose(rc);
    tclose(mc);
    assert_int_equal(server_stop(&r), 0);
    assert_int_equal(server_stop(&m), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rules_and_getuser, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rule_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_and_hello, setup, teardown),
        cmocka_unit_test_setup_teardown(test_noperm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_script_calls_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deluser_closes_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_channels_lost_close_subscribers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cat_matches_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aclfile_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_lines_in_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica_masteruser, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
