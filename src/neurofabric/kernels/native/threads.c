/* The native library's threads: torch's own OpenMP team when the loader hands over the
 * runtime's entry points (``nf_use_openmp``), else pthreads started per call.
 *
 * The passes run between torch ops whose OpenMP workers keep spinning for a while after each
 * parallel region; a pass on threads of its own competed with them for the cores
 * (benchmarks/native_passes.py). Every pass splits its work into contiguous ranges, one per
 * thread, and computes each output value on one thread in a fixed order, so results do not
 * depend on the thread count or the backend.
 */
#include <pthread.h>

#include "nf.h"

/* Bumped with every change of an exported function's signature (ABI_VERSION in __init__.py). */
int nf_abi_version(void) { return 13; }

/* Floats per vector of this build (nf.h), for the loader's report. */
int nf_lanes(void) { return NF_LANES; }

typedef struct {
  range_fn fn;
  int64_t begin, end;
  const void* args;
} range_job;

static void* run_job(void* p) {
  const range_job* job = (const range_job*)p;
  job->fn(job->begin, job->end, job->args);
  return NULL;
}

/* The OpenMP runtime torch runs on (libgomp, or a runtime with its GOMP_ entry points). */
typedef void (*gomp_parallel_fn)(void (*)(void*), void*, unsigned, unsigned);
typedef int (*omp_query_fn)(void);
static gomp_parallel_fn gomp_parallel = NULL;
static omp_query_fn omp_thread_num = NULL, omp_team_size = NULL;

void nf_use_openmp(void* parallel, void* thread_num, void* num_threads) {
  gomp_parallel = (gomp_parallel_fn)parallel;
  omp_thread_num = (omp_query_fn)thread_num;
  omp_team_size = (omp_query_fn)num_threads;
}

typedef struct {
  range_fn fn;
  int64_t n;
  const void* args;
} team_job;

static void run_team_member(void* p) { /* the team may be smaller than asked: split by its size */
  const team_job* job = (const team_job*)p;
  const int64_t t = omp_thread_num(), size = omp_team_size();
  const int64_t begin = job->n * t / size, end = job->n * (t + 1) / size;
  if (begin < end) job->fn(begin, end, job->args);
}

/* fn over [0, n) in `threads` contiguous parts; the calling thread takes one of them. */
void nf_parallel_for(int64_t n, int64_t threads, range_fn fn, const void* args) {
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if (threads > n) threads = n;
  if (threads <= 1) {
    if (n > 0) fn(0, n, args);
    return;
  }
  if (gomp_parallel) {
    team_job job = {fn, n, args};
    gomp_parallel(run_team_member, &job, (unsigned)threads, 0);
    return;
  }
  pthread_t ids[MAX_THREADS];
  range_job jobs[MAX_THREADS];
  int started[MAX_THREADS];
  for (int64_t t = 0; t < threads; ++t) {
    jobs[t].fn = fn;
    jobs[t].begin = n * t / threads;
    jobs[t].end = n * (t + 1) / threads;
    jobs[t].args = args;
  }
  for (int64_t t = 0; t + 1 < threads; ++t)
    started[t] = pthread_create(&ids[t], NULL, run_job, &jobs[t]) == 0;
  run_job(&jobs[threads - 1]);
  for (int64_t t = 0; t + 1 < threads; ++t) {
    if (started[t])
      pthread_join(ids[t], NULL);
    else
      run_job(&jobs[t]); /* no thread to be had: run that part here */
  }
}
