/*
 * config_internal.h - config.c's checks shared with config_ws.c (not part of the public
 * configuration API). Main thread at start-up only.
 */
#ifndef CHAT_CONFIG_INTERNAL_H
#define CHAT_CONFIG_INTERNAL_H

#include <stddef.h>

/* Writes a formatted message into errbuf (if any). Always returns -1. */
__attribute__((format(printf, 3, 4))) int config__fail(char *errbuf, size_t errlen, const char *fmt,
                                                       ...);
/* name as an integer in [min, max], def when unset; -1 with a message naming it otherwise. */
int config__ll(const char *name, long long def, long long min, long long max, long long *out,
               char *errbuf, size_t errlen);

#endif
