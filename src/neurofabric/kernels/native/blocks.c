/* Native CPU product of block-diagonal stages on one sample (float32).
 *
 * y[g, o] = bias[g·O + o] + Σ_i W[g, o, i] · x[g, i], with the blocks' weights W contiguous
 * (g, o, i) and x and y at any strides: the grid permutation between two stages of a cascade
 * (a perfect shuffle, say) is a pair of strides here, never a copy. Its twin is the
 * ``torch.bmm`` product in ``block_chain.py``, which the tests hold it equal to.
 *
 * On one sample a stage is a matrix-vector product per block, bound by reading W once, and a
 * cascade's stages take a few microseconds each: ``torch.bmm`` and the torch ops around it
 * cost as much again (benchmarks/native_passes.py), so ``nf_block_chain`` runs a whole
 * chain in one call. At batches of two and more ``torch.bmm`` was faster than dotting each
 * weight row with several columns here, and runs them.
 */
#include "nf.h"

/* Floats of a block's input copy (64 KiB on each thread's stack); wider blocks run on
 * torch.bmm (block_chain.py checks). */
#define COPY_FLOATS 16384

typedef struct {
  int64_t out, in;
  const float* weight;
  const float* x;
  int64_t x_block, x_in;
  const float* bias;
  float* y;
  int64_t y_block, y_out;
} block_args;

/* Σ_i w[i] · x[i] with four independent sums (the dependency chain of one would bound it). */
static inline float dot1(const float* w, const float* x, int64_t n) {
  vec s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
  const int64_t L = NF_LANES;
  int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    s0 += *(const vecu*)(w + i) * *(const vec*)(x + i);
    s1 += *(const vecu*)(w + i + L) * *(const vec*)(x + i + L);
    s2 += *(const vecu*)(w + i + 2 * L) * *(const vec*)(x + i + 2 * L);
    s3 += *(const vecu*)(w + i + 3 * L) * *(const vec*)(x + i + 3 * L);
  }
  for (; i + L <= n; i += L) s0 += *(const vecu*)(w + i) * *(const vec*)(x + i);
  float t = horizontal_sum((s0 + s1) + (s2 + s3));
  for (; i < n; ++i) t += w[i] * x[i];
  return t;
}

/* NF_LANES rows' dot products with one column x: a sum per row over whole vectors, then one
 * reduction for all of them (sum_lanes; a horizontal sum per row costs as much as a short
 * row's products); the last in % NF_LANES inputs are added one by one. */
static inline void dot_rows(const float* w, int64_t in, const float* x, float* t) {
  const int64_t L = NF_LANES, whole = in / NF_LANES * NF_LANES;
  vec s[NF_LANES];
  for (int r = 0; r < NF_LANES; ++r) {
    const float* row = w + r * in;
    vec a = {0}, b = {0};
    int64_t i = 0;
    for (; i + 2 * L <= whole; i += 2 * L) {
      a += *(const vecu*)(row + i) * *(const vec*)(x + i);
      b += *(const vecu*)(row + i + L) * *(const vec*)(x + i + L);
    }
    if (i < whole) a += *(const vecu*)(row + i) * *(const vec*)(x + i);
    s[r] = a + b;
  }
  const vec sums = sum_lanes(s);
  for (int r = 0; r < NF_LANES; ++r) {
    float v = sums[r];
    for (int64_t i = whole; i < in; ++i) v += w[r * in + i] * x[i];
    t[r] = v;
  }
}

/* Rows [o0, o1) of block g; o0 is a multiple of NF_LANES. Which rows take which path depends
 * on the row alone, never on where a thread's part begins. */
static void block_part(const block_args* a, int64_t g, int64_t o0, int64_t o1, float* copy) {
  const int64_t in = a->in;
  const float* xg = a->x + g * a->x_block;
  for (int64_t i = 0; i < in; ++i) copy[i] = xg[i * a->x_in]; /* the block's input, dense */
  const float* bias = a->bias ? a->bias + g * a->out : (const float*)0;
  float* y = a->y + g * a->y_block;
  int64_t o = o0;
  if (in < NF_LANES) /* a few inputs (a Clos network's middle stage): rows in fours, whose
                        sums do not wait on each other */
    for (; o + 4 <= o1; o += 4) {
      const float* w = a->weight + (g * a->out + o) * in;
      float t[4] = {0.f, 0.f, 0.f, 0.f};
      for (int64_t i = 0; i < in; ++i)
        for (int r = 0; r < 4; ++r) t[r] += w[r * in + i] * copy[i];
      for (int r = 0; r < 4; ++r) y[(o + r) * a->y_out] = (bias ? bias[o + r] : 0.f) + t[r];
    }
  for (; o + NF_LANES <= o1; o += NF_LANES) {
    float t[NF_LANES];
    dot_rows(a->weight + (g * a->out + o) * in, in, copy, t);
    for (int r = 0; r < NF_LANES; ++r)
      y[(o + r) * a->y_out] = (bias ? bias[o + r] : 0.f) + t[r];
  }
  for (; o < o1; ++o)
    y[o * a->y_out] = (bias ? bias[o] : 0.f) + dot1(a->weight + (g * a->out + o) * in, copy, in);
}

/* Groups [u0, u1) of NF_LANES output rows, counted block by block (a block's last group may
 * be short): threads split at group boundaries, so every row is summed the same way whatever
 * the thread count. */
static void block_rows(int64_t u0, int64_t u1, const void* p) {
  const block_args* a = (const block_args*)p;
  float copy[COPY_FLOATS] __attribute__((aligned(64)));
  const int64_t groups = (a->out + NF_LANES - 1) / NF_LANES;
  while (u0 < u1) {
    const int64_t g = u0 / groups, first = u0 % groups;
    const int64_t last = u1 - g * groups < groups ? u1 - g * groups : groups;
    const int64_t o1 = NF_LANES * last < a->out ? NF_LANES * last : a->out;
    block_part(a, g, NF_LANES * first, o1, copy);
    u0 = g * groups + last;
  }
}

/* y ← the blocks' product (see the top of this file); -1 (nothing written) if a block's
 * input exceeds COPY_FLOATS, else 0. */
int nf_block_product(int64_t threads, int64_t blocks, int64_t out, int64_t in,
                     const float* weight, const float* x, int64_t x_block, int64_t x_in,
                     const float* bias, float* y, int64_t y_block, int64_t y_out) {
  if (in > COPY_FLOATS) return -1;
  const block_args a = {out, in, weight, x, x_block, x_in, bias, y, y_block, y_out};
  nf_parallel_for(blocks * ((out + NF_LANES - 1) / NF_LANES), threads, block_rows, &a);
  return 0;
}

/* A chain of stages: stage s reads the previous stage's output vector (x for the first) at
 * strides (x_block, x_in) and writes its own, contiguous, to outputs[s]; bias (or NULL) is
 * added to the last. layout holds five numbers per stage: blocks, out, in, x_block, x_in.
 * Each stage runs on min(threads, work / work_per_thread) threads, work being its
 * multiply-adds. Returns -1 (nothing written) if a block's input exceeds COPY_FLOATS. */
int nf_block_chain(int64_t threads, int64_t work_per_thread, int64_t stages,
                   const int64_t* layout, const float* const* weights, const float* x,
                   const float* bias, float* const* outputs) {
  for (int64_t s = 0; s < stages; ++s)
    if (layout[5 * s + 2] > COPY_FLOATS) return -1;
  for (int64_t s = 0; s < stages; ++s) {
    const int64_t* l = layout + 5 * s;
    int64_t team = l[0] * l[1] * l[2] / work_per_thread;
    team = team < 1 ? 1 : team > threads ? threads : team;
    const block_args a = {l[1],       l[2], weights[s], s ? outputs[s - 1] : x,
                          l[3],       l[4], s + 1 == stages ? bias : (const float*)0,
                          outputs[s], l[1], 1};
    nf_parallel_for(l[0] * ((l[1] + NF_LANES - 1) / NF_LANES), team, block_rows, &a);
  }
  return 0;
}
