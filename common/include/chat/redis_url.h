/*
 * redis_url.h - parsing a Redis URL, redis://[[user]:password@]host[:port][/db] (port
 * 6379 and db 0 when absent). Percent-decoding is not supported: credentials with
 * reserved characters must be plain. Pure functions; any thread.
 */
#ifndef CHAT_REDIS_URL_H
#define CHAT_REDIS_URL_H

/** Parses redis://[:password@]host[:port][/db]. Returns 0 or -1. host is malloc'd. */
int chat_redis_url_parse(const char *url, char **host, int *port, char **password, int *db);

/** The same with an ACL user: redis://[[user]:password@]host[:port][/db]. host, *username
 *  and *password are malloc'd (the latter two NULL when absent). 0 or -1. */
int chat_redis_url_parse_auth(const char *url, char **host, int *port, char **username,
                              char **password, int *db);

#endif
