/*
 * segment.h - the store's immutable segment files and deletion files.
 *
 * A segment holds a batch of records and their inverted index.  It is
 * written once (by the batch builder or by a merge), fsynced, and from
 * then on only read, through mmap.  Opening checks the header, the
 * section table and the sizes of the fixed-width sections, and nothing
 * more: it costs the same for ten records or ten million.  Every offset
 * read from the file later is checked before it is followed, so a damaged
 * file gives an error, never a crash.  rag_seg_verify reads everything
 * and checks every checksum and cross-reference.
 *
 * The layout is documented in rag-store(5); all integers are
 * little-endian.
 *
 * Records in a segment are numbered 0..n-1 ("docno") in the order they
 * were added.  A deletion file is a bitmap over those numbers.
 */
#ifndef RAG_SEGMENT_H
#define RAG_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

struct rag_hnsw;

/*
 * The segment format version written, and the oldest read.  Version 2
 * segments may leave a record's vector text to the rows (rag-store(5)),
 * which a reader of version 1 would give back as "vector":[].
 */
#define RAG_SEG_VERSION 2
#define RAG_SEG_VERSION_MIN 1
#define RAG_DEL_VERSION 1 /* deletion files */
#define RAG_SEG_BLOCK 128 /* postings per block */

/* Section kinds. */
enum rag_seg_kind {
	SEC_RECORDS = 1,  /* the stored records, concatenated, in LZ4 blocks */
	SEC_RECOFF = 2,   /* u64[n+1]: where each record starts, uncompressed */
	SEC_IDTEXT = 3,   /* the ids, concatenated */
	SEC_IDOFF = 4,    /* u32[n+1]: where each id starts in SEC_IDTEXT */
	SEC_IDS = 5,      /* {u64 hash, u32 docno}[n], sorted by hash then docno */
	SEC_DOCTEXT = 6,  /* the document ids, concatenated ("" for none) */
	SEC_DOCOFF = 7,   /* u32[n+1]: where each document id starts */
	SEC_DOCS = 8,     /* {u64 hash, u32 docno}[m], records that have a document */
	SEC_HASHES = 9,   /* 16-byte content hashes [n] */
	SEC_DOCLEN = 10,  /* u32[n]: terms in each record's text */
	SEC_POSTINGS = 11, /* block directories and postings of every term */
	SEC_TERMTEXT = 12, /* the terms, concatenated, in sorted order */
	SEC_TERMS = 13,   /* rag_seg_term[t], sorted by term bytes */
	SEC_IDBLOOM = 14, /* a blocked Bloom filter of the ids, 64-byte blocks */
	SEC_TERMINDEX = 15, /* u64 prefix of every 64th term, big-endian packed */
	SEC_RECBLOCKS = 16, /* {u64 compressed, u64 uncompressed offset, u32 crc, 0}[blocks + 1] */
	SEC_NKINDS = 17,
	/* optional: the records' vectors (rows of float32, 64-byte aligned) */
	SEC_VECTORS = 17,
	SEC_GRAPH = 18, /* optional, with SEC_VECTORS: the rows' HNSW graph (hnsw.h) */
	SEC_FIELDS = 19, /* optional: the indexed fields' values and their records */
	SEC_VCODES = 20, /* optional, with SEC_VECTORS: compact copies of the rows */
	SEC_VRAW = 21    /* with SEC_VECTORS of a cosine store: the rows as given */
};

/*
 * How a segment's vectors are kept and searched: the metric, the
 * dimension, and the graph's parameters (threads only for building).
 */
typedef struct rag_seg_vecopts {
	int metric; /* enum rag_metric */
	uint32_t dim;
	uint32_t m, efc;
	unsigned threads;
	int quant; /* enum rag_quant (store.h): compact codes beside the rows */
} rag_seg_vecopts;

/*
 * A segment's vectors, as SEC_VECTORS holds them: count rows of dim
 * float32 each, row i belonging to record rag_seg_vector_docno(v, i)
 * (rows in docno order; records without a vector have no row).
 */
typedef struct rag_seg_vecs {
	uint32_t dim, count;
	int metric;
	const unsigned char *rowdoc; /* u32[count], little-endian */
	const float *rows;           /* count * dim, 64-byte aligned */
	/*
	 * The rows as the records gave them, before cosine's normalising
	 * (SEC_VRAW); rows itself when the store's metric keeps them as given.
	 */
	const float *raw;
} rag_seg_vecs;

/* Every RAG_SEG_TERM_STRIDE-th term has an entry in SEC_TERMINDEX. */
enum {
	RAG_SEG_TERM_STRIDE = 64
};

/* A section flag: a reader that does not know the kind must refuse the file. */
#define SEC_REQUIRED 1u

/* One entry of the term dictionary, as stored (32 bytes). */
typedef struct rag_seg_term {
	uint64_t post_off; /* into SEC_POSTINGS */
	uint32_t post_len;
	uint32_t df;       /* records that contain the term */
	uint32_t term_off; /* into SEC_TERMTEXT */
	uint16_t term_len;
	uint16_t reserved;
	uint32_t max_tf;   /* the largest frequency in any record */
	uint32_t min_dl;   /* the shortest record that contains the term */
} rag_seg_term;

/* A block header in a term's postings (16 bytes). */
typedef struct rag_seg_block {
	uint32_t last;   /* the last docno in the block */
	uint32_t off;    /* where its postings start, from the end of the directory */
	uint32_t max_tf; /* the largest frequency in the block */
	uint32_t min_dl; /* the shortest record in the block */
} rag_seg_block;

typedef struct rag_seg rag_seg;

/* Opens and maps a segment file.  NULL with err naming the file. */
rag_seg *rag_seg_open(const char *path, rag_error *err);
void rag_seg_close(rag_seg *s);

const char *rag_seg_path(const rag_seg *s);
uint32_t rag_seg_records(const rag_seg *s);
uint64_t rag_seg_total_len(const rag_seg *s);
uint64_t rag_seg_bytes(const rag_seg *s);
uint32_t rag_seg_nterms(const rag_seg *s);

/*
 * Record i's stored JSON, id, document id and content hash.  -1 with err
 * when the file is damaged.  Pointers are into the mapping, but for the
 * JSON, which is decompressed: it stays valid until the next
 * rag_seg_record on the same segment.  (A segment is not for two threads
 * at once.)
 */
int rag_seg_record(const rag_seg *s, uint32_t i, const char **p, size_t *n, rag_error *err);
int rag_seg_id(const rag_seg *s, uint32_t i, const char **p, size_t *n, rag_error *err);
int rag_seg_doc(const rag_seg *s, uint32_t i, const char **p, size_t *n, rag_error *err);
const unsigned char *rag_seg_hash(const rag_seg *s, uint32_t i);
uint32_t rag_seg_doclen(const rag_seg *s, uint32_t i);

/* 64-bit hash of an id or a document id, as the tables use. */
uint64_t rag_seg_keyhash(const char *p, size_t n);

/*
 * Finds the records with id (which=SEC_IDS) or document id (SEC_DOCS)
 * key: calls fn for each docno whose key is exactly key, in docno order.
 * fn returns non-zero to stop.  Returns 0, fn's value, or -1.
 */
int rag_seg_find(const rag_seg *s, int which, const char *key, size_t len,
		 int (*fn)(uint32_t docno, void *arg), void *arg, rag_error *err);
/* The same with h = rag_seg_keyhash(key, len) already at hand. */
int rag_seg_find_hash(const rag_seg *s, int which, const char *key, size_t len, uint64_t h,
		      int (*fn)(uint32_t docno, void *arg), void *arg, rag_error *err);

/* Looks a term up: 1 with *t filled, 0 when absent, -1 when damaged. */
int rag_seg_term_find(const rag_seg *s, const char *term, size_t len,
		      rag_seg_term *t, rag_error *err);
/* The i-th term of the dictionary and its bytes. */
int rag_seg_term_at(const rag_seg *s, uint32_t i, rag_seg_term *t,
		    const char **text, rag_error *err);

/* A cursor over one term's postings. */
typedef struct rag_postings {
	const rag_seg *seg;
	const unsigned char *dir;  /* block directory */
	const unsigned char *data; /* postings data */
	size_t data_len;
	uint32_t nblocks, df;
	uint32_t block;    /* current block */
	uint32_t in_block; /* postings of the current block not yet decoded */
	const unsigned char *p, *end; /* decoding position in the current block */
	int64_t prev;      /* the docno decoded last, -1 before the first */
	uint32_t docno;    /* current posting; RAG_POST_END when done */
	uint32_t tf;
} rag_postings;

#define RAG_POST_END UINT32_MAX

/* Positions c on the first posting of t.  -1 when damaged. */
int rag_postings_open(rag_postings *c, const rag_seg *s, const rag_seg_term *t,
		      rag_error *err);
/* Moves to the next posting; docno RAG_POST_END at the end.  -1 when damaged. */
int rag_postings_next(rag_postings *c, rag_error *err);
/* Moves to the first posting with docno >= target, skipping whole blocks. */
int rag_postings_advance(rag_postings *c, uint32_t target, rag_error *err);
/* The block header of the current block. */
void rag_postings_block(const rag_postings *c, rag_seg_block *b);

/* Reads everything and checks every checksum and cross-reference. */
int rag_seg_verify(const rag_seg *s, rag_error *err);

/* The segment's vectors: 1 with *v filled, 0 when it has none. */
int rag_seg_vectors(const rag_seg *s, rag_seg_vecs *v);
/* The record of vector row i (checked: RAG_POST_END when damaged). */
uint32_t rag_seg_vector_docno(const rag_seg *s, const rag_seg_vecs *v, uint32_t row);
/* The vector row of record docno, or -1 when it has none. */
long rag_seg_vector_row(const rag_seg *s, uint32_t docno);
/*
 * The compact copies of a segment's rows (SEC_VCODES): kind 1 float16,
 * 2 uint8 with lo and scale (dim floats each); norm2 holds the squared
 * length of each decoded row; row i's code starts at codes + i * stride
 * (a multiple of 64 bytes, as codes is).
 */
typedef struct rag_seg_codes {
	int kind;
	uint32_t dim, count;
	size_t stride;
	const float *lo, *scale, *norm2;
	const unsigned char *codes;
} rag_seg_codes;
/* 1 with *c filled, 0 when the segment has no codes. */
int rag_seg_codes_of(const rag_seg *s, rag_seg_codes *c);

/* The segment's graph over its vector rows, or NULL when it has none. */
const struct rag_hnsw *rag_seg_graph(const rag_seg *s);

/*
 * Indexed fields (SEC_FIELDS; none when the section is absent).  Field i
 * has a name (its path as rag-filter writes it), distinct values as
 * compact JSON text in byte order, and for each value the records that
 * hold it, in docno order.  A record in no list lacks the field.
 */
#define RAG_SEG_FIELDS_MAX 64 /* a segment indexes at most this many fields */
uint32_t rag_seg_nfields(const rag_seg *s);
const char *rag_seg_field_name(const rag_seg *s, uint32_t i, size_t *len);
uint32_t rag_seg_field_nvalues(const rag_seg *s, uint32_t i);
/* The number of the field called name, or -1 when the segment does not index it. */
long rag_seg_field_find(const rag_seg *s, const char *name);
int rag_seg_field_value(const rag_seg *s, uint32_t i, uint32_t j, const char **text,
			size_t *len, rag_error *err);
/*
 * Value j's records: *docs points at *count little-endian u32 docnos, each
 * below rag_seg_records (checked).  -1 when damaged.
 */
int rag_seg_field_list(const rag_seg *s, uint32_t i, uint32_t j, const unsigned char **docs,
		       uint32_t *count, rag_error *err);
/* Sets (set 1) or clears (set 0) the bits of value j's records.  -1 when damaged. */
int rag_seg_field_mark(const rag_seg *s, uint32_t i, uint32_t j, unsigned char *bits, int set,
		       rag_error *err);

/* ---- writing ---- */

typedef struct rag_segw rag_segw;

/*
 * The builder: records are added one by one with their terms; then the
 * segment is written.  Memory grows with the batch.
 */
rag_segw *rag_segw_new(rag_error *err);
void rag_segw_free(rag_segw *w);
/* Forgets everything added, keeping the memory. */
void rag_segw_reset(rag_segw *w);
uint32_t rag_segw_records(const rag_segw *w);
/* Bytes of records (JSON, ids, document ids) held. */
size_t rag_segw_bytes(const rag_segw *w);

/* Adds a record: returns its docno, or -1.  Then rag_segw_post for its terms. */
long rag_segw_add(rag_segw *w, const char *json, size_t json_len,
		  const char *id, size_t id_len, const char *doc, size_t doc_len,
		  const unsigned char hash[16], rag_error *err);
/*
 * An occurrence of term number term in record docno, which may be any
 * record added so far; records must come in docno order.  Terms are
 * numbered by the caller (an analyzer's rag_analyze_ids), and
 * rag_segw_set_terms says how to get their text when the segment is
 * written.  This side of the builder (postings, lengths) shares nothing
 * with rag_segw_add, so one thread may add records while another adds
 * their terms, as long as rag_segw_write and rag_segw_reset wait for both.
 */
int rag_segw_post(rag_segw *w, uint32_t docno, uint32_t term, rag_error *err);
/* The same for n terms of record docno. */
int rag_segw_post_many(rag_segw *w, uint32_t docno, const uint32_t *terms, size_t n,
		       rag_error *err);
/*
 * The fields the segment indexes (paths as rag-filter writes them); then
 * rag_segw_field gives record docno's value of field i, as compact JSON
 * text (a record may lack any of them).  0, or -1 with err set.
 */
int rag_segw_set_fields(rag_segw *w, const char *const *names, size_t n, rag_error *err);
int rag_segw_field(rag_segw *w, uint32_t docno, size_t i, const char *text, size_t len,
		   rag_error *err);

/*
 * The batch's vectors: rag_segw_set_vectors says how they are kept (the
 * first call fixes it for the builder's life), then rag_segw_vector gives
 * record docno's vector (dim components, after rag_segw_add of the
 * record; at most one per record).  A segment with vectors gets its
 * graph when it is written.  0, or -1 with err set.
 */
void rag_segw_set_vectors(rag_segw *w, const rag_seg_vecopts *vo);
/*
 * v is the vector as searched (normalised for cosine), raw as the record
 * gave it (kept in SEC_VRAW for cosine; may be NULL otherwise).
 */
int rag_segw_vector(rag_segw *w, uint32_t docno, const float *v, const float *raw,
		    rag_error *err);

/* The text of term number id: its bytes, *len its length. */
typedef const char *(*rag_segw_term_fn)(void *arg, uint32_t id, size_t *len);
void rag_segw_set_terms(rag_segw *w, rag_segw_term_fn fn, void *arg);
/* The id and content hash of batch record i (pointers valid until the next add). */
void rag_segw_id(const rag_segw *w, uint32_t i, const char **p, size_t *n);
const unsigned char *rag_segw_hash(const rag_segw *w, uint32_t i);

/*
 * Writing the batch's segment, in parts that threads can share.
 * rag_segjob_new plans it: the records kept (all but those whose docno is
 * set in drop, a bitmap that may be NULL), for a segment file at path
 * (kept by the job).  rag_segjob_run takes parts and does them until none
 * is left; another thread may call it while rag_segw_write runs.
 * rag_segw_write writes the segment, doing the parts left itself and
 * waiting for the others, and closes it without an fsync, which is the
 * caller's (rag_file_sync, from any thread); 0, or -1 with err set.
 * rag_segjob_free comes after every call of both has returned.  The
 * batch does not change from rag_segjob_new to rag_segjob_free.
 */
typedef struct rag_segjob rag_segjob;
rag_segjob *rag_segjob_new(const rag_segw *w, const unsigned char *drop, const char *path,
			   rag_error *err);
void rag_segjob_run(rag_segjob *j);
int rag_segw_write(rag_segw *w, rag_segjob *j, rag_error *err);
void rag_segjob_free(rag_segjob *j);
/* fsyncs the file or directory at path, a what.  0, or -1 with err set. */
int rag_file_sync(const char *path, const char *what, rag_error *err);

/*
 * Finds field number field (of those given to rag_seg_merge) in the
 * stored record json[0..len): 1 with its value as compact JSON text in
 * out, 0 when the record lacks it, -1 with err set.
 */
typedef int (*rag_seg_extract_fn)(void *arg, size_t field, const char *json, size_t len,
				  rag_buf *out, rag_error *err);

/*
 * Merges segs[0..n) into one segment at path, leaving out the records
 * whose bit is set in del[i] (a bitmap, or NULL for none).  The new
 * segment indexes fields[0..nfields): values come from the segments that
 * index a field, and from the records, through extract, for those that
 * do not.
 */
int rag_seg_merge(rag_seg *const *segs, const unsigned char *const *del, size_t n,
		  const char *const *fields, size_t nfields, rag_seg_extract_fn extract,
		  void *arg, const rag_seg_vecopts *vo, const char *path, rag_error *err);

/*
 * Writes a small file whole: a then b, fsynced and closed; on failure the
 * file is removed.  what names it in messages ("manifest").
 */
int rag_write_file(const char *path, const void *a, size_t na, const void *b, size_t nb,
		   const char *what, rag_error *err);

/* ---- deletion files ---- */

/*
 * Writes a deletion bitmap for a segment of n records (ndel bits set),
 * fsynced.
 */
int rag_del_write(const char *path, const unsigned char *bits, uint32_t n,
		  uint32_t ndel, rag_error *err);
/*
 * Reads a deletion file for a segment of n records into a new bitmap
 * (*bits, freed by the caller) of (n + 7) / 8 bytes; *ndel gets the
 * number of bits set.  full also checks the checksum and the count.
 */
int rag_del_read(const char *path, uint32_t n, unsigned char **bits,
		 uint32_t *ndel, int full, rag_error *err);

/* The bits set in the bitmap b[0..n) (n bytes). */
uint32_t rag_bits_count(const unsigned char *b, size_t n);

static inline int rag_bit(const unsigned char *bits, uint32_t i)
{
	return bits && (bits[i >> 3] >> (i & 7)) & 1;
}

static inline void rag_bit_set(unsigned char *bits, uint32_t i)
{
	bits[i >> 3] |= (unsigned char)(1u << (i & 7));
}

#endif
