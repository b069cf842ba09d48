/*
 * segment.c - writing, mapping, searching and verifying segment files.
 *
 * File layout (rag-store(5) is the user's copy of this):
 *
 *   header, 64 bytes
 *     0  magic "\x89RAGSEG\n"
 *     8  u32 format version (1)
 *    12  u32 0x01020304, to tell the byte order
 *    16  u64 file size
 *    24  u32 number of sections
 *    28  u32 CRC-32C of the header and section table, this field as 0
 *    32  u64 records
 *    40  u64 total terms of all records (for the average length)
 *    48  u64 terms in the dictionary
 *    56  u64 reserved, 0
 *   section table, 32 bytes a section
 *     0  u32 kind, 4 u32 flags, 8 u64 offset, 16 u64 length,
 *    24  u32 CRC-32C of the section's bytes, 28 u32 reserved
 *   the sections, each starting at a multiple of 8
 *
 * Postings of a term: a directory of ceil(df / 128) block headers
 * (rag_seg_block, 16 bytes each), then the blocks.  A posting is
 * varint(gap << 1 | 1) when its frequency is 1, else varint(gap << 1)
 * varint(frequency), where gap is the docno minus the previous docno
 * minus one (the first docno itself for the first posting).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lz4.h>

#include "analyze.h"
#include "crc32c.h"
#include "hnsw.h"
#include "json.h"
#include "utf8.h"
#include "le.h"
#include "segment.h"
#include "vec.h"

#define SEG_MAGIC "\x89RAGSEG\n"
#define DEL_MAGIC "\x89RAGDEL\n"
#define ENDIAN_MARK 0x01020304u
#define HEADER_SIZE 64
#define SECTION_SIZE 32
#define MAX_SECTIONS 64
#define DEL_HEADER 32

uint64_t rag_seg_keyhash(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/*
 * The id filter: a Bloom filter in 512-bit blocks, about 10 bits an id.
 * An id sets 6 bits of one block, chosen from its key hash, so a lookup
 * touches one cache line; an id that is not in the segment is turned
 * away without a search about 99 times in 100.
 */
#define BLOOM_BITS_PER_KEY 10
#define BLOOM_PROBES 6

static uint64_t bloom_blocks(uint64_t n)
{
	return (n * BLOOM_BITS_PER_KEY + 511) / 512 + 1;
}

/* The block, from the high half of the hash; the bits, from a remix of it. */
static inline uint64_t bloom_block(uint64_t h, uint64_t nblocks)
{
	return (uint64_t)(((unsigned __int128)h * nblocks) >> 64);
}

static inline void bloom_add(unsigned char *f, uint64_t nblocks, uint64_t h)
{
	unsigned char *b = f + 64 * bloom_block(h, nblocks);

	h *= 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < BLOOM_PROBES; i++) {
		unsigned bit = (unsigned)(h >> (9 * i)) & 511;
		b[bit >> 3] |= (unsigned char)(1u << (bit & 7));
	}
}

static inline int bloom_may_have(const unsigned char *f, uint64_t nblocks, uint64_t h)
{
	const unsigned char *b = f + 64 * bloom_block(h, nblocks);

	h *= 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < BLOOM_PROBES; i++) {
		unsigned bit = (unsigned)(h >> (9 * i)) & 511;
		if (!(b[bit >> 3] >> (bit & 7) & 1))
			return 0;
	}
	return 1;
}

/* ---- reading ---- */

typedef struct section {
	const unsigned char *p;
	uint64_t len;
	uint32_t crc;
	int present;
} section;

struct rag_seg {
	char *path;
	unsigned char *map;
	size_t size;
	uint32_t n;
	uint64_t total_len;
	uint32_t nterms;
	uint32_t ndocs; /* entries of SEC_DOCS */
	uint64_t nblocks; /* record blocks */
	section sec[SEC_NKINDS];
	section fsec;          /* SEC_FIELDS, when present */
	section vsec, gsec;    /* SEC_VECTORS and SEC_GRAPH, when present */
	section csec;          /* SEC_VCODES, when present */
	section rsec;          /* SEC_VRAW, when present */
	rag_seg_vecs vecs;
	rag_seg_codes codes;
	rag_hnsw graph;
	struct fcol *cols;     /* its fields */
	uint32_t ncols;
	struct reccache *cache; /* the block decompressed last */
};

/*
 * One indexed field, as SEC_FIELDS lays it out:
 *
 *     u32 name length, the name, zeros to a multiple of 4
 *     u32 values (v), u32 records (r)
 *     u32 value text offsets [v + 1], u32 record list offsets [v + 1]
 *     u32 docnos [r], the value texts, zeros to a multiple of 4
 *
 * after a u32 count of fields.  Pointers are into the mapping.
 */
struct fcol {
	const char *name;
	uint32_t nlen, nvalues, ndocs;
	const unsigned char *valoff, *docstart, *docs;
	const char *text;
	uint32_t textlen;
};

/*
 * Records are stored in LZ4 blocks of whole records, about REC_BLOCK
 * bytes each before compression, so that reading one record decompresses
 * a few kilobytes.
 */
#define REC_BLOCK 16384
/* An entry of the block table: compressed offset, uncompressed offset, CRC-32C, 0. */
#define RB 24

static void put_rb(unsigned char *e, uint64_t coff, uint64_t uoff, uint32_t crc)
{
	put64(e, coff);
	put64(e + 8, uoff);
	put32(e + 16, crc);
	put32(e + 20, 0);
}

struct reccache {
	char *buf;
	size_t cap;
	uint64_t block;
	int valid;
};

static int damaged(const rag_seg *s, rag_error *err, const char *what)
{
	return rag_error_set(err, RAG_EDATA, s->path, 0,
			     "damaged segment: %s", what);
}

static int check_size(rag_seg *s, int kind, uint64_t want, rag_error *err)
{
	if (s->sec[kind].len != want)
		return rag_error_set(err, RAG_EDATA, s->path, 0,
				     "damaged segment: section %d has %llu bytes, %llu expected",
				     kind, (unsigned long long)s->sec[kind].len,
				     (unsigned long long)want);
	return 0;
}

/* Reads the directory of SEC_FIELDS, checking that every part lies inside it. */
static int fields_open(rag_seg *s, rag_error *err)
{
	const unsigned char *p = s->fsec.p, *end = p + s->fsec.len;
	uint32_t n;

#define NEED(k)                                             \
	do {                                                \
		if ((uint64_t)(end - p) < (uint64_t)(k))    \
			return damaged(s, err, "the indexed fields run past their section"); \
	} while (0)
	NEED(4);
	n = get32(p);
	p += 4;
	if (n > s->fsec.len / 16 || n > RAG_SEG_FIELDS_MAX)
		return damaged(s, err, "impossible number of indexed fields");
	if (!(s->cols = calloc((size_t)n + 1, sizeof *s->cols)))
		return rag_error_set(err, RAG_ENOMEM, s->path, 0, "out of memory");
	s->ncols = n;
	for (uint32_t i = 0; i < n; i++) {
		struct fcol *c = &s->cols[i];
		uint64_t v;
		NEED(4);
		c->nlen = get32(p);
		NEED(4 + (uint64_t)c->nlen + 8);
		c->name = (const char *)p + 4;
		p += 4 + (((uint64_t)c->nlen + 3) & ~(uint64_t)3);
		NEED(8);
		c->nvalues = get32(p);
		c->ndocs = get32(p + 4);
		p += 8;
		v = (uint64_t)c->nvalues + 1;
		NEED(8 * v + 4 * (uint64_t)c->ndocs);
		c->valoff = p;
		c->docstart = p + 4 * v;
		c->docs = p + 8 * v;
		p += 8 * v + 4 * (uint64_t)c->ndocs;
		c->textlen = get32(c->valoff + 4 * (size_t)c->nvalues);
		NEED(c->textlen);
		c->text = (const char *)p;
		p += ((uint64_t)c->textlen + 3) & ~(uint64_t)3;
		if (p > end)
			return damaged(s, err, "the indexed fields run past their section");
		for (uint32_t k = 0; k < i; k++)
			if (s->cols[k].nlen == c->nlen && memcmp(s->cols[k].name, c->name, c->nlen) == 0)
				return damaged(s, err, "a field is indexed twice");
	}
#undef NEED
	return 0;
}

uint32_t rag_seg_nfields(const rag_seg *s) { return s->ncols; }

const char *rag_seg_field_name(const rag_seg *s, uint32_t i, size_t *len)
{
	*len = s->cols[i].nlen;
	return s->cols[i].name;
}

uint32_t rag_seg_field_nvalues(const rag_seg *s, uint32_t i) { return s->cols[i].nvalues; }

long rag_seg_field_find(const rag_seg *s, const char *name)
{
	size_t len = strlen(name);

	for (uint32_t i = 0; i < s->ncols; i++)
		if (s->cols[i].nlen == len && memcmp(s->cols[i].name, name, len) == 0)
			return i;
	return -1;
}

int rag_seg_field_value(const rag_seg *s, uint32_t i, uint32_t j, const char **text,
			size_t *len, rag_error *err)
{
	const struct fcol *c = &s->cols[i];
	uint32_t a = get32(c->valoff + 4 * (size_t)j), b = get32(c->valoff + 4 * (size_t)j + 4);

	if (a > b || b > c->textlen)
		return damaged(s, err, "bad offset of an indexed value");
	*text = c->text + a;
	*len = b - a;
	return 0;
}

int rag_seg_field_list(const rag_seg *s, uint32_t i, uint32_t j, const unsigned char **docs,
		       uint32_t *count, rag_error *err)
{
	const struct fcol *c = &s->cols[i];
	uint32_t a = get32(c->docstart + 4 * (size_t)j), b = get32(c->docstart + 4 * (size_t)j + 4);

	if (a > b || b > c->ndocs)
		return damaged(s, err, "bad offset of an indexed value's records");
	for (uint32_t k = a; k < b; k++)
		if (get32(c->docs + 4 * (size_t)k) >= s->n)
			return damaged(s, err, "an indexed value names a record that does not exist");
	*docs = c->docs + 4 * (size_t)a;
	*count = b - a;
	return 0;
}

int rag_seg_field_mark(const rag_seg *s, uint32_t i, uint32_t j, unsigned char *bits, int set,
		       rag_error *err)
{
	const unsigned char *docs;
	uint32_t count;

	if (rag_seg_field_list(s, i, j, &docs, &count, err) < 0)
		return -1;
	for (uint32_t k = 0; k < count; k++) {
		uint32_t d = get32(docs + 4 * (size_t)k);
		if (set)
			bits[d >> 3] |= (unsigned char)(1u << (d & 7));
		else
			bits[d >> 3] &= (unsigned char)~(1u << (d & 7));
	}
	return 0;
}

/*
 * SEC_VECTORS, as the section lays it out (offsets from its start, which
 * is a multiple of 64 in the file):
 *
 *     0  u32 dimension, 4 u32 metric, 8 u32 rows, 12 u32 0
 *    16  u64 where the rows start (a multiple of 64), 24..63 zeros
 *    64  u32 record of each row [rows], in increasing order
 *        zeros to the rows' start, then float32 [rows][dimension]
 *
 * SEC_GRAPH is the rows' HNSW graph as hnsw.h writes it.
 *
 * SEC_VCODES, compact copies of the rows (also at a multiple of 64):
 *
 *     0  u32 kind (1 float16, 2 uint8), 4 u32 dimension, 8 u32 rows, 12 u32 0
 *    16  u64 bytes from one row's code to the next (a multiple of 64)
 *    24  u64 where lo starts (uint8: dimension float32; 0 for float16)
 *    32  u64 where scale starts (the same)
 *    40  u64 where norm2 starts: float32 [rows], each decoded row's |x|^2
 *    48  u64 where the codes start (a multiple of 64), 56 u64 0
 *        the parts, zeros between them, the codes [rows][stride]
 */
#define VEC_HEADER 64
#define VEC_DIM_MAX 65536
#define CODES_F16 1
#define CODES_U8 2

static int codes_open(rag_seg *s, rag_error *err);

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_LE 1
#else
#define HOST_LE 0
#endif

static int vectors_open(rag_seg *s, rag_error *err)
{
	const unsigned char *p = s->vsec.p;
	uint64_t len = s->vsec.len, rows_off, count, dim;

	if (!s->vsec.present)
		return damaged(s, err, "a graph without vectors");
	if (!HOST_LE)
		return rag_error_set(err, RAG_EDATA, s->path, 0,
				     "this machine's byte order cannot read the segment's vectors");
	if (len < VEC_HEADER || (uintptr_t)p % 64)
		return damaged(s, err, "bad vector section");
	dim = get32(p);
	count = get32(p + 8);
	rows_off = get64(p + 16);
	if (dim == 0 || dim > VEC_DIM_MAX || get32(p + 4) > RAG_METRIC_L2 || count > s->n ||
	    rows_off % 64 || rows_off < VEC_HEADER + 4 * count || rows_off > len ||
	    (len - rows_off) / 4 / dim != count || (len - rows_off) % (4 * dim))
		return damaged(s, err, "bad vector section");
	s->vecs = (rag_seg_vecs){(uint32_t)dim, (uint32_t)count, (int)get32(p + 4),
				 p + VEC_HEADER, (const float *)(const void *)(p + rows_off),
				 (const float *)(const void *)(p + rows_off)};
	if (s->rsec.present) {
		/* a cosine store's rows as given; one written before them has none */
		if (s->vecs.metric != RAG_METRIC_COSINE || (uintptr_t)s->rsec.p % 64 ||
		    s->rsec.len != count * dim * 4)
			return damaged(s, err, "bad raw vector section");
		s->vecs.raw = (const float *)(const void *)s->rsec.p;
	}
	if (s->gsec.present) {
		rag_error e;
		if (rag_hnsw_open(&s->graph, s->gsec.p, s->gsec.len, (uint32_t)count, &e) < 0)
			return rag_error_set(err, RAG_EDATA, s->path, 0, "damaged segment: %s", e.text);
	}
	return s->csec.present ? codes_open(s, err) : 0;
}

/* Checks that the part [off, off + n) lies inside a section of len bytes, aligned to a. */
static int part_ok(uint64_t off, uint64_t n, uint64_t len, unsigned a)
{
	return off % a == 0 && off <= len && n <= len - off;
}

static int codes_open(rag_seg *s, rag_error *err)
{
	const unsigned char *p = s->csec.p;
	uint64_t len = s->csec.len, stride, lo, sc, nm, co, dim = s->vecs.dim, n = s->vecs.count;
	uint32_t kind;

	if (len < VEC_HEADER || (uintptr_t)p % 64)
		return damaged(s, err, "bad vector code section");
	kind = get32(p);
	stride = get64(p + 16);
	lo = get64(p + 24);
	sc = get64(p + 32);
	nm = get64(p + 40);
	co = get64(p + 48);
	if ((kind != CODES_F16 && kind != CODES_U8) || get32(p + 4) != dim || get32(p + 8) != n ||
	    stride % 64 || stride < dim * (kind == CODES_F16 ? 2 : 1) || stride > 4 * dim + 64 ||
	    !part_ok(nm, 4 * n, len, 4) || !part_ok(co, 0, len, 64) ||
	    (len - co) / stride < n || (len - co) % stride ||
	    (kind == CODES_U8 && (!part_ok(lo, 4 * dim, len, 4) || !part_ok(sc, 4 * dim, len, 4))))
		return damaged(s, err, "bad vector code section");
	s->codes = (rag_seg_codes){(int)kind, (uint32_t)dim, (uint32_t)n, (size_t)stride,
				   kind == CODES_U8 ? (const float *)(const void *)(p + lo) : NULL,
				   kind == CODES_U8 ? (const float *)(const void *)(p + sc) : NULL,
				   (const float *)(const void *)(p + nm), p + co};
	return 0;
}

int rag_seg_codes_of(const rag_seg *s, rag_seg_codes *c)
{
	if (!s->csec.present)
		return 0;
	*c = s->codes;
	return 1;
}

int rag_seg_vectors(const rag_seg *s, rag_seg_vecs *v)
{
	if (!s->vsec.present)
		return 0;
	*v = s->vecs;
	return 1;
}

uint32_t rag_seg_vector_docno(const rag_seg *s, const rag_seg_vecs *v, uint32_t row)
{
	uint32_t d = row < v->count ? get32(v->rowdoc + 4 * (size_t)row) : RAG_POST_END;

	return d < s->n ? d : RAG_POST_END;
}

long rag_seg_vector_row(const rag_seg *s, uint32_t docno)
{
	const rag_seg_vecs *v = &s->vecs;
	uint32_t lo = 0, hi;

	if (!s->vsec.present)
		return -1;
	hi = v->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2, d = get32(v->rowdoc + 4 * (size_t)mid);
		if (d == docno)
			return (long)mid;
		if (d < docno)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const struct rag_hnsw *rag_seg_graph(const rag_seg *s)
{
	return s->gsec.present ? &s->graph : NULL;
}

rag_seg *rag_seg_open(const char *path, rag_error *err)
{
	rag_seg *s = calloc(1, sizeof *s);
	struct stat st;
	int fd = -1;

	if (!s || !(s->path = strdup(path))) {
		free(s);
		rag_error_set(err, RAG_ENOMEM, path, 0, "out of memory");
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rag_error_sys(err, errno, path, "cannot open segment");
		goto fail;
	}
	if (st.st_size < HEADER_SIZE) {
		rag_error_set(err, RAG_EDATA, path, 0,
			      "truncated segment: %lld bytes, a segment has at least %d",
			      (long long)st.st_size, HEADER_SIZE);
		goto fail;
	}
	s->size = (size_t)st.st_size;
	s->map = mmap(NULL, s->size, PROT_READ, MAP_SHARED, fd, 0);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		rag_error_sys(err, errno, path, "cannot map segment");
		goto fail;
	}
	close(fd);
	fd = -1;

	const unsigned char *h = s->map;
	if (memcmp(h, SEG_MAGIC, 8) != 0) {
		rag_error_set(err, RAG_EDATA, path, 0, "not a ragkit segment (bad magic number)");
		goto fail;
	}
	if (get32(h + 12) != ENDIAN_MARK) {
		rag_error_set(err, RAG_EDATA, path, 0,
			      "segment written with another byte order or damaged");
		goto fail;
	}
	if (get32(h + 8) < RAG_SEG_VERSION_MIN || get32(h + 8) > RAG_SEG_VERSION) {
		rag_error_set(err, RAG_EDATA, path, 0,
			      "segment format version %u; this ragkit reads versions %d to %d",
			      get32(h + 8), RAG_SEG_VERSION_MIN, RAG_SEG_VERSION);
		goto fail;
	}
	if (get64(h + 16) != s->size) {
		rag_error_set(err, RAG_EDATA, path, 0,
			      "truncated or damaged segment: the header says %llu bytes, the file has %zu",
			      (unsigned long long)get64(h + 16), s->size);
		goto fail;
	}
	uint32_t nsec = get32(h + 24);
	if (nsec > MAX_SECTIONS || HEADER_SIZE + (size_t)nsec * SECTION_SIZE > s->size) {
		damaged(s, err, "bad section count");
		goto fail;
	}
	{
		unsigned char zero[4] = {0};
		uint32_t crc = rag_crc32c(0, h, 28);
		crc = rag_crc32c(crc, zero, 4);
		crc = rag_crc32c(crc, h + 32, HEADER_SIZE - 32 + (size_t)nsec * SECTION_SIZE);
		if (crc != get32(h + 28)) {
			damaged(s, err, "header checksum mismatch");
			goto fail;
		}
	}
	uint64_t n = get64(h + 32), nterms = get64(h + 48);
	if (n >= UINT32_MAX || nterms >= UINT32_MAX) {
		damaged(s, err, "impossible record or term count");
		goto fail;
	}
	s->n = (uint32_t)n;
	s->nterms = (uint32_t)nterms;
	s->total_len = get64(h + 40);
	for (uint32_t i = 0; i < nsec; i++) {
		const unsigned char *e = h + HEADER_SIZE + (size_t)i * SECTION_SIZE;
		uint32_t kind = get32(e), flags = get32(e + 4);
		uint64_t off = get64(e + 8), len = get64(e + 16);
		if (off > s->size || len > s->size - off) {
			damaged(s, err, "a section lies outside the file");
			goto fail;
		}
		if (kind == SEC_FIELDS || kind == SEC_VECTORS || kind == SEC_GRAPH ||
		    kind == SEC_VCODES || kind == SEC_VRAW) {
			section *x = kind == SEC_FIELDS	   ? &s->fsec
				     : kind == SEC_VECTORS ? &s->vsec
				     : kind == SEC_GRAPH   ? &s->gsec
				     : kind == SEC_VCODES  ? &s->csec
							   : &s->rsec;
			if (x->present) {
				damaged(s, err, "a section appears twice");
				goto fail;
			}
			*x = (section){s->map + off, len, get32(e + 24), 1};
			continue;
		}
		if (kind == 0 || kind >= SEC_NKINDS) {
			if (flags & SEC_REQUIRED) {
				rag_error_set(err, RAG_EDATA, path, 0,
					      "segment has a section of kind %u that this ragkit does not know; a newer ragkit wrote it",
					      kind);
				goto fail;
			}
			continue;
		}
		if (s->sec[kind].present) {
			damaged(s, err, "a section appears twice");
			goto fail;
		}
		s->sec[kind].p = s->map + off;
		s->sec[kind].len = len;
		s->sec[kind].crc = get32(e + 24);
		s->sec[kind].present = 1;
	}
	for (int k = 1; k < SEC_NKINDS; k++)
		if (!s->sec[k].present) {
			rag_error_set(err, RAG_EDATA, path, 0,
				      "damaged segment: section %d is missing", k);
			goto fail;
		}
	if (check_size(s, SEC_RECOFF, 8 * (n + 1), err) < 0 ||
	    check_size(s, SEC_IDOFF, 4 * (n + 1), err) < 0 ||
	    check_size(s, SEC_DOCOFF, 4 * (n + 1), err) < 0 ||
	    check_size(s, SEC_IDS, 12 * n, err) < 0 ||
	    check_size(s, SEC_HASHES, 16 * n, err) < 0 ||
	    check_size(s, SEC_DOCLEN, 4 * n, err) < 0 ||
	    check_size(s, SEC_TERMS, 32 * nterms, err) < 0 ||
	    check_size(s, SEC_IDBLOOM, 64 * bloom_blocks(n), err) < 0 ||
	    check_size(s, SEC_TERMINDEX,
		       8 * ((nterms + RAG_SEG_TERM_STRIDE - 1) / RAG_SEG_TERM_STRIDE), err) < 0)
		goto fail;
	if (s->sec[SEC_DOCS].len % 12 || s->sec[SEC_DOCS].len > 12 * n) {
		damaged(s, err, "bad size of the document table");
		goto fail;
	}
	s->ndocs = (uint32_t)(s->sec[SEC_DOCS].len / 12);
	if (s->sec[SEC_RECBLOCKS].len % RB || s->sec[SEC_RECBLOCKS].len < RB) {
		damaged(s, err, "bad size of the record block table");
		goto fail;
	}
	s->nblocks = s->sec[SEC_RECBLOCKS].len / RB - 1;
	if (s->fsec.present && fields_open(s, err) < 0)
		goto fail;
	if ((s->vsec.present || s->gsec.present || s->csec.present || s->rsec.present) &&
	    vectors_open(s, err) < 0)
		goto fail;
	if (!(s->cache = calloc(1, sizeof *s->cache))) {
		rag_error_set(err, RAG_ENOMEM, path, 0, "out of memory");
		goto fail;
	}
	return s;
fail:
	if (fd >= 0)
		close(fd);
	rag_seg_close(s);
	return NULL;
}

void rag_seg_close(rag_seg *s)
{
	if (!s)
		return;
	if (s->map)
		munmap(s->map, s->size);
	if (s->cache)
		free(s->cache->buf);
	free(s->cache);
	free(s->cols);
	free(s->path);
	free(s);
}

const char *rag_seg_path(const rag_seg *s) { return s->path; }
uint32_t rag_seg_records(const rag_seg *s) { return s->n; }
uint64_t rag_seg_total_len(const rag_seg *s) { return s->total_len; }
uint64_t rag_seg_bytes(const rag_seg *s) { return s->size; }
uint32_t rag_seg_nterms(const rag_seg *s) { return s->nterms; }

/* The span of item i of a text section addressed by u32 offsets. */
static int span32(const rag_seg *s, int offk, int textk, uint32_t i,
		  const char **p, size_t *n, rag_error *err)
{
	const unsigned char *o = s->sec[offk].p + 4 * (size_t)i;
	uint32_t a, b;

	if (i >= s->n)
		return damaged(s, err, "record number out of range");
	a = get32(o);
	b = get32(o + 4);
	if (a > b || b > s->sec[textk].len)
		return damaged(s, err, "bad offset table");
	*p = (const char *)s->sec[textk].p + a;
	*n = b - a;
	return 0;
}

int rag_seg_record(const rag_seg *s, uint32_t i, const char **p, size_t *n,
		   rag_error *err)
{
	const unsigned char *bt = s->sec[SEC_RECBLOCKS].p;
	struct reccache *c = s->cache;
	size_t lo = 0, hi = s->nblocks;

	if (i >= s->n)
		return damaged(s, err, "record number out of range");
	const unsigned char *o = s->sec[SEC_RECOFF].p + 8 * (size_t)i;
	uint64_t a = get64(o), b = get64(o + 8);
	if (a > b)
		return damaged(s, err, "bad record offset");
	/* the last block that starts at or before the record */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (get64(bt + RB * mid + 8) <= a)
			lo = mid;
		else
			hi = mid;
	}
	if (lo >= s->nblocks)
		return damaged(s, err, "record outside the record blocks");
	uint64_t cs = get64(bt + RB * lo), ce = get64(bt + RB * lo + RB);
	uint64_t us = get64(bt + RB * lo + 8), ue = get64(bt + RB * lo + RB + 8);
	/* LZ4 cannot expand a block more than 255 times: a larger claim is damage */
	if (a < us || b > ue || us > ue || cs > ce || ce > s->sec[SEC_RECORDS].len ||
	    ue - us > INT32_MAX || ce - cs > INT32_MAX || ue - us > 255 * (ce - cs) + 64)
		return damaged(s, err, "bad record block");
	if (!c->valid || c->block != lo) {
		size_t usz = (size_t)(ue - us);
		if (usz + 1 > c->cap) {
			char *nb = realloc(c->buf, usz + 1);
			if (!nb)
				return rag_error_set(err, RAG_ENOMEM, s->path, 0, "out of memory");
			c->buf = nb;
			c->cap = usz + 1;
		}
		c->valid = 0;
		if (rag_crc32c(0, s->sec[SEC_RECORDS].p + cs, (size_t)(ce - cs)) !=
		    get32(bt + RB * lo + 16))
			return damaged(s, err, "checksum mismatch in a record block");
		if (LZ4_decompress_safe((const char *)s->sec[SEC_RECORDS].p + cs, c->buf,
					(int)(ce - cs), (int)usz) != (int)usz)
			return damaged(s, err, "a record block does not decompress");
		c->block = lo;
		c->valid = 1;
	}
	*p = c->buf + (a - us);
	*n = (size_t)(b - a);
	return 0;
}

int rag_seg_id(const rag_seg *s, uint32_t i, const char **p, size_t *n,
	       rag_error *err)
{
	return span32(s, SEC_IDOFF, SEC_IDTEXT, i, p, n, err);
}

int rag_seg_doc(const rag_seg *s, uint32_t i, const char **p, size_t *n,
		rag_error *err)
{
	return span32(s, SEC_DOCOFF, SEC_DOCTEXT, i, p, n, err);
}

const unsigned char *rag_seg_hash(const rag_seg *s, uint32_t i)
{
	return s->sec[SEC_HASHES].p + 16 * (size_t)i;
}

uint32_t rag_seg_doclen(const rag_seg *s, uint32_t i)
{
	return get32(s->sec[SEC_DOCLEN].p + 4 * (size_t)i);
}

int rag_seg_find(const rag_seg *s, int which, const char *key, size_t len,
		 int (*fn)(uint32_t docno, void *arg), void *arg, rag_error *err)
{
	return rag_seg_find_hash(s, which, key, len, rag_seg_keyhash(key, len), fn, arg, err);
}

int rag_seg_find_hash(const rag_seg *s, int which, const char *key, size_t len, uint64_t h,
		      int (*fn)(uint32_t docno, void *arg), void *arg, rag_error *err)
{
	const unsigned char *t = s->sec[which].p;
	size_t cnt = which == SEC_IDS ? s->n : s->ndocs, lo = 0, hi = cnt;

	if (which == SEC_IDS &&
	    !bloom_may_have(s->sec[SEC_IDBLOOM].p, s->sec[SEC_IDBLOOM].len / 64, h))
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (get64(t + 12 * mid) < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < cnt && get64(t + 12 * lo) == h; lo++) {
		uint32_t d = get32(t + 12 * lo + 8);
		const char *p;
		size_t n;
		if (d >= s->n)
			return damaged(s, err, "bad record number in a key table");
		if ((which == SEC_IDS ? rag_seg_id(s, d, &p, &n, err)
				      : rag_seg_doc(s, d, &p, &n, err)) < 0)
			return -1;
		if (n == len && memcmp(p, key, len) == 0) {
			int r = fn(d, arg);
			if (r)
				return r;
		}
	}
	return 0;
}

static void term_load(const unsigned char *e, rag_seg_term *t)
{
	t->post_off = get64(e);
	t->post_len = get32(e + 8);
	t->df = get32(e + 12);
	t->term_off = get32(e + 16);
	t->term_len = (uint16_t)(e[20] | e[21] << 8);
	t->reserved = 0;
	t->max_tf = get32(e + 24);
	t->min_dl = get32(e + 28);
}

int rag_seg_term_at(const rag_seg *s, uint32_t i, rag_seg_term *t,
		    const char **text, rag_error *err)
{
	if (i >= s->nterms)
		return damaged(s, err, "term number out of range");
	term_load(s->sec[SEC_TERMS].p + 32 * (size_t)i, t);
	if (t->term_off > s->sec[SEC_TERMTEXT].len ||
	    t->term_len > s->sec[SEC_TERMTEXT].len - t->term_off)
		return damaged(s, err, "bad term offset");
	*text = (const char *)s->sec[SEC_TERMTEXT].p + t->term_off;
	return 0;
}

/* The first eight bytes of a term, zero-padded, as a big-endian number. */
static inline uint64_t term_prefix(const char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < 8; i++)
		v = v << 8 | (i < n ? (unsigned char)p[i] : 0);
	return v;
}

int rag_seg_term_find(const rag_seg *s, const char *term, size_t len,
		      rag_seg_term *t, rag_error *err)
{
	const unsigned char *ix = s->sec[SEC_TERMINDEX].p;
	size_t nix = s->sec[SEC_TERMINDEX].len / 8, a = 0, b = nix;
	uint64_t kp = term_prefix(term, len);
	size_t lo, hi;

	/*
	 * The index narrows the search to the stretch between the last
	 * indexed term with a smaller prefix and the first with a larger one,
	 * so that a lookup touches a few pages, not a path across the whole
	 * dictionary.
	 */
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (get64be(ix + 8 * mid) < kp)
			a = mid + 1;
		else
			b = mid;
	}
	lo = a ? (a - 1) * RAG_SEG_TERM_STRIDE : 0;
	b = nix;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (get64be(ix + 8 * mid) <= kp)
			a = mid + 1;
		else
			b = mid;
	}
	hi = a < nix ? a * RAG_SEG_TERM_STRIDE : s->nterms;
	if (hi > s->nterms || lo > hi)
		return damaged(s, err, "bad term index");
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *p;
		if (rag_seg_term_at(s, (uint32_t)mid, t, &p, err) < 0)
			return -1;
		size_t m = t->term_len < len ? t->term_len : len;
		int c = memcmp(p, term, m);
		if (c == 0)
			c = t->term_len < len ? -1 : t->term_len > len;
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* ---- postings ---- */

static int post_damaged(rag_postings *c, rag_error *err)
{
	c->docno = RAG_POST_END;
	c->in_block = 0;
	c->block = c->nblocks;
	return rag_error_set(err, RAG_EDATA, c->seg->path, 0,
			     "damaged segment: bad postings");
}

static inline uint32_t block_last(const rag_postings *c, uint32_t b)
{
	return get32(c->dir + 16 * (size_t)b);
}

static int block_start(rag_postings *c, uint32_t b, rag_error *err)
{
	const unsigned char *h = c->dir + 16 * (size_t)b;
	uint32_t off = get32(h + 4);
	uint32_t end = b + 1 < c->nblocks ? get32(h + 16 + 4) : (uint32_t)c->data_len;

	if (off > end || end > c->data_len || get32(h) >= c->seg->n)
		return post_damaged(c, err);
	c->block = b;
	c->p = c->data + off;
	c->end = c->data + end;
	c->in_block = b + 1 < c->nblocks ? RAG_SEG_BLOCK : c->df - b * RAG_SEG_BLOCK;
	c->prev = b == 0 ? -1 : (int64_t)block_last(c, b - 1);
	return 0;
}

int rag_postings_open(rag_postings *c, const rag_seg *s, const rag_seg_term *t,
		      rag_error *err)
{
	const section *sec = &s->sec[SEC_POSTINGS];

	memset(c, 0, sizeof *c);
	c->seg = s;
	c->docno = RAG_POST_END;
	if (t->df == 0 || t->df > s->n || t->post_off > sec->len ||
	    t->post_len > sec->len - t->post_off)
		return post_damaged(c, err);
	c->df = t->df;
	c->nblocks = (t->df + RAG_SEG_BLOCK - 1) / RAG_SEG_BLOCK;
	if ((uint64_t)c->nblocks * 16 > t->post_len)
		return post_damaged(c, err);
	c->dir = sec->p + t->post_off;
	c->data = c->dir + 16 * (size_t)c->nblocks;
	c->data_len = t->post_len - 16 * (size_t)c->nblocks;
	if (block_start(c, 0, err) < 0)
		return -1;
	return rag_postings_next(c, err);
}

static inline int read_varint(const unsigned char **pp, const unsigned char *end,
			      uint64_t *v)
{
	const unsigned char *p = *pp;
	uint64_t x = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (p == end)
			return -1;
		unsigned char b = *p++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*pp = p;
			*v = x;
			return 0;
		}
	}
	return -1;
}

int rag_postings_next(rag_postings *c, rag_error *err)
{
	uint64_t g, tf = 1;

	if (c->in_block == 0) {
		if (c->block + 1 >= c->nblocks) {
			c->docno = RAG_POST_END;
			return 0;
		}
		if (block_start(c, c->block + 1, err) < 0)
			return -1;
	}
	if (read_varint(&c->p, c->end, &g) < 0)
		return post_damaged(c, err);
	if (!(g & 1) && (read_varint(&c->p, c->end, &tf) < 0 || tf < 2 || tf > UINT32_MAX))
		return post_damaged(c, err);
	g >>= 1;
	uint32_t last = block_last(c, c->block);
	if (g > (uint64_t)last || (int64_t)g > (int64_t)last - c->prev - 1)
		return post_damaged(c, err);
	c->docno = (uint32_t)(c->prev + 1 + (int64_t)g);
	c->prev = c->docno;
	c->tf = (uint32_t)tf;
	c->in_block--;
	if (c->in_block == 0 && c->docno != last)
		return post_damaged(c, err);
	return 0;
}

int rag_postings_advance(rag_postings *c, uint32_t target, rag_error *err)
{
	if (c->docno == RAG_POST_END || c->docno >= target)
		return 0;
	if (block_last(c, c->block) < target) {
		uint32_t b = c->block + 1;
		while (b < c->nblocks && block_last(c, b) < target)
			b++;
		if (b >= c->nblocks) {
			c->docno = RAG_POST_END;
			c->in_block = 0;
			c->block = c->nblocks ? c->nblocks - 1 : 0;
			return 0;
		}
		if (block_start(c, b, err) < 0)
			return -1;
	}
	do {
		if (rag_postings_next(c, err) < 0)
			return -1;
	} while (c->docno < target);
	return 0;
}

void rag_postings_block(const rag_postings *c, rag_seg_block *b)
{
	const unsigned char *h = c->dir + 16 * (size_t)c->block;

	b->last = get32(h);
	b->off = get32(h + 4);
	b->max_tf = get32(h + 8);
	b->min_dl = get32(h + 12);
}

/* ---- the file writer ---- */

typedef struct fw {
	int fd;
	const char *path;
	rag_error *err;
	rag_buf buf;
	uint64_t off; /* bytes written so far, buffered ones included */
	uint32_t crc;
	uint64_t start;
	int nsec;
	struct {
		uint32_t kind;
		uint64_t off, len;
		uint32_t crc;
	} sec[SEC_NKINDS + 4]; /* kinds 1 to 16, and 17 to 21 */
	int failed;
	uint64_t kicked; /* bytes handed to the disk ahead of the fsync */
} fw;

/*
 * Once a stretch of the file is written, the kernel is asked to start
 * writing it to the disk (Linux), so that the fsync at the end has less
 * left to wait for.  Best effort: it changes no outcome.
 */
#define FW_KICK ((uint64_t)1 << 19)

static void fw_kick(fw *w)
{
#ifdef SYNC_FILE_RANGE_WRITE
	if (w->off - w->kicked >= FW_KICK) {
		sync_file_range(w->fd, (off_t)w->kicked, (off_t)(w->off - w->kicked),
				SYNC_FILE_RANGE_WRITE);
		w->kicked = w->off;
	}
#else
	(void)w;
#endif
}

#define FW_FLUSH (1u << 16) /* small enough to stay in the cache */
#define FW_RESERVED (HEADER_SIZE + (SEC_NKINDS + 4) * SECTION_SIZE) /* every section */

static int fw_fail(fw *w, int errnum, const char *what)
{
	if (!w->failed)
		rag_error_sys(w->err, errnum, w->path, "%s", what);
	w->failed = 1;
	return -1;
}

static int fw_flush(fw *w)
{
	size_t done = 0;

	if (w->failed)
		return -1;
	while (done < w->buf.len) {
		ssize_t k = write(w->fd, w->buf.data + done, w->buf.len - done);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return fw_fail(w, errno, "cannot write segment");
		}
		done += (size_t)k;
	}
	rag_buf_truncate(&w->buf, 0);
	fw_kick(w);
	return 0;
}

static int fw_raw(fw *w, const void *p, size_t n)
{
	if (w->failed)
		return -1;
	if (w->buf.len + n > FW_FLUSH && fw_flush(w) < 0)
		return -1;
	if (n >= FW_FLUSH) {
		/* a big piece goes straight to the file */
		for (const char *c = p; n;) {
			ssize_t k = write(w->fd, c, n);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return fw_fail(w, errno, "cannot write segment");
			c += k;
			n -= (size_t)k;
			w->off += (uint64_t)k;
		}
		fw_kick(w);
		return 0;
	}
	memcpy(w->buf.data + w->buf.len, p, n);
	w->buf.len += n;
	w->off += n;
	return 0;
}

static int fw_open(fw *w, const char *path, rag_error *err)
{
	static const unsigned char zero[FW_RESERVED];

	memset(w, 0, sizeof *w);
	w->path = path;
	w->err = err;
	rag_buf_init(&w->buf, 0);
	if (rag_buf_grow(&w->buf, FW_FLUSH) < 0)
		return rag_error_set(err, RAG_ENOMEM, path, 0, "out of memory");
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		rag_buf_free(&w->buf);
		return rag_error_sys(err, errno, path, "cannot create segment");
	}
	return fw_raw(w, zero, sizeof zero);
}

/* Starts a section of kind at the next multiple of align (8 or 64). */
static int fw_begin_at(fw *w, uint32_t kind, unsigned align)
{
	static const unsigned char zero[64];

	if (w->off % align && fw_raw(w, zero, align - w->off % align) < 0)
		return -1;
	w->start = w->off;
	w->crc = 0;
	w->sec[w->nsec].kind = kind;
	return 0;
}

static int fw_begin(fw *w, uint32_t kind)
{
	return fw_begin_at(w, kind, 8);
}

static int fw_put(fw *w, const void *p, size_t n)
{
	w->crc = rag_crc32c(w->crc, p, n);
	return fw_raw(w, p, n);
}

/* A buffer's bytes (none when it never had any). */
static int fw_put_buf(fw *w, const rag_buf *b)
{
	return b->len ? fw_put(w, b->data, b->len) : 0;
}

static int fw_put32(fw *w, uint32_t v)
{
	unsigned char b[4];

	put32(b, v);
	return fw_put(w, b, 4);
}

static int fw_put64(fw *w, uint64_t v)
{
	unsigned char b[8];

	put64(b, v);
	return fw_put(w, b, 8);
}

static void fw_end(fw *w)
{
	w->sec[w->nsec].off = w->start;
	w->sec[w->nsec].len = w->off - w->start;
	w->sec[w->nsec].crc = w->crc;
	w->nsec++;
}

/* Writes the header and the section table, fsyncs (unless told not to) and closes. */
static int fw_finish(fw *w, uint64_t n, uint64_t total_len, uint64_t nterms, int sync)
{
	unsigned char h[FW_RESERVED];
	size_t hsize = HEADER_SIZE + (size_t)w->nsec * SECTION_SIZE;

	if (fw_flush(w) < 0)
		return -1;
	memset(h, 0, sizeof h);
	memcpy(h, SEG_MAGIC, 8);
	put32(h + 8, RAG_SEG_VERSION);
	put32(h + 12, ENDIAN_MARK);
	put64(h + 16, w->off);
	put32(h + 24, (uint32_t)w->nsec);
	put64(h + 32, n);
	put64(h + 40, total_len);
	put64(h + 48, nterms);
	for (int i = 0; i < w->nsec; i++) {
		unsigned char *e = h + HEADER_SIZE + (size_t)i * SECTION_SIZE;
		put32(e, w->sec[i].kind);
		/* a reader that does not know the field index can do without it */
		put32(e + 4, w->sec[i].kind == SEC_FIELDS ? 0 : SEC_REQUIRED);
		put64(e + 8, w->sec[i].off);
		put64(e + 16, w->sec[i].len);
		put32(e + 24, w->sec[i].crc);
	}
	put32(h + 28, rag_crc32c(0, h, hsize));
	if (pwrite(w->fd, h, hsize, 0) != (ssize_t)hsize)
		return fw_fail(w, errno ? errno : EIO, "cannot write segment");
	if (sync && fsync(w->fd) < 0)
		return fw_fail(w, errno, "cannot sync segment");
	if (close(w->fd) < 0) {
		w->fd = -1;
		return fw_fail(w, errno, "cannot write segment");
	}
	w->fd = -1;
	rag_buf_free(&w->buf);
	return 0;
}

int rag_file_sync(const char *path, const char *what, rag_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return rag_error_sys(err, e, path, "cannot sync %s", what);
	}
	close(fd);
	return 0;
}

/* Gives up: closes and removes the file. */
static void fw_abort(fw *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		unlink(w->path);
	}
	w->fd = -1;
	rag_buf_free(&w->buf);
}

/* ---- the parts every writer shares ---- */

/*
 * Records gathered into blocks of whole records, as many as fit in
 * REC_BLOCK bytes (or one larger alone), and compressed straight into
 * the file: a merge's.  A batch's blocks are its job's (rag_segjob).
 */
typedef struct blockw {
	rag_buf stage, comp;
	rag_buf table; /* the SEC_RECBLOCKS entries so far */
	uint64_t coff, uoff;
} blockw;

/* 0, or -1 with errno set. */
static int blockw_flush(fw *w, blockw *b)
{
	unsigned char e[RB];
	size_t len = b->stage.len;
	int bound, k;

	if (!len)
		return 0;
	if (len > INT32_MAX / 2) {
		errno = EFBIG;
		return -1;
	}
	bound = LZ4_compressBound((int)len);
	rag_buf_truncate(&b->comp, 0);
	if (rag_buf_grow(&b->comp, (size_t)bound) < 0)
		return -1;
	k = LZ4_compress_default(b->stage.data, b->comp.data, (int)len, bound);
	if (k <= 0) {
		errno = EIO;
		return -1;
	}
	put_rb(e, b->coff, b->uoff, rag_crc32c(0, b->comp.data, (size_t)k));
	if (rag_buf_add(&b->table, e, RB) < 0)
		return -1;
	b->coff += (uint64_t)k;
	b->uoff += len;
	rag_buf_truncate(&b->stage, 0);
	return fw_put(w, b->comp.data, (size_t)k);
}

/* Adds one whole record; a block never splits one.  0, or -1 with errno. */
static int blockw_record(fw *w, blockw *b, const char *p, size_t n)
{
	if (b->stage.len && b->stage.len + n > REC_BLOCK && blockw_flush(w, b) < 0)
		return -1;
	if (rag_buf_add(&b->stage, p, n) < 0)
		return -1;
	return b->stage.len >= REC_BLOCK ? blockw_flush(w, b) : 0;
}

/* Ends the blocks with the table's last entry.  0, or -1 with errno. */
static int blockw_finish(fw *w, blockw *b)
{
	unsigned char e[RB];

	if (blockw_flush(w, b) < 0)
		return -1;
	put_rb(e, b->coff, b->uoff, 0);
	return rag_buf_add(&b->table, e, RB);
}

static void blockw_init(blockw *b)
{
	memset(b, 0, sizeof *b);
	rag_buf_init(&b->stage, 0);
	rag_buf_init(&b->comp, 0);
	rag_buf_init(&b->table, 0);
}

static void blockw_free(blockw *b)
{
	rag_buf_free(&b->stage);
	rag_buf_free(&b->comp);
	rag_buf_free(&b->table);
}

/* A record as a writer sees it. */
typedef struct recview {
	const char *json, *id, *doc;
	size_t json_len, id_len, doc_len;
	const unsigned char *hash;
	uint32_t doclen;
} recview;

typedef int (*rec_get)(void *ctx, uint32_t i, recview *v, rag_error *err);

/*
 * The records of a batch as the builder holds them: on a little-endian
 * machine its arrays are already in the file's format, and each section
 * is written in one piece.
 */
typedef struct bulk {
	const char *json, *ids, *docs;
	const uint64_t *recoff;
	const uint32_t *idoff, *docoff;
	const unsigned char *hashes;
} bulk;


typedef struct keyent {
	uint64_t hash;
	uint32_t docno;
} keyent;

static int keyent_cmp(const void *a, const void *b)
{
	const keyent *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->docno < y->docno ? -1 : x->docno > y->docno;
}

/*
 * Writes every section but the index (records, ids, documents, hashes,
 * lengths) for n records taken from get; fills dl[0..n) with the lengths
 * (unless dl is NULL) and *total with their sum.  With defer, the records
 * themselves are left to the caller.
 */
static int write_records(fw *w, uint32_t n, rec_get get, void *ctx, const bulk *bk,
			 int defer, uint32_t *dl, uint64_t *total, rag_error *err)
{
	keyent *keys = NULL;
	uint32_t nkeys;
	recview v;
	uint64_t off;
	blockw blk;
	int rc = -1;

	blockw_init(&blk);

#define PASS(kind, body)                                  \
	do {                                              \
		if (fw_begin(w, kind) < 0)                \
			goto out;                         \
		for (uint32_t i = 0; i < n; i++) {        \
			if (get(ctx, i, &v, err) < 0)     \
				goto out;                 \
			body;                             \
		}                                         \
	} while (0)

	*total = 0;
	/* the records, in blocks, unless they come later from elsewhere */
	if (!defer) {
		if (fw_begin(w, SEC_RECORDS) < 0)
			goto out;
		for (uint32_t i = 0; i < n; i++) {
			if (bk) {
				v.json = bk->json + bk->recoff[i];
				v.json_len = bk->recoff[i + 1] - bk->recoff[i];
			} else if (get(ctx, i, &v, err) < 0) {
				goto out;
			}
			if (blockw_record(w, &blk, v.json, v.json_len) < 0) {
				fw_fail(w, errno, "cannot write segment");
				goto out;
			}
		}
		if (blockw_finish(w, &blk) < 0) {
			fw_fail(w, errno, "cannot write segment");
			goto out;
		}
		fw_end(w);
		if (fw_begin(w, SEC_RECBLOCKS) < 0 ||
		    fw_put(w, blk.table.data, blk.table.len) < 0)
			goto out;
		fw_end(w);
	}
	if (bk) {
		if (fw_begin(w, SEC_RECOFF) < 0 ||
		    fw_put(w, bk->recoff, 8 * ((size_t)n + 1)) < 0)
			goto out;
		fw_end(w);
		if (fw_begin(w, SEC_IDTEXT) < 0 || fw_put(w, bk->ids, bk->idoff[n]) < 0)
			goto out;
		fw_end(w);
		if (fw_begin(w, SEC_IDOFF) < 0 || fw_put(w, bk->idoff, 4 * ((size_t)n + 1)) < 0)
			goto out;
		fw_end(w);
	} else {
		off = 0;
		PASS(SEC_RECOFF, if (fw_put64(w, off) < 0) goto out; off += v.json_len);
		if (fw_put64(w, off) < 0)
			goto out;
		fw_end(w);
		PASS(SEC_IDTEXT, if (fw_put(w, v.id, v.id_len) < 0) goto out);
		fw_end(w);
		off = 0;
		PASS(SEC_IDOFF,
		     if (off > UINT32_MAX || fw_put32(w, (uint32_t)off) < 0) goto toobig;
		     off += v.id_len);
		if (off > UINT32_MAX || fw_put32(w, (uint32_t)off) < 0)
			goto toobig;
		fw_end(w);
	}

	keys = malloc(((size_t)n + 1) * sizeof *keys);
	if (!keys) {
		rag_error_set(err, RAG_ENOMEM, w->path, 0, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (get(ctx, i, &v, err) < 0)
			goto out;
		keys[i].hash = rag_seg_keyhash(v.id, v.id_len);
		keys[i].docno = i;
	}
	qsort(keys, n, sizeof *keys, keyent_cmp);
	if (fw_begin(w, SEC_IDS) < 0)
		goto out;
	for (uint32_t i = 0; i < n; i++)
		if (fw_put64(w, keys[i].hash) < 0 || fw_put32(w, keys[i].docno) < 0)
			goto out;
	fw_end(w);
	{
		uint64_t nb = bloom_blocks(n);
		unsigned char *f = rag_zalloc(nb, 64);
		if (!f) {
			rag_error_set(err, RAG_ENOMEM, w->path, 0, "out of memory");
			goto out;
		}
		for (uint32_t i = 0; i < n; i++)
			bloom_add(f, nb, keys[i].hash);
		if (fw_begin(w, SEC_IDBLOOM) < 0 || fw_put(w, f, 64 * nb) < 0) {
			free(f);
			goto out;
		}
		free(f);
		fw_end(w);
	}

	if (bk) {
		if (fw_begin(w, SEC_DOCTEXT) < 0 || fw_put(w, bk->docs, bk->docoff[n]) < 0)
			goto out;
		fw_end(w);
		if (fw_begin(w, SEC_DOCOFF) < 0 || fw_put(w, bk->docoff, 4 * ((size_t)n + 1)) < 0)
			goto out;
		fw_end(w);
	} else {
		PASS(SEC_DOCTEXT, if (fw_put(w, v.doc, v.doc_len) < 0) goto out);
		fw_end(w);
		off = 0;
		PASS(SEC_DOCOFF,
		     if (off > UINT32_MAX || fw_put32(w, (uint32_t)off) < 0) goto toobig;
		     off += v.doc_len);
		if (off > UINT32_MAX || fw_put32(w, (uint32_t)off) < 0)
			goto toobig;
		fw_end(w);
	}
	nkeys = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (get(ctx, i, &v, err) < 0)
			goto out;
		if (v.doc_len) {
			keys[nkeys].hash = rag_seg_keyhash(v.doc, v.doc_len);
			keys[nkeys++].docno = i;
		}
	}
	qsort(keys, nkeys, sizeof *keys, keyent_cmp);
	if (fw_begin(w, SEC_DOCS) < 0)
		goto out;
	for (uint32_t i = 0; i < nkeys; i++)
		if (fw_put64(w, keys[i].hash) < 0 || fw_put32(w, keys[i].docno) < 0)
			goto out;
	fw_end(w);

	if (bk) {
		if (fw_begin(w, SEC_HASHES) < 0 || fw_put(w, bk->hashes, 16 * (size_t)n) < 0)
			goto out;
	} else {
		PASS(SEC_HASHES, if (fw_put(w, v.hash, 16) < 0) goto out);
	}
	fw_end(w);
	PASS(SEC_DOCLEN, if (fw_put32(w, v.doclen) < 0) goto out; if (dl) dl[i] = v.doclen;
	     *total += v.doclen);
	fw_end(w);
	rc = 0;
	goto out;
toobig:
	rag_error_set(err, RAG_ENOMEM, w->path, 0, "segment too large: over 4 GiB of ids");
out:
#undef PASS
	free(keys);
	blockw_free(&blk);
	return rc;
}

/* Where a term's dictionary entries and text gather while postings are written. */
typedef struct termacc {
	rag_buf entries; /* 32-byte rag_seg_term entries, as stored */
	rag_buf text;
	rag_buf post;    /* one term's encoded postings */
	rag_buf *mem;    /* when set, where the postings go instead of the file (and no index) */
	rag_buf index;   /* the prefix of every RAG_SEG_TERM_STRIDE-th term */
	const char *path; /* the segment's, for messages */
	uint64_t post_off;
	uint32_t nterms;
} termacc;

/* The longest encoded posting: a gap with its tf bit (35 bits), a tf (32 bits). */
#define POSTING_MAX 10

/*
 * Writes one posting as the postings section holds it: a varint of the
 * docno gap shifted left with a low bit for tf 1, then the tf when it is
 * not 1.  Returns the end of what it wrote (at most POSTING_MAX bytes).
 */
static unsigned char *put_posting(unsigned char *v, uint32_t gap, uint32_t tf)
{
	uint64_t g = (uint64_t)gap << 1 | (tf == 1);

	do {
		*v++ = (unsigned char)(g & 0x7f) | (g > 0x7f ? 0x80 : 0);
		g >>= 7;
	} while (g);
	if (tf != 1) {
		do {
			*v++ = (unsigned char)(tf & 0x7f) | (tf > 0x7f ? 0x80 : 0);
			tf >>= 7;
		} while (tf);
	}
	return v;
}

/*
 * Encodes one term's postings (docs ascending) into the postings section
 * and adds its dictionary entry.
 */
static int add_term(fw *w, termacc *acc, const char *term, size_t len,
		    const uint32_t *docs, const uint32_t *tfs, size_t m,
		    const uint32_t *dl, rag_error *err)
{
	size_t nb = (m + RAG_SEG_BLOCK - 1) / RAG_SEG_BLOCK;
	uint32_t max_tf = 0, min_dl = UINT32_MAX;
	rag_buf *b = acc->mem ? acc->mem : &acc->post;
	size_t base = acc->mem ? b->len : 0; /* where the term's postings start in b */
	unsigned char e[32];
	int64_t prev = -1;

	if (!acc->mem)
		rag_buf_truncate(b, 0);
	if (rag_buf_grow(b, 16 * nb + POSTING_MAX * m) < 0)
		goto nomem;
	memset(b->data + base, 0, 16 * nb);
	b->len = base + 16 * nb;
	for (size_t blk = 0; blk < nb; blk++) {
		size_t a = blk * RAG_SEG_BLOCK, z = a + RAG_SEG_BLOCK < m ? a + RAG_SEG_BLOCK : m;
		uint32_t bmax = 0, bmin = UINT32_MAX;
		unsigned char *h, *v = (unsigned char *)b->data + b->len;
		size_t start = b->len - base - 16 * nb;
		for (size_t i = a; i < z; i++) {
			v = put_posting(v, (uint32_t)((int64_t)docs[i] - prev - 1), tfs[i]);
			prev = docs[i];
			if (tfs[i] > bmax)
				bmax = tfs[i];
			if (dl[docs[i]] < bmin)
				bmin = dl[docs[i]];
		}
		b->len = (size_t)(v - (unsigned char *)b->data);
		h = (unsigned char *)b->data + base + 16 * blk;
		put32(h, docs[z - 1]);
		put32(h + 4, (uint32_t)start);
		put32(h + 8, bmax);
		put32(h + 12, bmin);
		if (bmax > max_tf)
			max_tf = bmax;
		if (bmin < min_dl)
			min_dl = bmin;
	}
	if (b->len - base > UINT32_MAX)
		return rag_error_set(err, RAG_ENOMEM, acc->path, 0,
				     "segment too large: a term has over 4 GiB of postings");
	put64(e, acc->post_off);
	put32(e + 8, (uint32_t)(b->len - base));
	put32(e + 12, (uint32_t)m);
	put32(e + 16, (uint32_t)acc->text.len);
	e[20] = (unsigned char)len;
	e[21] = (unsigned char)(len >> 8);
	e[22] = e[23] = 0;
	put32(e + 24, max_tf);
	put32(e + 28, min_dl);
	if (acc->text.len + len > UINT32_MAX)
		return rag_error_set(err, RAG_ENOMEM, acc->path, 0,
				     "segment too large: over 4 GiB of terms");
	if (rag_buf_add(&acc->entries, e, 32) < 0 || rag_buf_add(&acc->text, term, len) < 0)
		goto nomem;
	if (!acc->mem && acc->nterms % RAG_SEG_TERM_STRIDE == 0) {
		unsigned char pb[8];
		put64be(pb, term_prefix(term, len));
		if (rag_buf_add(&acc->index, pb, 8) < 0)
			goto nomem;
	}
	acc->post_off += b->len - base;
	acc->nterms++;
	return acc->mem ? 0 : fw_put(w, b->data, b->len);
nomem:
	return rag_error_set(err, RAG_ENOMEM, acc->path, 0, "out of memory");
}

static void termacc_init(termacc *a)
{
	memset(a, 0, sizeof *a);
	rag_buf_init(&a->entries, 0);
	rag_buf_init(&a->text, 0);
	rag_buf_init(&a->post, 0);
	rag_buf_init(&a->index, 0);
}

static void termacc_free(termacc *a)
{
	rag_buf_free(&a->entries);
	rag_buf_free(&a->text);
	rag_buf_free(&a->post);
	rag_buf_free(&a->index);
}

/* Ends the postings section and writes the term text and dictionary. */
static int finish_terms(fw *w, termacc *acc)
{
	fw_end(w);
	if (fw_begin(w, SEC_TERMTEXT) < 0 || fw_put(w, acc->text.data, acc->text.len) < 0)
		return -1;
	fw_end(w);
	if (fw_begin(w, SEC_TERMS) < 0 || fw_put(w, acc->entries.data, acc->entries.len) < 0)
		return -1;
	fw_end(w);
	if (fw_begin(w, SEC_TERMINDEX) < 0 || fw_put(w, acc->index.data, acc->index.len) < 0)
		return -1;
	fw_end(w);
	return 0;
}

/* ---- indexed fields, written ---- */

/* The values of one indexed field, as records give them. */
typedef struct colw {
	char *name;
	rag_buf ents; /* {u32 docno, u32 offset, u32 length} into text */
	rag_buf text;
} colw;

static void colw_free(colw *c, size_t n)
{
	if (!c)
		return;
	for (size_t i = 0; i < n; i++) {
		free(c[i].name);
		rag_buf_free(&c[i].ents);
		rag_buf_free(&c[i].text);
	}
	free(c);
}

static colw *colw_new(const char *const *names, size_t n)
{
	colw *c = calloc(n + 1, sizeof *c);

	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		rag_buf_init(&c[i].ents, 0);
		rag_buf_init(&c[i].text, 0);
		if (!(c[i].name = strdup(names[i]))) {
			colw_free(c, n);
			return NULL;
		}
	}
	return c;
}

static int colw_add(colw *c, uint32_t docno, const char *text, size_t len)
{
	unsigned char e[12];

	if (c->text.len > UINT32_MAX - len)
		return -1;
	put32(e, docno);
	put32(e + 4, (uint32_t)c->text.len);
	put32(e + 8, (uint32_t)len);
	return rag_buf_add(&c->ents, e, sizeof e) < 0 || rag_buf_add(&c->text, text, len) < 0 ? -1
												  : 0;
}

typedef struct fval {
	const char *p;
	uint32_t len, docno;
} fval;

static int fval_cmp(const void *a, const void *b)
{
	const fval *x = a, *y = b;
	size_t m = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, m);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return (x->docno > y->docno) - (x->docno < y->docno);
}

/* Whether v[k] starts a value: the first, or other bytes than v[k - 1]. */
static int new_value(const fval *v, size_t k)
{
	return k == 0 || v[k].len != v[k - 1].len || memcmp(v[k].p, v[k - 1].p, v[k].len) != 0;
}

/*
 * Writes SEC_FIELDS for fields c[0..n), the records renumbered by newno
 * (UINT32_MAX: left out; NULL: as they are).  Nothing when n is 0.
 */
static int write_fields(fw *f, const colw *c, size_t n, const uint32_t *newno, rag_error *err)
{
	static const unsigned char zero[4];
	fval *v = NULL;
	size_t cap = 0;

	if (!n)
		return 0;
	if (fw_begin(f, SEC_FIELDS) < 0 || fw_put32(f, (uint32_t)n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t ne = c[i].ents.len / 12, m = 0, nv = 0, nl = strlen(c[i].name);
		uint32_t off = 0;
		if (ne > cap) {
			free(v);
			cap = ne;
			if (!(v = malloc(cap * sizeof *v)))
				goto nomem;
		}
		for (size_t k = 0; k < ne; k++) {
			const unsigned char *e = (const unsigned char *)c[i].ents.data + 12 * k;
			uint32_t d = get32(e);
			if (newno && (d = newno[d]) == UINT32_MAX)
				continue;
			v[m++] = (fval){c[i].text.data + get32(e + 4), get32(e + 8), d};
		}
		if (m)
			qsort(v, m, sizeof *v, fval_cmp);
		for (size_t k = 0; k < m; k++)
			nv += new_value(v, k);
		if (fw_put32(f, (uint32_t)nl) < 0 || fw_put(f, c[i].name, nl) < 0 ||
		    fw_put(f, zero, (4 - nl % 4) % 4) < 0 || fw_put32(f, (uint32_t)nv) < 0 ||
		    fw_put32(f, (uint32_t)m) < 0)
			goto fail;
		/* value text offsets, then record list offsets, then docnos, then texts */
		for (size_t k = 0; k <= m; k++)
			if (k == m || new_value(v, k)) {
				if (fw_put32(f, off) < 0)
					goto fail;
				if (k < m)
					off += v[k].len;
			}
		for (size_t k = 0; k <= m; k++)
			if ((k == m || new_value(v, k)) && fw_put32(f, (uint32_t)k) < 0)
					goto fail;
		for (size_t k = 0; k < m; k++)
			if (fw_put32(f, v[k].docno) < 0)
				goto fail;
		for (size_t k = 0; k < m; k++)
			if (new_value(v, k) && fw_put(f, v[k].p, v[k].len) < 0)
				goto fail;
		if (fw_put(f, zero, (4 - off % 4) % 4) < 0)
			goto fail;
	}
	free(v);
	fw_end(f);
	return 0;
nomem:
	rag_error_set(err, RAG_ENOMEM, f->path, 0, "out of memory");
fail:
	free(v);
	return -1;
}

/* ---- the batch builder ---- */

/*
 * A batch's postings are kept compressed while it fills: each term has a
 * chain of slices in a pool of large blocks, and its postings are written
 * there as they will be on disk (a varint of the docno gap and a bit for
 * tf 1, then the tf if not 1).  A slice's last four bytes hold the pool
 * offset of the next slice; slices grow from 16 bytes to 4 KiB, so a rare
 * term wastes little and a common one jumps rarely.  The posting of the
 * record a term was last seen in stays in the term until the next record
 * (its tf may still grow).
 */
#define POOL_BLOCK (1u << 18)
#define SLICE_MIN 16u
#define SLICE_LEVELS 9 /* 16 << 8 = 4 KiB */

static size_t slice_size(unsigned level)
{
	return (size_t)SLICE_MIN << (level < SLICE_LEVELS ? level : SLICE_LEVELS - 1);
}

typedef struct wterm {
	uint32_t last_doc; /* the pending posting: its docno (UINT32_MAX: none) */
	uint32_t tf;       /* and its tf */
	uint32_t next_doc; /* one past the docno last written to the slices */
	uint32_t head;     /* pool offset of the first slice */
	uint32_t at, end;  /* where the next byte goes; the current slice's link */
	uint32_t level;    /* of the current slice */
} wterm;

/* ---- vectors and their graph ---- */

/* A float's bits, for writing it little-endian. */
static uint32_t fbits(float x)
{
	uint32_t u;

	memcpy(&u, &x, 4);
	return u;
}

static const char *metric_name(int metric)
{
	return metric == RAG_METRIC_L2 ? "l2" : metric == RAG_METRIC_IP ? "ip" : "cosine";
}

typedef struct pairctx {
	const float *rows;
	size_t dim;
	int metric;
	const rag_vec_kernels *k;
} pairctx;

/* The distance between rows a and b: smaller is nearer, for every metric. */
static float pair_dist(void *arg, uint32_t a, uint32_t b)
{
	const pairctx *c = arg;
	const float *x = c->rows + (size_t)a * c->dim, *y = c->rows + (size_t)b * c->dim;

	switch (c->metric) {
	case RAG_METRIC_L2:
		return c->k->l2sq(x, y, c->dim);
	case RAG_METRIC_IP:
		return -c->k->dot(x, y, c->dim);
	default:
		return 1.0f - c->k->dot(x, y, c->dim);
	}
}

/* Writes SEC_VCODES: the rows in float16 or uint8, per vo->quant.  0, or -1 with err set. */
static int write_codes(fw *f, const float *rows, uint32_t count, const rag_seg_vecopts *vo,
		       rag_error *err)
{
	static const unsigned char zero[64];
	const size_t dim = vo->dim;
	int u8 = vo->quant == 2; /* RAG_QUANT_INT8; 1 is RAG_QUANT_F16 */
	size_t stride = ((u8 ? dim : 2 * dim) + 63) / 64 * 64;
	uint64_t lo = u8 ? VEC_HEADER : 0, sc = u8 ? lo + 4 * dim : 0;
	uint64_t nm = u8 ? sc + 4 * dim : VEC_HEADER, co = (nm + 4 * (uint64_t)count + 63) / 64 * 64;
	float *lov = NULL, *scv = NULL, *x = malloc(dim * sizeof *x + 1);
	unsigned char *code = calloc(1, stride), h[VEC_HEADER] = {0};
	int rc = -1;

	if (!x || !code || (u8 && (!(lov = malloc(dim * sizeof *lov))) ) ||
	    (u8 && !(scv = malloc(dim * sizeof *scv)))) {
		rag_error_set(err, RAG_ENOMEM, f->path, 0, "out of memory");
		goto out;
	}
	put32(h, u8 ? CODES_U8 : CODES_F16);
	put32(h + 4, (uint32_t)dim);
	put32(h + 8, count);
	put64(h + 16, stride);
	put64(h + 24, lo);
	put64(h + 32, sc);
	put64(h + 40, nm);
	put64(h + 48, co);
	if (fw_begin_at(f, SEC_VCODES, 64) < 0 || fw_put(f, h, sizeof h) < 0)
		goto out;
	if (u8) {
		rag_vec_u8_train(rows, count, dim, dim, lov, scv);
		for (size_t i = 0; i < dim; i++)
			if (fw_put32(f, fbits(lov[i])) < 0)
				goto out;
		for (size_t i = 0; i < dim; i++)
			if (fw_put32(f, fbits(scv[i])) < 0)
				goto out;
	}
	/* each decoded row's squared length, then the codes */
	for (uint32_t r = 0; r < count; r++) {
		const float *v = rows + (size_t)r * dim;
		float n2 = 0;
		if (u8) {
			rag_vec_u8_encode(v, dim, lov, scv, code);
			rag_vec_u8_decode(code, dim, lov, scv, x);
		} else {
			for (size_t i = 0; i < dim; i++)
				x[i] = rag_f16_to_f32(rag_f32_to_f16(v[i]));
		}
		for (size_t i = 0; i < dim; i++)
			n2 += x[i] * x[i];
		if (fw_put32(f, fbits(n2)) < 0)
			goto out;
	}
	if (fw_put(f, zero, (size_t)(co - nm - 4 * (uint64_t)count)) < 0)
		goto out;
	for (uint32_t r = 0; r < count; r++) {
		const float *v = rows + (size_t)r * dim;
		if (u8) {
			rag_vec_u8_encode(v, dim, lov, scv, code);
		} else {
			for (size_t i = 0; i < dim; i++)
				put16(code + 2 * i, rag_f32_to_f16(v[i]));
		}
		if (fw_put(f, code, stride) < 0)
			goto out;
	}
	fw_end(f);
	rc = 0;
out:
	free(lov);
	free(scv);
	free(x);
	free(code);
	return rc;
}

/*
 * Writes SEC_VECTORS for count rows (row i of record rowdoc[i]) and, when
 * there are any, SEC_GRAPH.  0, or -1 with err set.
 */
static int put_floats(fw *f, const float *v, size_t n)
{
	if (HOST_LE)
		return fw_put(f, v, n * sizeof *v);
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		if (fw_put32(f, u) < 0)
			return -1;
	}
	return 0;
}

static int write_vectors(fw *f, const float *rows, const float *raws, const uint32_t *rowdoc,
			 uint32_t count, const rag_seg_vecopts *vo, rag_error *err)
{
	static const unsigned char zero[64];
	unsigned char h[VEC_HEADER] = {0};
	uint64_t rows_off = (VEC_HEADER + 4 * (uint64_t)count + 63) / 64 * 64;
	rag_buf g;
	int rc = -1;

	put32(h, vo->dim);
	put32(h + 4, (uint32_t)vo->metric);
	put32(h + 8, count);
	put64(h + 16, rows_off);
	if (fw_begin_at(f, SEC_VECTORS, 64) < 0 || fw_put(f, h, sizeof h) < 0)
		return -1;
	for (uint32_t i = 0; i < count; i++)
		if (fw_put32(f, rowdoc[i]) < 0)
			return -1;
	if (fw_put(f, zero, (size_t)(rows_off - VEC_HEADER - 4 * (uint64_t)count)) < 0)
		return -1;
	if (put_floats(f, rows, (size_t)count * vo->dim) < 0)
		return -1;
	fw_end(f);
	if (vo->metric == RAG_METRIC_COSINE && raws) {
		if (fw_begin_at(f, SEC_VRAW, 64) < 0 ||
		    put_floats(f, raws, (size_t)count * vo->dim) < 0)
			return -1;
		fw_end(f);
	}
	if (!count)
		return 0;
	if (vo->quant && write_codes(f, rows, count, vo, err) < 0)
		return -1;
	pairctx pc = {rows, vo->dim, vo->metric, rag_vec_best()};
	rag_hnsw_params hp = {vo->m, vo->efc, 0x5eed5eedULL + count, vo->threads ? vo->threads : 1,
			      NULL};
	rag_buf_init(&g, 0);
	if (rag_hnsw_build(count, pair_dist, &pc, &hp, &g, err) < 0)
		goto out;
	if (fw_begin(f, SEC_GRAPH) < 0 || fw_put(f, g.data, g.len) < 0)
		goto out;
	fw_end(f);
	rc = 0;
out:
	rag_buf_free(&g);
	return rc;
}

struct rag_segw {
	rag_buf json, ids, docs;
	uint64_t *recoff;
	uint32_t *idoff, *docoff;
	unsigned char *hashes;
	size_t recoff_cap, idoff_cap, docoff_cap, hashes_cap;
	/*
	 * The index side, which rag_segw_post alone touches (so that it
	 * may run in another thread than rag_segw_add): the lengths of the
	 * records seen so far, the terms and the postings.
	 */
	uint32_t *doclen;
	size_t doclen_cap, ndoclen;
	uint32_t n;
	wterm *terms;       /* by term number; those in used are live */
	size_t terms_cap;
	uint32_t *used;     /* the term numbers with postings in the batch */
	size_t nused, used_cap;
	rag_segw_term_fn term_text;
	void *term_arg;
	unsigned char **pool; /* blocks of POOL_BLOCK bytes, kept across batches */
	size_t nblocks, blocks_cap;
	size_t pool_used, pool_at; /* blocks in use (the last is being filled); its next free byte */
	colw *cols; /* the indexed fields (the record side) */
	size_t ncols;
	/* vectors (the record side): rows of vo.dim floats, and their records */
	rag_seg_vecopts vo;
	int have_vo;
	rag_buf vecs;
	rag_buf raws; /* cosine's rows as given */
	uint32_t *vdoc;
	size_t nv, vdoc_cap;
};

rag_segw *rag_segw_new(rag_error *err)
{
	rag_segw *w = calloc(1, sizeof *w);

	if (!w) {
		rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		return NULL;
	}
	rag_buf_init(&w->json, 0);
	rag_buf_init(&w->ids, 0);
	rag_buf_init(&w->docs, 0);
	rag_buf_init(&w->vecs, 0);
	rag_buf_init(&w->raws, 0);
	w->pool_at = POOL_BLOCK;
	return w;
}

void rag_segw_free(rag_segw *w)
{
	if (!w)
		return;
	rag_buf_free(&w->json);
	rag_buf_free(&w->ids);
	rag_buf_free(&w->docs);
	free(w->recoff);
	free(w->idoff);
	free(w->docoff);
	free(w->doclen);
	free(w->hashes);
	free(w->terms);
	free(w->used);
	for (size_t i = 0; i < w->nblocks; i++)
		free(w->pool[i]);
	free(w->pool);
	colw_free(w->cols, w->ncols);
	rag_buf_free(&w->vecs);
	rag_buf_free(&w->raws);
	free(w->vdoc);
	free(w);
}

void rag_segw_reset(rag_segw *w)
{
	rag_buf_truncate(&w->json, 0);
	rag_buf_truncate(&w->ids, 0);
	rag_buf_truncate(&w->docs, 0);
	w->n = 0;
	for (size_t i = 0; i < w->nused; i++)
		w->terms[w->used[i]].head = UINT32_MAX;
	w->nused = 0;
	w->pool_used = 0;
	w->pool_at = POOL_BLOCK;
	w->ndoclen = 0;
	w->nv = 0;
	rag_buf_truncate(&w->vecs, 0);
	rag_buf_truncate(&w->raws, 0);
	for (size_t i = 0; i < w->ncols; i++) {
		rag_buf_truncate(&w->cols[i].ents, 0);
		rag_buf_truncate(&w->cols[i].text, 0);
	}
}

int rag_segw_set_fields(rag_segw *w, const char *const *names, size_t n, rag_error *err)
{
	colw *c = colw_new(names, n);

	if (!c)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	colw_free(w->cols, w->ncols);
	w->cols = c;
	w->ncols = n;
	return 0;
}

int rag_segw_field(rag_segw *w, uint32_t docno, size_t i, const char *text, size_t len,
		   rag_error *err)
{
	if (colw_add(&w->cols[i], docno, text, len) < 0)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	return 0;
}

void rag_segw_set_vectors(rag_segw *w, const rag_seg_vecopts *vo)
{
	if (!w->have_vo || !w->nv) {
		w->vo = *vo;
		w->have_vo = 1;
	}
}

int rag_segw_vector(rag_segw *w, uint32_t docno, const float *v, const float *raw,
		    rag_error *err)
{
	size_t bytes = (size_t)w->vo.dim * sizeof *v;

	if (!w->have_vo || docno >= w->n || (w->nv && w->vdoc[w->nv - 1] >= docno))
		return rag_error_set(err, RAG_EUSAGE, NULL, 0, "a vector out of turn");
	if (rag_array_reserve(&w->vdoc, &w->vdoc_cap, w->nv + 1, sizeof *w->vdoc) < 0 ||
	    rag_buf_add(&w->vecs, v, bytes) < 0 ||
	    (w->vo.metric == RAG_METRIC_COSINE && rag_buf_add(&w->raws, raw ? raw : v, bytes) < 0))
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	w->vdoc[w->nv++] = docno;
	return 0;
}

/*
 * Writes the batch's vectors but those of dropped records, renumbered by
 * newno.  0, or -1 with err set.
 */
static int segw_vectors(fw *f, const rag_segw *w, const uint32_t *newno, rag_error *err)
{
	const float *rows = (const float *)(const void *)w->vecs.data;
	const float *raws = w->raws.len ? (const float *)(const void *)w->raws.data : NULL;
	size_t dim = w->vo.dim;
	uint32_t *rowdoc = malloc((w->nv + 1) * sizeof *rowdoc), kept = 0;
	float *packed = NULL, *rpacked = NULL;
	int rc = -1;

	if (!rowdoc)
		goto nomem;
	for (size_t i = 0; i < w->nv; i++) {
		uint32_t d = newno[w->vdoc[i]];
		if (d == UINT32_MAX) {
			if (!packed) { /* a dropped record: the rows after it move up */
				if (!(packed = malloc(w->nv * dim * sizeof *packed)) ||
				    (raws && !(rpacked = malloc(w->nv * dim * sizeof *rpacked))))
					goto nomem;
				memcpy(packed, rows, kept * dim * sizeof *packed);
				if (raws)
					memcpy(rpacked, raws, kept * dim * sizeof *rpacked);
			}
			continue;
		}
		if (packed) {
			memcpy(packed + kept * dim, rows + i * dim, dim * sizeof *packed);
			if (raws)
				memcpy(rpacked + kept * dim, raws + i * dim, dim * sizeof *rpacked);
		}
		rowdoc[kept++] = d;
	}
	rc = write_vectors(f, packed ? packed : rows, rpacked ? rpacked : raws, rowdoc, kept,
			   &w->vo, err);
	goto out;
nomem:
	rag_error_set(err, RAG_ENOMEM, f->path, 0, "out of memory");
out:
	free(rowdoc);
	free(packed);
	free(rpacked);
	return rc;
}

uint32_t rag_segw_records(const rag_segw *w)
{
	return w->n;
}

size_t rag_segw_bytes(const rag_segw *w)
{
	return w->json.len + w->ids.len + w->docs.len;
}

long rag_segw_add(rag_segw *w, const char *json, size_t json_len,
		  const char *id, size_t id_len, const char *doc, size_t doc_len,
		  const unsigned char hash[16], rag_error *err)
{
	size_t n = w->n, jl = w->json.len, il = w->ids.len, dl = w->docs.len;

	if (n + 2 >= UINT32_MAX)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "too many records in one batch");
	if (rag_array_reserve(&w->recoff, &w->recoff_cap, n + 2, sizeof *w->recoff) < 0 ||
	    rag_array_reserve(&w->idoff, &w->idoff_cap, n + 2, sizeof *w->idoff) < 0 ||
	    rag_array_reserve(&w->docoff, &w->docoff_cap, n + 2, sizeof *w->docoff) < 0 ||
	    rag_array_reserve(&w->hashes, &w->hashes_cap, 16 * (n + 1), 1) < 0 ||
	    rag_buf_add(&w->json, json, json_len) < 0 || rag_buf_add(&w->ids, id, id_len) < 0 ||
	    rag_buf_add(&w->docs, doc ? doc : "", doc ? doc_len : 0) < 0)
		goto fail;
	if (w->ids.len > UINT32_MAX || w->docs.len > UINT32_MAX) {
		rag_buf_truncate(&w->json, jl);
		rag_buf_truncate(&w->ids, il);
		rag_buf_truncate(&w->docs, dl);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "too many ids in one batch");
	}
	w->recoff[0] = w->idoff[0] = w->docoff[0] = 0;
	w->recoff[n + 1] = w->json.len;
	w->idoff[n + 1] = (uint32_t)w->ids.len;
	w->docoff[n + 1] = (uint32_t)w->docs.len;
	memcpy(w->hashes + 16 * n, hash, 16);
	w->n++;
	return (long)n;
fail:
	/* nothing of the record stays */
	if (w->json.data)
		rag_buf_truncate(&w->json, jl);
	if (w->ids.data)
		rag_buf_truncate(&w->ids, il);
	if (w->docs.data)
		rag_buf_truncate(&w->docs, dl);
	return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
}

void rag_segw_id(const rag_segw *w, uint32_t i, const char **p, size_t *n)
{
	*p = w->ids.data + w->idoff[i];
	*n = w->idoff[i + 1] - w->idoff[i];
}

const unsigned char *rag_segw_hash(const rag_segw *w, uint32_t i)
{
	return w->hashes + 16 * (size_t)i;
}

void rag_segw_set_terms(rag_segw *w, rag_segw_term_fn fn, void *arg)
{
	w->term_text = fn;
	w->term_arg = arg;
}

/* A new slice of the given level: its pool offset, or UINT32_MAX when memory runs out. */
static uint32_t slice_new(rag_segw *w, unsigned level)
{
	size_t size = slice_size(level);

	if (w->pool_at + size > POOL_BLOCK) {
		/* the next block: one kept from an earlier batch, or a new one */
		if (w->pool_used == w->nblocks) {
			unsigned char *blk;
			if ((uint64_t)(w->nblocks + 1) * POOL_BLOCK > UINT32_MAX ||
			    rag_array_reserve(&w->pool, &w->blocks_cap, w->nblocks + 1,
					      sizeof *w->pool) < 0 ||
			    !(blk = malloc(POOL_BLOCK)))
				return UINT32_MAX;
			w->pool[w->nblocks++] = blk;
		}
		w->pool_used++;
		w->pool_at = 0;
	}
	w->pool_at += size;
	return (uint32_t)((w->pool_used - 1) * POOL_BLOCK + w->pool_at - size);
}

static unsigned char *pool_ptr(const rag_segw *w, uint32_t off)
{
	return w->pool[off / POOL_BLOCK] + off % POOL_BLOCK;
}

/* Appends byte c to t's postings.  0, or -1 when memory runs out. */
static int post_byte(rag_segw *w, wterm *t, unsigned char c)
{
	if (t->at == t->end) {
		uint32_t s = slice_new(w, t->level + 1);
		if (s == UINT32_MAX)
			return -1;
		put32(pool_ptr(w, t->end), s);
		t->level++;
		t->at = s;
		t->end = s + (uint32_t)slice_size(t->level) - 4;
	}
	*pool_ptr(w, t->at++) = c;
	return 0;
}

/* Writes t's pending posting to its slices.  0, or -1 when memory runs out. */
static int post_flush(rag_segw *w, wterm *t)
{
	unsigned char v[POSTING_MAX], *end;

	if (t->end - t->at >= POSTING_MAX) {
		/* room in the slice: straight there */
		unsigned char *p = pool_ptr(w, t->at);
		t->at += (uint32_t)(put_posting(p, t->last_doc - t->next_doc, t->tf) - p);
	} else {
		end = put_posting(v, t->last_doc - t->next_doc, t->tf);
		for (const unsigned char *c = v; c < end; c++)
			if (post_byte(w, t, *c) < 0)
				return -1;
	}
	t->next_doc = t->last_doc + 1;
	return 0;
}

/* Makes room for record doc's length and for terms up to number top.  0, or -1. */
static int post_room(rag_segw *w, uint32_t doc, uint32_t top)
{
	if (doc >= w->ndoclen) {
		if (rag_array_reserve(&w->doclen, &w->doclen_cap, (size_t)doc + 1,
				      sizeof *w->doclen) < 0)
			return -1;
		memset(w->doclen + w->ndoclen, 0, ((size_t)doc + 1 - w->ndoclen) * sizeof *w->doclen);
		w->ndoclen = (size_t)doc + 1;
	}
	if (top >= w->terms_cap) {
		size_t old = w->terms_cap;
		if (top == UINT32_MAX ||
		    rag_array_reserve(&w->terms, &w->terms_cap, (size_t)top + 1, sizeof *w->terms) < 0)
			return -1;
		for (size_t i = old; i < w->terms_cap; i++)
			w->terms[i].head = UINT32_MAX;
	}
	return 0;
}

/* An occurrence of term in record doc, room made.  0, or -1 when memory runs out. */
static inline int post_one(rag_segw *w, uint32_t doc, uint32_t term)
{
	wterm *t = &w->terms[term];

	if (t->head == UINT32_MAX) {
		/* the term's first posting in the batch */
		if (rag_array_reserve(&w->used, &w->used_cap, w->nused + 1, sizeof *w->used) < 0 ||
		    (t->head = slice_new(w, 0)) == UINT32_MAX)
			return -1;
		w->used[w->nused++] = term;
		*t = (wterm){.last_doc = doc, .tf = 1, .head = t->head, .at = t->head,
			     .end = t->head + SLICE_MIN - 4};
		return 0;
	}
	if (t->last_doc == doc) {
		t->tf++;
		return 0;
	}
	if (post_flush(w, t) < 0)
		return -1;
	t->last_doc = doc;
	t->tf = 1;
	return 0;
}

int rag_segw_post(rag_segw *w, uint32_t doc, uint32_t term, rag_error *err)
{
	if (post_room(w, doc, term) < 0 || post_one(w, doc, term) < 0)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	w->doclen[doc]++;
	return 0;
}

int rag_segw_post_many(rag_segw *w, uint32_t doc, const uint32_t *terms, size_t n,
		       rag_error *err)
{
	/* the terms' state is fetched a few words ahead, and the bytes they write next */
	enum { AHEAD = 8 };
	uint32_t top = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		top = terms[i] > top ? terms[i] : top;
	if (post_room(w, doc, top) < 0)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		if (i + AHEAD < n)
			__builtin_prefetch(&w->terms[terms[i + AHEAD]], 1);
		if (i + AHEAD / 2 < n) {
			const wterm *t = &w->terms[terms[i + AHEAD / 2]];
			if (t->head != UINT32_MAX)
				__builtin_prefetch(pool_ptr(w, t->at), 1);
		}
		if (post_one(w, doc, terms[i]) < 0)
			goto nomem;
	}
	w->doclen[doc] += (uint32_t)n;
	return 0;
nomem:
	return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
}

/*
 * Reads t's postings back, pending one included, renumbered by newno
 * (UINT32_MAX: the record is dropped), into docs and tfs.  Returns how
 * many there are.
 */
static size_t post_read(const rag_segw *w, const wterm *t, const uint32_t *newno,
			uint32_t *docs, uint32_t *tfs)
{
	uint32_t at = t->head, end = t->head + SLICE_MIN - 4, doc = 0, stop = t->at;
	unsigned level = 0;
	size_t m = 0;

#define NEXT_BYTE(c)                                             \
	do {                                                     \
		if (at == end) {                                 \
			at = get32(pool_ptr(w, end));            \
			end = at + (uint32_t)slice_size(++level) - 4; \
		}                                                \
		(c) = *pool_ptr(w, at++);                        \
	} while (0)
	while (at != stop) {
		uint64_t g = 0;
		uint32_t tf = 1, v = 0;
		unsigned char c;
		int shift = 0;
		if (end - at >= POSTING_MAX) {
			/*
			 * The posting lies whole before the slice's link: read
			 * straight (put_posting wrote it, within POSTING_MAX bytes).
			 */
			const unsigned char *p = pool_ptr(w, at), *q = p;
			uint64_t x = 1;
			read_varint(&q, p + POSTING_MAX, &g);
			if (!(g & 1))
				read_varint(&q, p + POSTING_MAX, &x);
			tf = (uint32_t)x;
			at += (uint32_t)(q - p);
		} else {
			do {
				NEXT_BYTE(c);
				g |= (uint64_t)(c & 0x7f) << shift;
				shift += 7;
			} while (c & 0x80);
			if (!(g & 1)) {
				shift = 0;
				do {
					NEXT_BYTE(c);
					v |= (uint32_t)(c & 0x7f) << shift;
					shift += 7;
				} while (c & 0x80);
				tf = v;
			}
		}
		doc += (uint32_t)(g >> 1);
		if (newno[doc] != UINT32_MAX) {
			docs[m] = newno[doc];
			tfs[m++] = tf;
		}
		doc++;
	}
#undef NEXT_BYTE
	if (newno[t->last_doc] != UINT32_MAX) {
		docs[m] = newno[t->last_doc];
		tfs[m++] = t->tf;
	}
	return m;
}

typedef struct segw_ctx {
	rag_segw *w;
	uint32_t *kept; /* output number -> batch number */
} segw_ctx;

static int segw_get(void *ctx, uint32_t i, recview *v, rag_error *err)
{
	segw_ctx *c = ctx;
	rag_segw *w = c->w;
	uint32_t k = c->kept[i];

	v->json = w->json.data + w->recoff[k];
	v->json_len = w->recoff[k + 1] - w->recoff[k];
	v->id = w->ids.data + w->idoff[k];
	v->id_len = w->idoff[k + 1] - w->idoff[k];
	v->doc = w->docs.data ? w->docs.data + w->docoff[k] : "";
	v->doc_len = w->docoff[k + 1] - w->docoff[k];
	v->hash = w->hashes + 16 * (size_t)k;
	v->doclen = k < w->ndoclen ? w->doclen[k] : 0;
	return 0;
}

typedef struct sortterm {
	uint64_t key; /* term_prefix: most comparisons end with it */
	const char *p;
	uint32_t len, idx;
} sortterm;

static inline int sortterm_less(const sortterm *x, const sortterm *y)
{
	size_t m;
	int c;

	if (x->key != y->key)
		return x->key < y->key;
	m = x->len < y->len ? x->len : y->len;
	c = memcmp(x->p, y->p, m);
	return c ? c < 0 : x->len < y->len;
}

/*
 * Sorts t[0..n) by term, bytewise: a quicksort on the eight-byte prefixes
 * (most comparisons end there), insertion sort for short runs.
 */
static void sort_terms(sortterm *t, size_t n)
{
	while (n > 16) {
		size_t i = 0, j = n - 1, mid = n / 2;
		sortterm pivot, tmp;
		/* the median of three as the pivot */
		if (sortterm_less(&t[mid], &t[0]))
			tmp = t[mid], t[mid] = t[0], t[0] = tmp;
		if (sortterm_less(&t[n - 1], &t[0]))
			tmp = t[n - 1], t[n - 1] = t[0], t[0] = tmp;
		if (sortterm_less(&t[n - 1], &t[mid]))
			tmp = t[n - 1], t[n - 1] = t[mid], t[mid] = tmp;
		pivot = t[mid];
		for (;;) {
			while (sortterm_less(&t[i], &pivot))
				i++;
			while (sortterm_less(&pivot, &t[j]))
				j--;
			if (i >= j)
				break;
			tmp = t[i], t[i] = t[j], t[j] = tmp;
			i++;
			j--;
		}
		/* recurse into the smaller side, loop on the larger */
		if (j + 1 < n - j - 1) {
			sort_terms(t, j + 1);
			t += j + 1;
			n -= j + 1;
		} else {
			sort_terms(t + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	for (size_t i = 1; i < n; i++) {
		sortterm x = t[i];
		size_t j = i;
		for (; j > 0 && sortterm_less(&x, &t[j - 1]); j--)
			t[j] = t[j - 1];
		t[j] = x;
	}
}

/*
 * The work of writing a batch's segment that threads can share: one part
 * sorts the terms, two build the halves of the postings and the term
 * dictionary in memory, and the others each compress one block of records.  Any thread may take the next part;
 * rag_segw_write takes parts too, waits for all, and writes what they
 * made.
 */
struct rag_segjob {
	const rag_segw *w;
	uint32_t n;      /* records kept */
	uint32_t *kept;  /* output number -> batch number */
	uint32_t *newno; /* batch number -> output number; UINT32_MAX: dropped */
	uint32_t *dl;    /* output number -> its length in terms */
	size_t nblocks;
	uint32_t *first; /* block b holds output records first[b] to first[b + 1] */
	size_t *at;      /* where its compressed bytes go in comp */
	uint32_t *ulen, *clen, *crc; /* its length before and after, its CRC-32C */
	char *comp;
	char *path;       /* the segment's */
	sortterm *order;  /* the batch's terms, sorted (the sorting part's) */
	/* the postings parts': the two halves of the dictionary, and their postings */
	termacc acc[2];
	rag_buf post[2];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int sorting;       /* the sorting part: 1 taken, 2 done */
	int halves;        /* postings parts taken */
	int halves_done;   /* and done */
	size_t next;       /* blocks taken */
	size_t done;       /* parts finished */
	int failed;
	rag_error err;
};

void rag_segjob_free(rag_segjob *j)
{
	if (!j)
		return;
	free(j->kept);
	free(j->newno);
	free(j->dl);
	free(j->first);
	free(j->at);
	free(j->ulen);
	free(j->clen);
	free(j->crc);
	free(j->comp);
	free(j->order);
	for (int h = 0; h < 2; h++) {
		termacc_free(&j->acc[h]);
		rag_buf_free(&j->post[h]);
	}
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j->path);
	free(j);
}

rag_segjob *rag_segjob_new(const rag_segw *w, const unsigned char *drop, const char *path,
			   rag_error *err)
{
	rag_segjob *j = calloc(1, sizeof *j);
	size_t have = 0, cap = 16;

	if (!j) {
		rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		return NULL;
	}
	j->w = w;
	for (int h = 0; h < 2; h++) {
		termacc_init(&j->acc[h]);
		rag_buf_init(&j->post[h], 0);
		j->acc[h].mem = &j->post[h];
	}
	if (!(j->path = strdup(path)) || pthread_mutex_init(&j->mu, NULL) != 0) {
		free(j->path);
		free(j);
		rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		return NULL;
	}
	if (pthread_cond_init(&j->cv, NULL) != 0) {
		pthread_mutex_destroy(&j->mu);
		free(j->path);
		free(j);
		rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		return NULL;
	}
	j->acc[0].path = j->acc[1].path = j->path;
	j->kept = malloc(((size_t)w->n + 1) * sizeof *j->kept);
	j->newno = malloc(((size_t)w->n + 1) * sizeof *j->newno);
	j->dl = malloc(((size_t)w->n + 1) * sizeof *j->dl);
	j->first = malloc(cap * sizeof *j->first);
	if (!j->kept || !j->newno || !j->dl || !j->first)
		goto nomem;
	for (uint32_t i = 0; i < w->n; i++) {
		j->newno[i] = UINT32_MAX;
		if (!rag_bit(drop, i)) {
			j->dl[j->n] = i < w->ndoclen ? w->doclen[i] : 0;
			j->newno[i] = j->n;
			j->kept[j->n++] = i;
		}
	}
	/*
	 * The blocks: whole records, as many as fit in REC_BLOCK bytes, or
	 * one that is larger alone.
	 */
	j->first[0] = 0;
	for (uint32_t i = 0; i < j->n; i++) {
		size_t len = w->recoff[j->kept[i] + 1] - w->recoff[j->kept[i]];
		if (len > INT32_MAX / 2) {
			rag_error_set(err, RAG_ENOMEM, NULL, 0, "a record is too large to store");
			goto fail;
		}
		/* this record may end a block and make one: room for two more ends, and the last */
		if (j->nblocks + 4 > cap) {
			uint32_t *nf = realloc(j->first, 2 * cap * sizeof *nf);
			if (!nf)
				goto nomem;
			j->first = nf;
			cap *= 2;
		}
		if (have && have + len > REC_BLOCK) {
			j->first[++j->nblocks] = i;
			have = 0;
		}
		have += len;
		if (have >= REC_BLOCK) {
			j->first[++j->nblocks] = i + 1;
			have = 0;
		}
	}
	if (have)
		j->first[++j->nblocks] = j->n;
	j->at = malloc((j->nblocks + 1) * sizeof *j->at);
	j->ulen = malloc((j->nblocks + 1) * sizeof *j->ulen);
	j->clen = malloc((j->nblocks + 1) * sizeof *j->clen);
	j->crc = malloc((j->nblocks + 1) * sizeof *j->crc);
	if (!j->at || !j->ulen || !j->clen || !j->crc)
		goto nomem;
	j->at[0] = 0;
	for (size_t b = 0; b < j->nblocks; b++) {
		size_t len = 0;
		for (uint32_t i = j->first[b]; i < j->first[b + 1]; i++)
			len += w->recoff[j->kept[i] + 1] - w->recoff[j->kept[i]];
		j->ulen[b] = (uint32_t)len;
		j->at[b + 1] = j->at[b] + (size_t)LZ4_compressBound((int)len);
	}
	/* only the pages the compressed blocks fill are touched */
	if (!(j->comp = malloc(j->at[j->nblocks] + 1)))
		goto nomem;
	return j;
nomem:
	rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
fail:
	rag_segjob_free(j);
	return NULL;
}

/* The sorting part: the batch's terms, in the order of their text. */
static int job_sort(rag_segjob *j, rag_error *err)
{
	const rag_segw *w = j->w;

	if (!(j->order = malloc((w->nused + 1) * sizeof *j->order)))
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	for (size_t i = 0; i < w->nused; i++) {
		size_t len;
		const char *p = w->term_text(w->term_arg, w->used[i], &len);
		j->order[i] = (sortterm){term_prefix(p, len), p, (uint32_t)len, w->used[i]};
	}
	sort_terms(j->order, w->nused);
	return 0;
}

/* A postings part: half h of the sorted terms, their postings and entries into j->acc[h]. */
static int job_half(rag_segjob *j, int h, rag_error *err)
{
	const rag_segw *w = j->w;
	size_t from = h ? w->nused / 2 : 0, to = h ? w->nused : w->nused / 2, textlen = 0;
	uint32_t *docs = malloc(((size_t)j->n + 1) * sizeof *docs);
	uint32_t *tfs = malloc(((size_t)j->n + 1) * sizeof *tfs);
	const sortterm *order = j->order;
	termacc *acc = &j->acc[h];
	int rc = -1;

	for (size_t i = from; i < to; i++)
		textlen += order[i].len;
	if (!docs || !tfs || rag_buf_grow(&acc->entries, 32 * (to - from)) < 0 ||
	    rag_buf_grow(&acc->text, textlen) < 0) {
		rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		goto out;
	}
	for (size_t i = from; i < to; i++) {
		size_t m;
		/* the terms come in the order of their text: fetch ahead */
		if (i + 16 < to)
			__builtin_prefetch(&w->terms[order[i + 16].idx]);
		if (i + 8 < to)
			__builtin_prefetch(pool_ptr(w, w->terms[order[i + 8].idx].head));
		m = post_read(w, &w->terms[order[i].idx], j->newno, docs, tfs);
		if (m && add_term(NULL, acc, order[i].p, order[i].len, docs, tfs, m, j->dl, err) < 0)
			goto out;
	}
	rc = 0;
out:
	free(docs);
	free(tfs);
	return rc;
}

/* A block's part: block b, compressed.  stage gathers records that do not lie together. */
static int job_block(rag_segjob *j, size_t b, rag_buf *stage, rag_error *err)
{
	const rag_segw *w = j->w;
	uint32_t a = j->first[b], z = j->first[b + 1];
	const char *src = w->json.data + w->recoff[j->kept[a]];
	int k;

	/* the records lie one after another unless a dropped one is among them */
	if (j->kept[z - 1] - j->kept[a] != z - 1 - a) {
		rag_buf_truncate(stage, 0);
		for (uint32_t i = a; i < z; i++) {
			uint32_t r = j->kept[i];
			if (rag_buf_add(stage, w->json.data + w->recoff[r],
					w->recoff[r + 1] - w->recoff[r]) < 0)
				return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		}
		src = stage->data;
	}
	k = LZ4_compress_default(src, j->comp + j->at[b], (int)j->ulen[b],
				 (int)(j->at[b + 1] - j->at[b]));
	if (k <= 0)
		return rag_error_set(err, RAG_EIO, NULL, 0, "cannot compress records");
	j->clen[b] = (uint32_t)k;
	j->crc[b] = rag_crc32c(0, j->comp + j->at[b], (size_t)k);
	return 0;
}

/*
 * Takes parts and does them until none is left: the sorting first, then
 * the halves of the postings once the terms are sorted, and blocks while
 * there is nothing else (or while another thread sorts).
 */
static void job_run(rag_segjob *j, int until_postings)
{
	rag_buf stage;

	rag_buf_init(&stage, 0);
	pthread_mutex_lock(&j->mu);
	while (!j->failed && !(until_postings && j->halves_done == 2)) {
		int kind; /* 0 sorting, 1 and 2 a half of the postings, 3 a block */
		size_t b = 0;
		rag_error e;
		int r;
		if (!j->sorting)
			kind = 0, j->sorting = 1;
		else if (j->sorting == 2 && j->halves < 2)
			kind = 1 + j->halves++;
		else if (j->next < j->nblocks)
			kind = 3, b = j->next++;
		else if (j->halves < 2 || (until_postings && j->halves_done < 2)) {
			/* the terms are being sorted, or the postings made */
			pthread_cond_wait(&j->cv, &j->mu);
			continue;
		} else
			break;
		pthread_mutex_unlock(&j->mu);
		rag_error_clear(&e);
		r = kind == 0 ? job_sort(j, &e)
		    : kind < 3 ? job_half(j, kind - 1, &e)
			       : job_block(j, b, &stage, &e);
		pthread_mutex_lock(&j->mu);
		if (r < 0 && !j->failed) {
			j->failed = 1;
			j->err = e;
		}
		if (kind == 0)
			j->sorting = 2;
		else if (kind < 3)
			j->halves_done++;
		j->done++;
		pthread_cond_broadcast(&j->cv);
	}
	pthread_mutex_unlock(&j->mu);
	rag_buf_free(&stage);
}

void rag_segjob_run(rag_segjob *j)
{
	job_run(j, 0);
}

/* The parts taken so far (called locked). */
static size_t taken(const rag_segjob *j)
{
	return (j->sorting != 0) + (size_t)j->halves + j->next;
}

/*
 * Takes parts until the postings are made (until_postings), or until none
 * is left and then waits for those others took.  0, or -1 with the first
 * failed part's error.
 */
static int job_until(rag_segjob *j, int until_postings, rag_error *err)
{
	int failed;

	job_run(j, until_postings);
	pthread_mutex_lock(&j->mu);
	while (!until_postings && j->done < taken(j))
		pthread_cond_wait(&j->cv, &j->mu);
	failed = j->failed;
	if (failed)
		*err = j->err;
	pthread_mutex_unlock(&j->mu);
	return failed ? -1 : 0;
}

/* Stops the parts not taken yet (a failure elsewhere). */
static void job_stop(rag_segjob *j)
{
	pthread_mutex_lock(&j->mu);
	j->failed = 1;
	while (j->done < taken(j))
		pthread_cond_wait(&j->cv, &j->mu);
	pthread_mutex_unlock(&j->mu);
}

/*
 * Writes the postings, the term text, the dictionary and its index from
 * the two halves: the second half's entries move past the first's
 * postings and text, and the index takes every RAG_SEG_TERM_STRIDE-th
 * term of both.  0, or -1 with err set.
 */
static int job_terms(fw *f, const rag_segjob *j, rag_error *err)
{
	const termacc *a = &j->acc[0], *b = &j->acc[1];
	uint64_t nterms = (uint64_t)a->nterms + b->nterms;
	unsigned char e[32];

	if (a->text.len + b->text.len > UINT32_MAX)
		return rag_error_set(err, RAG_ENOMEM, j->path, 0,
				     "segment too large: over 4 GiB of terms");
	if (fw_begin(f, SEC_POSTINGS) < 0 || fw_put_buf(f, &j->post[0]) < 0 ||
	    fw_put_buf(f, &j->post[1]) < 0)
		return -1;
	fw_end(f);
	if (fw_begin(f, SEC_TERMTEXT) < 0 || fw_put_buf(f, &a->text) < 0 ||
	    fw_put_buf(f, &b->text) < 0)
		return -1;
	fw_end(f);
	if (fw_begin(f, SEC_TERMS) < 0 || fw_put_buf(f, &a->entries) < 0)
		return -1;
	for (uint32_t i = 0; i < b->nterms; i++) {
		memcpy(e, b->entries.data + 32 * (size_t)i, 32);
		put64(e, get64(e) + j->post[0].len);
		put32(e + 16, get32(e + 16) + (uint32_t)a->text.len);
		if (fw_put(f, e, 32) < 0)
			return -1;
	}
	fw_end(f);
	if (fw_begin(f, SEC_TERMINDEX) < 0)
		return -1;
	for (uint64_t k = 0; k < nterms; k += RAG_SEG_TERM_STRIDE) {
		const termacc *h = k < a->nterms ? a : b;
		const unsigned char *t = (const unsigned char *)h->entries.data +
					 32 * (size_t)(k < a->nterms ? k : k - a->nterms);
		unsigned char pb[8];
		put64be(pb, term_prefix(h->text.data + get32(t + 16),
					(size_t)t[20] | (size_t)t[21] << 8));
		if (fw_put(f, pb, 8) < 0)
			return -1;
	}
	fw_end(f);
	return 0;
}

int rag_segw_write(rag_segw *w, rag_segjob *j, rag_error *err)
{
	segw_ctx ctx = {w, j->kept};
	uint64_t total;
	unsigned char e[RB];
	uint64_t coff = 0, uoff = 0;
	fw f;

	if (fw_open(&f, j->path, err) < 0) {
		job_stop(j);
		return -1;
	}
	bulk bk = {w->json.data ? w->json.data : "", w->ids.data ? w->ids.data : "",
		   w->docs.data ? w->docs.data : "", w->recoff, w->idoff, w->docoff, w->hashes};
	/* the postings parts read j->dl: the lengths are not written back to it */
	if (write_records(&f, j->n, segw_get, &ctx, HOST_LE && j->n == w->n && j->n ? &bk : NULL, 1,
			  NULL, &total, err) < 0) {
		job_stop(j);
		goto fail;
	}
	/* the postings as soon as they are made, while the blocks are compressed */
	if (job_until(j, 1, err) < 0 || job_terms(&f, j, err) < 0) {
		job_stop(j);
		goto failed_part;
	}
	if (job_until(j, 0, err) < 0)
		goto failed_part;
	if (fw_begin(&f, SEC_RECORDS) < 0)
		goto fail;
	for (size_t b = 0; b < j->nblocks; b++)
		if (fw_put(&f, j->comp + j->at[b], j->clen[b]) < 0)
			goto fail;
	fw_end(&f);
	if (fw_begin(&f, SEC_RECBLOCKS) < 0)
		goto fail;
	for (size_t b = 0; b <= j->nblocks; b++) {
		put_rb(e, coff, uoff, b < j->nblocks ? j->crc[b] : 0);
		if (fw_put(&f, e, RB) < 0)
			goto fail;
		if (b < j->nblocks) {
			coff += j->clen[b];
			uoff += j->ulen[b];
		}
	}
	fw_end(&f);
	if (write_fields(&f, w->cols, w->ncols, j->newno, err) < 0)
		goto fail;
	if (w->nv && segw_vectors(&f, w, j->newno, err) < 0)
		goto fail;
	if (fw_finish(&f, j->n, total, j->acc[0].nterms + j->acc[1].nterms, 0) < 0)
		goto fail;
	return 0;
failed_part:
	if (!err->source[0])
		snprintf(err->source, sizeof err->source, "%s", j->path);
fail:
	fw_abort(&f);
	return -1;
}

/* ---- merging ---- */

typedef struct merge_ctx {
	rag_seg *const *segs;
	uint32_t *from_seg; /* output number -> segment index */
	uint32_t *from_doc; /* output number -> docno */
} merge_ctx;

static int merge_get(void *ctx, uint32_t i, recview *v, rag_error *err)
{
	merge_ctx *c = ctx;
	const rag_seg *s = c->segs[c->from_seg[i]];
	uint32_t d = c->from_doc[i];

	if (rag_seg_record(s, d, &v->json, &v->json_len, err) < 0 ||
	    rag_seg_id(s, d, &v->id, &v->id_len, err) < 0 ||
	    rag_seg_doc(s, d, &v->doc, &v->doc_len, err) < 0)
		return -1;
	v->hash = rag_seg_hash(s, d);
	v->doclen = rag_seg_doclen(s, d);
	return 0;
}

/*
 * The values of field name for the merged segment: from each segment's
 * own index of the field, or from its records.  map[s] renumbers segment
 * s's records (UINT32_MAX: left out).
 */
static int merge_field(rag_seg *const *segs, size_t n, uint32_t *const *map, const char *name,
		       size_t field, rag_seg_extract_fn extract, void *arg, colw *c,
		       rag_error *err)
{
	rag_buf v;
	int rc = -1;

	rag_buf_init(&v, 0);
	for (size_t s = 0; s < n; s++) {
		const rag_seg *g = segs[s];
		long i = rag_seg_field_find(g, name);
		if (i >= 0) {
			for (uint32_t j = 0; j < g->cols[i].nvalues; j++) {
				const char *t;
				const unsigned char *docs;
				size_t tl;
				uint32_t count;
				if (rag_seg_field_value(g, (uint32_t)i, j, &t, &tl, err) < 0 ||
				    rag_seg_field_list(g, (uint32_t)i, j, &docs, &count, err) < 0)
					goto out;
				for (uint32_t k = 0; k < count; k++) {
					uint32_t d = map[s][get32(docs + 4 * (size_t)k)];
					if (d != UINT32_MAX && colw_add(c, d, t, tl) < 0)
						goto nomem;
				}
			}
			continue;
		}
		for (uint32_t d = 0; d < g->n; d++) {
			const char *json;
			size_t jl;
			int r;
			if (map[s][d] == UINT32_MAX)
				continue;
			if (rag_seg_record(g, d, &json, &jl, err) < 0)
				goto out;
			rag_buf_truncate(&v, 0);
			if ((r = extract(arg, field, json, jl, &v, err)) < 0)
				goto out;
			if (r && colw_add(c, map[s][d], v.data, v.len) < 0)
				goto nomem;
		}
	}
	rc = 0;
	goto out;
nomem:
	rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
out:
	rag_buf_free(&v);
	return rc;
}

/*
 * The vectors of the merged segment: the rows of the records kept, in
 * their new order.  0, or -1 with err set.
 */
static int merge_vectors(fw *f, rag_seg *const *segs, size_t n, uint32_t *const *map,
			 const rag_seg_vecopts *vo, rag_error *err)
{
	size_t total = 0, kept = 0;
	float *rows = NULL, *raws = NULL;
	uint32_t *rowdoc = NULL;
	int rc = -1, any = 0, cos = vo->metric == RAG_METRIC_COSINE;

	for (size_t s = 0; s < n; s++) {
		rag_seg_vecs v;
		if (!rag_seg_vectors(segs[s], &v))
			continue;
		if (v.dim != vo->dim || v.metric != vo->metric)
			return rag_error_set(err, RAG_EDATA, segs[s]->path, 0,
					     "segment has %u-dimensional %s vectors, the store %u-dimensional %s ones",
					     v.dim, metric_name(v.metric), vo->dim,
					     metric_name(vo->metric));
		total += v.count;
		any = 1;
	}
	if (!any)
		return 0;
	rows = malloc((total * vo->dim + 1) * sizeof *rows);
	raws = cos ? malloc((total * vo->dim + 1) * sizeof *raws) : NULL;
	rowdoc = malloc((total + 1) * sizeof *rowdoc);
	if (!rows || !rowdoc || (cos && !raws)) {
		rag_error_set(err, RAG_ENOMEM, f->path, 0, "out of memory");
		goto out;
	}
	for (size_t s = 0; s < n; s++) {
		rag_seg_vecs v;
		if (!rag_seg_vectors(segs[s], &v))
			continue;
		for (uint32_t r = 0; r < v.count; r++) {
			uint32_t d = rag_seg_vector_docno(segs[s], &v, r);
			if (d == RAG_POST_END) {
				damaged(segs[s], err, "a vector row names no record");
				goto out;
			}
			if (map[s][d] == UINT32_MAX)
				continue;
			memcpy(rows + kept * vo->dim, v.rows + (size_t)r * v.dim, v.dim * sizeof *rows);
			if (cos)
				memcpy(raws + kept * vo->dim, v.raw + (size_t)r * v.dim,
				       v.dim * sizeof *raws);
			rowdoc[kept++] = map[s][d];
		}
	}
	rc = write_vectors(f, rows, raws, rowdoc, (uint32_t)kept, vo, err);
out:
	free(rows);
	free(raws);
	free(rowdoc);
	return rc;
}

int rag_seg_merge(rag_seg *const *segs, const unsigned char *const *del, size_t n,
		  const char *const *fields, size_t nfields, rag_seg_extract_fn extract,
		  void *arg, const rag_seg_vecopts *vo, const char *path, rag_error *err)
{
	merge_ctx ctx = {segs, NULL, NULL};
	colw *cols = NULL;
	uint32_t **map = NULL, *dl = NULL, *docs = NULL, *tfs = NULL, *ti = NULL;
	uint64_t total, nout = 0, cap = 0;
	termacc acc;
	fw f;
	int rc = -1;

	termacc_init(&acc);
	acc.path = path;
	if (fw_open(&f, path, err) < 0)
		return -1;
	for (size_t s = 0; s < n; s++)
		cap += rag_seg_records(segs[s]);
	if (cap >= UINT32_MAX) {
		rag_error_set(err, RAG_ENOMEM, path, 0, "segments too large to merge into one");
		goto out;
	}
	map = calloc(n + 1, sizeof *map);
	ti = calloc(n + 1, sizeof *ti);
	ctx.from_seg = malloc((cap + 1) * sizeof *ctx.from_seg);
	ctx.from_doc = malloc((cap + 1) * sizeof *ctx.from_doc);
	dl = malloc((cap + 1) * sizeof *dl);
	docs = malloc((cap + 1) * sizeof *docs);
	tfs = malloc((cap + 1) * sizeof *tfs);
	if (!map || !ti || !ctx.from_seg || !ctx.from_doc || !dl || !docs || !tfs)
		goto nomem;
	for (size_t s = 0; s < n; s++) {
		uint32_t m = rag_seg_records(segs[s]);
		if (!(map[s] = malloc(((size_t)m + 1) * sizeof **map)))
			goto nomem;
		for (uint32_t d = 0; d < m; d++) {
			map[s][d] = UINT32_MAX;
			if (rag_bit(del ? del[s] : NULL, d))
				continue;
			map[s][d] = (uint32_t)nout;
			ctx.from_seg[nout] = (uint32_t)s;
			ctx.from_doc[nout++] = d;
		}
	}
	if (write_records(&f, (uint32_t)nout, merge_get, &ctx, NULL, 0, dl, &total, err) < 0)
		goto out;
	if (fw_begin(&f, SEC_POSTINGS) < 0)
		goto out;
	for (;;) {
		const char *best = NULL, *text;
		size_t best_len = 0, m = 0;
		rag_seg_term t;
		for (size_t s = 0; s < n; s++) {
			if (ti[s] >= rag_seg_nterms(segs[s]))
				continue;
			if (rag_seg_term_at(segs[s], ti[s], &t, &text, err) < 0)
				goto out;
			if (best) {
				size_t k = t.term_len < best_len ? t.term_len : best_len;
				int c = memcmp(text, best, k);
				if (c > 0 || (c == 0 && t.term_len >= best_len))
					continue;
			}
			best = text;
			best_len = t.term_len;
		}
		if (!best)
			break;
		for (size_t s = 0; s < n; s++) {
			rag_postings c;
			if (ti[s] >= rag_seg_nterms(segs[s]))
				continue;
			if (rag_seg_term_at(segs[s], ti[s], &t, &text, err) < 0)
				goto out;
			if (t.term_len != best_len || memcmp(text, best, best_len) != 0)
				continue;
			ti[s]++;
			if (rag_postings_open(&c, segs[s], &t, err) < 0)
				goto out;
			for (; c.docno != RAG_POST_END;) {
				uint32_t d = map[s][c.docno];
				if (d != UINT32_MAX) {
					if (m >= nout)
						goto damaged;
					docs[m] = d;
					tfs[m++] = c.tf;
				}
				if (rag_postings_next(&c, err) < 0)
					goto out;
			}
		}
		if (m && add_term(&f, &acc, best, best_len, docs, tfs, m, dl, err) < 0)
			goto out;
	}
	if (finish_terms(&f, &acc) < 0)
		goto out;
	if (nfields) {
		if (!(cols = colw_new(fields, nfields)))
			goto nomem;
		for (size_t i = 0; i < nfields; i++)
			if (merge_field(segs, n, map, fields[i], i, extract, arg, &cols[i], err) < 0)
				goto out;
		if (write_fields(&f, cols, nfields, NULL, err) < 0)
			goto out;
	}
	if (vo && merge_vectors(&f, segs, n, map, vo, err) < 0)
		goto out;
	if (fw_finish(&f, nout, total, acc.nterms, 1) < 0)
		goto out;
	rc = 0;
	goto out;
damaged:
	rag_error_set(err, RAG_EDATA, path, 0, "damaged segment: a term has more postings than records");
	goto out;
nomem:
	rag_error_set(err, RAG_ENOMEM, path, 0, "out of memory");
out:
	if (rc < 0)
		fw_abort(&f);
	termacc_free(&acc);
	colw_free(cols, nfields);
	if (map)
		for (size_t s = 0; s < n; s++)
			free(map[s]);
	free(map);
	free(ti);
	free(ctx.from_seg);
	free(ctx.from_doc);
	free(dl);
	free(docs);
	free(tfs);
	return rc;
}

/* ---- deletion files ----
 *
 *   0  magic "\x89RAGDEL\n"
 *   8  u32 format version (1)
 *  12  u32 0x01020304
 *  16  u32 records of the segment
 *  20  u32 bits set
 *  24  u32 CRC-32C of the bitmap
 *  28  u32 CRC-32C of bytes 0..28
 *  32  the bitmap, (records + 7) / 8 bytes, bit i of byte i / 8 for record i
 */

uint32_t rag_bits_count(const unsigned char *b, size_t n)
{
	uint32_t c = 0;
	size_t i = 0;
	uint64_t w;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, b + i, 8);
		c += (uint32_t)__builtin_popcountll(w);
	}
	for (; i < n; i++)
		c += (uint32_t)__builtin_popcount(b[i]);
	return c;
}

int rag_write_file(const char *path, const void *a, size_t na, const void *b, size_t nb,
		   const char *what, rag_error *err)
{
	const void *part[2] = {a, b};
	size_t len[2] = {na, nb};
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return rag_error_sys(err, errno, path, "cannot create %s", what);
	for (int i = 0; i < 2; i++)
		for (const char *c = part[i]; len[i];) {
			ssize_t k = write(fd, c, len[i]);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				rag_error_sys(err, k < 0 ? errno : EIO, path, "cannot write %s", what);
				goto fail;
			}
			c += k;
			len[i] -= (size_t)k;
		}
	if (fsync(fd) < 0) {
		rag_error_sys(err, errno, path, "cannot sync %s", what);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		rag_error_sys(err, errno, path, "cannot write %s", what);
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(path);
	return -1;
}

int rag_del_write(const char *path, const unsigned char *bits, uint32_t n,
		  uint32_t ndel, rag_error *err)
{
	size_t nb = ((size_t)n + 7) / 8;
	unsigned char h[DEL_HEADER];

	memcpy(h, DEL_MAGIC, 8);
	put32(h + 8, RAG_DEL_VERSION);
	put32(h + 12, ENDIAN_MARK);
	put32(h + 16, n);
	put32(h + 20, ndel);
	put32(h + 24, rag_crc32c(0, bits, nb));
	put32(h + 28, rag_crc32c(0, h, 28));
	return rag_write_file(path, h, sizeof h, bits, nb, "deletion file", err);
}

int rag_del_read(const char *path, uint32_t n, unsigned char **bits,
		 uint32_t *ndel, int full, rag_error *err)
{
	size_t nb = ((size_t)n + 7) / 8, got = 0;
	unsigned char h[DEL_HEADER];
	unsigned char *b = NULL;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*bits = NULL;
	if (fd < 0 || fstat(fd, &st) < 0) {
		rag_error_sys(err, errno, path, "cannot open deletion file");
		goto fail;
	}
	if ((uint64_t)st.st_size != DEL_HEADER + nb) {
		rag_error_set(err, RAG_EDATA, path, 0,
			      "damaged deletion file: %lld bytes, %zu expected",
			      (long long)st.st_size, DEL_HEADER + nb);
		goto fail;
	}
	if (!(b = calloc(nb + 1, 1))) {
		rag_error_set(err, RAG_ENOMEM, path, 0, "out of memory");
		goto fail;
	}
	while (got < DEL_HEADER + nb) {
		ssize_t k = pread(fd, got < DEL_HEADER ? h + got : b + got - DEL_HEADER,
				  got < DEL_HEADER ? DEL_HEADER - got : DEL_HEADER + nb - got,
				  (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			rag_error_sys(err, k < 0 ? errno : EIO, path, "cannot read deletion file");
			goto fail;
		}
		got += (size_t)k;
	}
	close(fd);
	fd = -1;
	if (memcmp(h, DEL_MAGIC, 8) != 0) {
		rag_error_set(err, RAG_EDATA, path, 0, "not a ragkit deletion file (bad magic number)");
		goto fail;
	}
	if (get32(h + 12) != ENDIAN_MARK || get32(h + 8) != RAG_DEL_VERSION ||
	    get32(h + 28) != rag_crc32c(0, h, 28)) {
		rag_error_set(err, RAG_EDATA, path, 0, "damaged deletion file: bad header");
		goto fail;
	}
	if (get32(h + 16) != n) {
		rag_error_set(err, RAG_EDATA, path, 0,
			      "deletion file is for %u records, its segment has %u",
			      get32(h + 16), n);
		goto fail;
	}
	*ndel = get32(h + 20);
	if (full && (get32(h + 24) != rag_crc32c(0, b, nb) ||
		     rag_bits_count(b, nb) != *ndel ||
		     (n % 8 && b[nb - 1] >> (n % 8)))) {
		rag_error_set(err, RAG_EDATA, path, 0, "damaged deletion file: checksum mismatch");
		goto fail;
	}
	if (n % 8)
		b[nb - 1] &= (unsigned char)((1u << (n % 8)) - 1);
	*bits = b;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(b);
	return -1;
}

/* ---- verification ---- */

static int verr(const rag_seg *s, rag_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int verr(const rag_seg *s, rag_error *err, const char *fmt, ...)
{
	char text[RAG_ERROR_TEXT_MAX - 32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	return rag_error_set(err, RAG_EDATA, s->path, 0, "damaged segment: %s", text);
}

static int verify_offsets32(const rag_seg *s, int offk, int textk, const char *what,
			    rag_error *err)
{
	const unsigned char *o = s->sec[offk].p;
	uint32_t prev = 0;

	if (get32(o) != 0)
		return verr(s, err, "the %s offsets do not start at 0", what);
	for (uint32_t i = 1; i <= s->n; i++) {
		uint32_t v = get32(o + 4 * (size_t)i);
		if (v < prev)
			return verr(s, err, "the %s offsets go backwards at record %u", what, i);
		prev = v;
	}
	if (prev != s->sec[textk].len)
		return verr(s, err, "the %s offsets do not end at the end of their text", what);
	return 0;
}

static int verify_keys(const rag_seg *s, int which, unsigned char *seen, rag_error *err)
{
	const unsigned char *t = s->sec[which].p;
	size_t cnt = which == SEC_IDS ? s->n : s->ndocs;
	const char *what = which == SEC_IDS ? "id" : "document";
	uint64_t ph = 0;
	uint32_t pd = 0;

	memset(seen, 0, ((size_t)s->n + 7) / 8);
	for (size_t i = 0; i < cnt; i++) {
		uint64_t h = get64(t + 12 * i);
		uint32_t d = get32(t + 12 * i + 8);
		const char *p;
		size_t n;
		if (d >= s->n)
			return verr(s, err, "the %s table names record %u of %u", what, d, s->n);
		if (i && (h < ph || (h == ph && d <= pd)))
			return verr(s, err, "the %s table is out of order at entry %zu", what, i);
		if (rag_bit(seen, d))
			return verr(s, err, "the %s table names record %u twice", what, d);
		rag_bit_set(seen, d);
		if ((which == SEC_IDS ? rag_seg_id(s, d, &p, &n, err)
				      : rag_seg_doc(s, d, &p, &n, err)) < 0)
			return -1;
		if (which == SEC_IDS && n == 0)
			return verr(s, err, "record %u has an empty id", d);
		if (rag_seg_keyhash(p, n) != h)
			return verr(s, err, "the %s table's hash of record %u is wrong", what, d);
		if (which == SEC_IDS &&
		    !bloom_may_have(s->sec[SEC_IDBLOOM].p, s->sec[SEC_IDBLOOM].len / 64, h))
			return verr(s, err, "the id filter does not hold the id of record %u", d);
		ph = h;
		pd = d;
	}
	if (which == SEC_DOCS)
		for (uint32_t d = 0; d < s->n; d++) {
			const char *p;
			size_t n;
			if (rag_seg_doc(s, d, &p, &n, err) < 0)
				return -1;
			if (n && !rag_bit(seen, d))
				return verr(s, err, "record %u is missing from the document table", d);
		}
	return 0;
}

/* Checks the indexed fields: offsets, order, records, values. */
static int verify_fields(const rag_seg *s, rag_error *err)
{
	unsigned char *seen = NULL;
	int rc = -1;

	if (!s->fsec.present)
		return 0;
	if (rag_crc32c(0, s->fsec.p, s->fsec.len) != s->fsec.crc)
		return verr(s, err, "checksum mismatch in section %d", SEC_FIELDS);
	if (!(seen = malloc((size_t)s->n / 8 + 1)))
		return rag_error_set(err, RAG_ENOMEM, s->path, 0, "out of memory");
	for (uint32_t i = 0; i < s->ncols; i++) {
		const struct fcol *c = &s->cols[i];
		const char *prev = NULL;
		size_t prev_len = 0;
		memset(seen, 0, (size_t)s->n / 8 + 1);
		if (c->nlen == 0 || rag_utf8_valid_prefix(c->name, c->nlen) != c->nlen ||
		    memchr(c->name, 0, c->nlen)) {
			verr(s, err, "indexed field %u has a bad name", i);
			goto out;
		}
		if (get32(c->valoff) != 0 || get32(c->docstart) != 0 ||
		    get32(c->docstart + 4 * (size_t)c->nvalues) != c->ndocs) {
			verr(s, err, "the offsets of indexed field %u do not cover it", i);
			goto out;
		}
		for (uint32_t j = 0; j < c->nvalues; j++) {
			const char *t;
			size_t tl;
			rag_error e;
			json_t *v;
			uint32_t a = get32(c->docstart + 4 * (size_t)j);
			uint32_t b = get32(c->docstart + 4 * (size_t)j + 4);
			if (rag_seg_field_value(s, i, j, &t, &tl, err) < 0)
				goto out;
			if (a >= b || b > c->ndocs) {
				verr(s, err, "value %u of indexed field %u has no records", j, i);
				goto out;
			}
			if (prev) {
				size_t m = tl < prev_len ? tl : prev_len;
				int d = memcmp(prev, t, m);
				if (d > 0 || (d == 0 && prev_len >= tl)) {
					verr(s, err, "the values of indexed field %u are out of order", i);
					goto out;
				}
			}
			prev = t;
			prev_len = tl;
			if (!(v = rag_json_parse(t, tl, &e))) {
				verr(s, err, "value %u of indexed field %u is not JSON", j, i);
				goto out;
			}
			json_decref(v);
			for (uint32_t k = a; k < b; k++) {
				uint32_t d = get32(c->docs + 4 * (size_t)k);
				if (d >= s->n || (k > a && d <= get32(c->docs + 4 * (size_t)k - 4)) ||
				    rag_bit(seen, d)) {
					verr(s, err, "indexed field %u lists records out of order or twice", i);
					goto out;
				}
				rag_bit_set(seen, d);
			}
		}
	}
	rc = 0;
out:
	free(seen);
	return rc;
}

/* The vectors' checksums, rows, and graph. */
static int verify_vectors(const rag_seg *s, rag_error *err)
{
	const rag_seg_vecs *v = &s->vecs;
	rag_error e;

	if (rag_crc32c(0, s->vsec.p, s->vsec.len) != s->vsec.crc)
		return verr(s, err, "checksum mismatch in section %d", SEC_VECTORS);
	if (s->gsec.present && rag_crc32c(0, s->gsec.p, s->gsec.len) != s->gsec.crc)
		return verr(s, err, "checksum mismatch in section %d", SEC_GRAPH);
	for (uint32_t r = 0; r < v->count; r++) {
		uint32_t d = get32(v->rowdoc + 4 * (size_t)r);
		if (d >= s->n || (r && d <= get32(v->rowdoc + 4 * (size_t)r - 4)))
			return verr(s, err, "vector row %u names record %u out of order", r, d);
	}
	for (size_t i = 0; i < (size_t)v->count * v->dim; i++)
		if (!isfinite(v->rows[i]))
			return verr(s, err, "vector row %zu has a component that is not a number",
				    i / v->dim);
	if (s->rsec.present) {
		if (rag_crc32c(0, s->rsec.p, s->rsec.len) != s->rsec.crc)
			return verr(s, err, "checksum mismatch in section %d", SEC_VRAW);
		for (size_t i = 0; i < (size_t)v->count * v->dim; i++)
			if (!isfinite(v->raw[i]))
				return verr(s, err,
					    "raw vector row %zu has a component that is not a number",
					    i / v->dim);
	}
	if (v->count && !s->gsec.present)
		return verr(s, err, "vectors without their graph");
	if (s->gsec.present && rag_hnsw_verify(&s->graph, &e) < 0)
		return verr(s, err, "%s", e.text);
	if (s->csec.present) {
		const rag_seg_codes *c = &s->codes;
		if (rag_crc32c(0, s->csec.p, s->csec.len) != s->csec.crc)
			return verr(s, err, "checksum mismatch in section %d", SEC_VCODES);
		for (uint32_t r = 0; r < c->count; r++)
			if (!isfinite(c->norm2[r]))
				return verr(s, err, "vector code %u has a length that is not a number", r);
		for (uint32_t i = 0; c->lo && i < c->dim; i++)
			if (!isfinite(c->lo[i]) || !isfinite(c->scale[i]) || c->scale[i] <= 0)
				return verr(s, err, "the vector codes' scale %u is not a positive number", i);
	}
	return 0;
}

int rag_seg_verify(const rag_seg *s, rag_error *err)
{
	uint64_t *sum = NULL, total = 0, post_end = 0;
	unsigned char *seen = NULL;
	const char *prev_text = NULL;
	size_t prev_len = 0;
	int rc = -1;

	for (int k = 1; k < SEC_NKINDS; k++)
		if (rag_crc32c(0, s->sec[k].p, s->sec[k].len) != s->sec[k].crc)
			return verr(s, err, "checksum mismatch in section %d", k);
	if (s->vsec.present && verify_vectors(s, err) < 0)
		return -1;
	{
		const unsigned char *o = s->sec[SEC_RECOFF].p, *bt = s->sec[SEC_RECBLOCKS].p;
		uint64_t nb = s->nblocks, j = 0;
		if (get64(o) != 0 || get64(bt) != 0 || get64(bt + 8) != 0 ||
		    get64(o + 8 * (size_t)s->n) != get64(bt + RB * nb + 8) ||
		    get64(bt + RB * nb) != s->sec[SEC_RECORDS].len)
			return verr(s, err, "the record offsets do not cover the records");
		/* blocks grow, and each starts where a record starts */
		for (uint64_t b = 0; b < nb; b++) {
			uint64_t us = get64(bt + RB * b + 8);
			if (get64(bt + RB * b + RB) <= get64(bt + RB * b) ||
			    get64(bt + RB * b + RB + 8) <= us)
				return verr(s, err, "the record block table is out of order");
			while (j < s->n && get64(o + 8 * j) < us)
				j++;
			if (j >= s->n || get64(o + 8 * j) != us)
				return verr(s, err, "record block %llu does not start at a record",
					    (unsigned long long)b);
		}
		for (uint32_t i = 0; i < s->n; i++) {
			const char *p;
			size_t n;
			rag_error e;
			json_t *v;
			if (rag_seg_record(s, i, &p, &n, err) < 0)
				return -1;
			v = rag_json_parse(p, n, &e);
			if (!v || !json_is_object(v)) {
				json_decref(v);
				return verr(s, err, "record %u is not a JSON object", i);
			}
			json_decref(v);
			/* a vector left out of the record's text is in the rows */
			size_t vs, ve;
			if (rag_json_top_member(p, n, "vector", 6, &vs, &ve) == 1 && ve - vs == 2 &&
			    p[vs] == '[' && rag_seg_vector_row(s, i) < 0)
				return verr(s, err, "record %u's vector is in no vector row", i);
		}
	}
	if (verify_offsets32(s, SEC_IDOFF, SEC_IDTEXT, "id", err) < 0 ||
	    verify_offsets32(s, SEC_DOCOFF, SEC_DOCTEXT, "document", err) < 0)
		return -1;
	seen = malloc(((size_t)s->n + 7) / 8 + 1);
	sum = calloc((size_t)s->n + 1, sizeof *sum);
	if (!seen || !sum) {
		rag_error_set(err, RAG_ENOMEM, s->path, 0, "out of memory");
		goto out;
	}
	if (verify_keys(s, SEC_IDS, seen, err) < 0 || verify_keys(s, SEC_DOCS, seen, err) < 0)
		goto out;
	for (uint32_t i = 0; i < s->nterms; i++) {
		rag_seg_term t;
		rag_postings c;
		const char *text;
		uint32_t n = 0, max_tf = 0, min_dl = UINT32_MAX;
		int64_t last = -1;
		if (rag_seg_term_at(s, i, &t, &text, err) < 0)
			goto out;
		if (t.term_len == 0 || t.term_len > RAG_TERM_MAX) {
			verr(s, err, "term %u has length %u", i, t.term_len);
			goto out;
		}
		if (prev_text) {
			size_t m = prev_len < t.term_len ? prev_len : t.term_len;
			int cmp = memcmp(prev_text, text, m);
			if (cmp > 0 || (cmp == 0 && prev_len >= t.term_len)) {
				verr(s, err, "the term dictionary is out of order at term %u", i);
				goto out;
			}
		}
		if (i % RAG_SEG_TERM_STRIDE == 0 &&
		    get64be(s->sec[SEC_TERMINDEX].p + 8 * (size_t)(i / RAG_SEG_TERM_STRIDE)) !=
			    term_prefix(text, t.term_len)) {
			verr(s, err, "the term index disagrees with term %u", i);
			goto out;
		}
		prev_text = text;
		prev_len = t.term_len;
		if (t.post_off != post_end) {
			verr(s, err, "the postings of term %u do not follow the previous term's", i);
			goto out;
		}
		post_end += t.post_len;
		if (rag_postings_open(&c, s, &t, err) < 0)
			goto out;
		while (c.docno != RAG_POST_END) {
			rag_seg_block b;
			rag_postings_block(&c, &b);
			if ((int64_t)c.docno <= last) {
				verr(s, err, "the postings of term %u are out of order", i);
				goto out;
			}
			if (c.tf > b.max_tf || rag_seg_doclen(s, c.docno) < b.min_dl) {
				verr(s, err, "a block header of term %u is wrong", i);
				goto out;
			}
			last = c.docno;
			sum[c.docno] += c.tf;
			n++;
			if (c.tf > max_tf)
				max_tf = c.tf;
			if (rag_seg_doclen(s, c.docno) < min_dl)
				min_dl = rag_seg_doclen(s, c.docno);
			if (rag_postings_next(&c, err) < 0)
				goto out;
		}
		if (n != t.df || max_tf != t.max_tf || min_dl != t.min_dl) {
			verr(s, err, "the dictionary entry of term %u does not match its postings", i);
			goto out;
		}
	}
	if (post_end != s->sec[SEC_POSTINGS].len) {
		verr(s, err, "the postings section has bytes no term uses");
		goto out;
	}
	for (uint32_t d = 0; d < s->n; d++) {
		if (sum[d] != rag_seg_doclen(s, d)) {
			verr(s, err, "record %u has length %u but %llu postings", d,
			     rag_seg_doclen(s, d), (unsigned long long)sum[d]);
			goto out;
		}
		total += sum[d];
	}
	if (total != s->total_len) {
		verr(s, err, "the header's total length is wrong");
		goto out;
	}
	if (verify_fields(s, err) < 0)
		goto out;
	rc = 0;
out:
	free(seen);
	free(sum);
	return rc;
}
