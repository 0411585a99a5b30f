/* Batch-1 gated layer on the CPU (paper 004 §4.4, issue 16 item 3): y = W (D ⊙ x) reading only the open rows.
 *
 * WT is the stored transpose of W, row-major with row stride ld (unit column stride); idx lists the r open
 * gates (rows of WT; the caller checks the bounds). y[0:m] = Σ_t x[idx[t]] · WT[idx[t], 0:m], eight rows at a
 * time: each pass streams eight rows of WT (eight concurrent memory streams keep one core's loads in flight)
 * and reads and writes y once (y stays in L1/L2 for m up to a few thousand). Before a pass it prefetches the
 * first 256 bytes of the next eight rows, which are not adjacent in memory, so no hardware prefetcher can
 * guess them. No copy of the open rows; one thread; the j loop vectorises at -O3. The sum of a pass runs over
 * its eight rows in index order, then adds to y: deterministic for a given idx.
 * The _mask entry points take the gates as a byte mask of length k (torch.bool) and list the open ones
 * themselves, so that a layer is one call: torch's nonzero and the bounds check of an index list cost a few
 * operator dispatches each, tens of microseconds when the code has left the cache.
 * Built and loaded by nbs_lib.native (ctypes); gemm.gated_gemv_ref (embedding_bag) is the reference.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define G 8            /* rows per pass */
#define PREFETCH 256   /* bytes of each next row prefetched before a pass */

#define GATED_GEMV(NAME, T)                                                                                     \
    void NAME(const T *restrict WT, int64_t ld, const T *restrict x, const int64_t *restrict idx, int64_t r,    \
              int64_t m, T *restrict y) {                                                                       \
        memset(y, 0, (size_t)m * sizeof(T));                                                                    \
        int64_t t = 0;                                                                                          \
        for (; t + G <= r; t += G) {                                                                            \
            const T *restrict a[G];                                                                             \
            T xs[G];                                                                                            \
            for (int q = 0; q < G; ++q) {                                                                       \
                a[q] = WT + idx[t + q] * ld;                                                                    \
                xs[q] = x[idx[t + q]];                                                                          \
            }                                                                                                   \
            for (int q = 0; q < G && t + G + q < r; ++q)                                                        \
                for (int o = 0; o < PREFETCH && o < m * (int64_t)sizeof(T); o += 64)                          \
                    __builtin_prefetch((const char *)(WT + idx[t + G + q] * ld) + o);                           \
            for (int64_t j = 0; j < m; ++j) {                                                                   \
                T s = 0;                                                                                        \
                for (int q = 0; q < G; ++q) s += xs[q] * a[q][j];                                               \
                y[j] += s;                                                                                      \
            }                                                                                                   \
        }                                                                                                       \
        for (; t < r; ++t) {                                                                                    \
            const T *restrict a = WT + idx[t] * ld;                                                             \
            const T xa = x[idx[t]];                                                                             \
            for (int64_t j = 0; j < m; ++j) y[j] += xa * a[j];                                                  \
        }                                                                                                       \
    }

#define GATED_GEMV_MASK(NAME, BASE, T)                                                                         \
    int NAME(const T *restrict WT, int64_t ld, const T *restrict x, const uint8_t *restrict mask, int64_t k,    \
             int64_t m, T *restrict y) {                                                                        \
        int64_t *idx = malloc((size_t)(k > 0 ? k : 1) * sizeof(int64_t));                                      \
        if (!idx) return 1;                                                                                     \
        int64_t r = 0;                                                                                          \
        for (int64_t q = 0; q < k; ++q) {                                                                       \
            idx[r] = q;                                                                                         \
            r += mask[q] != 0;                                                                                  \
        }                                                                                                       \
        BASE(WT, ld, x, idx, r, m, y);                                                                          \
        free(idx);                                                                                              \
        return 0;                                                                                               \
    }

GATED_GEMV(gated_gemv_f32, float)
GATED_GEMV(gated_gemv_f64, double)
GATED_GEMV_MASK(gated_gemv_mask_f32, gated_gemv_f32, float)
GATED_GEMV_MASK(gated_gemv_mask_f64, gated_gemv_f64, double)
