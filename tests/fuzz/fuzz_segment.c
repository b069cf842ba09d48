/*
 * fuzz_segment - the segment and deletion-file readers over any bytes.
 *
 * Each input is tried as a segment file twice: as it is, and with its
 * size field and checksums made right (the header's and every section's),
 * so that mutations get past the checksums to the offsets and postings
 * behind them.  When a segment opens, every record, id and document is
 * read, every id and document is looked up, every term is looked up and
 * its postings walked with rag_postings_next and rag_postings_advance,
 * and rag_seg_verify runs.  Whatever the bytes, nothing may crash, a
 * posting cursor may only move forward within the segment, and a file
 * that rag_seg_verify accepts must read without a single error.  The
 * input is also read as a deletion file.
 *
 * The seeds in tests/fuzz/corpus/segment are files rag-index wrote: 1, a
 * segment of five records with documents (english analyzer); 2, one of
 * fourteen records without (--analyzer none) with repeated and long
 * terms; 3, a deletion file of 2; 4, a segment of six records with
 * three indexed fields (--index-field year, --index-field meta.lang,
 * --index-field tags); 5, a segment of six records with 4-dimensional
 * vectors, their graph and uint8 codes (--metric l2 --quantize int8
 * --hnsw-m 2).  Write them again when the format changes, or fuzzing
 * stops at "section N is missing".
 *
 * A segment with vectors also has every row and code read and its graph
 * searched, on the full rows and on the codes.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crc32c.h"
#include "hnsw.h"
#include "segment.h"
#include "vec.h"

/*
 * tests/fuzz.sh builds every target from one list of library sources,
 * which has neither of these; a target that needs them brings them.
 */
#include "crc32c.c"
#include "segment.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a file: a memfd, named by its /proc path. */
typedef struct memfile {
	int fd;
	char path[64];
} memfile;

static int memfile_open(memfile *f, const uint8_t *data, size_t size)
{
	f->fd = memfd_create("fuzz", 0);
	if (f->fd < 0)
		return -1;
	if (size && write(f->fd, data, size) != (ssize_t)size)
		abort();
	snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
	return 0;
}

static void memfile_close(memfile *f)
{
	close(f->fd);
}

/* Keeps the reads of mapped bytes from being optimized away. */
static volatile unsigned char sink;

/* A cursor broke its promises: docnos only grow and stay below n. */
static void check_cursor(const rag_postings *c, const rag_seg *s, int64_t last)
{
	if (c->docno == RAG_POST_END)
		return;
	if (c->docno >= rag_seg_records(s) || (int64_t)c->docno <= last)
		abort();
}

typedef struct found {
	uint32_t want;
	int seen;
} found;

static int found_fn(uint32_t docno, void *arg)
{
	found *f = arg;

	if (docno == f->want)
		f->seen = 1;
	return 0;
}

/* A search's distances: from row 0 to any row, on the rows or on the codes. */
typedef struct qd {
	rag_seg_vecs v;
	rag_seg_codes c;
	int codes;
} qd;

static float qd_dist(void *arg, uint32_t row)
{
	const qd *q = arg;
	float d = 0;

	if (row >= q->v.count)
		abort(); /* the graph gave a node that is not a row */
	for (uint32_t i = 0; i < q->v.dim; i++) {
		float a = q->v.rows[i];
		float b = q->codes ? (float)q->c.codes[(size_t)row * q->c.stride + i]
		                   : q->v.rows[(size_t)row * q->v.dim + i];
		d += (a - b) * (a - b);
	}
	return d;
}

static int odd_rows(void *arg, uint32_t row)
{
	(void)arg;
	return row & 1;
}

/* The vectors, codes and graph: every row read, the graph searched.  The damage met. */
static int read_vectors(const rag_seg *s)
{
	const rag_hnsw *g = rag_seg_graph(s);
	rag_hnsw_scratch *sc;
	rag_hnsw_hit hits[8];
	rag_error err;
	size_t n;
	qd q;
	int bad = 0;

	memset(&q, 0, sizeof q);
	if (!rag_seg_vectors(s, &q.v))
		return 0;
	for (uint32_t r = 0; r < q.v.count; r++) {
		uint32_t d = rag_seg_vector_docno(s, &q.v, r);
		if (d == RAG_POST_END)
			bad++;
		else if (d >= rag_seg_records(s))
			abort();
		for (uint32_t i = 0; i < q.v.dim; i++)
			sink ^= *(const unsigned char *)&q.v.rows[(size_t)r * q.v.dim + i];
	}
	if (rag_seg_codes_of(s, &q.c))
		for (uint32_t r = 0; r < q.c.count; r++)
			sink ^= q.c.codes[(size_t)r * q.c.stride] ^ *(const unsigned char *)&q.c.norm2[r];
	if (!g || !q.v.count || !(sc = rag_hnsw_scratch_new(q.v.count)))
		return bad;
	for (q.codes = 0; q.codes < 2; q.codes++) {
		rag_hnsw_query hq = {qd_dist, NULL, &q};
		if (q.codes && (!rag_seg_codes_of(s, &q.c) || q.c.kind != 2))
			break;
		if (rag_hnsw_search(g, &hq, NULL, NULL, 5, 10, sc, hits, &n, &err) < 0)
			bad++;
		if (rag_hnsw_search(g, &hq, odd_rows, NULL, 8, 3, sc, hits, &n, &err) < 0)
			bad++;
		for (size_t i = 0; i < n; i++)
			if (!(hits[i].node & 1))
				abort(); /* a result the filter turned away */
	}
	rag_hnsw_scratch_free(sc);
	return bad;
}

/*
 * Reads everything through the public calls.  Returns the number of
 * calls that reported damage; aborts on a broken promise.
 */
static int read_all(const rag_seg *s)
{
	uint32_t n = rag_seg_records(s), nt = rag_seg_nterms(s);
	const char *p, *q;
	size_t len, qlen;
	rag_error err;
	int bad = read_vectors(s);

	/* the indexed fields: every value, and every value's records marked and cleared */
	{
		unsigned char *bits = calloc((size_t)n / 8 + 1, 1);
		if (!bits)
			abort();
		for (uint32_t f = 0; f < rag_seg_nfields(s); f++) {
			const char *name = rag_seg_field_name(s, f, &len);
			if (len)
				sink ^= (unsigned char)(name[0] ^ name[len - 1]);
			for (uint32_t j = 0; j < rag_seg_field_nvalues(s, f); j++) {
				if (rag_seg_field_value(s, f, j, &p, &len, &err) < 0)
					bad++;
				else if (len)
					sink ^= (unsigned char)(p[0] ^ p[len - 1]);
				/* both, even when the first fails half-way */
				bad += rag_seg_field_mark(s, f, j, bits, 1, &err) < 0;
				bad += rag_seg_field_mark(s, f, j, bits, 0, &err) < 0;
			}
		}
		for (size_t i = 0; i < (size_t)n / 8 + 1; i++)
			if (bits[i])
				abort(); /* every bit set was cleared */
		free(bits);
	}
	for (uint32_t i = 0; i < n; i++) {
		found f = {i, 0};
		if (rag_seg_record(s, i, &p, &len, &err) < 0)
			bad++;
		else if (len)
			sink ^= (unsigned char)(p[0] ^ p[len - 1]); /* the bytes are mapped */
		sink ^= rag_seg_hash(s, i)[0] ^ rag_seg_hash(s, i)[15];
		sink ^= (unsigned char)rag_seg_doclen(s, i);
		if (rag_seg_doc(s, i, &q, &qlen, &err) < 0) {
			bad++;
		} else if (qlen) {
			f.seen = 0;
			if (rag_seg_find(s, SEC_DOCS, q, qlen, found_fn, &f, &err) < 0 || !f.seen)
				bad++;
		}
		if (rag_seg_id(s, i, &p, &len, &err) < 0) {
			bad++;
			continue;
		}
		f.seen = 0;
		if (rag_seg_find(s, SEC_IDS, p, len, found_fn, &f, &err) < 0)
			bad++;
		else if (!f.seen)
			bad++; /* an id that cannot be found: the table is wrong */
		/* a hash that is not the id's: found or not, nothing breaks */
		if (rag_seg_find_hash(s, SEC_IDS, p, len, rag_seg_keyhash(p, len) ^ i, found_fn, &f,
		                      &err) < 0)
			bad++;
	}
	{
		found f = {0, 0};
		if (rag_seg_find(s, SEC_IDS, "no such id", 10, found_fn, &f, &err) < 0 ||
		    rag_seg_find(s, SEC_DOCS, "", 0, found_fn, &f, &err) < 0)
			bad++;
	}
	for (uint32_t i = 0; i < nt; i++) {
		rag_seg_term t, t2;
		rag_postings c;
		const char *text;
		int64_t last = -1;
		uint32_t count = 0;
		if (rag_seg_term_at(s, i, &t, &text, &err) < 0) {
			bad++;
			continue;
		}
		if (rag_seg_term_find(s, text, t.term_len, &t2, &err) != 1 ||
		    t2.post_off != t.post_off)
			bad++;
		/* every posting, one by one */
		if (rag_postings_open(&c, s, &t, &err) < 0) {
			bad++;
			continue;
		}
		while (c.docno != RAG_POST_END) {
			check_cursor(&c, s, last);
			last = c.docno;
			if (++count > t.df)
				abort(); /* more postings than the block counts allow */
			if (rag_postings_next(&c, &err) < 0) {
				bad++;
				break;
			}
		}
		/* skipping: to targets spread over the segment, then past the end */
		if (rag_postings_open(&c, s, &t, &err) < 0) {
			bad++;
			continue;
		}
		for (uint32_t target = 0;; target += 1 + target / 2 + (i % 5)) {
			uint32_t before = c.docno;
			if (rag_postings_advance(&c, target, &err) < 0) {
				bad++;
				break;
			}
			if (c.docno == RAG_POST_END)
				break;
			if (c.docno >= n || c.docno < target || c.docno < before)
				abort();
			{
				rag_seg_block b;
				rag_postings_block(&c, &b);
				if (b.last < c.docno)
					abort(); /* a posting beyond its block */
			}
			if (target > n)
				break;
		}
		if (rag_postings_advance(&c, UINT32_MAX - 1, &err) < 0)
			bad++;
		else if (c.docno != RAG_POST_END)
			abort();
	}
	{
		rag_seg_term t;
		static const char *const probe[] = {"", "a", "the", "zzzz", "\xff\xff"};
		for (size_t i = 0; i < sizeof probe / sizeof *probe; i++)
			if (rag_seg_term_find(s, probe[i], strlen(probe[i]), &t, &err) < 0)
				bad++;
	}
	return bad;
}

static void try_segment(const uint8_t *data, size_t size)
{
	memfile f;
	rag_error err;
	rag_seg *s;

	if (memfile_open(&f, data, size) < 0)
		return;
	s = rag_seg_open(f.path, &err);
	if (s) {
		int bad = read_all(s);
		if (rag_seg_verify(s, &err) == 0 && bad) {
			fprintf(stderr,
			        "rag_seg_verify accepts a segment that reads with %d errors\n",
			        bad);
			abort();
		}
		rag_seg_close(s);
	} else if (err.code != RAG_EDATA || !err.text[0]) {
		abort(); /* damage is a data error with a message */
	}
	memfile_close(&f);
}

/* The segment with its size field and checksums made right, when its table allows. */
static void try_segment_fixed(const uint8_t *data, size_t size)
{
	unsigned char *b;
	uint32_t nsec;

	if (size < HEADER_SIZE)
		return;
	nsec = get32(data + 24);
	if (nsec > MAX_SECTIONS || HEADER_SIZE + (size_t)nsec * SECTION_SIZE > size)
		return;
	if (!(b = malloc(size)))
		return;
	memcpy(b, data, size);
	put64(b + 16, size);
	for (uint32_t i = 0; i < nsec; i++) {
		unsigned char *e = b + HEADER_SIZE + (size_t)i * SECTION_SIZE;
		uint64_t off = get64(e + 8), len = get64(e + 16);
		if (off <= size && len <= size - off)
			put32(e + 24, rag_crc32c(0, b + off, len));
	}
	put32(b + 28, 0);
	put32(b + 28, rag_crc32c(0, b, HEADER_SIZE + (size_t)nsec * SECTION_SIZE));
	try_segment(b, size);
	free(b);
}

static void try_deletions(const uint8_t *data, size_t size, int fix)
{
	unsigned char *b = malloc(size + 1);
	unsigned char *bits;
	uint32_t n, ndel;
	memfile f;
	rag_error err;

	if (!b)
		return;
	memcpy(b, data, size);
	/* the record count the file claims, or one that fits its size */
	n = size >= 20 ? get32(b + 16) : (uint32_t)size * 8;
	if (fix && size > DEL_HEADER) {
		n = (uint32_t)(size - DEL_HEADER) * 8 - (b[16] & 7);
		put32(b + 16, n);
		if (b[17] & 1)
			put32(b + 24, rag_crc32c(0, b + DEL_HEADER, size - DEL_HEADER));
		put32(b + 28, rag_crc32c(0, b, 28));
	}
	if (memfile_open(&f, b, size) == 0) {
		for (int full = 0; full < 2; full++) {
			if (rag_del_read(f.path, n, &bits, &ndel, full, &err) == 0) {
				size_t nb = ((size_t)n + 7) / 8;
				uint32_t set = 0;
				for (size_t i = 0; i < nb; i++)
					set += (uint32_t)__builtin_popcount(bits[i]);
				if (n % 8 && bits[nb - 1] >> (n % 8))
					abort(); /* bits beyond the records */
				if (full && set != ndel)
					abort();
				free(bits);
			} else if (bits) {
				abort();
			}
		}
		memfile_close(&f);
	}
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	try_segment(data, size);
	try_segment_fixed(data, size);
	try_deletions(data, size, 0);
	try_deletions(data, size, 1);
	return 0;
}
