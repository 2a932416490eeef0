/*
 * fuzz_check.h - FUZZ_CHECK(cond): a harness's own invariant. When it does not hold the
 * input is reported and the process aborts, which libFuzzer records as a crash (unlike
 * assert(), it stays on in release builds). Thread: libFuzzer's.
 */
#ifndef CHAT_FUZZ_CHECK_H
#define CHAT_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                             \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

#endif
