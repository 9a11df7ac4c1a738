/*
 * Ed25519 signing for client_ed25519 (see ed25519.h), written from RFC 8032:
 * field arithmetic mod p = 2^255 - 19 in five 51-bit limbs, points in
 * extended twisted Edwards coordinates, a constant-time multiplication of the
 * base point, and scalars mod L by long division. OpenSSL only hashes
 * (SHA-512) and wipes the secrets; it cannot take a seed that is not 32 bytes.
 */
#include "ed25519.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define FE_MASK ((UINT64_C(1) << 51) - 1)

/* An element of GF(p): v[0] + v[1] 2^51 + v[2] 2^102 + v[3] 2^153 + v[4] 2^204.
 * Every fe_ function accepts limbs below 2^52 and returns limbs below 2^52;
 * only fe_to_bytes() computes the canonical value. */
struct fe {
	uint64_t v[5];
};

/* A point (x, y) = (X/Z, Y/Z) with T = XY/Z (RFC 8032 section 5.1.4), on
 * -x^2 + y^2 = 1 + d x^2 y^2. */
struct ge {
	struct fe x, y, z, t;
};

/* 2d, where d = -121665/121666 is the curve constant; in decimal:
 * 16295367250680780974490674513165176452449235426866156013048779062215315747161 */
static const struct fe fe_d2 = {
	{0x69b9426b2f159, 0x35050762add7a, 0x3cf44c0038052, 0x6738cc7407977, 0x2406d9dc56dff}};

/* The base point B (RFC 8032 section 5.1), y = 4/5 and x the even root; in decimal:
 *   x = 15112221349535400772501151409588531511454012693041857206046113283949847762202
 *   y = 46316835694926478169428394003475163141307993866256225615783033603165251855960
 * and T = xy. */
static const struct ge ge_base = {
	.x = {{0x62d608f25d51a, 0x412a4b4f6592a, 0x75b7171a4b31d, 0x1ff60527118fe,
	       0x216936d3cd6e5}},
	.y = {{0x6666666666658, 0x4cccccccccccc, 0x1999999999999, 0x3333333333333,
	       0x6666666666666}},
	.z = {{1, 0, 0, 0, 0}},
	.t = {{0x68ab3a5b7dda3, 0x00eea2a5eadbb, 0x2af8df483c27e, 0x332b375274732,
	       0x67875f0fd78b7}},
};

/* The neutral element (0, 1). */
static const struct ge ge_identity = {.y = {{1}}, .z = {{1}}};

/* L = 2^252 + 27742317777372353535851937790883648493, the order of B, in
 * 64-bit words, least significant first. */
static const uint64_t sc_order[4] = {0x5812631a5cf5d3ed, 0x14def9dea2f79cd6, 0, 0x1000000000000000};

/* The 8 bytes at p as a little-endian number. */
static uint64_t load64_le(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Write v at p as 8 bytes, little-endian. */
static void store64_le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Carry every limb into the next one, the top one into limb 0 times 19
 * (2^255 = 19 mod p): limbs 1..4 end below 2^51, limb 0 a little above. */
static void fe_carry(struct fe *h)
{
	uint64_t c;

	for (int i = 0; i < 4; i++) {
		c = h->v[i] >> 51;
		h->v[i] &= FE_MASK;
		h->v[i + 1] += c;
	}
	c = h->v[4] >> 51;
	h->v[4] &= FE_MASK;
	h->v[0] += 19 * c;
}

/* h = f + g. */
static void fe_add(struct fe *h, const struct fe *f, const struct fe *g)
{
	for (int i = 0; i < 5; i++)
		h->v[i] = f->v[i] + g->v[i];
	fe_carry(h);
}

/* h = f - g, computed as f + 4p - g so that no limb goes negative (4p has
 * limbs 2^53 - 76 and 2^53 - 4, above any limb of g). */
static void fe_sub(struct fe *h, const struct fe *f, const struct fe *g)
{
	h->v[0] = f->v[0] + (UINT64_C(1) << 53) - 76 - g->v[0];
	for (int i = 1; i < 5; i++)
		h->v[i] = f->v[i] + (UINT64_C(1) << 53) - 4 - g->v[i];
	fe_carry(h);
}

/* h = f g. Schoolbook on 128-bit sums; a product that lands at 2^255 or
 * above wraps to the bottom times 19. h may alias f or g: every limb is read
 * before the first is written. */
static void fe_mul(struct fe *h, const struct fe *f, const struct fe *g)
{
	unsigned __int128 r[5] = {0};
	uint64_t g19[5], c;

	for (int j = 0; j < 5; j++)
		g19[j] = 19 * g->v[j];
	for (int i = 0; i < 5; i++) {
		for (int j = 0; j < 5; j++) {
			if (i + j < 5)
				r[i + j] += (unsigned __int128)f->v[i] * g->v[j];
			else
				r[i + j - 5] += (unsigned __int128)f->v[i] * g19[j];
		}
	}
	/* Each r[k] < 77 * 2^104: the carries fit in 64 bits. */
	for (int k = 0; k < 4; k++) {
		r[k + 1] += r[k] >> 51;
		h->v[k] = (uint64_t)r[k] & FE_MASK;
	}
	c = (uint64_t)(r[4] >> 51);
	h->v[4] = (uint64_t)r[4] & FE_MASK;
	h->v[0] += 19 * c;
	h->v[1] += h->v[0] >> 51;
	h->v[0] &= FE_MASK;
}

/* h = 1/z (0 when z is 0) as z^(p-2), square and multiply over the public
 * exponent p - 2 = 2^255 - 21, whose bits 0..254 are all set but 2 and 4. */
static void fe_invert(struct fe *h, const struct fe *z)
{
	struct fe r = {{1}};

	for (int i = 254; i >= 0; i--) {
		fe_mul(&r, &r, &r);
		if (i != 2 && i != 4)
			fe_mul(&r, &r, z);
	}
	*h = r;
}

/* The canonical value of f (in 0..p-1) as 32 bytes, little-endian. */
static void fe_to_bytes(uint8_t out[32], const struct fe *f)
{
	struct fe h = *f;
	uint64_t q;

	/* Twice, so that h < 2^255 + 19 < 2p. */
	fe_carry(&h);
	fe_carry(&h);
	/* q = 1 when h >= p, i.e. when h + 19 reaches 2^255. */
	q = (h.v[0] + 19) >> 51;
	for (int i = 1; i < 5; i++)
		q = (h.v[i] + q) >> 51;
	/* h - q p = h + 19 q - q 2^255: add, carry, drop bit 255. */
	h.v[0] += 19 * q;
	for (int i = 0; i < 4; i++) {
		h.v[i + 1] += h.v[i] >> 51;
		h.v[i] &= FE_MASK;
	}
	h.v[4] &= FE_MASK;
	store64_le(out, h.v[0] | h.v[1] << 51);
	store64_le(out + 8, h.v[1] >> 13 | h.v[2] << 38);
	store64_le(out + 16, h.v[2] >> 26 | h.v[3] << 25);
	store64_le(out + 24, h.v[3] >> 39 | h.v[4] << 12);
}

/* f = g when bit is 1, f unchanged when 0, without a branch on bit. */
static void fe_cmov(struct fe *f, const struct fe *g, uint64_t bit)
{
	uint64_t mask = 0 - bit;

	for (int i = 0; i < 5; i++)
		f->v[i] ^= mask & (f->v[i] ^ g->v[i]);
}

/* r = p + q, the complete addition of RFC 8032 section 5.1.4 (also right for
 * p = q and for the neutral element). r may alias p or q. */
static void ge_add(struct ge *r, const struct ge *p, const struct ge *q)
{
	struct fe a, b, c, d, e, f, g, h, t;

	fe_sub(&a, &p->y, &p->x);
	fe_sub(&t, &q->y, &q->x);
	fe_mul(&a, &a, &t); /* A = (Y1 - X1)(Y2 - X2) */
	fe_add(&b, &p->y, &p->x);
	fe_add(&t, &q->y, &q->x);
	fe_mul(&b, &b, &t); /* B = (Y1 + X1)(Y2 + X2) */
	fe_mul(&c, &p->t, &fe_d2);
	fe_mul(&c, &c, &q->t); /* C = T1 2d T2 */
	fe_mul(&d, &p->z, &q->z);
	fe_add(&d, &d, &d); /* D = 2 Z1 Z2 */
	fe_sub(&e, &b, &a);
	fe_sub(&f, &d, &c);
	fe_add(&g, &d, &c);
	fe_add(&h, &b, &a);
	fe_mul(&r->x, &e, &f);
	fe_mul(&r->y, &g, &h);
	fe_mul(&r->t, &e, &h);
	fe_mul(&r->z, &f, &g);
}

/* r = 2p, the doubling of RFC 8032 section 5.1.4. r may alias p. */
static void ge_double(struct ge *r, const struct ge *p)
{
	struct fe a, b, c, e, f, g, h;

	fe_mul(&a, &p->x, &p->x); /* A = X1^2 */
	fe_mul(&b, &p->y, &p->y); /* B = Y1^2 */
	fe_mul(&c, &p->z, &p->z);
	fe_add(&c, &c, &c); /* C = 2 Z1^2 */
	fe_add(&h, &a, &b); /* H = A + B */
	fe_add(&e, &p->x, &p->y);
	fe_mul(&e, &e, &e);
	fe_sub(&e, &h, &e); /* E = H - (X1 + Y1)^2 */
	fe_sub(&g, &a, &b); /* G = A - B */
	fe_add(&f, &c, &g); /* F = C + G */
	fe_mul(&r->x, &e, &f);
	fe_mul(&r->y, &g, &h);
	fe_mul(&r->t, &e, &h);
	fe_mul(&r->z, &f, &g);
}

/* p = q when bit is 1, unchanged when 0, without a branch on bit. */
static void ge_cmov(struct ge *p, const struct ge *q, uint64_t bit)
{
	fe_cmov(&p->x, &q->x, bit);
	fe_cmov(&p->y, &q->y, bit);
	fe_cmov(&p->z, &q->z, bit);
	fe_cmov(&p->t, &q->t, bit);
}

/* The encoding of p (RFC 8032 section 5.1.2): y, with the low bit of x in
 * bit 255. */
static void ge_encode(uint8_t out[32], const struct ge *p)
{
	struct fe zi, x, y;
	uint8_t xb[32];

	fe_invert(&zi, &p->z);
	fe_mul(&x, &p->x, &zi);
	fe_mul(&y, &p->y, &zi);
	fe_to_bytes(out, &y);
	fe_to_bytes(xb, &x);
	out[31] |= (uint8_t)((xb[0] & 1) << 7);
	/* Z, thus 1/Z, depends on the path the scalar took. */
	OPENSSL_cleanse(&zi, sizeof(zi));
}

/* out = the encoding of s B, for a 32-byte little-endian scalar s (secret).
 * Double and always add, keeping the sum or not by a mask: the same
 * operations and memory accesses whatever the bits of s. */
static void ge_base_mul_encode(uint8_t out[32], const uint8_t s[32])
{
	struct ge q = ge_identity, sum;

	for (int i = 255; i >= 0; i--) {
		ge_double(&q, &q);
		ge_add(&sum, &q, &ge_base);
		ge_cmov(&q, &sum, (s[i / 8] >> (i % 8)) & 1);
	}
	ge_encode(out, &q);
	OPENSSL_cleanse(&q, sizeof(q));
	OPENSSL_cleanse(&sum, sizeof(sum));
}

/* d = a - b on 256-bit numbers; returns the borrow out (1 when a < b). */
static uint64_t sc_sub(uint64_t d[4], const uint64_t a[4], const uint64_t b[4])
{
	uint64_t borrow = 0;

	for (int i = 0; i < 4; i++) {
		unsigned __int128 t = (unsigned __int128)a[i] - b[i] - borrow;

		d[i] = (uint64_t)t;
		borrow = (uint64_t)(t >> 64) & 1;
	}
	return borrow;
}

/* out = in mod L, in a 64-byte little-endian number (a SHA-512 output or a
 * product). Long division a bit at a time, most significant first: the
 * remainder stays below L < 2^253, so doubling it and adding a bit fits in
 * 256 bits, and subtracting L once brings it back. The subtraction is kept or
 * dropped by a mask, never a branch. */
static void sc_reduce(uint8_t out[32], const uint8_t in[64])
{
	uint64_t rem[4] = {0}, diff[4], mask;

	for (int i = 511; i >= 0; i--) {
		rem[3] = rem[3] << 1 | rem[2] >> 63;
		rem[2] = rem[2] << 1 | rem[1] >> 63;
		rem[1] = rem[1] << 1 | rem[0] >> 63;
		rem[0] = rem[0] << 1 | ((in[i / 8] >> (i % 8)) & 1);
		mask = sc_sub(diff, rem, sc_order) - 1; /* all ones when rem >= L */
		for (int j = 0; j < 4; j++)
			rem[j] = (diff[j] & mask) | (rem[j] & ~mask);
	}
	for (int j = 0; j < 4; j++)
		store64_le(out + 8 * j, rem[j]);
	OPENSSL_cleanse(rem, sizeof(rem));
	OPENSSL_cleanse(diff, sizeof(diff));
}

/* s = (r + k a) mod L, all 32 bytes little-endian; r + k a < 2^512 always,
 * so it is formed exactly in eight words and then reduced. */
static void sc_muladd(uint8_t s[32], const uint8_t k[32], const uint8_t a[32], const uint8_t r[32])
{
	uint64_t kw[4], aw[4], prod[8] = {0};
	uint8_t wide[64];

	for (int i = 0; i < 4; i++) {
		kw[i] = load64_le(k + 8 * i);
		aw[i] = load64_le(a + 8 * i);
		prod[i] = load64_le(r + 8 * i);
	}
	/* Row i adds k[i] a at word i; prod[i + 4] is still 0 when it takes
	 * the row's carry, so it cannot overflow. */
	for (int i = 0; i < 4; i++) {
		uint64_t carry = 0;

		for (int j = 0; j < 4; j++) {
			unsigned __int128 t =
				(unsigned __int128)kw[i] * aw[j] + prod[i + j] + carry;

			prod[i + j] = (uint64_t)t;
			carry = (uint64_t)(t >> 64);
		}
		prod[i + 4] = carry;
	}
	for (int i = 0; i < 8; i++)
		store64_le(wide + 8 * i, prod[i]);
	sc_reduce(s, wide);
	OPENSSL_cleanse(aw, sizeof(aw));
	OPENSSL_cleanse(prod, sizeof(prod));
	OPENSSL_cleanse(wide, sizeof(wide));
}

/* out = SHA512(a || b || c); a part of length 0 may be NULL. Returns false,
 * with out zeroed, if OpenSSL fails. */
static bool ed25519_sha512(uint8_t out[64], const void *a, size_t alen, const void *b, size_t blen,
			   const void *c, size_t clen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned n = 0;
	bool ok;

	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, a, alen) == 1 && EVP_DigestUpdate(ctx, b, blen) == 1 &&
	     EVP_DigestUpdate(ctx, c, clen) == 1 && EVP_DigestFinal_ex(ctx, out, &n) == 1 &&
	     n == 64;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		memset(out, 0, 64);
	return ok;
}

/* az = SHA512(password) with its first half clamped into the secret scalar
 * a (bits 0..2 and 255 cleared, 254 set); the second half is the nonce
 * prefix. Returns false if hashing failed. */
static bool ed25519_expand(uint8_t az[64], const uint8_t *password, size_t password_len)
{
	bool ok = ed25519_sha512(az, password, password_len, NULL, 0, NULL, 0);

	az[0] &= 0xf8;
	az[31] &= 0x7f;
	az[31] |= 0x40;
	return ok;
}

void mysql_ed25519_public_key(const uint8_t *password, size_t password_len,
			      uint8_t pub[MYSQL_ED25519_PUB_LEN])
{
	uint8_t az[64];
	bool ok = ed25519_expand(az, password, password_len);

	ge_base_mul_encode(pub, az);
	if (!ok)
		memset(pub, 0, MYSQL_ED25519_PUB_LEN);
	OPENSSL_cleanse(az, sizeof(az));
}

void mysql_ed25519_sign(const uint8_t *password, size_t password_len, const uint8_t *msg,
			size_t msg_len, uint8_t sig[MYSQL_ED25519_SIG_LEN])
{
	uint8_t az[64], nonce[64], hram[64], r[32], k[32], pub[32];
	bool ok;

	ok = ed25519_expand(az, password, password_len);
	ge_base_mul_encode(pub, az); /* A = a B */
	/* r = SHA512(prefix || msg) mod L, R = r B: the first half of sig. */
	ok = ed25519_sha512(nonce, az + 32, 32, msg, msg_len, NULL, 0) && ok;
	sc_reduce(r, nonce);
	ge_base_mul_encode(sig, r);
	/* k = SHA512(R || A || msg) mod L, S = r + k a: the second half. */
	ok = ed25519_sha512(hram, sig, 32, pub, 32, msg, msg_len) && ok;
	sc_reduce(k, hram);
	sc_muladd(sig + 32, k, az, r);
	/* A signature over a zero nonce would give the key away: send none. */
	if (!ok)
		memset(sig, 0, MYSQL_ED25519_SIG_LEN);
	OPENSSL_cleanse(az, sizeof(az));
	OPENSSL_cleanse(nonce, sizeof(nonce));
	OPENSSL_cleanse(r, sizeof(r));
}
