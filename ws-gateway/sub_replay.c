/*
 * sub_replay.c - a subscription's replay from after_seq to live (see sub_replay.h); a
 * replay the room's recent frames cover is served from them without a query.
 *
 * Threads: loop thread only. Relies on: room_registry.h (the room's last seq and recent
 * frames), session.h (queue room, sending), gateway_metrics.h.
 */
#include "sub_replay.h"

#include "subscription_internal.h"

#include "chat/log.h"
#include "gateway_metrics.h"

void gw_sub_replay_go_live(gw_session_t *s, gw_sub_t *sub)
{
    gw_registry_entry_set_state(gw_session_gw(s)->registry, sub->entry, GW_SUB_LIVE);
    gw_session_send_json(s,
                         json_pack("{s:s, s:s, s:I}", "type", "subscribed", "room_id", sub->room_id,
                                   "last_seq",
                                   (json_int_t)gw_registry_entry_delivered(sub->entry)));
}

/* Pauses the replay until the session's queue drains (gw_subscription_on_queue_drained). */
static void replay__pause(gw_session_t *s, gw_sub_t *sub)
{
    if (!sub->waiting_queue) {
        sub->waiting_queue = true;
        gw_session_replay_wait(s, true);
    }
}

void gw_sub_replay_unpause(gw_session_t *s, gw_sub_t *sub)
{
    if (sub->waiting_queue) {
        sub->waiting_queue = false;
        gw_session_replay_wait(s, false);
    }
}

bool gw_sub_replay_apply_page(gw_session_t *s, gw_sub_t *sub, const gw_history_page_t *page)
{
    for (size_t i = 0; i < page->n; i++) {
        if (page->seqs[i] <= gw_registry_entry_delivered(sub->entry)) {
            continue;
        }
        if (!gw_session_has_room_for_replay(s, page->frames[i]->len)) {
            return true;
        }
        gw_registry_entry_set_delivered(sub->entry, page->seqs[i]);
        gw_session_send(s, page->frames[i]);
    }
    return page->n > 0 && gw_registry_entry_delivered(sub->entry) < page->head;
}

gw_sub_replay_next_t gw_sub_replay_continue(gw_session_t *s, gw_sub_t *sub, bool more)
{
    const gw_room_t *room = gw_registry_entry_room(sub->entry);
    int64_t last;
    int64_t delivered = gw_registry_entry_delivered(sub->entry);
    gw_frame_t *f;
    bool from_memory = false;

    if (gw_session_is_closing(s)) {
        return GW_SUB_REPLAY_DONE;
    }
    (void)gw_registry_room_last(room, &last);
    /* What the room still holds in memory needs no query (most resumes are seconds old). */
    while (delivered < last && (f = gw_registry_recent(room, delivered + 1)) != NULL) {
        if (!gw_session_has_room_for_replay(s, f->len)) {
            replay__pause(s, sub);
            return GW_SUB_REPLAY_PAUSED;
        }
        gw_registry_entry_set_delivered(sub->entry, ++delivered);
        gw_session_send(s, f);
        from_memory = true;
    }
    /* Live only once nothing the room has delivered is missing here. An empty page is no
     * proof: the page may have been read just before a message the room has since
     * delivered was committed; reading again finds it (room->last is always stored).
     * Reaching last through the room's own frames is. */
    if (from_memory) {
        chat_counter_add(&gw_session_gw(s)->metrics->resume_replays[GW_REPLAY_MEMORY], 1);
        chat_log_debug("replayed from the room's recent frames", "gateway",
                       gw_session_gw(s)->cfg.gateway_id, "conn", gw_session_conn_key(s), "room",
                       sub->room_id);
    }
    if ((!more || from_memory) && delivered >= last) {
        gw_sub_replay_go_live(s, sub);
        return GW_SUB_REPLAY_DONE;
    }
    if (gw_session_has_room_for_replay(s, 0) &&
        gw_session_queued(s) <= gw_session_gw(s)->lim.queue_max_frames / 4) {
        return GW_SUB_REPLAY_FETCH;
    }
    replay__pause(s, sub);
    return GW_SUB_REPLAY_PAUSED;
}
