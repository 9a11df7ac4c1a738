/*
 * Authentication math, no I/O.
 *
 * mysql_native_password: the client answers the 20-byte scramble with
 *   SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))).
 * A proxy that knows only SHA1(SHA1(pw)) (what the server stores, what
 * PASSWORD() prints) can therefore check the answer AND recover SHA1(pw),
 * which is exactly what it needs to answer a backend's own scramble.
 *
 * caching_sha2_password (fast path): the client answers with
 *   SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble).
 * It needs the plaintext password, so only users configured with one can
 * log in to such a backend. When the server has no cached entry for the
 * user it asks for full authentication: over TLS the client sends the
 * password itself; in the clear it fetches the server's RSA public key and
 * sends RSA-OAEP((password + NUL) XOR scramble).
 */
#ifndef SLUICE_MYSQL_AUTH_H
#define SLUICE_MYSQL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MYSQL_SHA1_LEN	 20
#define MYSQL_SHA256_LEN 32

/* Fill out with len cryptographically random bytes that are valid in a
 * scramble: 1..127 without '$' (never NUL: clients treat the scramble as a
 * C string in places). */
bool mysql_random_scramble(uint8_t *out, size_t len) __attribute__((warn_unused_result));

/* The mysql_native_password answer to scramble, given SHA1(pw). */
void mysql_native_answer(const uint8_t sha1_pw[MYSQL_SHA1_LEN], const uint8_t *scramble,
			 size_t scramble_len, uint8_t out[MYSQL_SHA1_LEN]);

/* Check a client's native answer against the stored SHA1(SHA1(pw)). On
 * success also return SHA1(pw) in sha1_pw_out. An empty answer matches no
 * stored hash (sluice users always have a password). */
bool mysql_native_check(const uint8_t double_sha1[MYSQL_SHA1_LEN], const uint8_t *scramble,
			size_t scramble_len, const uint8_t *answer, size_t answer_len,
			uint8_t sha1_pw_out[MYSQL_SHA1_LEN]) __attribute__((warn_unused_result));

/* SHA1 of a plaintext password (the key a native answer needs). */
void mysql_sha1_password(const char *password, uint8_t out[MYSQL_SHA1_LEN]);

/* The caching_sha2_password fast-auth answer to scramble. */
void mysql_sha256_answer(const char *password, const uint8_t *scramble, size_t scramble_len,
			 uint8_t out[MYSQL_SHA256_LEN]);

/* caching_sha2_password full authentication without TLS: encrypt
 * (password + NUL) XOR scramble (repeated) under the server's RSA public key
 * (PEM text, pem_len bytes, as the server sent it) with OAEP/SHA-1. Writes
 * the ciphertext (the modulus size) to out. False when the key does not
 * parse, is not RSA, or the password is too long for it or out_cap. */
bool mysql_sha256_rsa_answer(const char *password, const uint8_t *scramble, size_t scramble_len,
			     const uint8_t *pem, size_t pem_len, uint8_t *out, size_t out_cap,
			     size_t *out_len) __attribute__((warn_unused_result));

#endif
