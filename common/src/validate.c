/*
 * validate.c - the input rules of SPEC §2 (validate.h): usernames, emails,
 * passwords, room fields, profile fields, message content, ids, plus a strict UTF-8
 * decoder (no overlongs, no surrogates, nothing above U+10FFFF). Each validator
 * returns NULL or a static reason that can go to the client as-is.
 * Pure functions: any thread.
 */
#include "chat/validate.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

/*
 * Decodes one code point of s[*i..len) into *cp and advances *i. Returns false on
 * any malformed sequence: stray continuation bytes, truncation, overlong forms,
 * UTF-16 surrogates (U+D800..U+DFFF) and values above U+10FFFF.
 */
static bool validate__next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
    unsigned char c = s[*i];
    uint32_t v = 0;
    uint32_t min = 0;
    size_t n = 0;

    if (c < 0x80) {
        *cp = c;
        (*i)++;
        return true;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 1, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 2, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3, v = c & 0x07, min = 0x10000;
    } else {
        return false; /* continuation byte, 0xC0/0xC1 overlong lead, or 0xF5.. */
    }
    if (len - *i <= n)
        return false;
    for (size_t k = 1; k <= n; k++) {
        unsigned char cc = s[*i + k];

        if ((cc & 0xC0) != 0x80)
            return false;
        v = (v << 6) | (cc & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return false;
    *cp = v;
    *i += n + 1;
    return true;
}

long chat_utf8_length(const char *s, size_t len)
{
    size_t i = 0;
    long count = 0;
    uint32_t cp = 0;

    if (s == NULL)
        return len == 0 ? 0 : -1;
    while (i < len) {
        if (!validate__next((const unsigned char *)s, len, &i, &cp))
            return -1;
        count++;
    }
    return count;
}

/* C0 controls, DEL and the C1 block U+0080..U+009F. */
static bool validate__is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

/* ASCII whitespace and the common Unicode spaces a "blank" string is made of. */
static bool validate__is_space(uint32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
        cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 ||
        cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

typedef struct validate__text_rule {
    long min_chars;
    long max_chars;
    bool allow_nl_tab; /* \n and \t are the only controls that may pass */
    bool not_blank;    /* at least one non-space character */
    const char *too_short, *too_long, *bad_utf8, *control, *blank;
} validate__text_rule_t;

/* Applies one text rule to s[0..len); NULL when it passes. */
static const char *validate__text(const char *s, size_t len, const validate__text_rule_t *r)
{
    size_t i = 0;
    long count = 0;
    bool blank = true;
    uint32_t cp = 0;

    while (i < len) {
        if (!validate__next((const unsigned char *)s, len, &i, &cp))
            return r->bad_utf8;
        if (validate__is_control(cp) && !(r->allow_nl_tab && (cp == '\n' || cp == '\t')))
            return r->control;
        if (!validate__is_space(cp))
            blank = false;
        if (++count > r->max_chars)
            return r->too_long;
    }
    if (count < r->min_chars)
        return r->too_short;
    if (r->not_blank && blank && count > 0)
        return r->blank;
    return NULL;
}

const char *chat_validate_username(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return "username is required";
    n = strlen(s);
    if (n < 3 || n > 32)
        return "username must be 3 to 32 characters";
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return "username may contain only letters, digits, '_', '.' and '-'";
    }
    return NULL;
}

/* ASCII letter or digit (locale-independent, unlike isalnum). */
static bool validate__is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Characters allowed unquoted in the local part (RFC 5322 atext plus '.'). */
static bool validate__is_local_char(char c)
{
    return validate__is_alnum(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL);
}

/*
 * A practical subset of RFC 5321: one '@'; a local part of 1..64 atext characters
 * with no leading, trailing or doubled dot; a domain of at least two dot-separated
 * labels of [A-Za-z0-9-] (1..63, no edge hyphen) whose last label is not numeric.
 */
const char *chat_validate_email(const char *s)
{
    static const char *bad = "email address is not valid";
    const char *at = NULL;
    const char *label = NULL;
    size_t n = 0;
    size_t local_len = 0;
    size_t labels = 0;
    bool all_digits = true;

    if (s == NULL || s[0] == '\0')
        return "email is required";
    n = strlen(s);
    if (n > 254)
        return "email must be at most 254 characters";
    at = strchr(s, '@');
    if (at == NULL || strchr(at + 1, '@') != NULL)
        return bad;
    local_len = (size_t)(at - s);
    if (local_len == 0 || local_len > 64 || s[0] == '.' || at[-1] == '.')
        return bad;
    for (size_t i = 0; i < local_len; i++) {
        if (!validate__is_local_char(s[i]) || (s[i] == '.' && s[i + 1] == '.'))
            return bad;
    }
    label = at + 1;
    for (;;) {
        const char *end = label;

        all_digits = true;
        while (*end != '\0' && *end != '.') {
            if (!validate__is_alnum(*end) && *end != '-')
                return bad;
            if (*end < '0' || *end > '9')
                all_digits = false;
            end++;
        }
        if (end == label || end - label > 63 || label[0] == '-' || end[-1] == '-')
            return bad;
        labels++;
        if (*end == '\0')
            break;
        label = end + 1;
    }
    if (labels < 2 || all_digits)
        return bad;
    return NULL;
}

/* SPEC §2 says 8-128, but bcrypt silently ignores bytes past 72: refuse them instead
 * of accepting a password of which only a prefix counts. */
const char *chat_validate_password(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return "password is required";
    n = strlen(s);
    if (n < 8)
        return "password must be at least 8 characters";
    if (n > 72)
        return "password must be at most 72 bytes (bcrypt ignores anything longer)";
    return NULL;
}

const char *chat_validate_room_name(const char *s)
{
    static const validate__text_rule_t rule = {1,
                                               100,
                                               false,
                                               true,
                                               "room name is required",
                                               "room name must be at most 100 characters",
                                               "room name must be valid UTF-8",
                                               "room name must not contain control characters",
                                               "room name must not be blank"};

    if (s == NULL)
        return "room name is required";
    return validate__text(s, strlen(s), &rule);
}

/* NULL is an absent description, which is valid. */
const char *chat_validate_description(const char *s)
{
    static const validate__text_rule_t rule = {
        0,
        500,
        true,
        false,
        NULL,
        "description must be at most 500 characters",
        "description must be valid UTF-8",
        "description must not contain control characters other than newline and tab",
        NULL};

    if (s == NULL)
        return NULL;
    return validate__text(s, strlen(s), &rule);
}

/* NULL (absent) and "" (clear it) are valid. */
const char *chat_validate_display_name(const char *s)
{
    static const validate__text_rule_t rule = {0,
                                               64,
                                               false,
                                               false,
                                               NULL,
                                               "display name must be at most 64 characters",
                                               "display name must be valid UTF-8",
                                               "display name must not contain control characters",
                                               NULL};

    if (s == NULL)
        return NULL;
    return validate__text(s, strlen(s), &rule);
}

/* NULL (absent) and "" (clear it) are valid; otherwise an http(s) URL with a host,
 * visible ASCII only (no spaces, quotes or angle brackets). */
const char *chat_validate_avatar_url(const char *s)
{
    static const char *bad = "avatar_url must be an http:// or https:// URL";
    const char *rest = NULL;
    size_t n = 0;

    if (s == NULL || s[0] == '\0')
        return NULL;
    n = strlen(s);
    if (n > 2048)
        return "avatar_url must be at most 2048 characters";
    if (strncasecmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        rest = s + 7;
    else
        return bad;
    if (rest[0] == '\0' || rest[0] == '/' || rest[0] == '?' || rest[0] == '#')
        return bad;
    for (const char *p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;

        if (c <= 0x20 || c >= 0x7F || c == '"' || c == '<' || c == '>' || c == '\\')
            return bad;
    }
    return NULL;
}

const char *chat_validate_content(const char *s, size_t len)
{
    static const validate__text_rule_t rule = {
        1,
        CHAT_CONTENT_MAX_CHARS,
        true,
        true,
        "content must not be empty",
        "content must be at most 4000 characters",
        "content must be valid UTF-8",
        "content must not contain control characters other than newline and tab",
        "content must not be blank"};

    if (s == NULL || len == 0)
        return "content must not be empty";
    return validate__text(s, len, &rule);
}

const char *chat_validate_client_msg_id(const char *s)
{
    size_t n = 0;

    if (s == NULL || s[0] == '\0')
        return "client_msg_id must not be empty";
    n = strlen(s);
    if (n > 64)
        return "client_msg_id must be at most 64 characters";
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
            return "client_msg_id must be printable ASCII";
    }
    return NULL;
}

bool chat_validate_object_id(const char *s)
{
    if (s == NULL)
        return false;
    for (int i = 0; i < 24; i++) {
        char c = s[i];

        /* canonical spelling only (SPEC §5): "65A1..." names nothing and is refused */
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return s[24] == '\0';
}

/* Truncates to dstlen - 1 bytes; always NUL-terminates when dstlen > 0. */
void chat_ascii_lower(const char *src, char *dst, size_t dstlen)
{
    size_t i = 0;

    if (dst == NULL || dstlen == 0)
        return;
    for (; src != NULL && src[i] != '\0' && i + 1 < dstlen; i++) {
        char c = src[i];

        dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    dst[i] = '\0';
}
