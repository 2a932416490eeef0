/*
 * frame_parse.h - the pure half of a client text frame: JSON parsing and the field
 * checks of every frame type, without a session, a socket or a clock. It turns one
 * frame into either a command (type + checked fields) or the error frame to answer
 * with. frame_handlers.c acts on the result; tests/fuzz/fuzz_ws_frame.c fuzzes it.
 *
 * Threads: any (pure); the gateway calls it on the loop thread.
 */
#ifndef GW_FRAME_PARSE_H
#define GW_FRAME_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum gw_cmd_kind {
    GW_CMD_MESSAGE = 0,
    GW_CMD_JOIN,
    GW_CMD_LEAVE,
    GW_CMD_SUBSCRIBE,
    GW_CMD_UNSUBSCRIBE,
    GW_CMD_TYPING,
    GW_CMD_PING,
    GW_CMD_AUTH,
} gw_cmd_kind_t;

/* The error frame to send when parsing fails. Strings are static or borrowed from the
 * command's root (valid until gw_frame_cmd_clear). */
typedef struct gw_frame_error {
    const char *code;
    const char *message;
    const char *room_id;       /* may be NULL */
    const char *client_msg_id; /* may be NULL */
    const char *frame_type;    /* unknown_type: the type the client gave, else NULL */
    bool refusal;              /* counts toward the abuse close (gw_session_note_refusal) */
} gw_frame_error_t;

/* One parsed frame. Strings borrow from root (owned), which gw_frame_cmd_clear frees. */
typedef struct gw_frame_cmd {
    json_t *root;
    gw_cmd_kind_t kind;
    const char *room_id; /* 24 lower-case hex: every kind but ping and auth */
    const char *content; /* message: validated content */
    size_t content_len;
    const char *client_msg_id; /* message: NULL when absent or null */
    bool has_after;            /* join/subscribe: after_seq given */
    int64_t after_seq;         /* >= 0 when has_after */
    const char *token;         /* auth: the token string (not verified here) */
    gw_frame_error_t err;      /* filled when gw_frame_parse returns false */
} gw_frame_cmd_t;

/**
 * Parses data[0..len) (already checked to be valid UTF-8) into *cmd (zeroed first).
 * True: cmd holds a command whose fields passed their checks. False: cmd->err says
 * what to answer. Either way the caller calls gw_frame_cmd_clear(cmd).
 */
bool gw_frame_parse(const char *data, size_t len, gw_frame_cmd_t *cmd);

/** Frees what cmd owns; accepts a zeroed struct. */
void gw_frame_cmd_clear(gw_frame_cmd_t *cmd);

#endif
