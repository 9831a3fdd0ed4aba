/* What the native sources share: the vector type, the index type, shuffles of whole vectors
 * and the thread pool's entry point.
 *
 * Vectors are GCC/Clang vector extensions of NF_LANES floats, one vector register each:
 * AVX-512 16, AVX/AVX2 8, SSE2 and NEON 4. (Written for 16-float vectors only, an AVX2 build
 * had GCC split every operation through the stack, many times slower than the torch passes;
 * benchmarks/native_passes.py --march times a width.)
 */
#ifndef NEUROFABRIC_NF_H
#define NEUROFABRIC_NF_H

#include <stdint.h>

typedef int32_t index_t;

#if defined(__AVX512F__)
#define NF_LANES 16
#elif defined(__AVX__)
#define NF_LANES 8
#else /* SSE2, NEON */
#define NF_LANES 4
#endif
typedef float vec __attribute__((vector_size(4 * NF_LANES)));
typedef float vecu __attribute__((vector_size(4 * NF_LANES), aligned(4))); /* unaligned */

#define MAX_THREADS 64

/* fn(begin, end, args) over [0, n) in `threads` contiguous parts (threads.c). */
typedef void (*range_fn)(int64_t begin, int64_t end, const void* args);
__attribute__((visibility("hidden"))) void nf_parallel_for(int64_t n, int64_t threads,
                                                        range_fn fn, const void* args);

/* ------------------------------------------------------------ NF_LANES × NF_LANES transpose */

/* m[i][j] ← m[j][i] for NF_LANES vectors: butterfly stages h = 1, 2, 4, … that swap the
 * off-diagonal h × h blocks of each 2h × 2h block (NF_LANES · log2 NF_LANES shuffles). In
 * stage h, lane p of the first vector comes from the second's lane p − h when p & h, and lane
 * p of the second from the first's lane p + h when not. */
#define TRANSPOSE_STAGE(h, LO, HI)                    \
  for (int i = 0; i < NF_LANES; ++i) {                \
    if (i & (h)) continue;                            \
    const vec a_ = m[i], b_ = m[i + (h)];             \
    m[i] = __builtin_shufflevector(a_, b_, LO);       \
    m[i + (h)] = __builtin_shufflevector(a_, b_, HI); \
  }
#if NF_LANES == 16
#define NF_LO1 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define NF_HI1 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31
#define NF_LO2 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define NF_HI2 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define NF_LO4 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define NF_HI4 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define NF_LO8 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define NF_HI8 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define NF_TRANSPOSE_STAGES \
  TRANSPOSE_STAGE(1, NF_LO1, NF_HI1) \
  TRANSPOSE_STAGE(2, NF_LO2, NF_HI2) \
  TRANSPOSE_STAGE(4, NF_LO4, NF_HI4) \
  TRANSPOSE_STAGE(8, NF_LO8, NF_HI8)
#elif NF_LANES == 8
#define NF_LO1 0, 8, 2, 10, 4, 12, 6, 14
#define NF_HI1 1, 9, 3, 11, 5, 13, 7, 15
#define NF_LO2 0, 1, 8, 9, 4, 5, 12, 13
#define NF_HI2 2, 3, 10, 11, 6, 7, 14, 15
#define NF_LO4 0, 1, 2, 3, 8, 9, 10, 11
#define NF_HI4 4, 5, 6, 7, 12, 13, 14, 15
#define NF_TRANSPOSE_STAGES \
  TRANSPOSE_STAGE(1, NF_LO1, NF_HI1) \
  TRANSPOSE_STAGE(2, NF_LO2, NF_HI2) \
  TRANSPOSE_STAGE(4, NF_LO4, NF_HI4)
#else
#define NF_LO1 0, 4, 2, 6
#define NF_HI1 1, 5, 3, 7
#define NF_LO2 0, 1, 4, 5
#define NF_HI2 2, 3, 6, 7
#define NF_TRANSPOSE_STAGES \
  TRANSPOSE_STAGE(1, NF_LO1, NF_HI1) \
  TRANSPOSE_STAGE(2, NF_LO2, NF_HI2)
#endif

static inline void transpose_lanes(vec* m) { NF_TRANSPOSE_STAGES }

/* Σ of the lanes. */
static inline float horizontal_sum(vec v) {
#if NF_LANES == 16
  typedef float v8 __attribute__((vector_size(32)));
  typedef float v4 __attribute__((vector_size(16)));
  const v8 h = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
               __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const v4 q =
      __builtin_shufflevector(h, h, 0, 1, 2, 3) + __builtin_shufflevector(h, h, 4, 5, 6, 7);
  return (q[0] + q[2]) + (q[1] + q[3]);
#else
  float t = 0.f;
  for (int i = 0; i < NF_LANES; ++i) t += v[i];
  return t;
#endif
}

/* r[t] = Σ lanes of s[t], t < NF_LANES. With 16 lanes a tree of two-vector shuffles (30, against
 * ~4 per vector for separate horizontal sums); with 8, halves first (below); with 4, a
 * transpose and 3 adds. */
static inline vec sum_lanes(const vec* s) {
#if NF_LANES == 16
  vec u[8], v[4], w[2];
  for (int t = 0; t < 8; ++t)
    u[t] = __builtin_shufflevector(s[2 * t], s[2 * t + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18,
                                   19, 20, 21, 22, 23) +
           __builtin_shufflevector(s[2 * t], s[2 * t + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25,
                                   26, 27, 28, 29, 30, 31);
  for (int t = 0; t < 4; ++t)
    v[t] = __builtin_shufflevector(u[2 * t], u[2 * t + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18,
                                   19, 24, 25, 26, 27) +
           __builtin_shufflevector(u[2 * t], u[2 * t + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22,
                                   23, 28, 29, 30, 31);
  for (int t = 0; t < 2; ++t)
    w[t] = __builtin_shufflevector(v[2 * t], v[2 * t + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20,
                                   21, 24, 25, 28, 29) +
           __builtin_shufflevector(v[2 * t], v[2 * t + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22,
                                   23, 26, 27, 30, 31);
  return __builtin_shufflevector(w[0], w[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                 28, 30) +
         __builtin_shufflevector(w[0], w[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27,
                                 29, 31);
#elif NF_LANES == 8
  /* each vector's halves added first, then two 4 × 4 transposes of 128-bit vectors: the
   * in-lane shuffles are one micro-op each on Zen, where the cross-lane ones of a full 8 × 8
   * transpose (vperm2f128) cost several (on the AVX2 EPYC: 0.99 of the edge gradient's
   * time, benchmarks/native_builds.py) */
  typedef float v4 __attribute__((vector_size(16)));
  v4 h[8], r[2];
  for (int t = 0; t < 8; ++t)
    h[t] = __builtin_shufflevector(s[t], s[t], 0, 1, 2, 3) +
           __builtin_shufflevector(s[t], s[t], 4, 5, 6, 7);
  for (int q = 0; q < 2; ++q) {
    const v4 a = h[4 * q], b = h[4 * q + 1], c = h[4 * q + 2], d = h[4 * q + 3];
    /* ab = (a0 + a2, b0 + b2, a1 + a3, b1 + b3), cd likewise */
    const v4 ab =
        __builtin_shufflevector(a, b, 0, 4, 1, 5) + __builtin_shufflevector(a, b, 2, 6, 3, 7);
    const v4 cd =
        __builtin_shufflevector(c, d, 0, 4, 1, 5) + __builtin_shufflevector(c, d, 2, 6, 3, 7);
    r[q] =
        __builtin_shufflevector(ab, cd, 0, 1, 4, 5) + __builtin_shufflevector(ab, cd, 2, 3, 6, 7);
  }
  return __builtin_shufflevector(r[0], r[1], 0, 1, 2, 3, 4, 5, 6, 7);
#else
  vec m[NF_LANES];
  for (int t = 0; t < NF_LANES; ++t) m[t] = s[t];
  transpose_lanes(m); /* m[c][t] = s[t][c] */
  vec r = m[0];
  for (int c = 1; c < NF_LANES; ++c) r += m[c];
  return r;
#endif
}

#endif
