/*
 * OpenSSL server contexts for listeners. See tls.h.
 */
#include "net/tls.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "config/config.h"
#include "log.h"

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
	config_resolve_path(cfg_path, l->tls.cert, cert, sizeof(cert));
	config_resolve_path(cfg_path, l->tls.key, key, sizeof(key));
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
		config_resolve_path(cfg_path, l->tls.ca, ca, sizeof(ca));
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

SSL_CTX *tls_client_ctx_create(const struct config_cluster *c, const char *cfg_path)
{
	const struct config_backend_tls *t = &c->tls;
	char path[PATH_MAX], key[PATH_MAX];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		log_error("tls", "cluster %s: cannot create a TLS context", c->name);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (t->ca) {
		config_resolve_path(cfg_path, t->ca, path, sizeof(path));
		if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1) {
			log_error("tls", "cluster %s: cannot load CA bundle '%s'", c->name, path);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		log_error("tls", "cluster %s: cannot load the system's trusted CAs", c->name);
		goto fail;
	}
	if (t->cert) {
		config_resolve_path(cfg_path, t->cert, path, sizeof(path));
		config_resolve_path(cfg_path, t->key, key, sizeof(key));
		if (SSL_CTX_use_certificate_chain_file(ctx, path) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			log_error("tls",
				  "cluster %s: cannot load client certificate '%s' with key '%s'",
				  c->name, path, key);
			goto fail;
		}
	}
	SSL_CTX_set_verify(ctx, t->verify == TLS_VERIFY_NONE ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
			   NULL);
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

bool tls_client_prepare(SSL *ssl, int verify, const char *host)
{
	unsigned char ip[16];
	bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;

	if (!is_ip && SSL_set_tlsext_host_name(ssl, host) != 1)
		return false;
	if (verify != TLS_VERIFY_FULL)
		return true;
	/* Full verification: the certificate must name the address we dialled. */
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	if (is_ip)
		return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1;
	return X509_VERIFY_PARAM_set1_host(param, host, 0) == 1;
}
