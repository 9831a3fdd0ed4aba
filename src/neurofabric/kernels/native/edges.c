/* The edges of a CSR pattern in transposed order, derived in one pass per backward.
 *
 * ∂L/∂x runs the bag sums of the transposed pattern: bags are input neurons, and each needs
 * its edges' weights and output neurons in transposed edge order (sorted by input neuron, by
 * output neuron within one). A layer keeps only the canonical pattern (rows `crow` over the
 * sources `col`) and the transposed row pointer `transpose_crow`, whose entry c is where
 * input c's edges begin; so the transposed order is a counting sort whose counts are already
 * known, and one scan of the edges writes every edge straight to its place.
 *
 * Parallelism: the rows are cut into `parts` contiguous ranges of about equal edge counts, and
 * input c's slots are filled part by part, so rows stay ascending within each input. The first
 * part fills its slots from the front of each input's range and the last part from the back
 * (walking its edges backwards), so two parts — two threads — need no counts at all; with more,
 * a first pass counts the edges per input of every part but the last two, and a serial prefix
 * turns those counts into each middle part's first slot. The result is the same for every
 * thread count: each edge's slot is its rank in the order.
 */
#include <stddef.h>

#include "nf.h"

typedef struct {
  const index_t* crow;
  const index_t* col;
  const float* weight;
  const int64_t* part_rows; /* parts + 1 row boundaries */
  index_t* cursors;         /* parts × cols: counts, then each part's next slot per input */
  int64_t cols, parts;
  float* out_weight; /* each NULL or e values */
  index_t* out_row;
  index_t* out_order;
} edges_args;

static void count_range(int64_t part0, int64_t part1, const void* p) {
  const edges_args* a = (const edges_args*)p;
  for (int64_t part = part0; part < part1; ++part) {
    index_t* count = a->cursors + part * a->cols;
    for (int64_t c = 0; c < a->cols; ++c) count[c] = 0;
    const int64_t e0 = a->crow[a->part_rows[part]], e1 = a->crow[a->part_rows[part + 1]];
    for (int64_t e = e0; e < e1; ++e) ++count[a->col[e]];
  }
}

/* One copy of the scatter per set of outputs asked for and direction (compile-time flags):
 * forwards from each input's next slot, or backwards from one past its last. */
static inline __attribute__((always_inline)) void scatter_part(const edges_args* a, int64_t part,
                                                               const int weights, const int rows,
                                                               const int order,
                                                               const int backwards) {
  index_t* const next = a->cursors + part * a->cols;
  const index_t* const col = a->col;
  const index_t* const crow = a->crow;
  const float* const weight = a->weight;
  const int64_t j0 = a->part_rows[part], j1 = a->part_rows[part + 1];
  for (int64_t step = 0; step < j1 - j0; ++step) {
    const int64_t j = backwards ? j1 - 1 - step : j0 + step;
    for (int64_t t = 0, n = crow[j + 1] - crow[j]; t < n; ++t) {
      const int64_t e = backwards ? crow[j + 1] - 1 - t : crow[j] + t;
      const index_t slot = backwards ? --next[col[e]] : next[col[e]]++;
      if (weights) a->out_weight[slot] = weight[e];
      if (rows) a->out_row[slot] = (index_t)j;
      if (order) a->out_order[slot] = (index_t)e;
    }
  }
}

#define SCATTER_PART(backwards)                                  \
  if (weights && rows && !order)                                 \
    scatter_part(a, part, 1, 1, 0, backwards);                   \
  else if (!weights && !rows && order)                           \
    scatter_part(a, part, 0, 0, 1, backwards);                   \
  else                                                           \
    scatter_part(a, part, weights, rows, order, backwards);

static void scatter_range(int64_t part0, int64_t part1, const void* p) {
  const edges_args* a = (const edges_args*)p;
  const int weights = a->out_weight != NULL, rows = a->out_row != NULL;
  const int order = a->out_order != NULL;
  for (int64_t part = part0; part < part1; ++part) {
    if (part + 1 == a->parts && part > 0) {
      SCATTER_PART(1)
    } else {
      SCATTER_PART(0)
    }
  }
}

/* For the `rows` × `cols` pattern crow/col (e = crow[rows] edges) with transposed row pointer
 * transpose_crow (cols + 1): out_weight[q] = weight[e], out_row[q] = row of e and
 * out_order[q] = e for the edge e at slot q of the transposed order; any of the three may be
 * NULL. `scratch` holds `threads` × cols index_t; more than MAX_THREADS threads use
 * MAX_THREADS. */
void nf_transpose_edges(int64_t threads, int64_t rows, int64_t cols, const index_t* crow,
                        const index_t* col, const float* weight, const index_t* transpose_crow,
                        index_t* scratch, float* out_weight, index_t* out_row,
                        index_t* out_order) {
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if (threads < 1) threads = 1;
  const int64_t parts = threads < rows ? threads : (rows > 0 ? rows : 1);
  int64_t part_rows[MAX_THREADS + 1];
  const int64_t e = crow[rows];
  part_rows[0] = 0;
  int64_t row = 0;
  for (int64_t part = 1; part < parts; ++part) { /* first row past part · e / parts edges */
    const int64_t target = e * part / parts;
    while (row < rows && crow[row] < target) ++row;
    part_rows[part] = row;
  }
  part_rows[parts] = rows;
  const edges_args a = {crow, col,   weight,     part_rows, scratch,
                        cols, parts, out_weight, out_row,   out_order};
  if (parts > 2) nf_parallel_for(parts - 2, parts - 2, count_range, &a);
  for (int64_t c = 0; c < cols; ++c) { /* counts → each part's first slot of input c */
    index_t slot = transpose_crow[c];
    const int64_t forwards = parts > 1 ? parts - 1 : 1; /* the last of several goes backwards */
    for (int64_t part = 0; part < forwards; ++part) {
      const index_t count = part + 2 < parts ? scratch[part * cols + c] : 0;
      scratch[part * cols + c] = slot;
      slot += count;
    }
    if (parts > 1) scratch[(parts - 1) * cols + c] = transpose_crow[c + 1];
  }
  nf_parallel_for(parts, parts, scatter_range, &a);
}
