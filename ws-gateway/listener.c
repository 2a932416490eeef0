/*
 * listener.c - SO_REUSEPORT listening socket feeding lws (see header).
 *
 * Threads: loop thread. Relies on: lws_adopt_socket_vhost (which closes the socket
 * itself when it cannot adopt it).
 */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chat/log.h"

#define LISTENER__BACKLOG 4096
#define LISTENER__ACCEPTS_PER_WAKE 128 /* then let other events run */

struct gw_listener {
    gw_t *gw;
    struct lws_vhost *vh;
    int fd;
    uv_poll_t poll;
};

static void listener__on_readable(uv_poll_t *h, int status, int events)
{
    gw_listener_t *l = h->data;

    (void)events;
    if (status < 0) {
        return;
    }
    for (int i = 0; i < LISTENER__ACCEPTS_PER_WAKE; i++) {
        int cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED) {
                char err[16];
                snprintf(err, sizeof(err), "%d", errno);
                chat_log_warn("accept failed", "gateway", l->gw->cfg.gateway_id, "errno", err);
            }
            return;
        }
        /* Nagle off, as a chat server must (lws does not for a socket it adopts): a
         * small frame written while the peer has not acknowledged the one before it
         * would wait for the peer's delayed ACK, up to 40 ms on Linux (measured: the ack
         * of a room's first message 42-47 ms in half the trials, docs/BENCHMARKS.md) */
        (void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
        if (lws_adopt_socket_vhost(l->vh, cfd) == NULL) {
            chat_log_warn("lws could not adopt a connection", "gateway", l->gw->cfg.gateway_id);
        }
    }
}

static int listener__bind(const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;
    int fd;

    memset(&ss, 0, sizeof(ss));
    if (strchr(host, ':') != NULL) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) {
            return -1;
        }
        len = sizeof(*a6);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
                      &a4->sin_addr) != 1) {
            return -1;
        }
        len = sizeof(*a4);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, LISTENER__BACKLOG) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

gw_listener_t *gw_listener_start(gw_t *gw, struct lws_vhost *vh)
{
    gw_listener_t *l = calloc(1, sizeof(*l));
    char port[16];

    snprintf(port, sizeof(port), "%d", gw->cfg.gateway_port);
    if (l == NULL) {
        return NULL;
    }
    l->gw = gw;
    l->vh = vh;
    l->fd = listener__bind(gw->cfg.gateway_host, gw->cfg.gateway_port);
    if (l->fd < 0) {
        chat_log_error("cannot listen (GATEWAY_HOST / GATEWAY_PORT)", "host", gw->cfg.gateway_host,
                       "port", port, "error", strerror(errno));
        free(l);
        return NULL;
    }
    if (uv_poll_init_socket(&gw->loop, &l->poll, l->fd) != 0) {
        close(l->fd);
        free(l);
        return NULL;
    }
    l->poll.data = l;
    uv_poll_start(&l->poll, UV_READABLE, listener__on_readable);
    return l;
}

static void listener__on_closed(uv_handle_t *h)
{
    gw_listener_t *l = h->data;

    close(l->fd);
    free(l);
}

void gw_listener_stop(gw_listener_t *l)
{
    if (l == NULL) {
        return;
    }
    uv_poll_stop(&l->poll);
    uv_close((uv_handle_t *)&l->poll, listener__on_closed);
}
