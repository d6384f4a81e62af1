#ifndef RINGKV_BLOCKING_H
#define RINGKV_BLOCKING_H
#include "core/command.h"
void blocking_key_ready(struct exec_ctx *ctx, struct slice key);
#endif
