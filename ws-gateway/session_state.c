/*
 * session_state.c - what the layers above a connection read and set of it (see
 * session.h): identity, admission flags, counters of work in flight, the subscription
 * list, and the loop's per-tick sweep. The fields are session_internal.h's.
 *
 * Threads: loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/grow.h"
#include "keepalive.h"
#include "session_internal.h"

size_t gw_session_size(void)
{
    return sizeof(gw_session_t);
}

void gw_session_reset(gw_session_t *s)
{
    memset(s, 0, sizeof(*s));
}

void gw_session_set_identity(gw_session_t *s, struct lws *wsi, const chat_jwt_claims_t *claims)
{
    snprintf(s->user_id, sizeof(s->user_id), "%s", claims->sub);
    snprintf(s->username, sizeof(s->username), "%s", claims->username);
    s->token_exp = claims->exp;
    snprintf(s->jti, sizeof(s->jti), "%s", claims->jti);
    lws_get_peer_simple(wsi, s->peer, sizeof(s->peer));
}

void gw_session_set_url_resume(gw_session_t *s, const char *room_id, bool has_after,
                               int64_t after_seq)
{
    snprintf(s->url_room, sizeof(s->url_room), "%s", room_id != NULL ? room_id : "");
    s->url_has_after = has_after;
    s->url_after_seq = after_seq;
}

const char *gw_session_url_room(const gw_session_t *s, bool *has_after, int64_t *after_seq)
{
    *has_after = s->url_has_after;
    *after_seq = s->url_after_seq;
    return s->url_room[0] != '\0' ? s->url_room : NULL;
}

bool gw_session_renew_token(gw_session_t *s, int64_t exp, const char *jti)
{
    s->token_exp = exp;
    if (strcmp(s->jti, jti) == 0) {
        return false;
    }
    snprintf(s->jti, sizeof(s->jti), "%s", jti);
    return true;
}

gw_t *gw_session_gw(const gw_session_t *s)
{
    return s->gw;
}

uint64_t gw_session_conn_id(const gw_session_t *s)
{
    return s->conn_id;
}

const char *gw_session_conn_key(const gw_session_t *s)
{
    return s->conn_key;
}

const char *gw_session_user_id(const gw_session_t *s)
{
    return s->user_id;
}

const char *gw_session_username(const gw_session_t *s)
{
    return s->username;
}

const char *gw_session_jti(const gw_session_t *s)
{
    return s->jti;
}

bool gw_session_is_closing(const gw_session_t *s)
{
    return s->closing;
}

uint32_t gw_session_queued(const gw_session_t *s)
{
    return s->q_len;
}

size_t gw_session_queued_total(const gw_t *gw)
{
    size_t queued = 0;

    for (const gw_session_t *s = gw->session_head; s != NULL; s = s->next) {
        queued += s->q_len;
    }
    return queued;
}

void gw_session_pause_reading(gw_session_t *s, bool paused)
{
    lws_rx_flow_control(s->wsi, paused ? 0 : 1);
}

bool gw_session_is_admitted(const gw_session_t *s)
{
    return s->admitted;
}

void gw_session_set_admitted(gw_session_t *s)
{
    s->admitted = true;
}

bool gw_session_is_counted(const gw_session_t *s)
{
    return s->counted;
}

void gw_session_set_counted(gw_session_t *s, bool counted)
{
    s->counted = counted;
}

struct gw_admission_stash **gw_session_stash(gw_session_t *s)
{
    return &s->stash;
}

gw_frame_budget_t *gw_session_frame_budget(gw_session_t *s)
{
    return &s->frame_budget;
}

/* ------------------------------------------------------------------ work in flight */

static void session__count_add(uint32_t *n, int delta)
{
    if (delta < 0 && *n < (uint32_t)-delta) {
        *n = 0;
    } else {
        *n = (uint32_t)((int64_t)*n + delta);
    }
}

uint32_t gw_session_inflight(const gw_session_t *s)
{
    return s->inflight;
}

void gw_session_inflight_add(gw_session_t *s, int delta)
{
    session__count_add(&s->inflight, delta);
}

uint32_t gw_session_sub_jobs(const gw_session_t *s)
{
    return s->sub_jobs;
}

void gw_session_sub_jobs_add(gw_session_t *s, int delta)
{
    session__count_add(&s->sub_jobs, delta);
}

void gw_session_replay_wait(gw_session_t *s, bool waiting)
{
    session__count_add(&s->replays_waiting, waiting ? 1 : -1);
}

/* ------------------------------------------------------------------ subscriptions */

gw_sub_t *const *gw_session_subs(const gw_session_t *s, uint32_t *n)
{
    *n = s->n_subs;
    return s->subs;
}

int gw_session_add_sub(gw_session_t *s, gw_sub_t *sub)
{
    gw_sub_t **subs = chat_grow(s->subs, s->n_subs, &s->cap_subs, sizeof(*subs), 4);

    if (subs == NULL) {
        return -1;
    }
    s->subs = subs;
    s->subs[s->n_subs++] = sub;
    return 0;
}

void gw_session_remove_sub(gw_session_t *s, gw_sub_t *sub)
{
    for (uint32_t i = 0; i < s->n_subs; i++) {
        if (s->subs[i] == sub) {
            s->subs[i] = s->subs[--s->n_subs];
            return;
        }
    }
}

/* ------------------------------------------------------------------ every session */

void gw_session_tick_all(gw_t *gw, int64_t now_sec, int64_t now_ms)
{
    for (gw_session_t *s = gw->session_head; s != NULL; s = s->next) {
        if (!s->closing && s->token_exp > 0 && s->token_exp <= now_sec) {
            gw_session_close(s, GW_CLOSE_TOKEN_EXPIRED, "token_expired", true);
        } else if (s->over_since_ms != 0 && now_ms - s->over_since_ms > gw->lim.slow_grace_ms) {
            gw_session_cut_slow(s); /* over its bound and not reading */
        } else {
            gw_keepalive_check(s, now_ms, (int64_t)gw->lim.ping_sec * 1000,
                               (int64_t)gw->lim.idle_sec * 1000);
        }
    }
}

void gw_session_close_all(gw_t *gw, uint16_t code, const char *reason)
{
    for (gw_session_t *s = gw->session_head; s != NULL; s = s->next) {
        gw_session_close(s, code, reason, true);
    }
}
