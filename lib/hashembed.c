/* hashembed.c - builtin:hash, feature-hashing embeddings; see hashembed.h. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "hashembed.h"

/* The keys of hashembed.h, step 4. */
#define KEY_WORD UINT64_C(0x9e3779b97f4a7c15)
#define KEY_BIGRAM UINT64_C(0xd1b54a32d192ed03)
#define KEY_CHAR UINT64_C(0x8cb92ba72f3d8dd7)

/*
 * The counting table: open addressing on the feature's 64-bit hash,
 * linear probing from its low bits, at most half full.  tf 0 marks an
 * empty slot.  The table starts at TABLE_MIN slots and doubles up to
 * TABLE_MAX, which holds RAG_HASHEMBED_FEATURES_MAX features.  It counts
 * words and bigrams only; a word's character n-grams are made once, when
 * the text is done, from the copy of the word its slot points to.
 */
struct slot {
	uint64_t h;
	uint32_t tf;
	uint32_t info; /* a word's place in the word store, | ASCII when it is all ASCII */
};

#define ASCII UINT32_C(0x80000000)

#define TABLE_MIN ((size_t)1024)
#define TABLE_MAX (2 * RAG_HASHEMBED_FEATURES_MAX)
#define TABLE_KEEP ((size_t)1 << 16) /* a larger table is given back after its text */

/*
 * The word store: each distinct word w of the text once, as a length
 * byte (RAG_TERM_MAX < 256) and "<" w ">", and after the last word
 * PAD zero bytes, so that n-grams can be read 8 bytes at a time (and the
 * bytes past them masked off).  At most RAG_HASHEMBED_FEATURES_MAX words
 * of 3 + RAG_TERM_MAX bytes: an offset fits in 31 bits.
 */
#define PAD 8
#define WORDS_MIN ((size_t)4096)
#define WORDS_KEEP ((size_t)1 << 18) /* a larger store is given back after its text */

/* 1 + ln tf is kept for tf below this; larger counts are rare and computed when met. */
#define LN_CACHE 256

struct rag_hashembed {
	size_t dim;
	rag_analyzer *an;         /* the "simple" analyzer; owned */
	struct slot *tab;         /* mask + 1 slots; owned */
	size_t mask;
	uint32_t *wused, *bused;  /* (mask + 1) / 2 entries each; owned: the slots of */
	size_t nw, nb;            /* words and of bigrams, by first occurrence; how many */
	unsigned char *words;     /* the word store; owned */
	size_t nwords, capwords;  /* bytes in use (not counting PAD) and allocated */
	double *acc;              /* dim buckets; owned */
	double one_ln[LN_CACHE];  /* one_ln[i] = 1 + ln i, i >= 1 */
	uint64_t prev;            /* the hash of the previous word */
	int have_prev;            /* whether there was a previous word */
	int failed;               /* the word callback set *err */
	rag_error *err;           /* borrowed from the caller during rag_hashembed_text */
};

/* The splitmix64 finaliser: a bijection on 64-bit integers. */
static inline uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

/* p[0..8) as a little-endian integer, whatever the machine's byte order. */
static inline uint64_t load8(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

static inline uint64_t load4(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

/* p[0..k) for 1 <= k <= 8 as a little-endian integer, reading no byte past p[k - 1]. */
static inline uint64_t load_tail(const unsigned char *p, size_t k)
{
	if (k >= 4) /* two loads of four that overlap when k < 8: equal bytes OR to themselves */
		return load4(p) | load4(p + k - 4) << (8 * (k - 4));
	return (uint64_t)p[0] | (uint64_t)p[k / 2] << (8 * (k / 2)) |
	       (uint64_t)p[k - 1] << (8 * (k - 1));
}

/*
 * H(key, s[0..n)) of hashembed.h, step 4.  *bits gets the OR of all the
 * bytes, so that the caller learns for free whether s is ASCII.
 */
static inline uint64_t hash_bytes(uint64_t key, const unsigned char *s, size_t n, uint64_t *bits)
{
	uint64_t h = key ^ (uint64_t)n << 56, b, all = 0;

	if (n == 0) {
		*bits = 0;
		return mix(h);
	}
	for (; n > 8; s += 8, n -= 8) {
		b = load8(s);
		all |= b;
		h = mix(h ^ b);
	}
	b = load_tail(s, n);
	*bits = all | b;
	return mix(h ^ b);
}

static inline uint64_t hash_bigram(uint64_t prev, uint64_t word)
{
	return mix(KEY_BIGRAM ^ rotl(prev, 23) ^ word);
}

uint64_t rag_hashembed_feature_hash(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s, *sp;
	uint64_t bits;

	if (n < 2 || u[1] != 0x1F)
		return 0;
	switch (u[0]) {
	case 'w':
		return hash_bytes(KEY_WORD, u + 2, n - 2, &bits);
	case 'c':
		return hash_bytes(KEY_CHAR, u + 2, n - 2, &bits);
	case 'b':
		sp = memchr(u + 2, ' ', n - 2);
		if (!sp)
			return 0;
		return hash_bigram(hash_bytes(KEY_WORD, u + 2, (size_t)(sp - (u + 2)), &bits),
				   hash_bytes(KEY_WORD, sp + 1, n - (size_t)(sp + 1 - u), &bits));
	default:
		return 0;
	}
}

/*
 * x rounded to double where the compiler cannot see through it: the
 * product passed here is never fused with the sum it feeds into one
 * multiply-add, which rounds once instead of twice and would make the
 * result depend on the machine and the compiler's flags.
 */
static double rounded(double x)
{
	volatile double v = x;

	return v;
}

/*
 * ln tf for tf >= 1, with basic IEEE operations in a fixed order, so that
 * it does not depend on the C library's log: tf = m * 2^e with m in
 * [sqrt(1/2), sqrt(2)) (halving is exact), then
 *     ln m = 2 * (s + s^3/3 + ... + s^21/21),  s = (m - 1) / (m + 1),
 * whose first left-out term is below 2^-53 of the sum (|s| < 0.172), and
 * ln tf = e * ln 2 + ln m.  For every tf below 2,000,000 it is within one
 * unit in the last place of glibc's log (checked once); what matters is
 * that it is the same everywhere.
 */
static double ln_count(uint32_t tf)
{
	const double sqrt2 = 1.4142135623730951, ln2 = 0.6931471805599453;
	double m = tf, s, s2, t, sum;
	int e = 0, k;

	while (m >= sqrt2) {
		m *= 0.5;
		e++;
	}
	s = (m - 1) / (m + 1);
	s2 = s * s;
	t = s;
	sum = s;
	for (k = 1; k <= 10; k++) {
		t = rounded(t * s2);
		sum += t / (2 * k + 1);
	}
	return rounded(e * ln2) + rounded(2 * sum);
}

/* Makes the table twice as large, keeping the order of the used slots. */
static int grow(rag_hashembed *h)
{
	size_t cap = (h->mask + 1) * 2, k, i;
	struct slot *tab;
	uint32_t *used;

	if (cap > TABLE_MAX)
		return rag_error_set(h->err, RAG_ENOMEM, NULL, 0,
				     "the text has more than %zu distinct features",
				     RAG_HASHEMBED_FEATURES_MAX);
	if (!(used = realloc(h->wused, cap / 2 * sizeof *used)))
		return rag_error_set(h->err, RAG_ENOMEM, NULL, 0, "out of memory");
	h->wused = used;
	if (!(used = realloc(h->bused, cap / 2 * sizeof *used)))
		return rag_error_set(h->err, RAG_ENOMEM, NULL, 0, "out of memory");
	h->bused = used;
	if (!(tab = calloc(cap, sizeof *tab)))
		return rag_error_set(h->err, RAG_ENOMEM, NULL, 0, "out of memory");
	for (k = 0; k < h->nw + h->nb; k++) {
		uint32_t *u = k < h->nw ? &h->wused[k] : &h->bused[k - h->nw];
		const struct slot *s = &h->tab[*u];

		for (i = s->h & (cap - 1); tab[i].tf; i = (i + 1) & (cap - 1))
			;
		tab[i] = *s;
		*u = (uint32_t)i;
	}
	free(h->tab);
	h->tab = tab;
	h->mask = cap - 1;
	return 0;
}

/*
 * The slot for the feature with hash key: the one that holds it, or the
 * empty one it goes into (the table grown first when it is half full);
 * NULL with h->err set when it cannot grow.
 */
static inline struct slot *find(rag_hashembed *h, uint64_t key)
{
	size_t i;

	for (i = key & h->mask; h->tab[i].tf; i = (i + 1) & h->mask)
		if (h->tab[i].h == key)
			return &h->tab[i];
	if (h->nw + h->nb >= (h->mask + 1) / 2) {
		if (grow(h) < 0)
			return NULL;
		for (i = key & h->mask; h->tab[i].tf; i = (i + 1) & h->mask)
			;
	}
	h->tab[i].h = key;
	return &h->tab[i];
}

/*
 * Copies word w[0..len) to the word store as its length and "<" w ">";
 * its offset there, or -1 with h->err set.
 */
static int64_t store_word(rag_hashembed *h, const unsigned char *w, size_t len)
{
	size_t at = h->nwords;
	unsigned char *p;

	if (h->capwords - at < len + 3 + PAD) {
		size_t cap = h->capwords * 2;

		while (cap - at < len + 3 + PAD)
			cap *= 2;
		if (!(p = realloc(h->words, cap)))
			return rag_error_set(h->err, RAG_ENOMEM, NULL, 0, "out of memory");
		h->words = p;
		h->capwords = cap;
	}
	p = h->words + at;
	p[0] = (unsigned char)len;
	p[1] = '<';
	memcpy(p + 2, w, len);
	p[len + 2] = '>';
	memset(p + len + 3, 0, PAD);
	h->nwords = at + len + 3;
	return (int64_t)at;
}

/*
 * Forgets the counts and words of the text, and gives back a table or a
 * word store that a text with very many features made large (when memory
 * for a small one is refused, the large one stays).
 */
static void reset(rag_hashembed *h)
{
	struct slot *tab;
	uint32_t *wused, *bused;
	unsigned char *words;
	size_t k;

	for (k = 0; k < h->nw; k++)
		h->tab[h->wused[k]].tf = 0;
	for (k = 0; k < h->nb; k++)
		h->tab[h->bused[k]].tf = 0;
	h->nw = h->nb = 0;
	h->nwords = 0;
	if (h->capwords > WORDS_KEEP && (words = malloc(WORDS_MIN))) {
		free(h->words);
		h->words = words;
		h->capwords = WORDS_MIN;
	}
	if (h->mask + 1 <= TABLE_KEEP)
		return;
	tab = calloc(TABLE_MIN, sizeof *tab);
	wused = malloc(TABLE_MIN / 2 * sizeof *wused);
	bused = malloc(TABLE_MIN / 2 * sizeof *bused);
	if (!tab || !wused || !bused) {
		free(tab);
		free(wused);
		free(bused);
		return;
	}
	free(h->tab);
	free(h->wused);
	free(h->bused);
	h->tab = tab;
	h->wused = wused;
	h->bused = bused;
	h->mask = TABLE_MIN - 1;
}

/* Counts a word and the bigram it ends (hashembed.h, steps 2 and 3), for rag_analyze. */
static int word(const char *term, size_t len, void *arg)
{
	rag_hashembed *h = arg;
	const unsigned char *w = (const unsigned char *)term;
	struct slot *s;
	uint64_t x, bits;
	int64_t at;

	if (len == 0)
		return 0;
	if (len > RAG_TERM_MAX) /* the analyzer's promise; the word store's lengths rely on it */
		len = RAG_TERM_MAX;
	if (len <= 8) { /* most words: hash_bytes's one block, inline */
		bits = load_tail(w, len);
		x = mix(KEY_WORD ^ (uint64_t)len << 56 ^ bits);
	} else {
		x = hash_bytes(KEY_WORD, w, len, &bits);
	}
	if (!(s = find(h, x)))
		goto fail;
	if (s->tf) {
		s->tf += s->tf != UINT32_MAX;
	} else {
		if ((at = store_word(h, w, len)) < 0)
			goto fail;
		s->tf = 1;
		s->info = (uint32_t)at | (bits & UINT64_C(0x8080808080808080) ? 0 : ASCII);
		h->wused[h->nw++] = (uint32_t)(s - h->tab);
	}
	if (h->have_prev) {
		if (!(s = find(h, hash_bigram(h->prev, x))))
			goto fail;
		if (s->tf) {
			s->tf += s->tf != UINT32_MAX;
		} else {
			s->tf = 1;
			s->info = 0;
			h->bused[h->nb++] = (uint32_t)(s - h->tab);
		}
	}
	h->prev = x;
	h->have_prev = 1;
	return 0;
fail:
	h->failed = 1;
	return 1;
}

/*
 * Adds the feature with hash x to its bucket with its sign (step 5): pm
 * is {weight, -weight}, indexed rather than branched on, for the sign is
 * a coin toss that no branch predictor guesses.
 */
static inline void add(double *acc, size_t dim, uint64_t x, const double pm[2])
{
	acc[((x & UINT32_C(0xFFFFFFFF)) * dim) >> 32] += pm[x >> 63];
}

/* The masks of the low k bytes, k = 0 .. 8. */
static const uint64_t low_bytes[9] = {
	0,
	UINT64_C(0xFF),
	UINT64_C(0xFFFF),
	UINT64_C(0xFFFFFF),
	UINT64_C(0xFFFFFFFF),
	UINT64_C(0xFFFFFFFFFF),
	UINT64_C(0xFFFFFFFFFFFF),
	UINT64_C(0xFFFFFFFFFFFFFF),
	UINT64_MAX,
};

/* The hash of the n-gram p[0..n), 1 <= n <= 8, followed by at least 8 - n readable bytes. */
static inline uint64_t hash_short(const unsigned char *p, size_t n)
{
	return mix(KEY_CHAR ^ (uint64_t)n << 56 ^ (load8(p) & low_bytes[n]));
}

/*
 * Adds the character n-grams (step 2) of the wrapped word p[0..len) =
 * "<" w ">", which PAD readable bytes follow, with the weight and sign
 * pm[0], pm[1] each (steps 3 and 5); ascii tells that p is all ASCII.
 */
static void ngrams(double *acc, size_t dim, const unsigned char *p, size_t len, int ascii,
		   const double pm[2])
{
	uint16_t off[RAG_TERM_MAX + 3]; /* where each code point of p starts, then its end */
	size_t L, i, j, b;

	if (ascii) { /* a byte is a code point, and every n-gram is one block */
		for (i = 0; i + 5 <= len; i++) {
			uint64_t x = load8(p + i);

			add(acc, dim, mix(KEY_CHAR ^ (uint64_t)3 << 56 ^ (x & low_bytes[3])), pm);
			add(acc, dim, mix(KEY_CHAR ^ (uint64_t)4 << 56 ^ (x & low_bytes[4])), pm);
			add(acc, dim, mix(KEY_CHAR ^ (uint64_t)5 << 56 ^ (x & low_bytes[5])), pm);
		}
		if (i + 4 == len) { /* i = len - 4: two n-grams left there, then one */
			add(acc, dim, hash_short(p + i, 3), pm);
			add(acc, dim, hash_short(p + i, 4), pm);
			i++;
		}
		add(acc, dim, hash_short(p + i, 3), pm); /* i = len - 3 */
		return;
	}
	L = 0;
	for (b = 0; b < len; b++)
		if ((p[b] & 0xC0) != 0x80)
			off[L++] = (uint16_t)b;
	off[L] = (uint16_t)len;
	for (i = 0; i + 3 <= L; i++) {
		for (j = i + 3; j <= L && j <= i + 5; j++) {
			size_t n = off[j] - off[i];
			uint64_t bits;

			if (n <= 8)
				add(acc, dim, hash_short(p + off[i], n), pm);
			else
				add(acc, dim, hash_bytes(KEY_CHAR, p + off[i], n, &bits), pm);
		}
	}
}

rag_hashembed *rag_hashembed_new(size_t dim, rag_error *err)
{
	rag_hashembed *h;
	uint32_t i;

	if (dim < 1 || dim > RAG_HASHEMBED_DIM_MAX) {
		rag_error_set(err, RAG_EUSAGE, NULL, 0, "dimension %zu is out of range (1 to %d)",
			      dim, RAG_HASHEMBED_DIM_MAX);
		return NULL;
	}
	h = calloc(1, sizeof *h);
	if (!h)
		goto nomem;
	h->dim = dim;
	h->an = rag_analyzer_new("simple", err);
	if (!h->an)
		goto fail;
	h->tab = calloc(TABLE_MIN, sizeof *h->tab);
	h->wused = malloc(TABLE_MIN / 2 * sizeof *h->wused);
	h->bused = malloc(TABLE_MIN / 2 * sizeof *h->bused);
	h->words = malloc(WORDS_MIN);
	h->acc = malloc(dim * sizeof *h->acc);
	if (!h->tab || !h->wused || !h->bused || !h->words || !h->acc)
		goto nomem;
	h->mask = TABLE_MIN - 1;
	h->capwords = WORDS_MIN;
	h->one_ln[0] = 1;
	for (i = 1; i < LN_CACHE; i++)
		h->one_ln[i] = 1 + ln_count(i);
	return h;
nomem:
	rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
fail:
	rag_hashembed_free(h);
	return NULL;
}

void rag_hashembed_free(rag_hashembed *h)
{
	if (!h)
		return;
	rag_analyzer_free(h->an);
	free(h->tab);
	free(h->wused);
	free(h->bused);
	free(h->words);
	free(h->acc);
	free(h);
}

size_t rag_hashembed_dim(const rag_hashembed *h)
{
	return h->dim;
}

static inline double one_ln(const rag_hashembed *h, uint32_t tf)
{
	return tf < LN_CACHE ? h->one_ln[tf] : 1 + ln_count(tf);
}

int rag_hashembed_text(rag_hashembed *h, const char *text, size_t n, float *out, rag_error *err)
{
	size_t k, dim = h->dim;
	double *acc = h->acc, s0 = 0, s1 = 0, s2 = 0, s3 = 0, total, scale;
	int r = 0;

	h->err = err;
	h->failed = 0;
	h->have_prev = 0;
	if (n)
		r = rag_analyze(h->an, text, n, word, h, err);
	h->err = NULL;
	if (r != 0) {
		/* -1: the analyzer set err; 1: word did (h->failed). */
		reset(h);
		memset(out, 0, dim * sizeof *out);
		return -1;
	}

	/*
	 * Step 5.  The weights, halved and negated, are exact, so every
	 * addition rounds once, whatever the compiler fuses.
	 */
	memset(acc, 0, dim * sizeof *acc);
	for (k = 0; k < h->nw; k++) {
		const struct slot *s = &h->tab[h->wused[k]];
		const unsigned char *p = h->words + (s->info & ~ASCII);
		double l = one_ln(h, s->tf);
		double whole[2] = {l, -l}, half[2] = {l * 0.5, -(l * 0.5)};

		add(acc, dim, s->h, whole);
		ngrams(acc, dim, p + 1, (size_t)p[0] + 2, (s->info & ASCII) != 0, half);
	}
	for (k = 0; k < h->nb; k++) {
		const struct slot *s = &h->tab[h->bused[k]];
		double l = one_ln(h, s->tf);
		double half[2] = {l * 0.5, -(l * 0.5)};

		add(acc, dim, s->h, half);
	}
	reset(h);
	for (k = 0; k + 4 <= dim; k += 4) {
		s0 += rounded(acc[k] * acc[k]);
		s1 += rounded(acc[k + 1] * acc[k + 1]);
		s2 += rounded(acc[k + 2] * acc[k + 2]);
		s3 += rounded(acc[k + 3] * acc[k + 3]);
	}
	if (k < dim)
		s0 += rounded(acc[k] * acc[k]);
	if (k + 1 < dim)
		s1 += rounded(acc[k + 1] * acc[k + 1]);
	if (k + 2 < dim)
		s2 += rounded(acc[k + 2] * acc[k + 2]);
	total = (s0 + s1) + (s2 + s3);
	if (total == 0) {
		memset(out, 0, dim * sizeof *out);
		return 0;
	}
	scale = 1 / sqrt(total);
	for (k = 0; k < dim; k++)
		out[k] = (float)(acc[k] * scale);
	return 1;
}

void rag_hashembed_round(float *v, size_t dim)
{
	for (size_t i = 0; i < dim; i++) {
		double t = (double)v[i] * 1e6;
		/* to the nearest millionth; |t| <= 1e6 */
		v[i] = (float)((double)(long long)(t + copysign(0.5, t)) * 1e-6);
	}
}
