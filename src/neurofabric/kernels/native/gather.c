/* Native CPU passes of the ``gather`` kernel (float32, int32 indices).
 *
 * Compiled on first use by ``neurofabric.kernels.native`` with the system C compiler
 * (``-O3 -march=native``) and called through ctypes; every pass has a pure-torch twin in
 * ``gather.py`` that the tests hold it equal to.
 *
 * Layout: every matrix is feature-major, one row of ``b`` batch values per neuron, rows ``ld``
 * floats apart. The batch is processed ``CHUNK`` columns at a time, so a pass streams its
 * index and weights while the chunk of gathered rows stays in the L2 cache; the caller picks
 * ``ld`` so that rows do not all fall into the same cache sets (``ld / 16`` odd).
 *
 * Parallelism (threads.c): each pass splits its output rows into contiguous ranges, one
 * thread each, so results do not depend on the thread count.
 */
#include "nf.h"

/* Vectors per chunk of batch columns (one pass over the edges per chunk): four with AVX-512
 * (64 columns) or SSE2/NEON, eight with AVX2 (64 columns too). On the AVX2 EPYC (Zen, 512 KiB
 * L2 per core) a gather step at 4096², batch 256, took 1.22–1.32× as long with four vectors
 * and 2.2× with two (a chunk that fits that L2): benchmarks/native_builds.py --against tree
 * --define-a CHUNK_VECTORS=4. Eight vectors in two chains of accumulators spilled (16
 * registers) and were slower than one chain in a prototype. */
#ifndef CHUNK_VECTORS
#if NF_LANES == 8
#define CHUNK_VECTORS 8
#else
#define CHUNK_VECTORS 4
#endif
#endif
#define CHUNK (CHUNK_VECTORS * NF_LANES) /* batch columns per pass over the edges */
/* Prefetching: PREFETCH edges ahead, the first PREFETCH_LINES cache lines of the chunk of the
 * row that edge gathers (the hardware prefetcher fetches the rest). The edge gradient was
 * fastest at 16 edges ahead (of 4, 8, 16, 32; 4096², density 1/16, batch 256) on the AVX-512
 * EPYC. On the AVX2 one (Zen) two of a chunk's four lines were faster than all four: the edge
 * gradient took 0.87–0.93 of its time, and the eight-vector bag sums, prefetching two lines,
 * 0.75–0.94 of theirs without (three or four lines: 8–17% slower; 8 edges ahead: 28%), in
 * benchmarks/native_builds.py. On AVX2 a chunk of four vectors (PAIR_PREFETCH_VECTORS: a
 * batch's last 25–32 columns), summed two edges at a time, prefetches both edges' rows: at
 * batch 32 the forward bag sum took 0.86–0.90 of its time, the step 0.90–0.98; at
 * batch 16 (two vectors) prefetching made the bag sums 15–23% slower. With four-vector chunks
 * (AVX-512) the bag sums gained nothing from prefetching and do not. */
#ifndef PREFETCH
#define PREFETCH 16
#endif
#ifndef PREFETCH_LINES
#if NF_LANES == 8
#define PREFETCH_LINES 2
#else
#define PREFETCH_LINES ((CHUNK * 4 + 63) / 64)
#endif
#endif
#ifndef PAIR_PREFETCH_VECTORS
#if NF_LANES == 8
#define PAIR_PREFETCH_VECTORS 4
#else
#define PAIR_PREFETCH_VECTORS (CHUNK_VECTORS + 1)
#endif
#endif

/* ---------------------------------------------------------------- bag sum */

/* out[j, :] = bias[j] + Σ_{e ∈ bag j} weight[e] · rows[source(e), :] with bag j =
 * [offsets[j], offsets[j+1]). source(e) = index[e], or
 * index[e] / divisor when `magic` (= ⌈2^64 / divisor⌉, Lemire's exact 32-bit division) is not
 * zero: the transposed pass reads the output neuron off a canonical edge number. */
typedef struct {
  const index_t* offsets;
  const index_t* index;
  uint64_t magic;
  const float* weight;
  const float* rows;
  int64_t b, ld_rows;
  float* out;
  int64_t ld_out;
  const float* bias; /* NULL, or one value per bag added to its sums */
  int batch_major;   /* out is (b, bags) with row stride ld_out, else (bags, b) */
} bag_args;

/* The first PREFETCH_LINES cache lines from p. */
#define PREFETCH_ROW(p)                                                \
  {                                                                    \
    const char* next_ = (const char*)(p);                              \
    for (int line_ = 0; line_ < PREFETCH_LINES; ++line_)               \
      __builtin_prefetch(next_ + 64 * line_);                          \
  }

/* source_of(e): the row edge e gathers; `divide` is a compile-time constant in each copy of
 * the loop below, so neither copy tests it per edge. */
#define SOURCE_OF(e) \
  (divide ? (int64_t)(((__uint128_t)(uint32_t)index[e] * magic) >> 64) : (int64_t)index[e])

/* One chunk of columns [c0, c0 + NF_LANES·nv) of the bags [bag0, bag1); nv (1 to
 * CHUNK_VECTORS), `divide` and `batch_major` are compile-time constants in each copy but the
 * 5–7 vectors of a last chunk. The last chunk of a batch that is not a multiple of CHUNK has
 * fewer vectors, the last of them partly past column b: rows are padded to whole vectors with
 * zeros (passes.py), so those lanes read zeros, and they are never stored (the output's own
 * padding stays zero). */
static inline __attribute__((always_inline)) void bag_chunk(int64_t bag0, int64_t bag1,
                                                            const bag_args* a, const int64_t c0,
                                                            const int nv, const int divide,
                                                            const int batch_major) {
  const index_t* const offsets = a->offsets;
  const index_t* const index = a->index;
  const float* const weight = a->weight;
  const float* const bias = a->bias;
  const uint64_t magic = a->magic;
  const int64_t ld = a->ld_rows, ld_out = a->ld_out, end = offsets[bag1];
  const int64_t width = a->b - c0 < CHUNK ? a->b - c0 : CHUNK; /* columns kept */
  const float* rows = a->rows + c0;
  /* batch-major output: NF_LANES bags' sums are kept (tile) and written as whole vectors of
   * NF_LANES consecutive columns after an NF_LANES × NF_LANES transpose */
  for (int64_t group = bag0; group < bag1; group += NF_LANES) {
    const int64_t group_end = group + NF_LANES < bag1 ? group + NF_LANES : bag1;
    vec tile[CHUNK_VECTORS][NF_LANES];
    for (int64_t bag = group; bag < group_end; ++bag) {
      const int64_t e0 = offsets[bag], e1 = offsets[bag + 1];
      /* up to four vectors: two edges per step into two sets of accumulators, half the
       * dependency chain */
      const float start = bias ? bias[bag] : 0.f;
      vec p[CHUNK_VECTORS], q[CHUNK_VECTORS];
      for (int v = 0; v < nv; ++v) {
        p[v] = (vec){0} + start;
        q[v] = (vec){0};
      }
      int64_t e = e0;
      /* more than four vectors are enough independent chains alone (and two sets of them
       * would not fit the registers); `end` bounds the prefetch's index read */
      for (; nv > 4 && e < e1; ++e) {
        if (e + PREFETCH < end) PREFETCH_ROW(rows + SOURCE_OF(e + PREFETCH) * ld)
        const vecu* rp = (const vecu*)(rows + SOURCE_OF(e) * ld);
        const float wp = weight[e];
        for (int v = 0; v < nv; ++v) p[v] += wp * rp[v];
      }
      for (; e + 2 <= e1; e += 2) {
        if (nv >= PAIR_PREFETCH_VECTORS && e + PREFETCH + 1 < end) {
          PREFETCH_ROW(rows + SOURCE_OF(e + PREFETCH) * ld)
          PREFETCH_ROW(rows + SOURCE_OF(e + PREFETCH + 1) * ld)
        }
        const vecu* rp = (const vecu*)(rows + SOURCE_OF(e) * ld);
        const vecu* rq = (const vecu*)(rows + SOURCE_OF(e + 1) * ld);
        const float wp = weight[e], wq = weight[e + 1];
        for (int v = 0; v < nv; ++v) {
          p[v] += wp * rp[v];
          q[v] += wq * rq[v];
        }
      }
      if (e < e1) {
        const vecu* rp = (const vecu*)(rows + SOURCE_OF(e) * ld);
        const float wp = weight[e];
        for (int v = 0; v < nv; ++v) p[v] += wp * rp[v];
      }
      if (batch_major) {
        for (int v = 0; v < nv; ++v) tile[v][bag - group] = p[v] + q[v];
      } else if (width == NF_LANES * nv) {
        vecu* o = (vecu*)(a->out + bag * ld_out + c0);
        for (int v = 0; v < nv; ++v) o[v] = p[v] + q[v];
      } else { /* keep the output's padding zero: other passes read it as whole vectors */
        float* o = a->out + bag * ld_out + c0;
        for (int v = 0; v < nv; ++v) {
          const vec r = p[v] + q[v];
          for (int c = 0; c < NF_LANES && NF_LANES * v + c < width; ++c)
            o[NF_LANES * v + c] = r[c];
        }
      }
    }
    if (batch_major && group_end - group == NF_LANES) {
      for (int v = 0; v < nv; ++v) {
        transpose_lanes(tile[v]); /* tile[v][c]: column c0 + NF_LANES·v + c of the bags */
        for (int c = 0; c < NF_LANES && NF_LANES * v + c < width; ++c)
          *(vecu*)(a->out + (c0 + NF_LANES * v + c) * ld_out + group) = tile[v][c];
      }
    } else if (batch_major) {
      for (int64_t bag = group; bag < group_end; ++bag)
        for (int c = 0; c < width; ++c)
          a->out[(c0 + c) * ld_out + bag] = tile[c / NF_LANES][bag - group][c % NF_LANES];
    }
  }
}

static inline __attribute__((always_inline)) void bag_sum_body(int64_t bag0, int64_t bag1,
                                                               const bag_args* a,
                                                               const int divide,
                                                               const int batch_major) {
  for (int64_t c0 = 0; c0 < a->b; c0 += CHUNK) {
    const int64_t left = (a->b - c0 + NF_LANES - 1) / NF_LANES;
    const int64_t vectors = left < CHUNK_VECTORS ? left : CHUNK_VECTORS;
    if (vectors >= CHUNK_VECTORS)
      bag_chunk(bag0, bag1, a, c0, CHUNK_VECTORS, divide, batch_major);
    else if (vectors > 4) /* 5–7 of an 8-vector chunk: the last chunk only */
      bag_chunk(bag0, bag1, a, c0, (int)vectors, divide, batch_major);
    else if (vectors == 4)
      bag_chunk(bag0, bag1, a, c0, 4, divide, batch_major);
    else if (vectors == 3)
      bag_chunk(bag0, bag1, a, c0, 3, divide, batch_major);
    else if (vectors == 2)
      bag_chunk(bag0, bag1, a, c0, 2, divide, batch_major);
    else
      bag_chunk(bag0, bag1, a, c0, 1, divide, batch_major);
  }
}

static void bag_sum_range(int64_t bag0, int64_t bag1, const void* p) {
  const bag_args* a = (const bag_args*)p;
  if (a->magic && a->batch_major)
    bag_sum_body(bag0, bag1, a, 1, 1);
  else if (a->magic)
    bag_sum_body(bag0, bag1, a, 1, 0);
  else if (a->batch_major)
    bag_sum_body(bag0, bag1, a, 0, 1);
  else
    bag_sum_body(bag0, bag1, a, 0, 0);
}

void nf_bag_sum(int64_t threads, int64_t bags, const index_t* offsets,
                const index_t* index, uint64_t magic, const float* weight, const float* rows,
                int64_t b, int64_t ld_rows, float* out, int64_t ld_out, const float* bias,
                int64_t batch_major) {
  const bag_args a = {offsets, index,  magic, weight, rows, b,
                      ld_rows, out,    ld_out, bias, (int)batch_major};
  nf_parallel_for(bags, threads, bag_sum_range, &a);
}

/* ---------------------------------------------------------------- edge gradient */

/* dw[e] = Σ_c g[j, c] · x[index[e], c] for the edges e ∈ [offsets[j], offsets[j+1]) of
 * output j. */
typedef struct {
  const index_t* offsets;
  const index_t* index;
  const float* g;
  int64_t ld_g;
  const float* x;
  int64_t ld_x, b;
  float* dw;
} edge_args;

static inline __attribute__((always_inline)) void edge_chunk(int64_t row0, int64_t row1,
                                                             const edge_args* a,
                                                             const int64_t c0, const int nv) {
  const index_t* const index = a->index;
  float* const dw = a->dw;
  const index_t* const offsets = a->offsets;
  const int64_t ld_g = a->ld_g, ld_x = a->ld_x, end = offsets[row1];
  const float* x = a->x + c0;
  for (int64_t j = row0; j < row1; ++j) {
    const vecu* gp = (const vecu*)(a->g + j * ld_g + c0);
    vec g[CHUNK_VECTORS];
    for (int v = 0; v < nv; ++v) g[v] = gp[v];
    int64_t e = offsets[j];
    const int64_t e1 = offsets[j + 1];
    for (; e + NF_LANES <= e1; e += NF_LANES) {
      vec s[NF_LANES];
      for (int t = 0; t < NF_LANES; ++t) {
        if (e + t + PREFETCH < end) PREFETCH_ROW(x + (int64_t)index[e + t + PREFETCH] * ld_x)
        const vecu* xp = (const vecu*)(x + (int64_t)index[e + t] * ld_x);
        s[t] = g[0] * xp[0];
        for (int v = 1; v < nv; ++v) s[t] += g[v] * xp[v];
      }
      const vec r = sum_lanes(s);
      vecu* d = (vecu*)(dw + e);
      *d = c0 ? *d + r : r;
    }
    for (; e < e1; ++e) {
      const vecu* xp = (const vecu*)(x + (int64_t)index[e] * ld_x);
      vec s = g[0] * xp[0];
      for (int v = 1; v < nv; ++v) s += g[v] * xp[v];
      const float t = horizontal_sum(s);
      dw[e] = c0 ? dw[e] + t : t;
    }
  }
}

/* Padded lanes past column b are zero in both g and x (passes.py), so they add nothing. */
static void edge_gradient_range(int64_t row0, int64_t row1, const void* p) {
  const edge_args* a = (const edge_args*)p;
  for (int64_t c0 = 0; c0 < a->b; c0 += CHUNK) {
    const int64_t left = (a->b - c0 + NF_LANES - 1) / NF_LANES;
    const int64_t vectors = left < CHUNK_VECTORS ? left : CHUNK_VECTORS;
    if (vectors >= CHUNK_VECTORS)
      edge_chunk(row0, row1, a, c0, CHUNK_VECTORS);
    else if (vectors > 4) /* 5–7 of an 8-vector chunk: the last chunk only */
      edge_chunk(row0, row1, a, c0, (int)vectors);
    else if (vectors == 4)
      edge_chunk(row0, row1, a, c0, 4);
    else if (vectors == 3)
      edge_chunk(row0, row1, a, c0, 3);
    else if (vectors == 2)
      edge_chunk(row0, row1, a, c0, 2);
    else
      edge_chunk(row0, row1, a, c0, 1);
  }
}

void nf_edge_gradient(int64_t threads, int64_t rows, const index_t* offsets,
                      const index_t* index, const float* g, int64_t ld_g, const float* x,
                      int64_t ld_x, int64_t b, float* dw) {
  const edge_args a = {offsets, index, g, ld_g, x, ld_x, b, dw};
  nf_parallel_for(rows, threads, edge_gradient_range, &a);
}

/* ---------------------------------------------------------------- one sample */

typedef struct {
  const index_t* offsets;
  const index_t* index;
  const float* weight;
  const float* x;
  const float* bias;
  float* y;
} dots_args;

/* Scalar on purpose: GCC would vectorise the four chains into hardware gathers, which were
 * 1.6–1.9× slower on the EPYC in a prototype (clang does not vectorise this loop). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-vectorize")))
#endif
static void row_dots_range(int64_t row0, int64_t row1, const void* p) {
  const dots_args* a = (const dots_args*)p;
  const index_t* const index = a->index;
  const float* const weight = a->weight;
  const float* const x = a->x;
  for (int64_t j = row0; j < row1; ++j) {
    int64_t e = a->offsets[j];
    const int64_t e1 = a->offsets[j + 1];
    /* four chains: as fast as MKL's CSR mv at 4096², density 1/16 (benchmarks/native_passes.py;
     * eight chains were no faster in a prototype) */
    float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
    for (; e + 4 <= e1; e += 4) {
      s0 += weight[e] * x[index[e]];
      s1 += weight[e + 1] * x[index[e + 1]];
      s2 += weight[e + 2] * x[index[e + 2]];
      s3 += weight[e + 3] * x[index[e + 3]];
    }
    float s = (s0 + s1) + (s2 + s3);
    for (; e < e1; ++e) s += weight[e] * x[index[e]];
    a->y[j] = (a->bias ? a->bias[j] : 0.f) + s;
  }
}

/* y[j] = bias[j] + Σ_{e ∈ [offsets[j], offsets[j+1])} weight[e] · x[index[e]] for one sample
 * x (bias may be NULL): the forward of a batch of one, which needs no layout copies. */
void nf_row_dots(int64_t threads, int64_t rows, const index_t* offsets, const index_t* index,
                 const float* weight, const float* x, const float* bias, float* y) {
  const dots_args a = {offsets, index, weight, x, bias, y};
  nf_parallel_for(rows, threads, row_dots_range, &a);
}

/* The backward of one sample: for the edges e of each output j, dw[e] = g[j] · x[index[e]]
 * and dx[index[e]] += g[j] · weight[e] (dx zeroed by the caller; either may be NULL). On one
 * thread: the scatter into dx would race, and one sample's edges are few. */
void nf_row_dots_backward(int64_t rows, const index_t* offsets, const index_t* index,
                          const float* weight, const float* x, const float* g, float* dx,
                          float* dw) {
  for (int64_t j = 0; j < rows; ++j) {
    const float gj = g[j];
    const int64_t e0 = offsets[j], e1 = offsets[j + 1];
    if (dw)
      for (int64_t e = e0; e < e1; ++e) dw[e] = gj * x[index[e]];
    if (dx)
      for (int64_t e = e0; e < e1; ++e) dx[index[e]] += gj * weight[e];
  }
}

/* ---------------------------------------------------------------- weight gather */

typedef struct {
  const index_t* order;
  const float* weight;
  float* out;
} take_args;

static void take_range(int64_t e0, int64_t e1, const void* p) {
  const take_args* a = (const take_args*)p;
  for (int64_t e = e0; e < e1; ++e) a->out[e] = a->weight[a->order[e]];
}

/* out[e] = weight[order[e]]: the weights in transposed edge order. */
void nf_take(int64_t threads, int64_t n, const index_t* order, const float* weight, float* out) {
  const take_args a = {order, weight, out};
  nf_parallel_for(n, threads, take_range, &a);
}


/* ---------------------------------------------------------------- transpose */

typedef struct {
  const float* src;
  int64_t rows, cols, ld_src;
  float* dst;
  int64_t ld_dst;
} transpose_args;

/* dst[c, r] = src[r, c] for the source columns c of blocks [block0, block1) of NF_LANES. */
static void transpose_range(int64_t block0, int64_t block1, const void* p) {
  const transpose_args* a = (const transpose_args*)p;
  const int64_t rows = a->rows, ld_src = a->ld_src, ld_dst = a->ld_dst;
  for (int64_t c0 = block0 * NF_LANES; c0 < block1 * NF_LANES && c0 < a->cols; c0 += NF_LANES) {
    const int64_t width = a->cols - c0 < NF_LANES ? a->cols - c0 : NF_LANES;
    int64_t r0 = 0;
    if (width == NF_LANES) {
      for (; r0 + NF_LANES <= rows; r0 += NF_LANES) {
        vec m[NF_LANES];
        for (int i = 0; i < NF_LANES; ++i)
          m[i] = *(const vecu*)(a->src + (r0 + i) * ld_src + c0);
        transpose_lanes(m);
        for (int i = 0; i < NF_LANES; ++i) *(vecu*)(a->dst + (c0 + i) * ld_dst + r0) = m[i];
      }
    }
    for (int64_t c = c0; c < c0 + width; ++c) {
      for (int64_t r = r0; r < rows; ++r) a->dst[c * ld_dst + r] = a->src[r * ld_src + c];
      for (int64_t r = rows; r < ld_dst; ++r) a->dst[c * ld_dst + r] = 0.f; /* the padding */
    }
  }
}

/* dst (cols, ld_dst) ← transpose of src (rows, cols) with row stride ld_src, and each dst
 * row's padding [rows, ld_dst) zeroed (the passes read it as whole vectors). */
void nf_transpose(int64_t threads, const float* src, int64_t rows, int64_t cols, int64_t ld_src,
                  float* dst, int64_t ld_dst) {
  const transpose_args a = {src, rows, cols, ld_src, dst, ld_dst};
  nf_parallel_for((cols + NF_LANES - 1) / NF_LANES, threads, transpose_range, &a);
}
