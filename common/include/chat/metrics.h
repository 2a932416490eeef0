/*
 * metrics.h - the pieces of a Prometheus text exposition (format 0.0.4) both servers
 * use: lock-free counters and latency histograms that any thread updates (C11 atomics,
 * also valid in memory shared between processes), and a writer that renders families
 * with their # HELP / # TYPE lines, samples with labels, histograms with cumulative
 * buckets, and the process_* metrics of the calling process.
 *
 * Threads: chat_hist_observe and the counters from any thread (or process, in shared
 * memory); a chat_metrics_out_t belongs to the thread rendering it.
 */
#ifndef CHAT_METRICS_H
#define CHAT_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Bucket bounds in seconds: 100 us .. 10 s, then +Inf (the sub-millisecond ones resolve
 *  the gateway's message phases and Redis round trips). */
#define CHAT_HIST_BUCKETS 16

typedef struct chat_hist {
    _Atomic uint64_t buckets[CHAT_HIST_BUCKETS + 1]; /* per bucket, not cumulative; last +Inf */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us; /* sum of observations, microseconds */
} chat_hist_t;

/** Records one observation of seconds (negative counts as 0). */
void chat_hist_observe(chat_hist_t *h, double seconds);

static inline void chat_counter_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/** A text exposition being written (open_memstream). */
typedef struct chat_metrics_out {
    FILE *f;
    char *text;
    size_t len;
} chat_metrics_out_t;

int chat_metrics_begin(chat_metrics_out_t *out);
/** Ends the text: *text (malloc'd, NUL-terminated, the caller frees) and *len; -1 on OOM. */
int chat_metrics_end(chat_metrics_out_t *out, char **text, size_t *len);

/** "# HELP name help" and "# TYPE name type" (type: counter, gauge, histogram). */
void chat_metrics_family(chat_metrics_out_t *out, const char *name, const char *type,
                         const char *help);
/** One sample: name{labels} value; labels is "" or `key="value",...` (already escaped). */
void chat_metrics_sample(chat_metrics_out_t *out, const char *name, const char *labels,
                         double value);
/** The _bucket/_sum/_count samples of h under name with labels ("" for none). */
void chat_metrics_hist(chat_metrics_out_t *out, const char *name, const char *labels,
                       const chat_hist_t *h);
/** process_resident_memory_bytes and process_open_fds of this process (from /proc). */
void chat_metrics_process(chat_metrics_out_t *out);

#endif
