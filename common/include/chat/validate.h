/*
 * validate.h - input rules of SPEC §2 (usernames, emails, passwords, room fields,
 * message content, ids). Pure functions; any thread. Each returns NULL when the
 * value is valid, else a static human-readable reason.
 */
#ifndef CHAT_VALIDATE_H
#define CHAT_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#define CHAT_CONTENT_MAX_CHARS 4000
#define CHAT_BODY_MAX_BYTES (64 * 1024)

const char *chat_validate_username(const char *s); /* 3-32 of [A-Za-z0-9_.-] */
const char *chat_validate_email(const char *s);    /* local@domain.tld, <= 254 bytes */
const char *chat_validate_password(const char *s); /* 8-72 bytes (bcrypt ignores more; we refuse) */
const char *chat_validate_room_name(const char *s);    /* 1-100 UTF-8 characters, not blank */
const char *chat_validate_description(const char *s);  /* 0-500 UTF-8 characters */
const char *chat_validate_display_name(const char *s); /* 0-64 UTF-8 characters, no controls */
const char *chat_validate_avatar_url(const char *s);   /* empty, or http(s)://..., <= 2048 */
/** 1-4000 characters of valid UTF-8, no control characters except \n and \t. */
const char *chat_validate_content(const char *s, size_t len);
const char *chat_validate_client_msg_id(const char *s); /* 1-64 printable ASCII */

/** True for exactly 24 lower-case hex characters: the one spelling of an id (SPEC §5);
 *  every entry point of both servers refuses any other. */
bool chat_validate_object_id(const char *s);

/** Number of UTF-8 code points in s[0..len), or -1 if s is not valid UTF-8. */
long chat_utf8_length(const char *s, size_t len);

/** Lower-cases ASCII letters of src into dst (dstlen bytes incl. NUL); for unique keys. */
void chat_ascii_lower(const char *src, char *dst, size_t dstlen);

#endif
