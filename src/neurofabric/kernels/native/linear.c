/* A CSR-shaped layer's whole product, forward or backward, in one call.
 *
 * Each direction chains the passes of gather.c and edges.c — the same passes, threads and
 * order of sums as calling them one by one — so a layer crosses from Python into C once per
 * direction: with ctypes, an allocation and a call cost microseconds each, which for a small
 * layer is more than its arithmetic (a 64 × 64 layer at density 1/16 has 256 edges).
 *
 * Layouts (passes.py): x and ∂L/∂y batch-major with unit stride along features; the saved
 * input x_rows feature-major (in, ld_rows) with zero padding; outputs batch-major and
 * contiguous. Each pass gets threads for its own work, as passes.py's _threads gives them.
 */
#include <string.h>

#include "nf.h"

/* ctypes converts each argument of a call (about 0.15 µs apiece) but an array at the cost of
 * one, so the two entry points take their arguments as one array of int64 (pointers
 * included), filled in the order of the structs forward_args and backward_args (below). */
_Static_assert(sizeof(void*) == sizeof(int64_t), "arguments are passed as int64 words");

void nf_bag_sum(int64_t threads, int64_t bags, const index_t* offsets, const index_t* index,
                uint64_t magic, const float* weight, const float* rows, int64_t b,
                int64_t ld_rows, float* out, int64_t ld_out, const float* bias,
                int64_t batch_major);
void nf_edge_gradient(int64_t threads, int64_t rows, const index_t* offsets,
                      const index_t* index, const float* g, int64_t ld_g, const float* x,
                      int64_t ld_x, int64_t b, float* dw);
void nf_row_dots(int64_t threads, int64_t rows, const index_t* offsets, const index_t* index,
                 const float* weight, const float* x, const float* bias, float* y);
void nf_row_dots_backward(int64_t rows, const index_t* offsets, const index_t* index,
                          const float* weight, const float* x, const float* g, float* dx,
                          float* dw);
void nf_take(int64_t threads, int64_t n, const index_t* order, const float* weight, float* out);
void nf_transpose(int64_t threads, const float* src, int64_t rows, int64_t cols, int64_t ld_src,
                  float* dst, int64_t ld_dst);
void nf_transpose_edges(int64_t threads, int64_t rows, int64_t cols, const index_t* crow,
                        const index_t* col, const float* weight, const index_t* transpose_crow,
                        index_t* scratch, float* out_weight, index_t* out_row,
                        index_t* out_order);

/* passes.py's _threads: one thread per `per_thread` multiply-adds, at most `max_threads`. */
static int64_t threads_for(int64_t max_threads, int64_t per_thread, int64_t work) {
  const int64_t t = work / per_thread;
  return t < 1 ? 1 : (t > max_threads ? max_threads : t);
}

/* y (b, out) = x · Wᵀ + bias for the pattern crow/col (e = crow[out] edges); bias may be NULL.
 * One sample (b = 1): one dot product per output straight from x; x_rows is not touched.
 * Else x (b, in, row stride ld_x) is transposed into x_rows (in, ld_rows; its padding zeroed),
 * which the caller keeps for the backward — or, with x NULL, x_rows already holds it. */
static void linear_forward(int64_t max_threads, int64_t per_thread, int64_t b, int64_t in,
                           int64_t out, const index_t* crow, const index_t* col,
                           const float* weight, const float* bias, const float* x,
                           int64_t ld_x, float* x_rows, int64_t ld_rows, float* y) {
  const int64_t e = crow[out];
  if (b == 1) {
    nf_row_dots(threads_for(max_threads, per_thread, e * 8), out, crow, col, weight, x, bias, y);
    return;
  }
  if (x) nf_transpose(threads_for(max_threads, per_thread, b * in / 4), x, b, in, ld_x, x_rows,
                      ld_rows);
  nf_bag_sum(threads_for(max_threads, per_thread, e * b), out, crow, col, 0, weight, x_rows, b,
             ld_rows, y, out, bias, 1);
}

typedef struct {
  const float* rows;
  int64_t ld, b;
  float* sums;
} row_sum_args;

/* sums[j] = Σ_c rows[j, c]: whole vectors, the padding past b being zero. */
static void row_sum_range(int64_t row0, int64_t row1, const void* p) {
  const row_sum_args* a = (const row_sum_args*)p;
  const int64_t vectors = (a->b + NF_LANES - 1) / NF_LANES;
  for (int64_t j = row0; j < row1; ++j) {
    const vec* v = (const vec*)(a->rows + j * a->ld);
    vec s = v[0];
    for (int64_t t = 1; t < vectors; ++t) s += v[t];
    a->sums[j] = horizontal_sum(s);
  }
}

static char* carve(char** cursor, int64_t bytes) {
  char* start = (char*)(((uintptr_t)*cursor + 63) & ~(uintptr_t)63);
  *cursor = start + bytes;
  return start;
}

/* Bytes of scratch nf_linear_backward needs for a batch of b > 1 (none for one sample). */
int64_t nf_linear_backward_scratch(int64_t max_threads, int64_t per_thread, int64_t b,
                                   int64_t in, int64_t out, int64_t e, int64_t ld_grad_rows,
                                   int64_t input_gradient) {
  if (b == 1) return 0;
  int64_t bytes = 64 + (out * ld_grad_rows * 4 + 63) / 64 * 64;
  if (input_gradient) {
    int64_t parts = threads_for(max_threads, per_thread, e * 4);
    if (parts > MAX_THREADS) parts = MAX_THREADS;
    bytes += 2 * ((e * 4 + 63) / 64 * 64) + (parts * in * 4 + 63) / 64 * 64;
  }
  return bytes;
}

/* The backward of nf_linear_forward for ∂L/∂y grad_y (b, out, row stride ld_g): ∂L/∂x (b, in)
 * batch-major, ∂L/∂w (e,) and ∂L/∂bias (out,), each skipped when NULL. x_rows is the forward's
 * feature-major input (in, ld_rows), or x itself (1, in) for one sample. ∂L/∂x runs the bag
 * sums of the transposed pattern (input c's edges start at transpose_crow[c]): with a constant
 * fan-in `divisor`, over the transposed order, reading each edge's output neuron off its
 * number; else over the output neurons written in transposed order. For b > 1, `scratch`
 * holds nf_linear_backward_scratch bytes: ∂L/∂y feature-major (out, ld_grad_rows), then the
 * transposed edges. Returns 0, or 1 if scratch_bytes is too small. */
static int linear_backward(int64_t max_threads, int64_t per_thread, int64_t b, int64_t in,
                           int64_t out, const index_t* crow, const index_t* col,
                           const index_t* transpose_crow, int64_t divisor,
                           const float* weight, const float* x_rows, int64_t ld_rows,
                           const float* grad_y, int64_t ld_g, float* grad_x, float* grad_w,
                           float* grad_bias, void* scratch, int64_t scratch_bytes,
                           int64_t ld_grad_rows) {
  const int64_t e = crow[out];
  if (b == 1) {
    if (grad_bias) memcpy(grad_bias, grad_y, (size_t)out * sizeof(float));
    if (grad_x) memset(grad_x, 0, (size_t)in * sizeof(float));
    nf_row_dots_backward(out, crow, col, weight, x_rows, grad_y, grad_x, grad_w);
    return 0;
  }
  const int64_t needed = nf_linear_backward_scratch(max_threads, per_thread, b, in, out, e,
                                                    ld_grad_rows, grad_x != NULL);
  if (scratch_bytes < needed) return 1;
  char* cursor = (char*)scratch;
  float* const grad_rows = (float*)carve(&cursor, out * ld_grad_rows * 4);
  nf_transpose(threads_for(max_threads, per_thread, b * out / 4), grad_y, b, out, ld_g,
               grad_rows, ld_grad_rows);
  if (grad_bias) {
    const row_sum_args sums = {grad_rows, ld_grad_rows, b, grad_bias};
    nf_parallel_for(out, threads_for(max_threads, per_thread, out * b), row_sum_range, &sums);
  }
  if (grad_x) {
    const int64_t parts = threads_for(max_threads, per_thread, e * 4);
    index_t* const source = (index_t*)carve(&cursor, e * 4);
    float* const transposed_weight = (float*)carve(&cursor, e * 4);
    const int64_t count_rows = parts > MAX_THREADS ? MAX_THREADS : parts;
    index_t* const counts = (index_t*)carve(&cursor, count_rows * in * 4);
    uint64_t magic = 0;
    if (divisor) { /* the order, then the weights through it: faster than writing two arrays */
      nf_transpose_edges(parts, out, in, crow, col, NULL, transpose_crow, counts, NULL, NULL,
                         source);
      nf_take(parts, e, source, weight, transposed_weight);
      if (divisor > 1) magic = UINT64_MAX / (uint64_t)divisor + 1;
    } else {
      nf_transpose_edges(parts, out, in, crow, col, weight, transpose_crow, counts,
                         transposed_weight, source, NULL);
    }
    nf_bag_sum(threads_for(max_threads, per_thread, e * b), in, transpose_crow, source, magic,
               transposed_weight, grad_rows, b, ld_grad_rows, grad_x, in, NULL, 1);
  }
  if (grad_w)
    nf_edge_gradient(threads_for(max_threads, per_thread, e * b), out, crow, col, grad_rows,
                     ld_grad_rows, x_rows, ld_rows, b, grad_w);
  return 0;
}

typedef struct {
  int64_t max_threads, per_thread, b, in, out;
  const index_t *crow, *col;
  const float *weight, *bias, *x;
  int64_t ld_x;
  float* x_rows;
  int64_t ld_rows;
  float* y;
} forward_args;

typedef struct {
  int64_t max_threads, per_thread, b, in, out;
  const index_t *crow, *col, *transpose_crow;
  int64_t divisor;
  const float *weight, *x_rows;
  int64_t ld_rows;
  const float* grad_y;
  int64_t ld_g;
  float *grad_x, *grad_w, *grad_bias;
  void* scratch;
  int64_t scratch_bytes, ld_grad_rows;
} backward_args;

/* linear_forward with its arguments in a forward_args (14 words). */
void nf_linear_forward(const forward_args* a) {
  linear_forward(a->max_threads, a->per_thread, a->b, a->in, a->out, a->crow, a->col, a->weight,
                 a->bias, a->x, a->ld_x, a->x_rows, a->ld_rows, a->y);
}

/* linear_backward with its arguments in a backward_args (20 words). */
int nf_linear_backward(const backward_args* a) {
  return linear_backward(a->max_threads, a->per_thread, a->b, a->in, a->out, a->crow, a->col,
                         a->transpose_crow, a->divisor, a->weight, a->x_rows, a->ld_rows,
                         a->grad_y, a->ld_g, a->grad_x, a->grad_w, a->grad_bias, a->scratch,
                         a->scratch_bytes, a->ld_grad_rows);
}
