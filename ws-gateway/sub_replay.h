/*
 * sub_replay.h - the replay that brings a resuming subscription from after_seq to live
 * with no gap and no duplicate: stored pages are queued while the session's queue has
 * room (else the replay pauses until it drains), what the room still holds among its
 * recent frames is sent with no query, live messages are skipped meanwhile (the
 * replay's continuation covers them), and the sub goes live once it has reached the
 * room's last delivered seq, telling the client {type:"subscribed", room_id, last_seq}.
 * Fetching the next page is the caller's (subscription.c dispatches the job): these
 * functions only say when.
 *
 * Threads: loop thread only.
 */
#ifndef GW_SUB_REPLAY_H
#define GW_SUB_REPLAY_H

#include <stdbool.h>

#include "history_page.h"
#include "room_registry.h"
#include "session.h"

/** What a replay needs next. */
typedef enum gw_sub_replay_next {
    GW_SUB_REPLAY_DONE,  /* live now (or the session is closing): nothing */
    GW_SUB_REPLAY_FETCH, /* read the page after sub->delivered */
    GW_SUB_REPLAY_PAUSED /* waiting for the session's queue to drain */
} gw_sub_replay_next_t;

/** Makes sub LIVE (a new live mark the first time) and sends "subscribed"; repeating it
 *  repeats the confirmation. */
void gw_sub_replay_go_live(gw_session_t *s, gw_sub_t *sub);
/** Forgets that sub's replay waits for the queue (the request starts over or ends). */
void gw_sub_replay_unpause(gw_session_t *s, gw_sub_t *sub);
/** Queues the page's frames (borrowed) sub has not had, while the queue has room. True
 *  when more may follow: the store held more than this page, or the queue was full. */
bool gw_sub_replay_apply_page(gw_session_t *s, gw_sub_t *sub, const gw_history_page_t *page);
/** Continues after a page (more: as apply_page said) or a drained queue (more=true):
 *  the room's recent frames first, then live or what to do next. */
gw_sub_replay_next_t gw_sub_replay_continue(gw_session_t *s, gw_sub_t *sub, bool more);

#endif
