/* A fast 64-bit checksum for integrity checks (saved states): not
 * cryptographic, every input bit reaches the result, ~4 lanes of 8 bytes
 * per step so it runs near memory speed. */
#ifndef FM_CORE_HASH64_H
#define FM_CORE_HASH64_H

#include <stddef.h>
#include <stdint.h>

typedef struct fm_hash64 {
    uint64_t lane[4];
    uint8_t tail[32];
    size_t n_tail;
    uint64_t total;
} fm_hash64;

void fm_hash64_init(fm_hash64 *h, uint64_t seed);
void fm_hash64_update(fm_hash64 *h, const void *data, size_t n);
uint64_t fm_hash64_final(const fm_hash64 *h);
/* One-shot. */
uint64_t fm_hash64_of(const void *data, size_t n, uint64_t seed);

#endif
