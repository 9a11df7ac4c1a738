/*
 * The math of MariaDB's client_ed25519 authentication plugin, no I/O.
 *
 * The server sends a 32-byte random message; the client answers with the
 * Ed25519 signature of it (RFC 8032), where the password of any length takes
 * the place of the 32-byte secret seed: the secret scalar and the nonce
 * prefix come from SHA512(password). The server stores only the public key,
 * base64 without padding (43 characters, what ed25519_password() prints). A
 * 32-byte password signs exactly like standard Ed25519 with that seed.
 */
#ifndef SLUICE_MYSQL_ED25519_H
#define SLUICE_MYSQL_ED25519_H

#include <stddef.h>
#include <stdint.h>

#define MYSQL_ED25519_SIG_LEN 64
#define MYSQL_ED25519_PUB_LEN 32

/* Sign msg for client_ed25519 with the password as secret seed: sig is
 * R || S (64 bytes), the same for the same inputs. The password may be empty
 * and need not be NUL-free (the plugin itself passes strlen() bytes). The
 * secrets derived from the password are wiped before returning. Should
 * OpenSSL fail to hash, sig is all zeros, which no server accepts. */
void mysql_ed25519_sign(const uint8_t *password, size_t password_len, const uint8_t *msg,
			size_t msg_len, uint8_t sig[MYSQL_ED25519_SIG_LEN]);

/* The public key the server stores for this password (base64 of it is in
 * mysql.global_priv). All zeros should OpenSSL fail to hash. */
void mysql_ed25519_public_key(const uint8_t *password, size_t password_len,
			      uint8_t pub[MYSQL_ED25519_PUB_LEN]);

#endif
