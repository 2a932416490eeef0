/*
 * account.c - deleting an account (see account.h).
 *
 * Threads: the caller's (blocking).
 */
#include "chat/account.h"

#include <bson/bson.h>
#include <stdio.h>

#include "chat/db.h"
#include "chat/log.h"
#include "chat/user_cache.h"
#include "chat/user_events.h"
#include "chat/user_ids.h"
#include "chat/users_repo.h"
#include "chat/validate.h"

chat_err_t chat_account_delete(const chat_store_t *s, const char *user_id)
{
    chat_user_t u = {0};
    bson_oid_t oid;
    bson_t filter = BSON_INITIALIZER;
    int64_t deleted = 0;
    chat_err_t rc;

    if (user_id == NULL || !chat_validate_object_id(user_id) ||
        !chat_db_oid_from_hex(user_id, &oid)) {
        bson_destroy(&filter);
        return CHAT_ERR_NOT_FOUND;
    }
    rc = chat_users_find_by_id_full(s->db, user_id, false, &u);
    if (rc == CHAT_OK) {
        /* out of the set of ids first: from here on no admission finds the user there
         * (chat_user_cache_deleted takes it out again after the delete) */
        chat_user_ids_change(s, user_id, false);
        BSON_APPEND_OID(&filter, "_id", &oid);
        rc = chat_db_delete(s->db, "users", &filter, false, &deleted);
        if (rc == CHAT_OK && deleted == 0) {
            rc = CHAT_ERR_NOT_FOUND; /* someone else deleted it meanwhile */
        }
    }
    bson_destroy(&filter);
    if (rc == CHAT_OK || rc == CHAT_ERR_NOT_FOUND) {
        /* also when already gone: the caches and sockets may still hold it */
        if (u.id[0] == '\0') {
            snprintf(u.id, sizeof(u.id), "%s", user_id);
        }
        chat_user_cache_deleted(s, &u);
        chat_user_event_account_deleted(s->redis, user_id);
    }
    if (rc == CHAT_OK) {
        chat_log_info("account deleted", "user", user_id);
    }
    chat_user_clear(&u);
    return rc;
}
