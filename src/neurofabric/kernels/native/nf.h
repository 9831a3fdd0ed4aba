/* What the native sources share: vector types, index type and the thread pool entry point.
 *
 * Vectors are GCC/Clang vector extensions (16 floats): the compiler maps them to AVX-512,
 * two AVX2 registers or four NEON registers as the machine has.
 */
#ifndef NEUROFABRIC_NF_H
#define NEUROFABRIC_NF_H

#include <stdint.h>

typedef int32_t index_t;
typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4))); /* unaligned loads/stores */
typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));

#define MAX_THREADS 64

/* fn(begin, end, args) over [0, n) in `threads` contiguous parts (threads.c). */
typedef void (*range_fn)(int64_t begin, int64_t end, const void* args);
__attribute__((visibility("hidden"))) void nf_parallel_for(int64_t n, int64_t threads,
                                                        range_fn fn, const void* args);

/* Σ of the sixteen lanes. */
static inline float horizontal_sum(v16 v) {
  const v8 h = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
               __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const v4 q =
      __builtin_shufflevector(h, h, 0, 1, 2, 3) + __builtin_shufflevector(h, h, 4, 5, 6, 7);
  return (q[0] + q[2]) + (q[1] + q[3]);
}

/* r[t] = Σ lanes of s[t], t < 16: a tree of two-vector shuffles (30 for 16 sums, against ~4
 * each for separate horizontal sums). */
static inline v16 sum16(const v16* s) {
  v16 u[8], v[4], w[2];
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
}

#endif
