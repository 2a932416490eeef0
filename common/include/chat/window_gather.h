/*
 * window_gather.h - the newest `keep` messages of each room, gathered from one read of
 * `messages` in whatever order the database returns them (a warm-up's read of the whole
 * collection, history_warm.h). Each room holds a min-heap by seq of at most keep
 * messages: an older message is dropped as it arrives, so what is held is bounded by
 * rooms x keep whatever the collection's size, not by the messages read. Either every
 * room met is gathered, or only the rooms given (the others' messages are dropped), and
 * at most max_held messages are held at once: one more is refused (CHAT_ERR_CONFLICT),
 * and the caller leaves the rooms to their own builds.
 *
 * Threads: none of its own; one thread at a time per gatherer.
 */
#ifndef CHAT_WINDOW_GATHER_H
#define CHAT_WINDOW_GATHER_H

#include <stddef.h>

#include "chat/error.h"
#include "chat/model.h"

typedef struct chat_window_gather chat_window_gather_t;

/** A gatherer of the newest keep (>= 1) messages per room: of the n_only rooms in only
 *  (ids, copied), or of every room met when only is NULL. NULL without memory. */
chat_window_gather_t *chat_window_gather_new(const char *const *only, size_t n_only, size_t keep,
                                             size_t max_held);

/** Takes msg (its strings move here, or are freed when it is dropped: a room not
 *  gathered, or older than the room's newest keep). CHAT_ERR_CONFLICT when holding it
 *  would exceed max_held, CHAT_ERR_NOMEM; either way msg is cleared. */
chat_err_t chat_window_gather_take(chat_window_gather_t *g, chat_message_t *msg);

/** Messages held now, and messages taken so far (held or dropped). */
size_t chat_window_gather_held(const chat_window_gather_t *g);
size_t chat_window_gather_taken(const chat_window_gather_t *g);

typedef chat_err_t (*chat_window_gather_each_fn)(const char *room_id, chat_message_list_t *newest,
                                                 void *arg);

/** fn for each room holding messages (in no set order), its newest sorted by seq; stops at
 *  the first error fn returns and returns it. The messages stay the gatherer's. */
chat_err_t chat_window_gather_each(chat_window_gather_t *g, chat_window_gather_each_fn fn,
                                   void *arg);

/** Frees the gatherer and everything it holds (NULL is fine). */
void chat_window_gather_free(chat_window_gather_t *g);

#endif
