/*
 * redact.h - keeps credentials out of log lines and error messages: the one place that
 * knows where a password sits in a REDIS_URL / MONGO_URI, well-formed or not. Used by
 * config.c, redis_sync.c, db.c (so by REST and the gateway alike) and by the gateway's
 * pubsub.c wherever those URLs would be logged.
 *
 * Pure string work, no shared state: any thread.
 */
#ifndef CHAT_REDACT_H
#define CHAT_REDACT_H

#include <stddef.h>

/**
 * Copies url into out (outlen bytes, always NUL-terminated when outlen > 0) with the
 * credentials masked: the userinfo "user:secret@" becomes "user:***@" and "secret@"
 * becomes "***@" (see tests/unit/test_redact.c). The userinfo runs to the LAST '@'
 * so that a malformed URL (a password holding '@', '/' or ':') is masked whole rather than
 * in part. Text without '@' is copied as it is. Returns out.
 */
char *chat_redact_url(const char *url, char *out, size_t outlen);

/**
 * Masks, in place, every occurrence inside text (a library's error message, say) of the
 * password that url carries, with "***" (the text only shrinks; a password shorter than the
 * mask that occurs in text withholds the whole text instead). No-op when url has none.
 */
void chat_redact_secret_in(char *text, const char *url);

#endif
