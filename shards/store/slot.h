/* slot: where a key lives (ARCHITECTURE.md "Where a key lives"). The slot is Redis Cluster's:
 * CRC16-XMODEM of the key's hash tag (the part between the first '{' and the
 * next '}', when non-empty) or of the whole key, modulo 16384. */
#ifndef RINGKV_SLOT_H
#define RINGKV_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define SLOT_COUNT 16384

uint16_t crc16_xmodem(const void *buf, size_t len);
unsigned key_slot(const char *key, size_t len);

#endif
