/* slot: where a key lives (ARCHITECTURE.md "Where a key lives"). The slot is Redis Cluster's:
 * CRC16-XMODEM of the key's hash tag (the part between the first '{' and the
 * next '}', when non-empty) or of the whole key, modulo 16384. */
#ifndef RINGKV_SLOT_H
#define RINGKV_SLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLOT_COUNT 16384

uint16_t crc16_xmodem(const void *buf, size_t len);
unsigned key_slot(const char *key, size_t len);

/* Tests: compute the CRC with carry-less multiplication where the CPU has
 * it (the default) or, false, with the tables; returns the previous
 * choice. Not for use while other threads compute slots. */
bool slot_clmul_use(bool on);

#endif
