/*
 * metrics.c - Prometheus text exposition helpers (see metrics.h).
 *
 * Threads: any; see metrics.h.
 */
#include "chat/metrics.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const double metrics__bounds[CHAT_HIST_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};

void chat_hist_observe(chat_hist_t *h, double seconds)
{
    size_t i = 0;

    if (!(seconds > 0)) {
        seconds = 0;
    }
    while (i < CHAT_HIST_BUCKETS && seconds > metrics__bounds[i]) {
        i++;
    }
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(seconds * 1e6), memory_order_relaxed);
}

int chat_metrics_begin(chat_metrics_out_t *out)
{
    memset(out, 0, sizeof(*out));
    out->f = open_memstream(&out->text, &out->len);
    return out->f != NULL ? 0 : -1;
}

int chat_metrics_end(chat_metrics_out_t *out, char **text, size_t *len)
{
    int bad = out->f == NULL || ferror(out->f);

    if (out->f != NULL && fclose(out->f) != 0) {
        bad = 1;
    }
    out->f = NULL;
    if (bad) {
        free(out->text);
        out->text = NULL;
        return -1;
    }
    *text = out->text;
    *len = out->len;
    out->text = NULL;
    return 0;
}

void chat_metrics_family(chat_metrics_out_t *out, const char *name, const char *type,
                         const char *help)
{
    fprintf(out->f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void chat_metrics_sample(chat_metrics_out_t *out, const char *name, const char *labels,
                         double value)
{
    if (labels != NULL && labels[0] != '\0') {
        fprintf(out->f, "%s{%s} %.17g\n", name, labels, value);
    } else {
        fprintf(out->f, "%s %.17g\n", name, value);
    }
}

void chat_metrics_hist(chat_metrics_out_t *out, const char *name, const char *labels,
                       const chat_hist_t *h)
{
    const char *sep = labels != NULL && labels[0] != '\0' ? "," : "";
    uint64_t cumulative = 0;

    if (labels == NULL) {
        labels = "";
    }
    for (size_t i = 0; i <= CHAT_HIST_BUCKETS; i++) {
        cumulative += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < CHAT_HIST_BUCKETS) {
            fprintf(out->f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                    metrics__bounds[i], (unsigned long long)cumulative);
        } else {
            fprintf(out->f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                    (unsigned long long)cumulative);
        }
    }
    /* _count equals the +Inf bucket (read once, so a concurrent observe cannot skew it) */
    fprintf(out->f, labels[0] != '\0' ? "%s_sum{%s} %.6f\n" : "%s_sum%s %.6f\n", name, labels,
            (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
    fprintf(out->f, labels[0] != '\0' ? "%s_count{%s} %llu\n" : "%s_count%s %llu\n", name, labels,
            (unsigned long long)cumulative);
}

void chat_metrics_process(chat_metrics_out_t *out)
{
    long pages = 0;
    long resident = 0;
    long fds = 0;
    FILE *statm = fopen("/proc/self/statm", "r");
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    if (statm != NULL) {
        if (fscanf(statm, "%ld %ld", &pages, &resident) != 2) {
            resident = 0;
        }
        fclose(statm);
    }
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] != '.') {
                fds++;
            }
        }
        closedir(d);
        fds--; /* the directory's own descriptor */
    }
    chat_metrics_family(out, "process_resident_memory_bytes", "gauge",
                        "Resident memory size in bytes.");
    chat_metrics_sample(out, "process_resident_memory_bytes", "",
                        (double)resident * (double)sysconf(_SC_PAGESIZE));
    chat_metrics_family(out, "process_open_fds", "gauge", "Number of open file descriptors.");
    chat_metrics_sample(out, "process_open_fds", "", (double)(fds > 0 ? fds : 0));
}
