/* Tests for lib/hnsw.c: recall, filters, layout checks, damaged graphs. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hnsw.h"
#include "test.h"

/* Vectors, and the query being searched, for the distance callbacks. */
typedef struct vecs {
	const float *v;
	const float *q;
	size_t dim;
} vecs;

static float l2(const float *a, const float *b, size_t dim)
{
	float s = 0;

	for (size_t i = 0; i < dim; i++)
		s += (a[i] - b[i]) * (a[i] - b[i]);
	return s;
}

static float pair_l2(void *ctx, uint32_t a, uint32_t b)
{
	vecs *x = ctx;

	return l2(x->v + a * x->dim, x->v + b * x->dim, x->dim);
}

static float query_l2(void *ctx, uint32_t a)
{
	vecs *x = ctx;

	return l2(x->v + a * x->dim, x->q, x->dim);
}

static void prefetch_vec(void *ctx, uint32_t a)
{
	vecs *x = ctx;

	__builtin_prefetch(x->v + (size_t)a * x->dim);
}

/* n random vectors of dim floats in [0, 1), from seed. */
static float *random_vecs(size_t n, size_t dim, unsigned seed)
{
	float *v = malloc((n ? n : 1) * dim * sizeof *v);

	for (size_t i = 0; i < n * dim; i++)
		v[i] = (float)rand_r(&seed) / ((float)RAND_MAX + 1);
	return v;
}

static int build(rag_buf *out, const vecs *x, uint32_t n, uint32_t m, unsigned threads,
                 uint64_t seed)
{
	rag_hnsw_params p = {.m = m, .seed = seed, .threads = threads, .prefetch = prefetch_vec};
	rag_error e;

	rag_buf_init(out, 0);
	if (rag_hnsw_build(n, pair_l2, (void *)x, &p, out, &e) < 0) {
		fprintf(stderr, "build: %s\n", e.text);
		return -1;
	}
	return 0;
}

/* A node accepted by a filter. */
typedef int (*accept_fn)(void *, uint32_t);

/* The exact k nearest accepted nodes to x->q, nearest first, ties by node; returns their number. */
static size_t exact(const vecs *x, uint32_t n, accept_fn ok, size_t k, rag_hnsw_hit *out)
{
	size_t have = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (ok && !ok(NULL, i))
			continue;
		rag_hnsw_hit h = {i, query_l2((void *)x, i)};
		size_t j = have < k ? have++ : k;
		if (j == k && !(h.dist < out[k - 1].dist))
			continue;
		if (j == k)
			j = k - 1;
		for (; j > 0 && out[j - 1].dist > h.dist; j--)
			out[j] = out[j - 1];
		out[j] = h;
	}
	return have;
}

/* How many of the true top k are among the found ones. */
static size_t overlap(const rag_hnsw_hit *truth, size_t nt, const rag_hnsw_hit *found, size_t nf)
{
	size_t hits = 0;

	for (size_t i = 0; i < nt; i++)
		for (size_t j = 0; j < nf; j++)
			if (truth[i].node == found[j].node) {
				hits++;
				break;
			}
	return hits;
}

/* Results are nearest first, ties by node number, all distinct and in range. */
static int well_ordered(const rag_hnsw_hit *h, size_t n, uint32_t nodes)
{
	for (size_t i = 0; i < n; i++) {
		if (h[i].node >= nodes)
			return 0;
		if (i && (h[i - 1].dist > h[i].dist ||
		          (h[i - 1].dist == h[i].dist && h[i - 1].node >= h[i].node)))
			return 0;
	}
	return 1;
}

/* Recall@10 at breadth ef over nq random queries, with an optional filter. */
static double recall(const rag_hnsw *g, vecs *x, accept_fn ok, size_t nq, size_t ef, int *bad)
{
	rag_hnsw_scratch *s = rag_hnsw_scratch_new(rag_hnsw_nodes(g));
	rag_hnsw_query q = {query_l2, prefetch_vec, x};
	float *qs = random_vecs(nq, x->dim, 777);
	size_t found = 0, total = 0;
	rag_error e;

	for (size_t i = 0; i < nq; i++) {
		rag_hnsw_hit truth[10], hits[10];
		size_t nt, nh;
		x->q = qs + i * x->dim;
		nt = exact(x, rag_hnsw_nodes(g), ok, 10, truth);
		if (rag_hnsw_search(g, &q, ok, NULL, 10, ef, s, hits, &nh, &e) < 0 ||
		    !well_ordered(hits, nh, rag_hnsw_nodes(g)) || nh != nt)
			(*bad)++;
		for (size_t j = 0; ok && j < nh; j++)
			if (!ok(NULL, hits[j].node))
				(*bad)++;
		found += overlap(truth, nt, hits, nh);
		total += nt;
	}
	free(qs);
	rag_hnsw_scratch_free(s);
	return total ? (double)found / (double)total : 1;
}

static int open_verified(rag_hnsw *g, const rag_buf *b, uint32_t n)
{
	rag_error e;

	if (rag_hnsw_open(g, b->data, b->len, n, &e) < 0 || rag_hnsw_verify(g, &e) < 0) {
		fprintf(stderr, "open: %s\n", e.text);
		return -1;
	}
	return 0;
}

#define N 2000
#define DIM 32

/* Random data, one to four threads: the graph verifies and finds the true neighbours. */
static void recall_random(void)
{
	float *v = random_vecs(N, DIM, 1);
	vecs x = {v, NULL, DIM};

	for (unsigned threads = 1; threads <= 4; threads *= 2) {
		rag_buf b;
		rag_hnsw g;
		int bad = 0;
		CHECK(build(&b, &x, N, 16, threads, 7) == 0);
		CHECK(open_verified(&g, &b, N) == 0);
		CHECK_EQ(rag_hnsw_nodes(&g), N);
		CHECK_EQ(rag_hnsw_m(&g), 16);
		CHECK_IN(rag_hnsw_top_level(&g), 1, 6);
		CHECK_IN(recall(&g, &x, NULL, 100, 100, &bad), 0.95, 1);
		CHECK_IN(recall(&g, &x, NULL, 100, 10, &bad), 0.65, 1);
		CHECK_EQ(bad, 0);
		rag_buf_free(&b);
	}
	free(v);
}

/* One thread and one seed give the same bytes; another m gives other bytes. */
static void reproducible(void)
{
	float *v = random_vecs(1000, DIM, 2);
	vecs x = {v, NULL, DIM};
	rag_buf a, b, c;

	CHECK(build(&a, &x, 1000, 16, 1, 99) == 0);
	CHECK(build(&b, &x, 1000, 16, 1, 99) == 0);
	CHECK(build(&c, &x, 1000, 8, 1, 99) == 0);
	CHECK_EQ(a.len, b.len);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	CHECK(a.len % 8 == 0 && c.len % 8 == 0);
	CHECK(a.len != c.len);
	rag_buf_free(&a);
	rag_buf_free(&b);
	rag_buf_free(&c);
	free(v);
}

static int every_tenth(void *ctx, uint32_t node)
{
	(void)ctx;
	return node % 10 == 3;
}

static int none(void *ctx, uint32_t node)
{
	(void)ctx;
	(void)node;
	return 0;
}

/* A filter that lets one node in ten through: only those come back, and the right ones. */
static void filtered(void)
{
	float *v = random_vecs(N, DIM, 3);
	vecs x = {v, NULL, DIM};
	rag_hnsw_scratch *s = rag_hnsw_scratch_new(N);
	rag_hnsw_query q = {query_l2, NULL, &x};
	rag_hnsw_hit hits[10];
	size_t nh = 99;
	rag_buf b;
	rag_hnsw g;
	rag_error e;
	int bad = 0;

	CHECK(build(&b, &x, N, 16, 1, 5) == 0);
	CHECK(open_verified(&g, &b, N) == 0);
	CHECK_IN(recall(&g, &x, every_tenth, 100, 100, &bad), 0.9, 1);
	CHECK_EQ(bad, 0);
	/* a small ef still fills k from the accepted nodes */
	CHECK_IN(recall(&g, &x, every_tenth, 50, 10, &bad), 0.5, 1);
	CHECK_EQ(bad, 0);
	x.q = v;
	CHECK_EQ(rag_hnsw_search(&g, &q, none, NULL, 10, 50, s, hits, &nh, &e), 0);
	CHECK_EQ(nh, 0);
	rag_hnsw_scratch_free(s);
	rag_buf_free(&b);
	free(v);
}

/* k or ef beyond n: every node comes back, in order; k 0 gives nothing. */
static void everything(void)
{
	float *v = random_vecs(N, DIM, 4);
	vecs x = {v, v + 5 * DIM, DIM};
	rag_hnsw_scratch *s = rag_hnsw_scratch_new(10); /* grows */
	rag_hnsw_query q = {query_l2, prefetch_vec, &x};
	rag_hnsw_hit *hits = malloc((N + 500) * sizeof *hits);
	rag_hnsw_hit truth[10];
	size_t nh;
	rag_buf b;
	rag_hnsw g;
	rag_error e;

	CHECK(build(&b, &x, N, 16, 1, 6) == 0);
	CHECK(open_verified(&g, &b, N) == 0);
	CHECK_EQ(rag_hnsw_search(&g, &q, NULL, NULL, N + 500, 10, s, hits, &nh, &e), 0);
	CHECK_EQ(nh, N);
	CHECK(well_ordered(hits, nh, N));
	CHECK_EQ(hits[0].node, 5);
	CHECK_EQ(hits[0].dist, 0);
	/* an ef of n or more is exact */
	CHECK_EQ(rag_hnsw_search(&g, &q, every_tenth, NULL, 10, N, s, hits, &nh, &e), 0);
	CHECK_EQ(nh, 10);
	CHECK_EQ(exact(&x, N, every_tenth, 10, truth), 10);
	CHECK_EQ(overlap(truth, 10, hits, nh), 10);
	CHECK_EQ(rag_hnsw_search(&g, &q, NULL, NULL, 0, 10, s, hits, &nh, &e), 0);
	CHECK_EQ(nh, 0);
	rag_hnsw_scratch_free(s);
	rag_buf_free(&b);
	free(hits);
	free(v);
}

/*
 * Many equal vectors: they do not fill each other's lists and cut the
 * rest off (a search of ef 40 finds 20), and results are ordered by node
 * number among equal distances.
 */
static void ties(void)
{
	float *v = calloc(300 * 4, sizeof *v);
	vecs x = {v, v, 4};
	rag_hnsw_scratch *s = rag_hnsw_scratch_new(300);
	rag_hnsw_query q = {query_l2, NULL, &x};
	rag_hnsw_hit hits[300];
	size_t nh;
	rag_buf b;
	rag_hnsw g;
	rag_error e;

	for (size_t i = 150; i < 300 * 4; i++)
		v[i] = (float)(i / 40);
	CHECK(build(&b, &x, 300, 4, 1, 8) == 0);
	CHECK(open_verified(&g, &b, 300) == 0);
	CHECK_EQ(rag_hnsw_search(&g, &q, NULL, NULL, 20, 40, s, hits, &nh, &e), 0);
	CHECK_EQ(nh, 20);
	CHECK(well_ordered(hits, nh, 300));
	CHECK_EQ(rag_hnsw_search(&g, &q, NULL, NULL, 300, 300, s, hits, &nh, &e), 0);
	CHECK_EQ(nh, 300);
	CHECK(well_ordered(hits, nh, 300));
	CHECK_EQ(hits[0].node, 0);
	CHECK_EQ(hits[36].node, 36);
	rag_hnsw_scratch_free(s);
	rag_buf_free(&b);
	free(v);
}

/* Graphs of 0, 1, 2 and a few nodes, with m at its smallest too. */
static void tiny(void)
{
	float *v = random_vecs(40, 3, 9);
	vecs x = {v, v + 3, 3};
	rag_hnsw_scratch *s = rag_hnsw_scratch_new(0);
	rag_hnsw_query q = {query_l2, prefetch_vec, &x};
	rag_hnsw_hit hits[50];
	rag_error e;

	for (uint32_t n = 0; n <= 40; n += n < 5 ? 1 : 7) {
		for (uint32_t m = 2; m <= 16; m += 14) {
			rag_buf b;
			rag_hnsw g;
			size_t nh = 99;
			CHECK(build(&b, &x, n, m, 2, n) == 0);
			CHECK(open_verified(&g, &b, n) == 0);
			CHECK_EQ(rag_hnsw_search(&g, &q, NULL, NULL, 50, 2, s, hits, &nh, &e), 0);
			CHECK_EQ(nh, n);
			CHECK(well_ordered(hits, nh, n));
			CHECK_EQ(rag_hnsw_search(&g, &q, NULL, NULL, 1, 1, s, hits, &nh, &e), 0);
			CHECK_EQ(nh, n ? 1 : 0);
			if (n > 1)
				CHECK_EQ(hits[0].node, 1);
			rag_buf_free(&b);
		}
	}
	rag_hnsw_scratch_free(s);
	free(v);
}

/* Wrong parameters are usage errors. */
static void bad_params(void)
{
	rag_hnsw_params p = {.m = 1};
	rag_buf b;
	rag_error e;

	rag_buf_init(&b, 0);
	CHECK_EQ(rag_hnsw_build(10, pair_l2, NULL, &p, &b, &e), -1);
	CHECK_EQ(e.code, RAG_EUSAGE);
	p.m = RAG_HNSW_MAX_M + 1;
	CHECK_EQ(rag_hnsw_build(10, pair_l2, NULL, &p, &b, &e), -1);
	CHECK_EQ(b.len, 0);
	CHECK_EQ(rag_hnsw_build(RAG_HNSW_MAX_NODES + 1, pair_l2, NULL, NULL, &b, &e), -1);
	CHECK_EQ(e.code, RAG_EUSAGE);
	CHECK_HAS(e.text, "more than a graph may have");
	/* a full buffer is an error and stays as it was */
	float *v = random_vecs(100, 4, 1);
	vecs x = {v, NULL, 4};
	rag_buf_init(&b, 1000);
	rag_buf_add(&b, "abc", 3);
	CHECK_EQ(rag_hnsw_build(100, pair_l2, &x, NULL, &b, &e), -1);
	CHECK_EQ(e.code, RAG_ENOMEM);
	CHECK_EQ(b.len, 3);
	rag_buf_free(&b);
	free(v);
}

static void put32_at(rag_buf *b, size_t at, uint32_t v)
{
	unsigned char *p = (unsigned char *)b->data + at;

	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32_at(const rag_buf *b, size_t at)
{
	const unsigned char *p = (const unsigned char *)b->data + at;

	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Opening a graph whose header is damaged fails with a data error. */
static int open_fails(const rag_buf *orig, size_t at, uint32_t v, size_t len, uint32_t n,
                      const char *phrase)
{
	rag_buf b;
	rag_hnsw g;
	rag_error e;
	int rc;

	rag_buf_init(&b, 0);
	rag_buf_add(&b, orig->data, orig->len);
	if (at != SIZE_MAX)
		put32_at(&b, at, v);
	rc = rag_hnsw_open(&g, b.data, len, n, &e);
	CHECK_EQ(rc, -1);
	if (rc < 0) {
		CHECK_EQ(e.code, RAG_EDATA);
		CHECK_HAS(e.text, phrase);
	}
	rag_buf_free(&b);
	return rc;
}

#define SMALL 300

/* Damaged headers, lists and levels are found by open, verify or search. */
static void damage(void)
{
	float *v = random_vecs(SMALL, 8, 11);
	vecs x = {v, v, 8};
	rag_hnsw_scratch *s = rag_hnsw_scratch_new(SMALL);
	rag_hnsw_query q = {query_l2, prefetch_vec, &x};
	rag_hnsw_hit hits[10];
	size_t nh, stride = 4 * 33;
	rag_buf b;
	rag_hnsw g;
	rag_error e;

	CHECK(build(&b, &x, SMALL, 16, 1, 12) == 0);
	open_fails(&b, SIZE_MAX, 0, 63, SMALL, "too few");
	open_fails(&b, SIZE_MAX, 0, b.len - 8, SMALL, "bytes where the header says");
	open_fails(&b, 0, 0x12345678, b.len, SMALL, "no graph header");
	open_fails(&b, 4, 2, b.len, SMALL, "version 2");
	open_fails(&b, SIZE_MAX, 0, b.len, SMALL + 1, "301 were expected");
	open_fails(&b, 12, 1, b.len, SMALL, "m is 1");
	open_fails(&b, 12, 17, b.len, SMALL, "offsets");
	open_fails(&b, 16, 40, b.len, SMALL, "top level");
	open_fails(&b, 20, SMALL, b.len, SMALL, "entry point");
	open_fails(&b, 56, (uint32_t)b.len + 8, b.len, SMALL, "offsets");

	/* a neighbour beyond the nodes: open passes, verify and search fail */
	for (uint32_t i = 0; i < SMALL; i++)
		put32_at(&b, 64 + i * stride + 4, 90000);
	CHECK_EQ(rag_hnsw_open(&g, b.data, b.len, SMALL, &e), 0);
	CHECK_EQ(rag_hnsw_verify(&g, &e), -1);
	CHECK_HAS(e.text, "damaged graph: node 0 has a neighbour 90000 beyond 300 nodes");
	CHECK_EQ(e.code, RAG_EDATA);
	CHECK_EQ(rag_hnsw_search(&g, &q, NULL, NULL, 10, 20, s, hits, &nh, &e), -1);
	CHECK_HAS(e.text, "beyond 300 nodes");
	CHECK_EQ(nh, 0);
	/* too many neighbours */
	for (uint32_t i = 0; i < SMALL; i++)
		put32_at(&b, 64 + i * stride, 33);
	CHECK_EQ(rag_hnsw_verify(&g, &e), -1);
	CHECK_HAS(e.text, "33 neighbours at level 0, more than 32");
	CHECK_EQ(rag_hnsw_search(&g, &q, NULL, NULL, 10, 20, s, hits, &nh, &e), -1);
	CHECK_HAS(e.text, "more than 32");
	/* a self link */
	put32_at(&b, 64 + 7 * stride, 1);
	put32_at(&b, 64 + 7 * stride + 4, 7);
	for (uint32_t i = 0; i < 7; i++)
		put32_at(&b, 64 + i * stride, 0);
	CHECK_EQ(rag_hnsw_verify(&g, &e), -1);
	CHECK_HAS(e.text, "node 7 is its own neighbour");
	rag_buf_free(&b);
	rag_hnsw_scratch_free(s);
	free(v);
}

/* Damage to the level table and the upper lists. */
static void damage_upper(void)
{
	float *v = random_vecs(SMALL, 8, 13);
	vecs x = {v, v, 8};
	rag_hnsw_scratch *s = rag_hnsw_scratch_new(SMALL);
	rag_hnsw_query q = {query_l2, NULL, &x};
	rag_hnsw_hit hits[10];
	size_t nh, levels = 64 + SMALL * 4 * 33;
	uint32_t top, entry, raised = SMALL;
	rag_buf b;
	rag_hnsw g;
	rag_error e;

	CHECK(build(&b, &x, SMALL, 16, 1, 14) == 0);
	CHECK(open_verified(&g, &b, SMALL) == 0);
	top = rag_hnsw_top_level(&g);
	entry = get32_at(&b, 20);
	CHECK(top > 0);
	/* a node above the top level */
	for (uint32_t i = 0; i < SMALL && raised == SMALL; i++)
		if (i != entry)
			raised = i;
	put32_at(&b, levels + 8 * raised, top + 1);
	CHECK_EQ(rag_hnsw_verify(&g, &e), -1);
	CHECK_HAS(e.text, "above the top level");
	/* the entry point's upper lists out of place: verify and search say so */
	put32_at(&b, levels + 8 * raised, 0);
	put32_at(&b, levels + 8 * entry + 4, 0xfffffff0);
	CHECK_EQ(rag_hnsw_verify(&g, &e), -1);
	CHECK_EQ(rag_hnsw_search(&g, &q, NULL, NULL, 10, 20, s, hits, &nh, &e), -1);
	CHECK_HAS(e.text, "out of place");
	/* the entry point no longer at the top level: open says so */
	put32_at(&b, levels + 8 * entry, 0);
	open_fails(&b, SIZE_MAX, 0, b.len, SMALL, "not at the top level");
	rag_buf_free(&b);
	rag_hnsw_scratch_free(s);
	free(v);
}

/* Random bytes flipped: no crash, no endless loop; either an error or sane results. */
static void random_flips(void)
{
	float *v = random_vecs(SMALL, 8, 15);
	vecs x = {v, v, 8};
	rag_hnsw_scratch *s = rag_hnsw_scratch_new(SMALL);
	rag_hnsw_query q = {query_l2, prefetch_vec, &x};
	rag_hnsw_hit hits[10];
	unsigned seed = 16;
	int opened = 0, verified = 0, failed = 0, bad = 0;
	rag_buf b, c;

	CHECK(build(&b, &x, SMALL, 8, 1, 17) == 0);
	rag_buf_init(&c, 0);
	rag_buf_add(&c, b.data, b.len);
	for (int round = 0; round < 3000; round++) {
		rag_hnsw g;
		rag_error e;
		size_t nh, at[8];
		unsigned char old[8];
		int flips = 1 + rand_r(&seed) % 8;
		for (int i = 0; i < flips; i++) {
			/* mostly past the header, where open cannot tell */
			at[i] = (size_t)rand_r(&seed) % (round % 10 ? c.len - 64 : 64);
			at[i] += round % 10 ? 64 : 0;
			old[i] = (unsigned char)c.data[at[i]];
			c.data[at[i]] ^= (char)(1 + rand_r(&seed) % 255);
		}
		if (rag_hnsw_open(&g, c.data, c.len, SMALL, &e) == 0) {
			opened++;
			verified += rag_hnsw_verify(&g, &e) == 0;
			for (int k = 0; k < 3; k++) {
				x.q = v + 8 * (size_t)(rand_r(&seed) % SMALL);
				if (rag_hnsw_search(&g, &q, k ? every_tenth : NULL, NULL, 10,
				                    5 + k * 20, s, hits, &nh, &e) < 0) {
					failed++;
					bad += e.code != RAG_EDATA || nh != 0;
				} else {
					bad += nh > 10 || !well_ordered(hits, nh, SMALL);
				}
			}
		}
		for (int i = flips - 1; i >= 0; i--)
			c.data[at[i]] = (char)old[i];
	}
	CHECK_EQ(bad, 0);
	CHECK(opened > 1000);
	CHECK(verified < opened);
	CHECK(failed > 0);
	rag_buf_free(&b);
	rag_buf_free(&c);
	rag_hnsw_scratch_free(s);
	free(v);
}

/* Reads an .fvecs or .ivecs file: per vector an int32 dimension, then its 4-byte values. */
static void *read_vecs(const char *path, size_t *n, size_t *dim)
{
	FILE *f = fopen(path, "rb");
	int32_t d;
	char *v = NULL;
	size_t have = 0;

	if (!f)
		return NULL;
	while (fread(&d, 4, 1, f) == 1 && d > 0) {
		v = realloc(v, (have + 1) * (size_t)d * 4);
		if (fread(v + have * (size_t)d * 4, 4, (size_t)d, f) != (size_t)d)
			break;
		*dim = (size_t)d;
		have++;
	}
	fclose(f);
	*n = have;
	return v;
}

#define SIFT "/work/shared/data/sift5k/"

/* Real SIFT descriptors: recall@10 against the published ground truth. */
static void sift(void)
{
	size_t nb, db, nq, dq, ng, dg, found = 0;
	float *base = read_vecs(SIFT "split_base4500.fvecs", &nb, &db);
	float *qs = read_vecs(SIFT "split_query500.fvecs", &nq, &dq);
	int32_t *gt = read_vecs(SIFT "split_query500_groundtruth.ivecs", &ng, &dg);
	vecs x = {base, NULL, db};

	if (!base || !qs || !gt || db != dq || ng < nq || dg < 10) {
		fprintf(stderr, "test_hnsw: no SIFT data in %s, skipping that test\n", SIFT);
	} else {
		rag_hnsw_scratch *s = rag_hnsw_scratch_new((uint32_t)nb);
		rag_hnsw_query q = {query_l2, prefetch_vec, &x};
		rag_buf b;
		rag_hnsw g;
		rag_error e;
		CHECK(build(&b, &x, (uint32_t)nb, 16, 1, 42) == 0);
		CHECK(open_verified(&g, &b, (uint32_t)nb) == 0);
		for (size_t i = 0; i < nq; i++) {
			rag_hnsw_hit hits[10];
			size_t nh = 0;
			x.q = qs + i * dq;
			CHECK_EQ(rag_hnsw_search(&g, &q, NULL, NULL, 10, 64, s, hits, &nh, &e), 0);
			for (size_t j = 0; j < 10; j++)
				for (size_t h = 0; h < nh; h++)
					found += hits[h].node == (uint32_t)gt[i * dg + j];
		}
		CHECK_IN((double)found / (double)(nq * 10), 0.98, 1);
		rag_hnsw_scratch_free(s);
		rag_buf_free(&b);
	}
	free(base);
	free(qs);
	free(gt);
}

int main(void)
{
	RUN(recall_random);
	RUN(reproducible);
	RUN(filtered);
	RUN(everything);
	RUN(ties);
	RUN(tiny);
	RUN(bad_params);
	RUN(damage);
	RUN(damage_upper);
	RUN(random_flips);
	RUN(sift);
	return test_summary();
}
