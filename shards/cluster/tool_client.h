/* tool_client: the admin tool's connection to one node or Sentinel: a
 * blocking socket, one command out, one reply back (RESP2).
 *
 * The tool is not the server: it talks to a handful of nodes once, so plain
 * blocking calls with a timeout (SO_RCVTIMEO/SO_SNDTIMEO) are what it needs.
 * Replies are read whole (core/resp.h's resp_value_len says when one is
 * complete) and handed back as their RESP bytes, for resp_reader.
 *
 * Errors (unreachable, closed, timed out, a malformed reply) leave a
 * sentence in client->err; the connection is unusable afterwards. */
#ifndef RINGKV_TOOL_CLIENT_H
#define RINGKV_TOOL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include "core/buf.h"

struct tool_client {
    int        fd;        /* -1 when not connected */
    char       addr[300]; /* "ip:port", for messages */
    char       err[640];  /* why the last call failed */
    struct buf in;        /* bytes read and not yet handed back */
    struct buf reply;     /* the last reply's RESP bytes */
};

/* The longest wait for a node to accept a connection. */
#define TOOL_CONNECT_TIMEOUT_MS 5000

/* Connect to host:port (a name or a numeric address), waiting at most
 * timeout_ms (and TOOL_CONNECT_TIMEOUT_MS) for the connection and
 * timeout_ms for each reply and send afterwards. ip_out
 * (64 bytes, may be NULL) gets the numeric address connected to.
 * Returns 0, or -1 with c->err set. */
int tool_connect(struct tool_client *c, const char *host, int port, int timeout_ms, char *ip_out);
void tool_close(struct tool_client *c);

/* Send one command (argc arguments, NUL-terminated) and read its reply into
 * c->reply. Returns 0 when a reply came (maybe an error reply), -1 with
 * c->err set when none did. */
int tool_call(struct tool_client *c, int argc, const char *const *argv);

/* The two halves of tool_call, for pipelining: send commands already
 * encoded (any number), then read their replies one by one into c->reply.
 * Each returns 0, or -1 with c->err set. */
int tool_send(struct tool_client *c, const struct buf *cmds);
int tool_read(struct tool_client *c);

/* tool_call, then the reply as text: a bulk or simple string (malloc'd,
 * NUL-terminated; a nil bulk gives ""). NULL with c->err set when the call
 * failed or the reply is of another type (an error reply's text goes to
 * c->err). */
char *tool_call_text(struct tool_client *c, int argc, const char *const *argv);

/* The same for an integer reply: 0, or -1 with c->err set. */
int tool_call_int(struct tool_client *c, int argc, const char *const *argv, long long *v);

/* The value of "field:" in an INFO-style text (lines "field:value\r\n"),
 * copied to out; false when the field is not there. */
bool tool_info_field(const char *info, const char *field, char *out, size_t outlen);

#endif
