/*
 * redis_cluster.h - the pure parts of a Redis Cluster client, which hiredis 0.14 lacks:
 * the key -> hash slot function (CRC16 with {hash tags}, exactly as Redis computes it),
 * parsing of -MOVED / -ASK redirections, and a slot map (slot ranges -> master
 * host:port) built from a CLUSTER SLOTS reply, looked up by slot or key.
 *
 * No I/O and no globals: every function works on its arguments only, so any thread may
 * call them; a slot map is not locked (one owner, or read-only once shared).
 * Relies on: hiredis's redisReply type (the reply is only read), error.h.
 */
#ifndef CHAT_REDIS_CLUSTER_H
#define CHAT_REDIS_CLUSTER_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/error.h"

#define CHAT_REDIS_CLUSTER_SLOTS 16384
/* host names up to 255 bytes (RFC 1035), IPv6 literals, plus the NUL */
#define CHAT_REDIS_CLUSTER_HOST_LEN 256
#define CHAT_REDIS_CLUSTER_ID_LEN 41 /* 40 hex digits + NUL */

/** CRC16-CCITT (XModem: polynomial 0x1021, initial 0), the checksum Redis slots use. */
uint16_t chat_redis_cluster_crc16(const char *buf, size_t len);

/**
 * Hash slot (0..16383) of a binary-safe key of len bytes. If the key holds a '{' with a
 * '}' somewhere after it and at least one byte between them, only the bytes between the
 * first '{' and the first '}' after it are hashed; otherwise the whole key is ("{}" and
 * "{" hash whole). Same answer as the server's CLUSTER KEYSLOT.
 */
unsigned int chat_redis_cluster_key_slot(const char *key, size_t len);

typedef enum chat_redis_redirect_kind {
    CHAT_REDIS_REDIRECT_MOVED = 1, /* the slot lives elsewhere now: update the map */
    CHAT_REDIS_REDIRECT_ASK        /* one-off: send ASKING then the command there */
} chat_redis_redirect_kind_t;

typedef struct chat_redis_redirect {
    chat_redis_redirect_kind_t kind;
    unsigned int slot;
    /* "" when the server sent ":port" (its endpoint is unknown to it): use the host
     * of the connection the error came from */
    char host[CHAT_REDIS_CLUSTER_HOST_LEN];
    int port;
} chat_redis_redirect_t;

/**
 * Parses the text of an error reply, "MOVED <slot> <host>:<port>" or
 * "ASK <slot> <host>:<port>" (hiredis's reply->str; a leading '-' as on the wire is
 * accepted too). The host is everything before the last ':', so IPv6 literals work.
 * Returns CHAT_OK and fills *out; CHAT_ERR_NOT_FOUND for any other error text (not a
 * redirect); CHAT_ERR_INVALID for a redirect that is malformed (slot out of range, bad
 * port, host too long). *out is untouched unless CHAT_OK.
 */
chat_err_t chat_redis_cluster_parse_redirect(const char *err, size_t len,
                                             chat_redis_redirect_t *out);

typedef struct chat_redis_cluster_node {
    char host[CHAT_REDIS_CLUSTER_HOST_LEN]; /* "" = same host as the node asked */
    int port;
    char id[CHAT_REDIS_CLUSTER_ID_LEN]; /* node id, "" when the reply had none */
} chat_redis_cluster_node_t;

/** Which master serves which slot. Opaque; create from a reply, destroy when done. */
typedef struct chat_redis_cluster_map chat_redis_cluster_map_t;

/**
 * Builds a slot map from a CLUSTER SLOTS reply (borrowed, only read): an array of
 * [start, end, [host, port, id?, ...] (master), [replica]...]. Replicas are skipped; a
 * NIL host counts as "". Slots no range covers stay unassigned.
 * Returns CHAT_OK and a new map in *out (caller destroys it); CHAT_ERR_INVALID for a
 * reply of another shape, a range outside 0..16383 or start > end, ranges that overlap,
 * or a bad port; CHAT_ERR_NOMEM. *out is NULL unless CHAT_OK.
 */
chat_err_t chat_redis_cluster_map_create(const redisReply *slots_reply,
                                         chat_redis_cluster_map_t **out);

/** Frees a map; accepts NULL. */
void chat_redis_cluster_map_destroy(chat_redis_cluster_map_t *map);

/** The master serving slot (borrowed, valid until the map changes), NULL if none. */
const chat_redis_cluster_node_t *
chat_redis_cluster_map_lookup_slot(const chat_redis_cluster_map_t *map, unsigned int slot);

/** The master serving key's slot (borrowed, valid until the map changes), NULL if none. */
const chat_redis_cluster_node_t *
chat_redis_cluster_map_lookup_key(const chat_redis_cluster_map_t *map, const char *key, size_t len);

/** Number of distinct masters in the map. */
size_t chat_redis_cluster_map_node_count(const chat_redis_cluster_map_t *map);

/** True when every one of the 16384 slots has a master (the cluster can serve all keys). */
bool chat_redis_cluster_map_covers_all(const chat_redis_cluster_map_t *map);

/** The i-th distinct master of the map (borrowed, valid until the map changes), NULL when
 *  i >= chat_redis_cluster_map_node_count. */
const chat_redis_cluster_node_t *chat_redis_cluster_map_node(const chat_redis_cluster_map_t *map,
                                                             size_t i);

/**
 * Applies a MOVED redirect: the slot now belongs to the redirect's host:port (added as
 * a node if new; empty host taken as is). ASK redirects change nothing (they are one-off)
 * and return CHAT_ERR_INVALID, as does a NULL argument. CHAT_OK or CHAT_ERR_NOMEM.
 * Clients usually also refresh the whole map with CLUSTER SLOTS soon after a MOVED.
 */
chat_err_t chat_redis_cluster_map_apply_moved(chat_redis_cluster_map_t *map,
                                              const chat_redis_redirect_t *moved);

/* ---------------------------------------------------------------- routing */

#define CHAT_REDIS_CLUSTER_KEYLESS (-1) /* the command names no key: any node serves it */
#define CHAT_REDIS_CLUSTER_BADCMD (-2)  /* malformed (EVAL numkeys not a number, ...) */

/**
 * Which argument routes a command (argv[0] is its name, case-insensitive; argvlen may be
 * NULL for C strings): the first key. argv[1] for ordinary commands; for EVAL, EVALSHA,
 * EVAL_RO, EVALSHA_RO, FCALL and FCALL_RO the first key after numkeys (argv[3]), or
 * KEYLESS when numkeys is 0; KEYLESS for commands that name no key (PING, INFO, SCRIPT,
 * CLIENT, CLUSTER, FLUSHDB, ...) or have no argument; BADCMD for a malformed numkeys.
 * Multi-key commands are routed by their first key: the caller keeps their keys in one
 * slot ({hash tags}), as the server requires.
 */
int chat_redis_cluster_key_index(int argc, const char **argv, const size_t *argvlen);

/**
 * Parses a command in RESP (an array of bulk strings, as redisvFormatCommand makes it)
 * back into argc/argv/argvlen. argv and argvlen are new arrays the caller frees; their
 * strings point into buf (borrowed, not NUL-terminated: use the lengths). CHAT_OK,
 * CHAT_ERR_INVALID (not exactly one well-formed array of bulk strings filling len bytes,
 * or an empty one) or CHAT_ERR_NOMEM. Outputs untouched unless CHAT_OK.
 */
chat_err_t chat_redis_cluster_parse_command(const char *buf, size_t len, int *argc,
                                            const char ***argv, size_t **argvlen);

/** True for an error reply text the cluster answers while it cannot serve the slot for a
 *  moment ("TRYAGAIN ...", "CLUSTERDOWN ...", "MASTERDOWN ...", "LOADING ..."):
 *  refresh the map and try again. */
bool chat_redis_cluster_transient_error(const char *err, size_t len);

#endif
