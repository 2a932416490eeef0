/*
 * chat_admin.c - the operator's command-line tool (`chat-admin`), reading the same
 * environment as the servers (MONGO_URI, MONGO_DB, REDIS_URL, ...):
 *
 *   chat-admin delete-user <user_id>   delete an account (common/account.h): its token
 *                                      stops working on REST and on every gateway, and
 *                                      its open sockets close with 4001.
 *
 * Exit status: 0 done, 1 usage or configuration error, 2 no such user, 3 a backend did
 * not answer. Single-threaded (main thread only).
 */
#include <stdio.h>
#include <string.h>

#include "chat/account.h"
#include "chat/config.h"
#include "chat/db.h"
#include "chat/log.h"
#include "chat/redis_sync.h"

#define ADMIN__TIMEOUT_MS 5000

static int admin__usage(void)
{
    fprintf(stderr, "usage: chat-admin delete-user <user_id>\n");
    return 1;
}

static int admin__delete_user(const chat_config_t *cfg, const char *user_id)
{
    char err[512];
    chat_store_t store = {0};
    chat_err_t rc;
    int status = 3;

    store.db =
        chat_db_create(cfg->mongo_uri, cfg->mongo_db, cfg->mongo_timeout_ms, err, sizeof(err));
    if (store.db == NULL) {
        fprintf(stderr, "chat-admin: MongoDB: %s\n", err);
        return 3;
    }
    store.redis =
        chat_redis_create(cfg->redis_url, cfg->redis_cluster, ADMIN__TIMEOUT_MS, err, sizeof(err));
    if (store.redis == NULL) {
        fprintf(stderr,
                "chat-admin: Redis: %s (the account is deleted in MongoDB only; "
                "gateways refuse its next sockets)\n",
                err);
    }
    store.window = cfg->history_window;
    rc = chat_account_delete(&store, user_id);
    if (rc == CHAT_OK) {
        printf("deleted user %s\n", user_id);
        status = 0;
    } else if (rc == CHAT_ERR_NOT_FOUND) {
        fprintf(stderr, "chat-admin: no user %s (ids are 24 lower-case hex digits)\n", user_id);
        status = 2;
    } else {
        fprintf(stderr, "chat-admin: MongoDB did not answer; nothing was deleted\n");
    }
    chat_redis_destroy(store.redis);
    chat_db_destroy(store.db);
    return status;
}

int main(int argc, char **argv)
{
    chat_config_t cfg;
    char err[512];
    int status;

    if (argc != 3 || strcmp(argv[1], "delete-user") != 0) {
        return admin__usage();
    }
    memset(&cfg, 0, sizeof(cfg));
    if (chat_config_load(&cfg, false, err, sizeof(err)) != 0) {
        fprintf(stderr, "chat-admin: configuration error: %s\n", err);
        return 1;
    }
    chat_log_init("chat-admin", cfg.log_level, cfg.log_format);
    chat_db_global_init();
    status = admin__delete_user(&cfg, argv[2]);
    chat_db_global_cleanup();
    chat_config_free(&cfg);
    return status;
}
