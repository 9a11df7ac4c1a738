/*
 * Password scrambles for mysql_native_password and caching_sha2_password
 * (fast path and RSA full authentication), on OpenSSL's EVP API. See auth.h.
 */
#include "auth.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

/* out = H(a + b) with the given digest. */
static void digest2(const EVP_MD *md, const void *a, size_t alen, const void *b, size_t blen,
		    uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned n;

	/* Digest failures here mean a broken OpenSSL; the answer will simply
	 * not match and the login fails. */
	if (!ctx)
		return;
	EVP_DigestInit_ex(ctx, md, NULL);
	EVP_DigestUpdate(ctx, a, alen);
	if (blen)
		EVP_DigestUpdate(ctx, b, blen);
	EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
}

bool mysql_random_scramble(uint8_t *out, size_t len)
{
	if (RAND_bytes(out, (int)len) != 1)
		return false;
	for (size_t i = 0; i < len; i++) {
		out[i] = (uint8_t)(out[i] & 0x7f);
		if (out[i] == 0 || out[i] == '$')
			out[i] = (uint8_t)(out[i] + 1);
	}
	return true;
}

void mysql_sha1_password(const char *password, uint8_t out[MYSQL_SHA1_LEN])
{
	digest2(EVP_sha1(), password, strlen(password), NULL, 0, out);
}

void mysql_native_answer(const uint8_t sha1_pw[MYSQL_SHA1_LEN], const uint8_t *scramble,
			 size_t scramble_len, uint8_t out[MYSQL_SHA1_LEN])
{
	uint8_t double_sha1[MYSQL_SHA1_LEN], mask[MYSQL_SHA1_LEN];

	digest2(EVP_sha1(), sha1_pw, MYSQL_SHA1_LEN, NULL, 0, double_sha1);
	digest2(EVP_sha1(), scramble, scramble_len, double_sha1, MYSQL_SHA1_LEN, mask);
	for (int i = 0; i < MYSQL_SHA1_LEN; i++)
		out[i] = sha1_pw[i] ^ mask[i];
	OPENSSL_cleanse(double_sha1, sizeof(double_sha1));
}

bool mysql_native_check(const uint8_t double_sha1[MYSQL_SHA1_LEN], const uint8_t *scramble,
			size_t scramble_len, const uint8_t *answer, size_t answer_len,
			uint8_t sha1_pw_out[MYSQL_SHA1_LEN])
{
	uint8_t mask[MYSQL_SHA1_LEN], candidate[MYSQL_SHA1_LEN], check[MYSQL_SHA1_LEN];
	bool ok;

	if (answer_len != MYSQL_SHA1_LEN)
		return false;
	digest2(EVP_sha1(), scramble, scramble_len, double_sha1, MYSQL_SHA1_LEN, mask);
	for (int i = 0; i < MYSQL_SHA1_LEN; i++)
		candidate[i] = answer[i] ^ mask[i];
	digest2(EVP_sha1(), candidate, MYSQL_SHA1_LEN, NULL, 0, check);
	ok = CRYPTO_memcmp(check, double_sha1, MYSQL_SHA1_LEN) == 0;
	if (ok)
		memcpy(sha1_pw_out, candidate, MYSQL_SHA1_LEN);
	OPENSSL_cleanse(candidate, sizeof(candidate));
	return ok;
}

void mysql_sha256_answer(const char *password, const uint8_t *scramble, size_t scramble_len,
			 uint8_t out[MYSQL_SHA256_LEN])
{
	uint8_t h1[MYSQL_SHA256_LEN], h2[MYSQL_SHA256_LEN], h3[MYSQL_SHA256_LEN];

	digest2(EVP_sha256(), password, strlen(password), NULL, 0, h1);
	digest2(EVP_sha256(), h1, sizeof(h1), NULL, 0, h2);
	digest2(EVP_sha256(), h2, sizeof(h2), scramble, scramble_len, h3);
	for (int i = 0; i < MYSQL_SHA256_LEN; i++)
		out[i] = h1[i] ^ h3[i];
	OPENSSL_cleanse(h1, sizeof(h1));
}

bool mysql_sha256_rsa_answer(const char *password, const uint8_t *scramble, size_t scramble_len,
			     const uint8_t *pem, size_t pem_len, uint8_t *out, size_t out_cap,
			     size_t *out_len)
{
	size_t pw_len = strlen(password) + 1; /* the NUL is part of what is encrypted */
	uint8_t *plain = NULL;
	BIO *bio = NULL;
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	bool ok = false;

	if (scramble_len == 0 || pem_len > INT_MAX)
		return false;
	plain = malloc(pw_len);
	if (!plain)
		return false;
	for (size_t i = 0; i < pw_len; i++)
		plain[i] = (uint8_t)(password[i] ^ scramble[i % scramble_len]);
	bio = BIO_new_mem_buf(pem, (int)pem_len);
	if (!bio)
		goto fail;
	key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		goto fail;
	ctx = EVP_PKEY_CTX_new(key, NULL);
	if (!ctx || EVP_PKEY_encrypt_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) <= 0)
		goto fail;
	*out_len = out_cap;
	/* Fails when the password is too long for the key (OAEP: 41 bytes
	 * less than the modulus) or the output would not fit. */
	ok = EVP_PKEY_encrypt(ctx, out, out_len, plain, pw_len) > 0;
fail:
	OPENSSL_cleanse(plain, pw_len);
	free(plain);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	BIO_free(bio);
	return ok;
}
