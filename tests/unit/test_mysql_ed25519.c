/*
 * Unit tests for src/mysql/ed25519.c: the RFC 8032 section 7.1 vectors, the
 * same keys and signatures as OpenSSL's Ed25519 for 32-byte seeds, passwords
 * of other lengths whose signatures OpenSSL verifies, and the public keys
 * MariaDB's own test suite prints for ed25519_password().
 */
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "mysql/ed25519.h"
#include "check.h"

/* Decode lowercase hex into out; returns the byte count. */
static size_t hex_decode(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n && i < cap; i++) {
		unsigned v;

		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n < cap ? n : cap;
}

/* splitmix64: reproducible test inputs (a failing row names its index). */
static uint64_t prng_state = 0x5eed5eed5eed5eedULL;

static uint64_t prng_next(void)
{
	uint64_t z = (prng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void prng_fill(uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)prng_next();
}

/* OpenSSL's Ed25519 public key and signature for a 32-byte seed. Returns 1
 * when OpenSSL did both. */
static int openssl_sign(const uint8_t seed[32], const uint8_t *msg, size_t msg_len, uint8_t pub[32],
			uint8_t sig[64])
{
	EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t pub_len = 32, sig_len = 64;
	int ok;

	ok = pkey && ctx && EVP_PKEY_get_raw_public_key(pkey, pub, &pub_len) == 1 &&
	     EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
	     EVP_DigestSign(ctx, sig, &sig_len, msg, msg_len) == 1 && pub_len == 32 &&
	     sig_len == 64;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return ok;
}

/* 1 when OpenSSL accepts sig over msg under the public key pub, 0 when it
 * rejects it, -1 when it could not check. */
static int openssl_verify(const uint8_t pub[32], const uint8_t *msg, size_t msg_len,
			  const uint8_t sig[64])
{
	EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	if (pkey && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1)
		rc = EVP_DigestVerify(ctx, sig, 64, msg, msg_len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return rc;
}

struct rfc_case {
	const char *name;
	const char *secret, *pub, *msg, *sig; /* hex */
};

/* RFC 8032 section 7.1; the SHA(abc) message is SHA-512("abc"). */
static const struct rfc_case rfc_cases[] = {
	{"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	 "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
	 "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	 "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
	{"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	 "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
	 "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
	 "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	{"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
	 "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
	 "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
	 "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
	{"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
	 "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
	 "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	 "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
	 "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
	 "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"},
};

static void test_rfc8032(void)
{
	for (size_t i = 0; i < sizeof(rfc_cases) / sizeof(rfc_cases[0]); i++) {
		const struct rfc_case *c = &rfc_cases[i];
		uint8_t secret[32], want_pub[32], want_sig[64], msg[64], pub[32], sig[64];
		size_t msg_len;

		check_case("%s", c->name);
		CHECK_EQ_INT(hex_decode(c->secret, secret, sizeof(secret)), 32);
		CHECK_EQ_INT(hex_decode(c->pub, want_pub, sizeof(want_pub)), 32);
		CHECK_EQ_INT(hex_decode(c->sig, want_sig, sizeof(want_sig)), 64);
		msg_len = hex_decode(c->msg, msg, sizeof(msg));
		mysql_ed25519_public_key(secret, sizeof(secret), pub);
		CHECK_EQ_MEM(pub, want_pub, 32);
		mysql_ed25519_sign(secret, sizeof(secret), msg, msg_len, sig);
		CHECK_EQ_MEM(sig, want_sig, 64);
	}
}

/* A 32-byte password is a standard Ed25519 seed: OpenSSL gives the same
 * public key and signature, for messages of 0 to 100 bytes. */
static void test_same_as_openssl(void)
{
	for (int i = 0; i < 256; i++) {
		uint8_t seed[32], msg[100], pub[32], sig[64], want_pub[32], want_sig[64];
		size_t msg_len = (size_t)(prng_next() % 101);

		check_case("seed %d, message of %zu bytes", i, msg_len);
		prng_fill(seed, sizeof(seed));
		prng_fill(msg, msg_len);
		if (!CHECK(openssl_sign(seed, msg, msg_len, want_pub, want_sig)))
			continue;
		mysql_ed25519_public_key(seed, sizeof(seed), pub);
		CHECK_EQ_MEM(pub, want_pub, 32);
		mysql_ed25519_sign(seed, sizeof(seed), msg, msg_len, sig);
		CHECK_EQ_MEM(sig, want_sig, 64);
	}
}

/* Passwords of other lengths, which OpenSSL cannot sign with: the signature
 * of a 32-byte scramble verifies under our public key, is the same when made
 * again, and stops verifying when one bit of the scramble changes. */
static void test_other_lengths(void)
{
	static const size_t lengths[] = {0, 1, 6, 31, 33, 64, 200};

	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		uint8_t password[200], scramble[32], pub[32], sig[64], again[64];
		size_t len = lengths[i];

		check_case("password of %zu bytes", len);
		prng_fill(password, len);
		if (len == 6)
			memcpy(password, "secret", 6);
		prng_fill(scramble, sizeof(scramble));
		mysql_ed25519_public_key(password, len, pub);
		mysql_ed25519_sign(password, len, scramble, sizeof(scramble), sig);
		CHECK_EQ_INT(openssl_verify(pub, scramble, sizeof(scramble), sig), 1);
		mysql_ed25519_sign(password, len, scramble, sizeof(scramble), again);
		CHECK_EQ_MEM(sig, again, 64);
		scramble[i % sizeof(scramble)] ^= 0x01;
		CHECK_EQ_INT(openssl_verify(pub, scramble, sizeof(scramble), sig), 0);
	}
}

struct mariadb_case {
	const char *password;
	const char *stored; /* base64 of the public key, no padding */
};

/* What ed25519_password() returns, from MariaDB's own test suite
 * (mysql-test/suite/plugins/r/auth_ed25519.result, MariaDB/server); the
 * test logs in as test1 with the password "secret" against the stored
 * string listed here for it. */
static const struct mariadb_case mariadb_cases[] = {
	{"foo", "vubFBzIrapbfHct1/J72dnUryz5VS7lA6XHH8sIx4TI"},
	{"foobar", "qv2mG6HWCuy32Slb5xhV4THStewNz2VINVPbgk+XAJ8"},
	{"foo bar", "Y5fV74JAVRMOK2cdnUsYS+WW9sXaaL/o+6WGKOgqnzc"},
	{"bar", "pfzkeWMzkTefY1oshXS+/kATeN51M+4jxi3/cbyTd10"},
	{"secret", "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY"},
};

/* Our public key for each password is what the server stores, and our
 * signature verifies under the key decoded from the server's string, which
 * is the check the server's plugin makes (crypto_sign_open). No signature
 * captured from a real login is known yet: the lead adds one from a server. */
static void test_mariadb_known_answers(void)
{
	for (size_t i = 0; i < sizeof(mariadb_cases) / sizeof(mariadb_cases[0]); i++) {
		const struct mariadb_case *c = &mariadb_cases[i];
		const uint8_t *password = (const uint8_t *)c->password;
		uint8_t pub[32], sig[64], scramble[32], encoded[45], padded[45], decoded[33];

		check_case("ed25519_password('%s')", c->password);
		mysql_ed25519_public_key(password, strlen(c->password), pub);
		CHECK_EQ_INT(EVP_EncodeBlock(encoded, pub, 32), 44);
		CHECK_EQ_INT(encoded[43], '=');
		encoded[43] = '\0';
		CHECK_EQ_STR((const char *)encoded, c->stored);

		snprintf((char *)padded, sizeof(padded), "%s=", c->stored);
		CHECK_EQ_INT(EVP_DecodeBlock(decoded, padded, 44), 33);
		prng_fill(scramble, sizeof(scramble));
		mysql_ed25519_sign(password, strlen(c->password), scramble, sizeof(scramble), sig);
		CHECK_EQ_INT(openssl_verify(decoded, scramble, sizeof(scramble), sig), 1);
	}
}

int main(void)
{
	static const struct check_test tests[] = {
		{"RFC 8032 test vectors", test_rfc8032},
		{"32-byte seeds: same as OpenSSL", test_same_as_openssl},
		{"other password lengths verify", test_other_lengths},
		{"MariaDB ed25519_password() answers", test_mariadb_known_answers},
	};
	return CHECK_RUN(tests);
}
