/*
 * account.h - deleting an account (the operator's `chat-admin delete-user`): the users
 * document goes, and with it every way its token still works: the cached profile reads
 * as gone (chat_user_load, the check REST makes on every call and the gateway makes
 * before admitting a socket), its email and username stop resolving, it leaves the
 * username search, and the gateways close its open sockets (account_deleted on its live
 * channel, 4001). Its memberships and messages stay (messages keep the author's id).
 *
 * Blocking; any thread that owns the store's handles.
 */
#ifndef CHAT_ACCOUNT_H
#define CHAT_ACCOUNT_H

#include "chat/error.h"
#include "chat/store.h"

/** CHAT_ERR_NOT_FOUND when no such user; CHAT_ERR_UNAVAILABLE when MongoDB does not
 *  answer (nothing changed). Redis is best effort: a gateway that misses the event
 *  still refuses the token on its next socket. */
chat_err_t chat_account_delete(const chat_store_t *s, const char *user_id);

#endif
