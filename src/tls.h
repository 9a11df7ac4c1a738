/*
 * TLS towards clients: one OpenSSL server context per listener with a
 * certificate, built when the daemon starts (a bad certificate or key stops
 * the start with a precise message, never a session).
 */
#ifndef SLUICE_TLS_H
#define SLUICE_TLS_H

#include <openssl/ssl.h>

struct config_listener;

/* A server context for l->tls (relative paths resolved against cfg_dir).
 * Returns NULL after logging why. Free with SSL_CTX_free. */
SSL_CTX *tls_server_ctx_create(const struct config_listener *l, const char *cfg_path)
	__attribute__((warn_unused_result));

#endif
