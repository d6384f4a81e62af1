#!/usr/bin/env python3
"""Writes core/acl_categories.c: the Redis 7.0 ACL categories of every
command, and the read/write permission its keys need, as redis-server
reports them. Run against a redis-server 7.0 on this machine:

    redis-cli -p PORT --json COMMAND > /tmp/cmds.json
    python3 core/acl_categories_gen.py /tmp/cmds.json > core/acl_categories.c

The categories are ACL CAT's list, in its order; a key needs read
permission when its key spec has the "access" flag and write permission
when it has "insert", "delete" or "update", as Redis's ACL check reads
them. SET and BITFIELD ("variable_flags") need read permission only with
their GET forms: ringkv asks write permission only of them, which is what
Redis asks of their common form (SET without GET)."""
import json
import sys

CATS = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
        "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
        "dangerous", "connection", "transaction", "scripting"]


def perm(flags):
    p = []
    if "access" in flags:
        p.append("ACL_KEY_READ")
    if {"insert", "delete", "update"} & set(flags):
        p.append("ACL_KEY_WRITE")
    return p


def row(c):
    name, cats, specs = c[0], c[6], c[8]
    bits = " | ".join("ACL_CAT_" + x[1:].upper() for x in cats) or "0"
    first, rest = [], []
    for i, ks in enumerate(specs):
        fl = [f.lower() for f in ks["flags"]]
        p = perm(fl)
        if "variable_flags" in fl:
            p = ["ACL_KEY_WRITE"]
        if i == 0:
            first = p
        else:
            rest = sorted(set(rest) | set(p))
    if len(specs) == 1:
        rest = first
    f = " | ".join(first) or "0"
    r = " | ".join(rest) or "0"
    return '    { "%s", %s, %s, %s },' % (name, bits, f, r)


def main():
    cmds = json.load(open(sys.argv[1]))
    rows = []
    for c in sorted(cmds, key=lambda c: c[0]):
        rows.append(row(c))
        for sub in sorted(c[9], key=lambda s: s[0]):
            rows.append(row(sub))
    print("/* acl_categories: the Redis 7.0 ACL categories of each command and the")
    print(" * permissions its keys need (first key, the others), as redis-server 7.0.15")
    print(" * reports them in COMMAND. Written by core/acl_categories_gen.py; do not")
    print(" * edit by hand. */")
    print('#include "core/acl.h"')
    print()
    print("const struct acl_command_info acl_command_infos[] = {")
    print("\n".join(rows))
    print("};")
    print()
    print("const size_t acl_command_infos_len = sizeof(acl_command_infos) / sizeof(acl_command_infos[0]);")
    print()
    print("const char *const acl_category_names[ACL_CATEGORIES] = {")
    print("    " + ", ".join('"%s"' % c for c in CATS) + ",")
    print("};")


main()
