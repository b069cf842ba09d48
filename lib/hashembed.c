/* hashembed.c - builtin:hash, feature-hashing embeddings; see hashembed.h. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "hashembed.h"

#define FNV_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

enum group { G_WORD, G_BIGRAM, G_CHAR };

/* The group weights of hashembed.h, step 3: powers of two, so products with them are exact. */
static const double group_weight[] = {1.0, 0.5, 0.5};

/*
 * The counting table: open addressing on the feature's 64-bit hash,
 * linear probing from its low bits, at most half full.  tf 0 marks an
 * empty slot.  The table starts at TABLE_MIN slots and doubles up to
 * TABLE_MAX, which holds RAG_HASHEMBED_FEATURES_MAX features.
 */
struct slot {
	uint64_t h;
	uint32_t tf;
	uint32_t group; /* enum group */
};

#define TABLE_MIN ((size_t)1024)
#define TABLE_MAX (2 * RAG_HASHEMBED_FEATURES_MAX)
#define TABLE_KEEP ((size_t)1 << 16) /* a larger table is given back after its text */

/* ln tf is kept for tf below this; larger counts are rare and computed when met. */
#define LN_CACHE 256

struct rag_hashembed {
	size_t dim;
	rag_analyzer *an;    /* the "simple" analyzer; owned */
	struct slot *tab;    /* mask + 1 slots; owned */
	size_t mask;
	uint32_t *used;      /* (mask + 1) / 2 entries; owned: the slots in use, by first use */
	size_t nused;
	double *acc;         /* dim buckets; owned */
	double ln[LN_CACHE]; /* ln[i] = ln i, i >= 1 */
	uint64_t w0, b0, c0; /* FNV-1a states after "w\x1f", "b\x1f", "c\x1f" */
	uint64_t bprev;      /* the state after "b\x1f" p " ", p the previous word */
	int have_prev;       /* whether there was a previous word */
	int failed;          /* the word callback set *err */
	rag_error *err;      /* borrowed from the caller during rag_hashembed_text */
};

static inline uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	while (n--) {
		h ^= *p++;
		h *= FNV_PRIME;
	}
	return h;
}

/* The splitmix64 finaliser. */
static inline uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

uint64_t rag_hashembed_feature_hash(const char *s, size_t n)
{
	return mix(fnv(FNV_BASIS, (const unsigned char *)s, n));
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
	used = realloc(h->used, cap / 2 * sizeof *used);
	if (!used)
		return rag_error_set(h->err, RAG_ENOMEM, NULL, 0, "out of memory");
	h->used = used;
	tab = calloc(cap, sizeof *tab);
	if (!tab)
		return rag_error_set(h->err, RAG_ENOMEM, NULL, 0, "out of memory");
	for (k = 0; k < h->nused; k++) {
		const struct slot *s = &h->tab[used[k]];

		for (i = s->h & (cap - 1); tab[i].tf; i = (i + 1) & (cap - 1))
			;
		tab[i] = *s;
		used[k] = (uint32_t)i;
	}
	free(h->tab);
	h->tab = tab;
	h->mask = cap - 1;
	return 0;
}

/* Counts one occurrence of the feature with hash key.  0, or -1 with h->err set. */
static inline int count(rag_hashembed *h, uint64_t key, enum group g)
{
	size_t i;

	for (i = key & h->mask; h->tab[i].tf; i = (i + 1) & h->mask) {
		if (h->tab[i].h == key) {
			if (h->tab[i].tf != UINT32_MAX)
				h->tab[i].tf++;
			return 0;
		}
	}
	if (h->nused >= (h->mask + 1) / 2) {
		if (grow(h) < 0)
			return -1;
		for (i = key & h->mask; h->tab[i].tf; i = (i + 1) & h->mask)
			;
	}
	h->tab[i].h = key;
	h->tab[i].tf = 1;
	h->tab[i].group = g;
	h->used[h->nused++] = (uint32_t)i;
	return 0;
}

/*
 * Forgets the counts of the text, and gives back a table that a text with
 * very many features made large (when memory for a small one is refused,
 * the large one stays).
 */
static void reset(rag_hashembed *h)
{
	struct slot *tab;
	uint32_t *used;
	size_t k;

	for (k = 0; k < h->nused; k++)
		h->tab[h->used[k]].tf = 0;
	h->nused = 0;
	if (h->mask + 1 <= TABLE_KEEP)
		return;
	tab = calloc(TABLE_MIN, sizeof *tab);
	used = malloc(TABLE_MIN / 2 * sizeof *used);
	if (!tab || !used) {
		free(tab);
		free(used);
		return;
	}
	free(h->tab);
	free(h->used);
	h->tab = tab;
	h->used = used;
	h->mask = TABLE_MIN - 1;
}

/* The features of one word (hashembed.h, step 2), for rag_analyze. */
static int word(const char *term, size_t len, void *arg)
{
	rag_hashembed *h = arg;
	const unsigned char *w = (const unsigned char *)term;
	unsigned char wrapped[RAG_TERM_MAX + 2];
	uint16_t off[RAG_TERM_MAX + 3]; /* where each code point of wrapped starts, then its end */
	size_t L = 0, i, j, b;
	uint64_t st;

	if (len == 0)
		return 0;
	if (len > RAG_TERM_MAX) /* the analyzer's promise; this keeps the buffers safe regardless */
		len = RAG_TERM_MAX;
	if (count(h, mix(fnv(h->w0, w, len)), G_WORD) < 0)
		goto fail;
	if (h->have_prev && count(h, mix(fnv(h->bprev, w, len)), G_BIGRAM) < 0)
		goto fail;
	h->bprev = fnv(fnv(h->b0, w, len), (const unsigned char *)" ", 1);
	h->have_prev = 1;

	wrapped[0] = '<';
	memcpy(wrapped + 1, w, len);
	wrapped[len + 1] = '>';
	for (b = 0; b < len + 2; b++)
		if ((wrapped[b] & 0xC0) != 0x80)
			off[L++] = (uint16_t)b;
	off[L] = (uint16_t)(len + 2);
	for (i = 0; i + 3 <= L; i++) {
		st = fnv(h->c0, wrapped + off[i], off[i + 2] - off[i]);
		for (j = i + 3; j <= L && j <= i + 5; j++) {
			st = fnv(st, wrapped + off[j - 1], off[j] - off[j - 1]);
			if (count(h, mix(st), G_CHAR) < 0)
				goto fail;
		}
	}
	return 0;
fail:
	h->failed = 1;
	return 1;
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
	h->used = malloc(TABLE_MIN / 2 * sizeof *h->used);
	h->acc = malloc(dim * sizeof *h->acc);
	if (!h->tab || !h->used || !h->acc)
		goto nomem;
	h->mask = TABLE_MIN - 1;
	h->w0 = fnv(FNV_BASIS, (const unsigned char *)"w\x1f", 2);
	h->b0 = fnv(FNV_BASIS, (const unsigned char *)"b\x1f", 2);
	h->c0 = fnv(FNV_BASIS, (const unsigned char *)"c\x1f", 2);
	h->ln[0] = 0;
	for (i = 1; i < LN_CACHE; i++)
		h->ln[i] = ln_count(i);
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
	free(h->used);
	free(h->acc);
	free(h);
}

size_t rag_hashembed_dim(const rag_hashembed *h)
{
	return h->dim;
}

int rag_hashembed_text(rag_hashembed *h, const char *text, size_t n, float *out, rag_error *err)
{
	size_t k, dim = h->dim;
	double *acc = h->acc, sum = 0, norm;
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
	 * Step 5.  (1 + ln tf) * g and its negation are exact products, so a
	 * compiler that fuses them with the addition rounds the same way.
	 */
	memset(acc, 0, dim * sizeof *acc);
	for (k = 0; k < h->nused; k++) {
		const struct slot *s = &h->tab[h->used[k]];
		double l = s->tf < LN_CACHE ? h->ln[s->tf] : ln_count(s->tf);
		double w = (1 + l) * group_weight[s->group];

		acc[s->h % dim] += s->h >> 63 ? -w : w;
	}
	reset(h);
	for (k = 0; k < dim; k++)
		sum += rounded(acc[k] * acc[k]);
	if (sum == 0) {
		memset(out, 0, dim * sizeof *out);
		return 0;
	}
	norm = sqrt(sum);
	for (k = 0; k < dim; k++)
		out[k] = (float)(acc[k] / norm);
	return 1;
}
