/*
 * Tests for lib/hashembed.c: builtin:hash against a plain reference
 * implementation of hashembed.h's algorithm, pinned known answers,
 * determinism, similarity, bounds, UTF-8 and long texts.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "analyze.h"
#include "hashembed.h"
#include "test.h"
#include "utf8.h"

#define TOL 1e-6

/* ---- The reference: hashembed.h written out plainly, feature strings and all. */

#define REF_KEY_WORD UINT64_C(0x9e3779b97f4a7c15)
#define REF_KEY_BIGRAM UINT64_C(0xd1b54a32d192ed03)
#define REF_KEY_CHAR UINT64_C(0x8cb92ba72f3d8dd7)

static uint64_t ref_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* H(K, s[0..n)): blocks of 8 bytes, little-endian, byte by byte. */
static uint64_t ref_H(uint64_t key, const char *s, size_t n)
{
	uint64_t h = key ^ ((uint64_t)n << 56), block;
	size_t j, i;

	if (n == 0)
		return ref_mix(h);
	for (j = 0; j < n; j += 8) {
		block = 0;
		for (i = 0; i < 8 && j + i < n; i++)
			block += (uint64_t)(unsigned char)s[j + i] << (8 * i);
		h = ref_mix(h ^ block);
	}
	return h;
}

static uint64_t ref_bigram(const char *p, size_t pn, const char *w, size_t wn)
{
	uint64_t a = ref_H(REF_KEY_WORD, p, pn), b = ref_H(REF_KEY_WORD, w, wn);

	return ref_mix(REF_KEY_BIGRAM ^ ((a << 23) | (a >> 41)) ^ b);
}

/* The hash of a feature string, as rag_hashembed_feature_hash documents it. */
static uint64_t ref_hash(const char *s, size_t n)
{
	const char *sp;

	if (n < 2 || s[1] != '\x1f')
		return 0;
	if (s[0] == 'w')
		return ref_H(REF_KEY_WORD, s + 2, n - 2);
	if (s[0] == 'c')
		return ref_H(REF_KEY_CHAR, s + 2, n - 2);
	if (s[0] != 'b' || !(sp = memchr(s + 2, ' ', n - 2)))
		return 0;
	return ref_bigram(s + 2, (size_t)(sp - s - 2), sp + 1, n - (size_t)(sp + 1 - s));
}

static size_t ref_bucket(uint64_t h, size_t dim)
{
	return (size_t)(((h & UINT64_C(0xFFFFFFFF)) * (uint64_t)dim) >> 32);
}

static void ref_add(double *acc, size_t dim, uint64_t h, double w)
{
	acc[ref_bucket(h, dim)] += (h >> 63) ? -w : w;
}

/* Growable byte and offset lists; a failed malloc ends the test program. */
struct bytes {
	char *p;
	size_t len, cap;
};

struct feat {
	size_t off, len; /* in the feature bytes */
	int group;       /* 0 word, 1 bigram */
};

struct ref {
	struct bytes words; /* the words, one after another */
	size_t *woff;       /* nwords + 1 offsets into words */
	size_t nwords, wcap;
	struct bytes fb;    /* the feature strings */
	struct feat *f;
	size_t nf, fcap;
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "test_hashembed: out of memory\n");
		exit(99);
	}
	return p;
}

static void put(struct bytes *b, const void *p, size_t n)
{
	if (b->cap - b->len < n) {
		b->cap = (b->len + n) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static int ref_word(const char *t, size_t n, void *arg)
{
	struct ref *r = arg;

	if (r->nwords + 2 > r->wcap) {
		r->wcap = r->wcap ? r->wcap * 2 : 64;
		r->woff = xrealloc(r->woff, r->wcap * sizeof *r->woff);
	}
	if (r->nwords == 0)
		r->woff[0] = 0;
	put(&r->words, t, n);
	r->woff[++r->nwords] = r->words.len;
	return 0;
}

/* Adds the feature prefix + a + b + c (any of them may be empty). */
static void ref_feat(struct ref *r, int group, const char *prefix, const char *a, size_t an,
		     const char *b, size_t bn, const char *c, size_t cn)
{
	size_t start = r->fb.len;

	put(&r->fb, prefix, 2);
	put(&r->fb, a, an);
	put(&r->fb, b, bn);
	put(&r->fb, c, cn);
	if (r->nf == r->fcap) {
		r->fcap = r->fcap ? r->fcap * 2 : 256;
		r->f = xrealloc(r->f, r->fcap * sizeof *r->f);
	}
	r->f[r->nf].off = start;
	r->f[r->nf].len = r->fb.len - start;
	r->f[r->nf].group = group;
	r->nf++;
}

static const char *sort_base;

static int cmp_feat(const void *pa, const void *pb)
{
	const struct feat *a = pa, *b = pb;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(sort_base + a->off, sort_base + b->off, n);

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/*
 * Adds the character n-grams of word w[0..wn) with weight each: "<" w ">"
 * cut at code points, every run of 3 to 5 of them, by start then length.
 */
static void ref_ngrams(double *acc, size_t dim, const char *w, size_t wn, double weight)
{
	char wrap[RAG_TERM_MAX + 2];
	size_t cps[RAG_TERM_MAX + 3], L = 0, pos = 0, j, k;

	if (wn > RAG_TERM_MAX) {
		fprintf(stderr, "test_hashembed: a word longer than RAG_TERM_MAX\n");
		exit(99);
	}
	wrap[0] = '<';
	memcpy(wrap + 1, w, wn);
	wrap[wn + 1] = '>';
	while (pos < wn + 2) {
		uint32_t cp;
		size_t len = rag_utf8_decode(wrap + pos, wn + 2 - pos, &cp);

		cps[L++] = pos;
		pos += len ? len : 1;
	}
	cps[L] = wn + 2;
	for (j = 0; j + 3 <= L; j++)
		for (k = 3; k <= 5 && j + k <= L; k++)
			ref_add(acc, dim, ref_H(REF_KEY_CHAR, wrap + cps[j], cps[j + k] - cps[j]),
				weight);
}

/*
 * The reference embedding of text[0..n) at dim: the words from the simple
 * analyzer, every word and bigram feature string built in full, equal
 * strings counted by sorting, the n-grams of each distinct word, libm's
 * log, a plain sum in another order than the library's.  Returns 1 or 0
 * as rag_hashembed_text.
 */
static int ref_embed(const char *text, size_t n, size_t dim, float *out)
{
	struct ref r = {0};
	rag_error err;
	rag_analyzer *a = rag_analyzer_new("simple", &err);
	double *acc = calloc(dim, sizeof *acc), sum = 0;
	size_t i, j;

	if (!a || !acc || rag_analyze(a, text, n, ref_word, &r, &err) != 0) {
		fprintf(stderr, "test_hashembed: the reference failed\n");
		exit(99);
	}
	rag_analyzer_free(a);
	for (i = 0; i < r.nwords; i++) {
		const char *w = r.words.p + r.woff[i];
		size_t wn = r.woff[i + 1] - r.woff[i];

		ref_feat(&r, 0, "w\x1f", w, wn, "", 0, "", 0);
		if (i > 0)
			ref_feat(&r, 1, "b\x1f", r.words.p + r.woff[i - 1], r.woff[i] - r.woff[i - 1],
				 " ", 1, w, wn);
	}
	sort_base = r.fb.p;
	qsort(r.f, r.nf, sizeof *r.f, cmp_feat);
	for (i = 0; i < r.nf; i = j) {
		const char *s = r.fb.p + r.f[i].off;
		double l;

		for (j = i + 1; j < r.nf && cmp_feat(&r.f[i], &r.f[j]) == 0; j++)
			;
		l = 1 + log((double)(j - i));
		if (r.f[i].group == 0) {
			ref_add(acc, dim, ref_hash(s, r.f[i].len), l);
			ref_ngrams(acc, dim, s + 2, r.f[i].len - 2, l / 2);
		} else {
			ref_add(acc, dim, ref_hash(s, r.f[i].len), l / 2);
		}
	}
	for (i = 0; i < dim; i++)
		sum += acc[i] * acc[i];
	for (i = 0; i < dim; i++)
		out[i] = sum > 0 ? (float)(acc[i] / sqrt(sum)) : 0.0f;
	free(acc);
	free(r.words.p);
	free(r.woff);
	free(r.fb.p);
	free(r.f);
	return sum > 0;
}

/* ---- Helpers. */

static rag_hashembed *make(size_t dim)
{
	rag_error err;
	rag_hashembed *h = rag_hashembed_new(dim, &err);

	if (!h)
		fprintf(stderr, "rag_hashembed_new(%zu): %s\n", dim, err.text);
	return h;
}

/*
 * Embeds a copy of text[0..n) in a block of exactly n bytes, so that ASan
 * and valgrind catch a read past the end.  Returns what rag_hashembed_text
 * returns, or -2 when h is NULL.
 */
static int embed_n(rag_hashembed *h, const char *text, size_t n, float *out)
{
	rag_error err;
	char *copy;
	int r;

	if (!h)
		return -2;
	copy = malloc(n ? n : 1);
	if (!copy)
		return -2;
	memcpy(copy, text, n);
	r = rag_hashembed_text(h, copy, n, out, &err);
	if (r < 0)
		fprintf(stderr, "rag_hashembed_text: %s\n", err.text);
	free(copy);
	return r;
}

static int embed(rag_hashembed *h, const char *text, float *out)
{
	return embed_n(h, text, strlen(text), out);
}

static double dot(const float *a, const float *b, size_t dim)
{
	double s = 0;
	size_t i;

	for (i = 0; i < dim; i++)
		s += (double)a[i] * b[i];
	return s;
}

static double cosine(rag_hashembed *h, const char *a, const char *b)
{
	size_t dim = h ? rag_hashembed_dim(h) : 1;
	float *va = calloc(dim, sizeof *va), *vb = calloc(dim, sizeof *vb);
	double c = -2;

	if (va && vb && embed(h, a, va) == 1 && embed(h, b, vb) == 1)
		c = dot(va, vb, dim);
	free(va);
	free(vb);
	return c;
}

/* How many components of v differ from the reference's by more than TOL. */
static size_t ref_diff(const char *text, size_t n, size_t dim, const float *v, int r)
{
	float *want = calloc(dim, sizeof *want);
	size_t i, bad = 0;

	if (!want)
		return dim;
	if (ref_embed(text, n, dim, want) != r)
		bad++;
	for (i = 0; i < dim; i++)
		if (!(fabs((double)v[i] - want[i]) <= TOL))
			bad++;
	free(want);
	return bad;
}

/* A text of about n bytes of made-up words, the same every run. */
static char *made_up(size_t n, uint64_t seed, size_t *len)
{
	static const char *const sep[] = {" ", " ", " ", ", ", ". ", "\n", " (", ") "};
	char *s = malloc(n + 32);
	size_t o = 0, k;
	uint64_t x = seed;

	if (!s)
		return NULL;
	while (o < n) {
		size_t wl;

		x = x * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
		wl = 1 + (x >> 60) % 9;
		for (k = 0; k < wl; k++)
			s[o++] = (char)('a' + (x >> (8 + 4 * k)) % 13 + (k == 0 && (x & 1) ? 'A' - 'a' : 0));
		k = (x >> 50) % 8;
		memcpy(s + o, sep[k], strlen(sep[k]));
		o += strlen(sep[k]);
	}
	*len = o;
	return s;
}

/* ---- The tests. */

/* The reference's hash pieces against published values, and the library's hash against them. */
static void reference_hash(void)
{
	static const char *const feats[] = {
		"w\x1f", "w\x1f" "a", "w\x1fhello", "w\x1f" "abcdefg", "w\x1f" "abcdefgh",
		"w\x1f" "abcdefghi", "w\x1f" "abcdefghijklmnop", "w\x1f" "abcdefghijklmnopq",
		"w\x1finternationalization", "w\x1f\xce\xb1\xce\xb2\xce\xb3\xce\xb4\xce\xb5",
		"c\x1f<he", "c\x1f<hel", "c\x1fhello", "c\x1f" "ab>", "c\x1f<\xce\xb1\xce\xb2>",
		"c\x1f\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", /* 12 bytes, two blocks */
		"b\x1fhello world", "b\x1fworld hello", "b\x1fthe the", "b\x1f" "a b",
		"b\x1f\xce\xb1 \xce\xb2",
	};
	static const char *const not_features[] = {
		"", "w", "hello", "x\x1fhello", "b\x1fnospace", "w-hello",
	};
	const uint64_t kw = UINT64_C(0x9e3779b97f4a7c15), kc = UINT64_C(0x8cb92ba72f3d8dd7);
	size_t i;

	/* splitmix64 seeded with 0: its first output finalises 0x9e3779b97f4a7c15 */
	CHECK(ref_mix(UINT64_C(0x9e3779b97f4a7c15)) == UINT64_C(0xe220a8397b1dcdaf));
	/* H spelt out for a few strings: the length in the top byte, little-endian blocks */
	CHECK(ref_H(kw, "", 0) == UINT64_C(0xe220a8397b1dcdaf));
	CHECK(ref_H(kw, "a", 1) == ref_mix(kw ^ UINT64_C(0x0100000000000061)));
	CHECK(ref_H(kc, "<he", 3) == ref_mix(kc ^ UINT64_C(0x030000000065683c)));
	CHECK(ref_H(kw, "abcdefgh", 8) == ref_mix(kw ^ UINT64_C(0x0800000000000000) ^
						 UINT64_C(0x6867666564636261)));
	CHECK(ref_H(kw, "abcdefghi", 9) ==
	      ref_mix(ref_mix(kw ^ UINT64_C(0x0900000000000000) ^ UINT64_C(0x6867666564636261)) ^
		      UINT64_C(0x69)));
	/* the library's hash is the same function */
	for (i = 0; i < sizeof feats / sizeof feats[0]; i++) {
		uint64_t want = ref_hash(feats[i], strlen(feats[i]));

		CHECK(want != 0);
		if (rag_hashembed_feature_hash(feats[i], strlen(feats[i])) != want) {
			fprintf(stderr, "feature %zu differs from the reference\n", i);
			CHECK(0);
		}
	}
	for (i = 0; i < sizeof not_features / sizeof not_features[0]; i++)
		CHECK(rag_hashembed_feature_hash(not_features[i], strlen(not_features[i])) == 0);
	/* the order of a bigram matters */
	CHECK(ref_hash("b\x1fhello world", 13) != ref_hash("b\x1fworld hello", 13));
}

/* Fixed answers, computed once: any change to the algorithm fails here. */
static void known_answers(void)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog.";
	static const float want_fox[16] = {
		-0.139868379, 0.082608521, -0.413042605, 0,
		-0.0572598614, 0.413042605, -0.247825548, -0.0253486559,
		0.273174226, -0.247825548, -0.165217042, -0.413042605,
		-0.362345278, 0.114519723, 0.165217042, -0.247825548,
	};
	static const char greek[] = "Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο";
	static const float want_greek[16] = {
		0.222374797, 0, 0.148249865, 0.592999458,
		-0.148249865, 0.148249865, 0.518874526, -0.148249865,
		-0.222374797, 0.0741249323, 0.222374797, -0.296499729,
		-0.0741249323, 0.148249865, -0.148249865, 0,
	};
	/* "the " 300 times: tf 300 and 299, past the library's cache of logarithms */
	static const float want_rep[16] = {
		-0.277360708, 0.277222574, 0, 0,
		-0.277360708, 0, 0, 0.277360708,
		-0.277360708, 0, 0, 0,
		-0.554721415, 0.554721415, 0, 0,
	};
	rag_hashembed *h = make(16);
	float v[16];
	char *rep = malloc(300 * 4 + 1);
	size_t i;
	uint64_t x = rag_hashembed_feature_hash("w\x1fhello", 7);

	CHECK(x == UINT64_C(0x506a8cde82be8080));
	CHECK_EQ(((x & 0xFFFFFFFF) * 512) >> 32, 261);
	CHECK_EQ(x >> 63, 0);
	CHECK(rag_hashembed_feature_hash("b\x1fhello world", 13) == UINT64_C(0x7668c6e16a563d97));
	CHECK(rag_hashembed_feature_hash("c\x1f<he", 5) == UINT64_C(0xecda1271c37579f0));
	CHECK(rag_hashembed_feature_hash("w\x1finternationalization", 22) ==
	      UINT64_C(0x2811d23ed61040ec));

	CHECK_EQ(embed(h, fox, v), 1);
	for (i = 0; i < 16; i++)
		CHECK_NEAR(v[i], want_fox[i], TOL);
	CHECK_EQ(embed(h, greek, v), 1);
	for (i = 0; i < 16; i++)
		CHECK_NEAR(v[i], want_greek[i], TOL);
	if (rep) {
		for (i = 0; i < 300; i++)
			memcpy(rep + 4 * i, "the ", 4);
		rep[1200] = '\0';
		CHECK_EQ(embed(h, rep, v), 1);
		for (i = 0; i < 16; i++)
			CHECK_NEAR(v[i], want_rep[i], TOL);
	}
	free(rep);
	rag_hashembed_free(h);
}

/* The library agrees with the reference on assorted texts and dimensions. */
static void matches_reference(void)
{
	static const char *const texts[] = {
		"a",
		"ab",
		"abc",
		"The quick brown fox jumps over the lazy dog.",
		"how to index documents for search; indexing documents for searching",
		"x y x y x y x y z",
		"Ελληνικά: Η γρήγορη καφέ αλεπού. Σοφία!",
		"Crème brûlée, naïve café, Straße, ÉCOLE, œuvre",
		"中文字abcひらがなカタカナ 東京タワーへ行く",
		"emoji 😀 and 𠀀x and नमस्ते दुनिया",
		"3.14 1,000 don't u.s.a",
	};
	static const size_t dims[] = {1, 2, 7, 16, 384, 512, 65536};
	char longword[400];
	size_t t, d, n;
	char *big;

	memset(longword, 'q', sizeof longword - 1);
	memcpy(longword + 200, "\xc3\xa9\xc3\xa9", 4); /* a word cut at RAG_TERM_MAX */
	longword[sizeof longword - 1] = '\0';
	for (d = 0; d < sizeof dims / sizeof dims[0]; d++) {
		rag_hashembed *h = make(dims[d]);
		float *v = calloc(dims[d], sizeof *v);
		int r;

		if (!h || !v) {
			CHECK(h && v);
			rag_hashembed_free(h);
			free(v);
			continue;
		}
		for (t = 0; t < sizeof texts / sizeof texts[0]; t++) {
			r = embed(h, texts[t], v);
			CHECK(r == 0 || r == 1);
			CHECK_EQ(ref_diff(texts[t], strlen(texts[t]), dims[d], v, r), 0);
		}
		r = embed(h, longword, v);
		CHECK_EQ(ref_diff(longword, strlen(longword), dims[d], v, r), 0);
		big = made_up(64 << 10, dims[d], &n);
		if (big) {
			r = embed_n(h, big, n, v);
			CHECK_EQ(r, 1);
			CHECK_EQ(ref_diff(big, n, dims[d], v, r), 0);
		}
		free(big);
		free(v);
		rag_hashembed_free(h);
	}
}

static void deterministic(void)
{
	static const char s[] = "Determinism: the same text, the same vector, bit for bit.";
	rag_hashembed *h = make(512), *h2 = make(512);
	float a[512], b[512], c[512];

	CHECK_EQ(embed(h, s, a), 1);
	CHECK_EQ(embed(h, "something else in between", b), 1);
	CHECK_EQ(embed(h, s, b), 1);
	CHECK_EQ(embed(h2, s, c), 1);
	CHECK(memcmp(a, b, sizeof a) == 0);
	CHECK(memcmp(a, c, sizeof a) == 0);
	CHECK_EQ(rag_hashembed_dim(h), 512);
	rag_hashembed_free(h);
	rag_hashembed_free(h2);
}

static void unit_length(void)
{
	static const char *const texts[] = {
		"x", "Hello World", "the the the the", "Crème brûlée",
		"how to index documents for search", "中文字",
	};
	static const size_t dims[] = {1, 16, 512, 65536};
	size_t t, d;

	for (d = 0; d < sizeof dims / sizeof dims[0]; d++) {
		rag_hashembed *h = make(dims[d]);
		float *v = calloc(dims[d], sizeof *v);

		for (t = 0; h && v && t < sizeof texts / sizeof texts[0]; t++) {
			CHECK_EQ(embed(h, texts[t], v), 1);
			CHECK_NEAR(dot(v, v, dims[d]), 1.0, 1e-5);
		}
		free(v);
		rag_hashembed_free(h);
	}
}

static void zero_vector(void)
{
	static const char *const texts[] = {"", "!!! ...", "   \n\t", "--- *** ___ ???", "«»—…"};
	rag_hashembed *h = make(64);
	float v[64], zero[64] = {0};
	rag_error err;
	size_t t;

	for (t = 0; t < sizeof texts / sizeof texts[0]; t++) {
		memset(v, 0x55, sizeof v);
		CHECK_EQ(embed(h, texts[t], v), 0);
		CHECK(memcmp(v, zero, sizeof v) == 0);
	}
	memset(v, 0x55, sizeof v);
	CHECK_EQ(h ? rag_hashembed_text(h, NULL, 0, v, &err) : -2, 0);
	CHECK(memcmp(v, zero, sizeof v) == 0);
	/* and a text with words after them is unaffected */
	CHECK_EQ(embed(h, "words", v), 1);
	rag_hashembed_free(h);
}

static void case_insensitive(void)
{
	rag_hashembed *h = make(512);
	float a[512], b[512];

	CHECK_EQ(embed(h, "Hello World", a), 1);
	CHECK_EQ(embed(h, "hello world", b), 1);
	CHECK(memcmp(a, b, sizeof a) == 0);
	/* punctuation and spacing are not features */
	CHECK_EQ(embed(h, "\"Hello,\n\n   WORLD!\"", b), 1);
	CHECK(memcmp(a, b, sizeof a) == 0);
	CHECK_EQ(embed(h, "ΣΟΦΊΑ ÉCOLE", a), 1);
	CHECK_EQ(embed(h, "σοφία école", b), 1);
	CHECK(memcmp(a, b, sizeof a) == 0);
	rag_hashembed_free(h);
}

/* Related texts score clearly higher than unrelated ones. */
static void similarity(void)
{
	static const char *const triples[][3] = {
		{"how to index documents for search", "indexing documents for searching",
		 "the cat sat on the mat"},
		{"running shoes for marathon training", "shoes for running a marathon",
		 "quarterly tax report for small business"},
		{"The quick brown fox jumps over the lazy dog",
		 "a quick brown fox jumped over a lazy dog", "stock markets fell sharply on monday"},
		{"connection refused when connecting to the database server",
		 "database server refuses connections", "recipe for chocolate chip cookies"},
		{"install the package with apt-get", "installing packages using apt",
		 "the history of the roman empire"},
		{"vector embeddings for semantic retrieval", "retrieving with embedded vectors",
		 "my grandmother grows tomatoes"},
		{"the weather forecast predicts heavy rain tomorrow",
		 "heavy rainfall is forecast for tomorrow", "compile the kernel with debug symbols"},
	};
	/* morphological variants share n-grams; unrelated words do not */
	static const char *const words[][3] = {
		{"index", "indexing", "banana"},
		{"configure", "configuration", "weather"},
		{"search", "searched", "tomato"},
		{"connect", "connections", "umbrella"},
		{"embedding", "embeddings", "quarterly"},
	};
	rag_hashembed *h = make(512);
	size_t i;

	for (i = 0; i < sizeof triples / sizeof triples[0]; i++) {
		double near = cosine(h, triples[i][0], triples[i][1]);
		double far = cosine(h, triples[i][0], triples[i][2]);

		CHECK(near > far + 0.2);
		CHECK(near > 0.3);
	}
	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		double near = cosine(h, words[i][0], words[i][1]);
		double far = cosine(h, words[i][0], words[i][2]);

		CHECK(near > 0.3);
		CHECK(near > far + 0.2);
	}
	rag_hashembed_free(h);
}

static void dim_bounds(void)
{
	rag_error err;
	rag_hashembed *h;

	err.code = RAG_OK;
	CHECK(rag_hashembed_new(0, &err) == NULL);
	CHECK_EQ(err.code, RAG_EUSAGE);
	err.code = RAG_OK;
	CHECK(rag_hashembed_new(RAG_HASHEMBED_DIM_MAX + 1, &err) == NULL);
	CHECK_EQ(err.code, RAG_EUSAGE);
	CHECK(strstr(err.text, "65537") != NULL);
	CHECK(rag_hashembed_new(SIZE_MAX, NULL) == NULL);
	h = rag_hashembed_new(1, &err);
	CHECK(h != NULL);
	CHECK_EQ(h ? rag_hashembed_dim(h) : 0, 1);
	rag_hashembed_free(h);
	h = rag_hashembed_new(RAG_HASHEMBED_DIM_MAX, &err);
	CHECK(h != NULL);
	CHECK_EQ(h ? rag_hashembed_dim(h) : 0, 65536);
	rag_hashembed_free(h);
	rag_hashembed_free(NULL);
}

/*
 * One word of two code points in four bytes has exactly four features:
 * the word (weight 1) and "<αβ", "<αβ>", "αβ>" (weight 1/2 each).
 * Counting bytes would give nine n-grams instead.
 */
static void code_points(void)
{
	static const char *const feats[] = {
		"w\x1f\xce\xb1\xce\xb2",
		"c\x1f<\xce\xb1\xce\xb2",
		"c\x1f<\xce\xb1\xce\xb2>",
		"c\x1f\xce\xb1\xce\xb2>",
	};
	static const double weight[] = {1.0, 0.5, 0.5, 0.5};
	size_t dim = 65536, i, nonzero = 0;
	double *want = calloc(dim, sizeof *want), norm = 0;
	float *v = calloc(dim, sizeof *v);
	rag_hashembed *h = make(dim);

	if (!want || !v || !h) {
		CHECK(want && v && h);
		goto out;
	}
	for (i = 0; i < 4; i++) {
		uint64_t x = rag_hashembed_feature_hash(feats[i], strlen(feats[i]));

		want[ref_bucket(x, dim)] += (x >> 63) ? -weight[i] : weight[i];
	}
	for (i = 0; i < dim; i++)
		norm += want[i] * want[i];
	norm = sqrt(norm);
	CHECK_EQ(embed(h, "ΑΒ", v), 1); /* upper case: lower-cased first */
	for (i = 0; i < dim; i++) {
		if (v[i] != 0)
			nonzero++;
		if (fabs(v[i] - want[i] / norm) > TOL) {
			CHECK_NEAR(v[i], want[i] / norm, TOL);
			break;
		}
	}
	CHECK_EQ(nonzero, 4);
	/* a one-character word gives its wrapped form only: "<中>" */
	CHECK_EQ(embed(h, "中", v), 1);
	for (i = 0, nonzero = 0; i < dim; i++)
		nonzero += v[i] != 0;
	CHECK_EQ(nonzero, 2);
	/* related texts in other scripts */
	CHECK(cosine(h, "η γρήγορη αλεπού", "γρήγορες αλεπούδες") >
	      cosine(h, "η γρήγορη αλεπού", "ο τεμπέλης σκύλος") + 0.2);
	CHECK(cosine(h, "crème brûlée", "crèmes brûlées") > 0.3);
	CHECK(cosine(h, "东京大学", "东京") > cosine(h, "东京大学", "巴黎") + 0.2);
out:
	free(want);
	free(v);
	rag_hashembed_free(h);
}

/* Adds the feature string s with weight w to want, by the library's hash. */
static void want_feature(double *want, size_t dim, const char *s, double w)
{
	uint64_t x = rag_hashembed_feature_hash(s, strlen(s));

	want[ref_bucket(x, dim)] += (x >> 63) ? -w : w;
}

/*
 * How the weights add up: a repeated word weighs 1 + ln tf and so does
 * each of its n-grams, halved, once per distinct word; an n-gram that
 * two words share ("<ba", "ban", "ana>", "na>") or that one word holds
 * twice ("ana" in "banana") adds up over its occurrences.
 */
static void ngram_sums(void)
{
	static const char *const words[] = {"banana", "bandana"};
	const double tf_weight[] = {1 + log(2.0), 1};
	size_t dim = 65536, i, k, nz;
	double *want = calloc(dim, sizeof *want), norm = 0;
	float *v = calloc(dim, sizeof *v);
	rag_hashembed *h = make(dim);
	char f[64];

	if (!want || !v || !h) {
		CHECK(want && v && h);
		goto out;
	}
	for (k = 0; k < 2; k++) {
		size_t L = strlen(words[k]) + 2, j, n;

		snprintf(f, sizeof f, "w\x1f%s", words[k]);
		want_feature(want, dim, f, tf_weight[k]);
		for (j = 0; j + 3 <= L; j++) {
			for (n = 3; n <= 5 && j + n <= L; n++) {
				char wrap[32];

				snprintf(wrap, sizeof wrap, "<%s>", words[k]);
				snprintf(f, sizeof f, "c\x1f%.*s", (int)n, wrap + j);
				want_feature(want, dim, f, tf_weight[k] / 2);
			}
		}
	}
	want_feature(want, dim, "b\x1f" "banana banana", 0.5);
	want_feature(want, dim, "b\x1f" "banana bandana", 0.5);
	for (i = 0; i < dim; i++)
		norm += want[i] * want[i];
	norm = sqrt(norm);
	CHECK_EQ(embed(h, "Banana banana, bandana!", v), 1);
	for (i = 0, nz = 0; i < dim; i++) {
		nz += v[i] != 0;
		if (fabs(v[i] - want[i] / norm) > TOL) {
			CHECK_NEAR(v[i], want[i] / norm, TOL);
			break;
		}
	}
	/* 2 words, 2 bigrams, and 26 distinct n-grams in 15 + 18 occurrences */
	CHECK_EQ(nz, 30);
out:
	free(want);
	free(v);
	rag_hashembed_free(h);
}

/* A 1 MB text with many distinct features: the table grows, and shrinks after. */
static void long_text(void)
{
	static const char s[] = "a short text after a long one";
	rag_hashembed *h = make(512), *h2 = make(512);
	float a[512], b[512], c[512];
	size_t n;
	char *big = made_up(1 << 20, 42, &n);

	CHECK(big != NULL);
	if (!big || !h || !h2)
		goto out;
	CHECK_EQ(embed(h, s, a), 1);
	CHECK_EQ(embed_n(h, big, n, b), 1);
	CHECK_NEAR(dot(b, b, 512), 1.0, 1e-5);
	CHECK_EQ(embed_n(h2, big, n, c), 1);
	CHECK(memcmp(b, c, sizeof b) == 0);
	CHECK_EQ(embed(h, s, b), 1);
	CHECK(memcmp(a, b, sizeof a) == 0);
	/* the same paragraph many times over: repeated features, a small table */
	memset(big, 0, n);
	for (n = 0; n + sizeof s <= 1 << 20; n += sizeof s) {
		memcpy(big + n, s, sizeof s - 1);
		big[n + sizeof s - 1] = '\n';
	}
	CHECK_EQ(embed_n(h, big, n, b), 1);
	CHECK_NEAR(dot(b, b, 512), 1.0, 1e-5);
	CHECK(dot(a, b, 512) > 0.5);
out:
	free(big);
	rag_hashembed_free(h);
	rag_hashembed_free(h2);
}

int main(void)
{
	RUN(reference_hash);
	RUN(known_answers);
	RUN(matches_reference);
	RUN(deterministic);
	RUN(unit_length);
	RUN(zero_vector);
	RUN(case_insensitive);
	RUN(similarity);
	RUN(dim_bounds);
	RUN(code_points);
	RUN(ngram_sums);
	RUN(long_text);
	return test_summary();
}
