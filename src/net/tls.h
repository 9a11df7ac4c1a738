/*
 * TLS towards clients (one OpenSSL server context per listener with a
 * certificate) and towards nodes (one client context per cluster with a
 * tls: block). Contexts are built when the daemon starts: a bad certificate
 * or key stops the start with a precise message, never a session.
 */
#ifndef SLUICE_TLS_H
#define SLUICE_TLS_H

#include <stdbool.h>

#include <openssl/ssl.h>

struct config_cluster;
struct config_listener;

/* A server context for l->tls (relative paths resolved against cfg_dir).
 * Returns NULL after logging why. Free with SSL_CTX_free. */
SSL_CTX *tls_server_ctx_create(const struct config_listener *l, const char *cfg_path)
	__attribute__((warn_unused_result));

/* A client context for TLS from sluice to the nodes of cluster c (its
 * tls: block). Returns NULL after logging why. Free with SSL_CTX_free. */
SSL_CTX *tls_client_ctx_create(const struct config_cluster *c, const char *cfg_path)
	__attribute__((warn_unused_result));

/* Prepare ssl for a connection to the node at host (an IP address or a
 * name) under the cluster's verify mode. False if the name is unusable. */
bool tls_client_prepare(SSL *ssl, int verify, const char *host) __attribute__((warn_unused_result));

#endif
