#!/usr/bin/env python3
"""Writes a fuzz_commands seed from commands as text, one a line, in the form
FUZZ_COMMANDS_PRINT=1 prints them (so a seed made against an older alphabet
can be printed by the older target and written again for the current one):

    LIMITS n                  the first byte (set_limits), 0 if absent
    FLUSHALL                  op 0xff
    CLOCK n                   op 0xfe: the clock moves on by n * 50 ms
    - name arg ...            a row by name (op 0xfd)
    s name sub arg ...        a container's row, s its subcommand byte

An argument is one word, \\xHH for a byte (space, backslash and bytes outside
printable ASCII), \\e alone the empty string. Keys k0 k1 k2 {k}3 and
arguments of up to 71 bytes are written in forms that do not depend on the
alphabets (a key's index, raw bytes); a longer one (a script) by its byte in
the alphabet fuzz_commands.c gives that position.

    tests/fuzz/seed.py < commands.txt > tests/fuzz/corpus_commands/NAME
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_commands.c")
KEYS = ["k0", "k1", "k2", "{k}3"]
RAW_MAX = 71


def c_literal(body):
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "x":
            j = i + 2
            while j < len(body) and body[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(body[i + 2:j], 16) & 0xFF)
            i = j
        else:
            out += {"n": b"\n", "t": b"\t", "\\": b"\\", '"': b'"', "'": b"'", "0": b"\0"}[nxt]
            i += 2
    return bytes(out)


def alphabet(src, name):
    m = re.search(r"\b" + name + r"\[\] = \{(.*?)\n\};", src, re.S)
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    items, cur, depth = [], None, 0
    # a word standing for a binary string (DENSE_HLL, STREAM_PAYLOAD ...):
    # its macro's text "<...>",
    # which is what an argument names it by
    marks = dict(re.findall(r'#define (\w+)\s+"(<[^"]*>)"', src))
    for tok in re.finditer(r'"((?:[^"\\]|\\.)*)"|([(),])|\b(' + "|".join(marks) + r')\b', body, re.S):
        if tok.group(3) is not None:
            cur = marks[tok.group(3)].encode()
        elif tok.group(1) is not None:
            cur = (cur or b"") + c_literal(tok.group(1))
        elif tok.group(2) == "(":
            depth += 1
        elif tok.group(2) == ")":
            depth -= 1
        elif depth == 0:
            items.append(cur)
            cur = None
    if cur is not None:
        items.append(cur)
    return items


def word(text):
    if text == "\\e":
        return b""
    return re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode())


def alphabet_byte(a, name, container, i, arg):
    """The bytes argument() maps to arg at position i of the row, if any."""
    row = a["sub"] if container else name
    scripting = name in ("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "script", "function")
    for b in range(40, 230):
        if scripting and (i == 1 if row.startswith("eval") else row in ("load", "exists")):
            got = a["scripts"][b % len(a["scripts"])]
        elif name.startswith("x") and b >= 100:
            got = a["stream_words"][b % len(a["stream_words"])]
        elif b < 100:
            got = a["members"][b % len(a["members"])]
        elif b < 170:
            got = a["numbers"][b % len(a["numbers"])]
        else:
            for w in range(256):
                if a["words"][w % len(a["words"])] == arg:
                    return bytes([b, w])
            continue
        if got == arg:
            return bytes([b])
    sys.exit("seed.py: %r is longer than %d bytes and in no alphabet for %s" % (arg, RAW_MAX, name))


def main():
    src = open(SRC).read()
    a = {n: alphabet(src, n) for n in ("members", "numbers", "words", "stream_words", "scripts")}
    out = bytearray()
    limits = 0
    cmds = bytearray()
    for line in sys.stdin:
        f = line.split()
        if not f or f[0].startswith("#") or line[0].isspace():
            continue
        if f[0] == "LIMITS":
            limits = int(f[1])
            continue
        if f[0] == "FLUSHALL":
            cmds.append(0xFF)
            continue
        if f[0] == "CLOCK":
            cmds += bytes([0xFE, int(f[1])])
            continue
        container = f[0] != "-"
        name = f[1]
        cmds += bytes([0xFD, len(name)]) + name.encode()
        args = [word(x) for x in f[2:]]
        prefix = 1
        if container:
            cmds.append(int(f[0]))
            a["sub"] = args[0].decode()
            args = args[1:]
            prefix = 2
        if len(args) > 22:
            sys.exit("seed.py: more than 22 arguments: " + line)
        cmds.append(len(args))
        for i, arg in enumerate(args, start=prefix):
            if arg.decode("latin-1") in KEYS:
                cmds.append(KEYS.index(arg.decode()))
            elif len(arg) <= RAW_MAX and not (arg.startswith(b"<") and arg.endswith(b">")):
                cmds += bytes([230, len(arg)]) + arg
            else:
                cmds += alphabet_byte(a, name, container, i, arg)
    out.append(limits)
    out += cmds
    sys.stdout.buffer.write(bytes(out))


if __name__ == "__main__":
    main()
