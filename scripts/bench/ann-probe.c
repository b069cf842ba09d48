/*
 * ann-probe - single-thread vector search of a store, for scripts/bench/ann.
 *
 * usage: ann-probe STORE QUERY.fvecs [GT.ivecs] [--ef LIST] [--exact]
 *                  [--filter EXPR] [--nq N] [--write-gt FILE] [--records]
 *        ann-probe --memread BYTES [--passes N]
 *        ann-probe --to-ndjson BASE.fvecs
 *
 * Opens STORE read-only and runs every query vector of QUERY.fvecs (the
 * first N with --nq) through rag_store_search, mode vector, k 10, on this
 * one thread, once for each ef of LIST (default 10,20,40,80,160), or once
 * comparing with every vector (--exact).  Only the search loop is timed,
 * after one untimed pass over the queries (the store is mmap'd: the pass
 * maps its pages in, as hnswlib's index is in memory when it is searched).
 * Records must have ids "v<row>", the row of their vector in the base
 * file, which recall@10 is computed from against GT.ivecs (each row: the
 * exact neighbours' row numbers, best first; -1 pads a row with fewer).
 * Hits carry ids only (rag_search_opts.ids_only), as hnswlib's carry
 * labels; --records reads the stored records instead.
 *
 * Writes one JSON object per line on standard output:
 *   {"ef":40,"queries":1000,"recall10":0.9312,"qps":2500.1,"ms_per_query":0.400}
 * ("ef":"exact" with --exact; "recall10":null without GT).  --write-gt
 * writes the hits' rows of the last pass as .ivecs (10 a query, -1 for a
 * missing hit): with --exact --filter, the filtered ground truth.
 *
 * --memread times a plain single-thread read of BYTES bytes of floats
 * (summed with SSE, four sums at once, so that memory and not the adds
 * sets the pace), the best of --passes passes (default 5), as the memory
 * bandwidth bound of --exact:
 *   {"memread_bytes":153600000,"passes":5,"seconds":0.0123,"gbps":12.49}
 *
 * --to-ndjson writes BASE.fvecs as records on standard output, row i as
 * {"id":"v<i>","text":"","vector":[...],"model":"bench"}, each component
 * in the shortest form that reads back to the same float32, as rag-embed
 * writes vectors.
 *
 * Exit status: 0, 1 on any error (a message on standard error), 2 usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "filter.h"
#include "json.h"
#include "store.h"

#define K 10
#define EFS_MAX 64

static const char *prog = "ann-probe";

static void usage(void)
{
	fprintf(stderr,
		"usage: %s STORE QUERY.fvecs [GT.ivecs] [--ef LIST] [--exact] [--filter EXPR]\n"
		"                 [--nq N] [--write-gt FILE] [--records]\n"
		"       %s --memread BYTES [--passes N]\n",
		prog, prog);
	exit(2);
}

static void fail(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static void fail_err(const rag_error *e)
{
	char buf[1024];

	rag_error_format(e, prog, buf, sizeof buf);
	fprintf(stderr, "%s\n", buf);
	exit(e->code == RAG_EUSAGE ? 2 : 1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A positive number from text, or usage. */
static unsigned long long number(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0 || s[0] == '-')
		usage();
	return v;
}

/*
 * Reads a .fvecs or .ivecs file (each row a little-endian int32 dimension,
 * then that many 4-byte values) into a new array of *n rows of *dim values.
 */
static void *read_vecs(const char *path, size_t *n, size_t *dim)
{
	FILE *f = fopen(path, "rb");
	int32_t d;
	long bytes;
	size_t rows, row;
	char *data;

	if (!f)
		fail("cannot open %s", path);
	if (fseek(f, 0, SEEK_END) < 0 || (bytes = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
		fail("cannot seek in %s", path);
	if (fread(&d, 4, 1, f) != 1 || d <= 0 || d > RAG_DIM_MAX)
		fail("%s: no rows, or a bad dimension in the first", path);
	if ((size_t)bytes % (4 + 4 * (size_t)d))
		fail("%s: the size is not a whole number of rows", path);
	rows = (size_t)bytes / (4 + 4 * (size_t)d);
	if (!(data = malloc(rows * (size_t)d * 4)))
		fail("%s: out of memory", path);
	rewind(f);
	for (row = 0; row < rows; row++) {
		int32_t dd;
		if (fread(&dd, 4, 1, f) != 1 || dd != d ||
		    fread(data + row * (size_t)d * 4, 4, (size_t)d, f) != (size_t)d)
			fail("%s: a row is short or has another dimension", path);
	}
	fclose(f);
	*n = rows;
	*dim = (size_t)d;
	return data;
}

/*
 * The row number of a hit: its id "v<row>", as a JSON string (ids_only)
 * or as the "id" field of the stored record.  -1 when it has no such id.
 */
static long hit_row(const char *json, size_t len)
{
	const char *p = json, *end = json + len;
	long row = 0;

	if (len && *p != '"') {
		static const char key[] = "\"id\":";
		const char *q = NULL;
		for (const char *s = p; s + sizeof key - 1 <= end; s++)
			if (!memcmp(s, key, sizeof key - 1)) {
				q = s + sizeof key - 1;
				break;
			}
		if (!q)
			return -1;
		p = q;
	}
	if (end - p < 3 || p[0] != '"' || p[1] != 'v')
		return -1;
	for (p += 2; p < end && *p >= '0' && *p <= '9'; p++) {
		row = row * 10 + (*p - '0');
		if (row > INT32_MAX)
			return -1;
	}
	return p < end && *p == '"' && p[-1] != 'v' ? row : -1;
}

/* Runs the nq queries once; the hits' rows go to rows (K a query, -1 for none). */
static void pass(rag_store *s, const float *qv, size_t nq, size_t dim, rag_search_opts *o,
		 int32_t *rows)
{
	rag_error err;

	for (size_t q = 0; q < nq; q++) {
		const rag_hit *hits;
		size_t n, i;
		o->vector = qv + q * dim;
		if (rag_store_search(s, NULL, 0, o, &hits, &n, &err) < 0)
			fail_err(&err);
		for (i = 0; i < n && i < K; i++) {
			long r = hit_row(hits[i].json, hits[i].json_len);
			if (r < 0)
				fail("a hit's id is not \"v<row>\": %.80s", hits[i].json);
			rows[q * K + i] = (int32_t)r;
		}
		for (; i < K; i++)
			rows[q * K + i] = -1;
	}
}

/* recall@10 of rows against gt (gk values a row); -1 when gt has no neighbours. */
static double recall(const int32_t *rows, const int32_t *gt, size_t gk, size_t nq)
{
	size_t found = 0, want = 0;

	for (size_t q = 0; q < nq; q++) {
		const int32_t *g = gt + q * gk;
		for (size_t j = 0; j < K && j < gk && g[j] >= 0; j++) {
			want++;
			for (size_t i = 0; i < K; i++)
				if (rows[q * K + i] == g[j]) {
					found++;
					break;
				}
		}
	}
	return want ? (double)found / want : -1;
}

/* Four floats, added four at a time (SSE on x86-64, whatever the -O level). */
typedef float v4f __attribute__((vector_size(16)));

static int memread(unsigned long long bytes, unsigned long passes)
{
	size_t n = bytes / sizeof(v4f);
	v4f *a = aligned_alloc(64, (n * sizeof *a + 63) / 64 * 64 + 64);
	double best = 1e30;
	volatile float sink;

	if (!n)
		usage();
	if (!a)
		fail("cannot allocate %s", "the array to read");
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < 4; j++)
			a[i][j] = (float)((i * 4 + j) & 1023) * 0.001f;
	for (unsigned long p = 0; p < passes; p++) {
		/* four independent sums of four, so that the adds keep up with memory */
		v4f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
		size_t i = 0;
		double t = now();
		for (; i + 4 <= n; i += 4) {
			s0 += a[i];
			s1 += a[i + 1];
			s2 += a[i + 2];
			s3 += a[i + 3];
		}
		for (; i < n; i++)
			s0 += a[i];
		t = now() - t;
		s0 += s1 + s2 + s3;
		sink = s0[0] + s0[1] + s0[2] + s0[3];
		if (t < best)
			best = t;
	}
	(void)sink;
	free(a);
	printf("{\"memread_bytes\":%zu,\"passes\":%lu,\"seconds\":%.6f,\"gbps\":%.3f}\n",
	       n * sizeof(v4f), passes, best, n * sizeof(v4f) / best / 1e9);
	return 0;
}

static int to_ndjson(const char *path)
{
	FILE *f = fopen(path, "rb");
	float *v = NULL;
	int32_t d, dim = 0;
	size_t row = 0;
	char t[RAG_JSON_FLOAT32_MAX];

	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return 1;
	}
	while (fread(&d, sizeof d, 1, f) == 1) {
		if (d <= 0 || (dim && d != dim)) {
			fprintf(stderr, "%s: %s: row %zu: bad dimension\n", prog, path, row);
			return 1;
		}
		if (!v && !(v = malloc((size_t)d * sizeof *v)))
			return 1;
		dim = d;
		if (fread(v, sizeof *v, (size_t)d, f) != (size_t)d) {
			fprintf(stderr, "%s: %s: row %zu is cut short\n", prog, path, row);
			return 1;
		}
		printf("{\"id\":\"v%zu\",\"text\":\"\",\"vector\":[", row++);
		for (int32_t i = 0; i < d; i++) {
			size_t n = rag_json_float32_text(v[i], t);
			if (i)
				putchar(',');
			fwrite(t, 1, n, stdout);
		}
		fputs("],\"model\":\"bench\"}\n", stdout);
	}
	free(v);
	fclose(f);
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *pos[3] = {NULL, NULL, NULL}, *efs = "10,20,40,80,160";
	const char *expr = NULL, *gt_out = NULL;
	unsigned long long mem = 0;
	unsigned long passes = 5;
	size_t npos = 0, nq_max = 0, ef[EFS_MAX], nef = 0;
	int exact = 0, records = 0;
	rag_error err;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--ef") && i + 1 < argc)
			efs = argv[++i];
		else if (!strcmp(a, "--exact"))
			exact = 1;
		else if (!strcmp(a, "--records"))
			records = 1;
		else if (!strcmp(a, "--filter") && i + 1 < argc)
			expr = argv[++i];
		else if (!strcmp(a, "--nq") && i + 1 < argc)
			nq_max = number(argv[++i]);
		else if (!strcmp(a, "--write-gt") && i + 1 < argc)
			gt_out = argv[++i];
		else if (!strcmp(a, "--to-ndjson") && i + 1 < argc)
			return to_ndjson(argv[++i]);
		else if (!strcmp(a, "--memread") && i + 1 < argc)
			mem = number(argv[++i]);
		else if (!strcmp(a, "--passes") && i + 1 < argc)
			passes = number(argv[++i]);
		else if (a[0] == '-' && a[1])
			usage();
		else if (npos < 3)
			pos[npos++] = a;
		else
			usage();
	}
	if (mem)
		return npos ? (usage(), 2) : memread(mem, passes);
	if (npos < 2)
		usage();
	if (exact) {
		ef[nef++] = 0;
	} else {
		for (const char *p = efs; *p;) {
			char *end;
			errno = 0;
			unsigned long v = strtoul(p, &end, 10);
			if (errno || end == p || v == 0 || v > 1000000 || nef == EFS_MAX ||
			    (*end && *end != ','))
				usage();
			ef[nef++] = v;
			p = *end ? end + 1 : end;
		}
		if (!nef)
			usage();
	}

	size_t nq, dim, ngt = 0, gk = 0;
	float *qv = read_vecs(pos[1], &nq, &dim);
	int32_t *gt = pos[2] ? read_vecs(pos[2], &ngt, &gk) : NULL;
	if (nq_max && nq_max < nq)
		nq = nq_max;
	if (gt && ngt < nq)
		fail("%s has fewer rows than there are queries", pos[2]);

	rag_store *s = rag_store_open(pos[0], RAG_STORE_READ, NULL, 0, &err);
	if (!s)
		fail_err(&err);
	rag_filter *filter = NULL;
	if (expr && !(filter = rag_filter_compile(expr, NULL, 0, &err)))
		fail_err(&err);
	int32_t *rows = malloc(nq * K * sizeof *rows);
	if (!rows)
		fail("out of memory for %s", "the hits");

	rag_search_opts o;
	memset(&o, 0, sizeof o);
	o.k = K;
	o.mode = RAG_MODE_VECTOR;
	o.dim = dim;
	o.exact = exact;
	o.ids_only = !records;
	o.filter = filter;

	/* untimed: map the store in; for --exact a few queries do that */
	size_t maxef = 0;
	for (size_t e = 0; e < nef; e++)
		if (ef[e] > maxef)
			maxef = ef[e];
	o.ef = maxef;
	pass(s, qv, exact && nq > 10 ? 10 : nq, dim, &o, rows);

	for (size_t e = 0; e < nef; e++) {
		o.ef = ef[e];
		double t = now();
		pass(s, qv, nq, dim, &o, rows);
		t = now() - t;
		if (exact)
			printf("{\"ef\":\"exact\"");
		else
			printf("{\"ef\":%zu", ef[e]);
		printf(",\"queries\":%zu,\"recall10\":", nq);
		double r = gt ? recall(rows, gt, gk, nq) : -1;
		if (r < 0)
			printf("null");
		else
			printf("%.4f", r);
		printf(",\"qps\":%.1f,\"ms_per_query\":%.4f}\n", nq / t, 1000 * t / nq);
		if (fflush(stdout) == EOF)
			fail("cannot write: %s", strerror(errno));
	}
	if (gt_out) {
		FILE *f = fopen(gt_out, "wb");
		int32_t d = K;
		if (!f)
			fail("cannot create %s", gt_out);
		for (size_t q = 0; q < nq; q++)
			if (fwrite(&d, 4, 1, f) != 1 || fwrite(rows + q * K, 4, K, f) != K)
				fail("cannot write %s", gt_out);
		if (fclose(f) == EOF)
			fail("cannot write %s", gt_out);
	}
	free(rows);
	rag_filter_free(filter);
	rag_store_close(s);
	free(gt);
	free(qv);
	return 0;
}
