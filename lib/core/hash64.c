/* The checksum of hash64.h: four independent multiply-rotate lanes over
 * 32-byte stripes, folded and avalanched at the end. */
#include "hash64.h"

#include <string.h>

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v; /* little-endian hosts; the result is only compared on this host's saves */
}

static inline uint64_t round64(uint64_t acc, uint64_t in) { return rotl(acc + in * P2, 31) * P1; }

void fm_hash64_init(fm_hash64 *h, uint64_t seed) {
    h->lane[0] = seed + P1 + P2, h->lane[1] = seed + P2, h->lane[2] = seed, h->lane[3] = seed - P1;
    h->n_tail = 0, h->total = 0;
}

static void stripe(fm_hash64 *h, const uint8_t *p) {
    for (int i = 0; i < 4; i++) h->lane[i] = round64(h->lane[i], load64(p + 8 * i));
}

void fm_hash64_update(fm_hash64 *h, const void *data, size_t n) {
    const uint8_t *p = data;
    h->total += n;
    if (h->n_tail > 0) {
        const size_t take = n < 32 - h->n_tail ? n : 32 - h->n_tail;
        memcpy(h->tail + h->n_tail, p, take);
        h->n_tail += take, p += take, n -= take;
        if (h->n_tail < 32) return;
        stripe(h, h->tail);
        h->n_tail = 0;
    }
    for (; n >= 32; p += 32, n -= 32) stripe(h, p);
    memcpy(h->tail, p, n);
    h->n_tail = n;
}

uint64_t fm_hash64_final(const fm_hash64 *h) {
    uint64_t a = rotl(h->lane[0], 1) + rotl(h->lane[1], 7) + rotl(h->lane[2], 12) + rotl(h->lane[3], 18);
    for (int i = 0; i < 4; i++) a = (a ^ round64(0, h->lane[i])) * P1 + P3;
    a += h->total;
    size_t i = 0;
    for (; i + 8 <= h->n_tail; i += 8) a = rotl(a ^ round64(0, load64(h->tail + i)), 27) * P1 + P3;
    for (; i < h->n_tail; i++) a = rotl(a ^ (h->tail[i] * P3), 11) * P1;
    a ^= a >> 33, a *= P2, a ^= a >> 29, a *= P3, a ^= a >> 32;
    return a;
}

uint64_t fm_hash64_of(const void *data, size_t n, uint64_t seed) {
    fm_hash64 h;
    fm_hash64_init(&h, seed);
    fm_hash64_update(&h, data, n);
    return fm_hash64_final(&h);
}
