/* thread.h - how weir's own threads present themselves to the scheduler and to `top -H`. */
#ifndef WEIR_THREAD_H
#define WEIR_THREAD_H

/* Names the calling thread (at most 15 characters are kept), for top -H, perf and gdb. */
void wr_thread_name(const char *name);

/* Names the calling thread and marks it as background work (SCHED_BATCH): it keeps its
 * share of the CPU, but waking up it does not preempt a running request thread. For
 * threads whose latency no client waits on (compression, lake uploads, preallocation):
 * on a machine with as many busy threads as cores, their wake-ups otherwise cost the
 * request threads a context switch each. Failure to change the policy is ignored. */
void wr_thread_background(const char *name);

#endif
