/*
 * OpenSSL server contexts for listeners. See tls.h.
 */
#include "tls.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "config.h"
#include "log.h"

/* Resolve a path from the config the way the config loader does. */
static void resolve(char *out, size_t cap, const char *cfg_path, const char *path)
{
	const char *slash = strrchr(cfg_path, '/');
	int dir_len = slash ? (int)(slash - cfg_path + 1) : 0;

	if (path[0] == '/')
		snprintf(out, cap, "%s", path);
	else
		snprintf(out, cap, "%.*s%s", dir_len, cfg_path, path);
}

static void log_ssl_error(const struct config_listener *l, const char *what, const char *path)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	log_error("tls", "listener %s: cannot load %s '%s': %s", l->name, what, path, buf);
	ERR_clear_error();
}

SSL_CTX *tls_server_ctx_create(const struct config_listener *l, const char *cfg_path)
{
	char cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		log_error("tls", "listener %s: cannot create a TLS context", l->name);
		return NULL;
	}
	/* TLS 1.2 is the oldest version MariaDB clients still negotiate. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	resolve(cert, sizeof(cert), cfg_path, l->tls.cert);
	resolve(key, sizeof(key), cfg_path, l->tls.key);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		log_ssl_error(l, "certificate", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		log_ssl_error(l, "private key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		log_error("tls", "listener %s: key '%s' does not match certificate '%s'", l->name,
			  key, cert);
		goto fail;
	}
	if (l->tls.ca) {
		resolve(ca, sizeof(ca), cfg_path, l->tls.ca);
		if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
			log_ssl_error(l, "CA bundle", ca);
			goto fail;
		}
		/* Verify client certificates when they are offered. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}
