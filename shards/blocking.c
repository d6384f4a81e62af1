#include "shards/blocking.h"
void blocking_key_ready(struct exec_ctx *ctx, struct slice key) { (void)ctx; (void)key; }
