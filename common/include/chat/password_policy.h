/*
 * password_policy.h - the list of common passwords that registration refuses
 * (NIST SP 800-63B 5.1.1.2: "passwords obtained from previous breach corpuses").
 * The list is common/data/common-passwords.txt (one lower-case password per line),
 * the same file the web client ships; it is loaded once at start-up and then only read.
 *
 * Threads: chat_password_policy_load/free on the main thread at start-up and exit;
 * chat_password_policy_is_common/check from any thread (read-only after load).
 */
#ifndef CHAT_PASSWORD_POLICY_H
#define CHAT_PASSWORD_POLICY_H

#include <stdbool.h>
#include <stddef.h>

/** Environment variable naming the list; unset means chat_password_policy_default_path(). */
#define CHAT_PASSWORD_POLICY_ENV "COMMON_PASSWORDS_FILE"

typedef struct chat_password_policy chat_password_policy_t;

/** The list's path: $COMMON_PASSWORDS_FILE, else the source tree's common/data file. */
const char *chat_password_policy_default_path(void);

/**
 * Reads the list at path (blank lines and surrounding white space ignored, entries
 * lower-cased). NULL on failure with the reason in err.
 */
chat_password_policy_t *chat_password_policy_load(const char *path, char *err, size_t errlen);

/** Number of distinct passwords loaded. */
size_t chat_password_policy_count(const chat_password_policy_t *p);

/** True when password is on the list, compared case-insensitively; false for a NULL p. */
bool chat_password_policy_is_common(const chat_password_policy_t *p, const char *password);

/** NULL when password is not on the list (or p is NULL), else a static human reason. */
const char *chat_password_policy_check(const chat_password_policy_t *p, const char *password);

void chat_password_policy_free(chat_password_policy_t *p);

#endif
