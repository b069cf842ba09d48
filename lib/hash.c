/*
 * hash.c - content hashes; see hash.h.
 *
 * SHA-256 as FIPS 180-4 defines it: a plain C compression function, and
 * one with the processor's SHA-256 instructions (chosen at run time),
 * which is several times faster.  Our own code rather than a crypto
 * library's: the hash is all we need of one, and loading libcrypto costs
 * every program milliseconds at start-up.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "hash.h"

struct rag_hasher {
	uint32_t h[8];
	uint64_t total; /* bytes added */
	size_t nbuf;
	unsigned char buf[64];
};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static inline uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static inline uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Compresses n 64-byte blocks into h. */
static void blocks_plain(uint32_t h[8], const unsigned char *p, size_t n)
{
	uint32_t w[64];

	for (; n; n--, p += 64) {
		uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
		uint32_t e = h[4], f = h[5], g = h[6], k = h[7];
		for (int t = 0; t < 16; t++)
			w[t] = get_be32(p + 4 * t);
		for (int t = 16; t < 64; t++) {
			uint32_t s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^ (w[t - 15] >> 3);
			uint32_t s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^ (w[t - 2] >> 10);
			w[t] = w[t - 16] + s0 + w[t - 7] + s1;
		}
		for (int t = 0; t < 64; t++) {
			uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) +
			              ((e & f) ^ (~e & g)) + K[t] + w[t];
			uint32_t t2 =
			    (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
			k = g;
			g = f;
			f = e;
			e = d + t1;
			d = c;
			c = b;
			b = a;
			a = t1 + t2;
		}
		h[0] += a, h[1] += b, h[2] += c, h[3] += d;
		h[4] += e, h[5] += f, h[6] += g, h[7] += k;
	}
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_SHA_NI 1

/*
 * The same with the SHA-256 instructions.  They keep the state as two
 * registers, ABEF and CDGH; each sha256rnds2 does two rounds, and
 * sha256msg1/msg2 extend the message schedule four words at a time.
 */
__attribute__((target("sha,sse4.1"))) static void blocks_sha(uint32_t h[8], const unsigned char *p,
                                                             size_t n)
{
	const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i t = _mm_loadu_si128((const __m128i *)&h[0]);  /* a b c d */
	__m128i s1 = _mm_loadu_si128((const __m128i *)&h[4]); /* e f g h */
	__m128i s0;

	/* into the order the instructions want (f e b a and h g d c) */
	t = _mm_shuffle_epi32(t, 0xB1);
	s1 = _mm_shuffle_epi32(s1, 0x1B);
	s0 = _mm_alignr_epi8(t, s1, 8);
	s1 = _mm_blend_epi16(s1, t, 0xF0);
	for (; n; n--, p += 64) {
		__m128i w[4], save0 = s0, save1 = s1, m;

		for (int i = 0; i < 4; i++)
			w[i] =
			    _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), swap);
		for (int g = 0; g < 16; g++) {
			if (g >= 4) {
				__m128i x = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
				x = _mm_add_epi32(
				    x, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
				w[g & 3] = _mm_sha256msg2_epu32(x, w[(g + 3) & 3]);
			}
			m = _mm_add_epi32(w[g & 3], _mm_loadu_si128((const __m128i *)&K[4 * g]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, m);
			/* s1 holds ABEF now and s0 CDGH; the next two rounds swap them back */
			s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
		}
		s0 = _mm_add_epi32(s0, save0);
		s1 = _mm_add_epi32(s1, save1);
	}
	/* and back */
	t = _mm_shuffle_epi32(s0, 0x1B);
	s1 = _mm_shuffle_epi32(s1, 0xB1);
	s0 = _mm_blend_epi16(t, s1, 0xF0);
	s1 = _mm_alignr_epi8(s1, t, 8);
	_mm_storeu_si128((__m128i *)&h[0], s0);
	_mm_storeu_si128((__m128i *)&h[4], s1);
}
#endif

static void blocks(uint32_t h[8], const unsigned char *p, size_t n)
{
#ifdef HAVE_SHA_NI
	if (rag_cpu_has(RAG_CPU_SHA)) {
		blocks_sha(h, p, n);
		return;
	}
#endif
	blocks_plain(h, p, n);
}

rag_hasher *rag_hasher_new(rag_error *err)
{
	rag_hasher *h = calloc(1, sizeof *h);

	if (!h)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory"), NULL;
	rag_hasher_start(h);
	return h;
}

void rag_hasher_free(rag_hasher *h)
{
	free(h);
}

int rag_hasher_start(rag_hasher *h)
{
	memcpy(h->h, H0, sizeof h->h);
	h->total = 0;
	h->nbuf = 0;
	return 0;
}

int rag_hasher_add(rag_hasher *h, const void *data, size_t n)
{
	const unsigned char *p = data;

	h->total += n;
	if (h->nbuf) {
		size_t k = 64 - h->nbuf < n ? 64 - h->nbuf : n;
		memcpy(h->buf + h->nbuf, p, k);
		h->nbuf += k;
		p += k;
		n -= k;
		if (h->nbuf < 64)
			return 0;
		blocks(h->h, h->buf, 1);
		h->nbuf = 0;
	}
	if (n >= 64) {
		blocks(h->h, p, n / 64);
		p += n & ~(size_t)63;
		n &= 63;
	}
	memcpy(h->buf, p, n);
	h->nbuf = n;
	return 0;
}

int rag_hasher_hex(rag_hasher *h, char *out, size_t nhex)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	uint64_t bits = h->total * 8;
	size_t i;

	h->buf[h->nbuf++] = 0x80;
	if (h->nbuf > 56) {
		memset(h->buf + h->nbuf, 0, 64 - h->nbuf);
		blocks(h->h, h->buf, 1);
		h->nbuf = 0;
	}
	memset(h->buf + h->nbuf, 0, 56 - h->nbuf);
	for (i = 0; i < 8; i++)
		h->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	blocks(h->h, h->buf, 1);
	for (i = 0; i < 8; i++) {
		md[4 * i] = (unsigned char)(h->h[i] >> 24);
		md[4 * i + 1] = (unsigned char)(h->h[i] >> 16);
		md[4 * i + 2] = (unsigned char)(h->h[i] >> 8);
		md[4 * i + 3] = (unsigned char)h->h[i];
	}
	if (nhex > 64)
		nhex = 64;
	for (i = 0; i < nhex; i++)
		out[i] = hex[(md[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[nhex] = '\0';
	rag_hasher_start(h);
	return 0;
}
