/*
 * store_local.c - the local store: a directory of segments and a manifest.
 *
 *   STORE/MANIFEST                the committed state (see below)
 *   STORE/LOCK                    held with flock(2) by the one writer
 *   STORE/seg-NNNNNNNN.rseg       segments (segment.c)
 *   STORE/seg-NNNNNNNN-GGGGGGGG.del  deletions of segment N as of state G
 *
 * MANIFEST is a 32-byte header (magic "\x89RAGMAN\n", u32 version, u32
 * 0x01020304, u32 body length, u32 CRC-32C of the body, u64 generation)
 * and a JSON body naming the settings and the live segments with their
 * deletion files.  A commit writes its new files, fsyncs them, writes
 * MANIFEST.tmp, fsyncs it, renames it over MANIFEST and fsyncs the
 * directory; only then are the files the old state alone used removed.
 * A crash at any moment leaves the old state or the new one; files a
 * crashed writer left behind are removed by the next writer.
 *
 * Readers read MANIFEST and map the files it names.  Unlinking a mapped
 * file does not disturb the mapping, so a reader keeps its snapshot while
 * the writer moves on; a reader that finds a file already gone reads the
 * newer MANIFEST and starts again.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "analyze.h"
#include "backend.h"
#include "bm25.h"
#include "crc32c.h"
#include "filter.h"
#include "json.h"
#include "le.h"
#include "segment.h"
#include "vec.h"
#include "hnsw.h"
#include "vsearch.h"

#define MAN_MAGIC "\x89RAGMAN\n"
#define MAN_HEADER 32
#define MAN_VERSION 1
#define MAN_MAX (64u << 20)
#define ENDIAN_MARK 0x01020304u
#define MERGE_FACTOR 10 /* segments of one size class that are merged into one */
#define OPEN_TRIES 50

typedef struct lseg {
	rag_seg *seg;
	uint64_t no;         /* the segment's number, in its file name */
	char *delname;       /* its deletion file, or NULL */
	unsigned char *del;  /* the deletion bitmap, or NULL when none */
	uint32_t ndel;
	int dirty;           /* writer: deletions changed since the commit */
	int fresh;           /* writer: written in this session */
	json_t ***vals;      /* search: indexed values read so far, by field and value */
} lseg;

/* One id, for the set of a document's old records (--replace-docs). */
typedef struct cand {
	size_t off, len;
	uint64_t hash;
	int touched;
} cand;

/*
 * Indexing in two threads.  The caller's thread reads records, looks them
 * up, stores them and splits their texts into words; a second thread,
 * with an analyzer of its own, turns the words into term numbers.  Words
 * travel in chunks of up to CHUNK_RECORDS records, each
 * word a length byte and its bytes, and their numbers come back in the
 * same chunk, which becomes postings (rag_segw_post) in the order the
 * chunks went, by whichever thread has time first (see post_chunk); a commit
 * waits until every chunk is numbered and posted, so the postings of a
 * record are in the builder before any commit that includes it.  At a
 * commit the thread helps write the segment (rag_segjob): the parts, from
 * sorting the terms to compressing blocks of records, go to whichever
 * thread is free, and then it fsyncs the segment while the caller writes
 * the manifest.
 */
#define CHUNK_RECORDS 64
#define CHUNK_BYTES (1u << 20)
/* The first chunk handed over is smaller, so that the thread starts sooner. */
#define CHUNK_FIRST 8
#define NCHUNKS 4
/* An analyzer forgets its numbering at a commit once it has this many terms. */
#define VOCAB_KEEP (1u << 21)

typedef struct chunk {
	rag_buf words;
	uint32_t docno[CHUNK_RECORDS];
	size_t off[CHUNK_RECORDS + 1];
	size_t n;
	uint32_t *ids; /* the words' term numbers, record after record */
	size_t ids_cap;
	size_t idoff[CHUNK_RECORDS + 1]; /* record i's: ids[idoff[i]] to ids[idoff[i + 1]] */
	uint64_t seq;  /* the chunk's place in the order they were handed over */
	int busy;      /* queued or being numbered */
	int numbered;  /* numbered, and its postings not made yet */
} chunk;

typedef struct indexer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* broadcast on every change of the fields below */
	chunk chunks[NCHUNKS];
	int queue[NCHUNKS]; /* chunks waiting, oldest first */
	size_t qn;
	int working; /* the thread is numbering a chunk */
	int filling; /* the chunk the caller fills, or -1 */
	uint64_t seq_next;  /* the seq of the next chunk handed over */
	uint64_t post_next; /* the seq of the next chunk to post */
	int posting;        /* a thread is posting a chunk */
	int stop;
	int failed;
	rag_error err;
	rag_analyzer *an;
	rag_segw *w;
	/*
	 * A commit's task for the thread while the caller goes on (helping
	 * write the segment, then its fsync): 1 asked, 2 done, with its result.
	 */
	int task;
	int (*task_fn)(struct indexer *ix, rag_error *err);
	int task_rc;
	rag_error task_err;
	rag_segjob *job;      /* the segment's job */
	char spath[PATH_MAX]; /* the segment to fsync */
} indexer;

typedef struct local {
	rag_store base;
	char *dir;
	char *path; /* scratch for file paths */
	size_t path_cap;
	int writer;
	int lockfd;
	int broken; /* a commit failed half-way: only closing is left */
	int unsaved; /* created, and no manifest written yet */
	int resettled; /* writer: settings changed (fields added), not yet committed */
	char missing[RAG_ERROR_SOURCE_MAX]; /* a file found missing while opening */
	uint64_t *sess; /* the session's ids (see session_add) */
	size_t sess_size, sess_count;
	int sess_off;
	int made_dir; /* this writer made the directory */
	rag_store_settings settings;
	rag_analyzer *an;
	rag_analyzer *numbering; /* writer: the analyzer that numbers the batch's terms */
	rag_filter *paths[RAG_FIELDS_MAX]; /* settings.fields, compiled */
	unsigned npaths;
	const char *topkeys[RAG_FIELDS_MAX + 1]; /* their first keys, the members to parse */
	unsigned ntopkeys;
	int keys_whole; /* a first key has a NUL: records are parsed whole */
	rag_buf fieldtext; /* writer: a record's value of an indexed field */

	lseg *segs;
	size_t nsegs, segs_cap;
	uint64_t generation, next_seg;
	uint64_t manifest_bytes;

	/* pending changes */
	indexer *ix; /* the indexing thread, once started */
	int no_thread; /* it could not be started: analyze in this thread */
	rag_segw *batch;
	unsigned char *drop;
	size_t drop_cap;
	uint64_t *btab; /* batch ids: keyhash, with the docno in a side array */
	uint32_t *bdoc; /* docno + 1; 0 for an empty slot */
	size_t btab_size, bcount;
	size_t pending;

	/* the document being replaced */
	int doc_open;
	rag_buf cand_ids;
	cand *cands;
	size_t ncands, cands_cap;

	/* vectors: the record's, normalised when the metric is cosine */
	float *vbuf;
	size_t vbuf_cap;
	rag_buf stripped; /* a record with its vector's text left out */
	rag_buf scanbuf;  /* a record read back by local_scan */

	/* search */
	rag_hit *hits;
	rag_vhit *vhits;
	size_t vhits_cap;
	struct rag_hnsw_scratch *scratch; /* the graphs' walks */
	float *qvec;
	size_t qvec_cap;
	rag_bm25_hit *bhits;
	rag_buf hitbuf; /* the hits' records */
	size_t hits_cap;
	rag_bm25_term *qterms;
	size_t nqterms, qterms_cap;
	rag_buf qtext;
	size_t *qoff;
	size_t qoff_cap;
	/*
	 * The records each segment's indexed fields allow for the filter of
	 * the last search: kept while the same filter searches the same
	 * snapshot (rag-search asks many queries with one filter).
	 */
	uint64_t sel_serial; /* rag_filter_serial of that filter; 0 for none */
	uint64_t sel_generation;
	size_t sel_n;
	unsigned char **sel_bits;
	int *sel_exact;
	unsigned sel_uses; /* searches that found them ready */
} local;

static const char *fpath(local *l, const char *name)
{
	size_t need = strlen(l->dir) + strlen(name) + 2;

	if (need > l->path_cap) {
		char *p = realloc(l->path, need);
		if (!p)
			return NULL;
		l->path = p;
		l->path_cap = need;
	}
	snprintf(l->path, l->path_cap, "%s/%s", l->dir, name);
	return l->path;
}

static void seg_name(char *buf, size_t size, uint64_t no)
{
	snprintf(buf, size, "seg-%08llu.rseg", (unsigned long long)no);
}

static void del_name(char *buf, size_t size, uint64_t no, uint64_t gen)
{
	snprintf(buf, size, "seg-%08llu-%08llu.del", (unsigned long long)no,
		 (unsigned long long)gen);
}

static int nomem(rag_error *err)
{
	return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
}

/* Drops a segment's cache of indexed values. */
static void vals_free(lseg *s)
{
	if (!s->vals)
		return;
	for (uint32_t i = 0; i < rag_seg_nfields(s->seg); i++) {
		if (!s->vals[i])
			continue;
		for (uint32_t j = 0; j < rag_seg_field_nvalues(s->seg, i); j++)
			json_decref(s->vals[i][j]);
		free(s->vals[i]);
	}
	free(s->vals);
	s->vals = NULL;
}

/* Closes a segment and frees what the store keeps of it. */
static void lseg_free(lseg *s)
{
	vals_free(s);
	rag_seg_close(s->seg);
	free(s->delname);
	free(s->del);
}

static void segs_free(lseg *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		lseg_free(&v[i]);
	free(v);
}

/* ---- the manifest ---- */

typedef struct manifest {
	uint64_t generation, next_seg;
	rag_store_settings settings;
	size_t n;
	struct mseg {
		uint64_t no;
		uint64_t records, deleted;
		char *delname;
	} *v;
	uint64_t bytes;
} manifest;

static void manifest_free(manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].delname);
	free(m->v);
	memset(m, 0, sizeof *m);
}

/* The number in a segment's (del 0) or deletion file's (del 1) name; -1 for other names. */
static int parse_no(const char *name, uint64_t *no, int del)
{
	unsigned long long a, g = 0;
	char canon[64];

	if (strncmp(name, "seg-", 4) != 0)
		return -1;
	if (!(name[4] >= '0' && name[4] <= '9'))
		return -1;
	if (del ? sscanf(name, "seg-%llu-%llu", &a, &g) != 2 : sscanf(name, "seg-%llu", &a) != 1)
		return -1;
	if (del)
		del_name(canon, sizeof canon, a, g);
	else
		seg_name(canon, sizeof canon, a);
	if (strcmp(canon, name) != 0)
		return -1;
	*no = a;
	return 0;
}

/* 1 and m filled; 0 when there is no MANIFEST; -1 with err. */
/*
 * The vector settings of a manifest (absent in a store written before
 * vectors: then the defaults).  0, or -1 when they are not valid.
 */
static int vectors_read(const json_t *v, rag_store_settings *s)
{
	const json_t *m, *d, *efc, *lex, *dim, *model, *qz;
	int metric, quant = RAG_QUANT_NONE;

	s->metric = RAG_METRIC_COSINE;
	s->hnsw_m = 16;
	s->hnsw_efc = 200;
	s->lexical_ok = 0;
	s->quant = RAG_QUANT_NONE;
	s->dim = 0;
	s->model[0] = '\0';
	if (!v)
		return 0;
	m = json_object_get(v, "metric");
	d = json_object_get(v, "m");
	efc = json_object_get(v, "ef_construction");
	lex = json_object_get(v, "lexical_ok");
	dim = json_object_get(v, "dim");
	model = json_object_get(v, "model");
	qz = json_object_get(v, "quantize");
	if (qz && (!json_is_string(qz) || (quant = rag_quant_parse(json_string_value(qz))) < 0))
		return -1;
	if (!json_is_object(v) || !json_is_string(m) ||
	    (metric = rag_metric_parse(json_string_value(m))) < 0 || !json_is_integer(d) ||
	    json_integer_value(d) < RAG_HNSW_M_MIN || json_integer_value(d) > RAG_HNSW_M_MAX ||
	    !json_is_integer(efc) || json_integer_value(efc) < 1 ||
	    json_integer_value(efc) > RAG_HNSW_EFC_MAX || !json_is_boolean(lex) ||
	    !json_is_integer(dim) || json_integer_value(dim) < 0 ||
	    json_integer_value(dim) > RAG_DIM_MAX || !json_is_string(model) ||
	    json_string_length(model) >= sizeof s->model ||
	    strlen(json_string_value(model)) != json_string_length(model) ||
	    (json_integer_value(dim) == 0 && json_string_length(model) != 0))
		return -1;
	s->metric = metric;
	s->hnsw_m = (unsigned)json_integer_value(d);
	s->hnsw_efc = (unsigned)json_integer_value(efc);
	s->lexical_ok = json_is_true(lex);
	s->quant = quant;
	s->dim = (unsigned)json_integer_value(dim);
	strcpy(s->model, json_string_value(model));
	return 0;
}

static int manifest_read(const char *dir, const char *path, manifest *m, rag_error *err)
{
	unsigned char h[MAN_HEADER];
	char *body = NULL;
	json_t *j = NULL;
	struct stat st;
	int fd, rc = -1;

	memset(m, 0, sizeof *m);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return rag_error_sys(err, errno, path, "cannot open manifest");
	}
	if (fstat(fd, &st) < 0) {
		rag_error_sys(err, errno, path, "cannot read manifest");
		goto out;
	}
	if (st.st_size < MAN_HEADER || st.st_size > MAN_MAX) {
		rag_error_set(err, RAG_EDATA, path, 0, "damaged manifest: %lld bytes",
			      (long long)st.st_size);
		goto out;
	}
	body = malloc((size_t)st.st_size + 1);
	if (!body) {
		nomem(err);
		goto out;
	}
	for (size_t got = 0; got < (size_t)st.st_size;) {
		ssize_t k = pread(fd, body + got, (size_t)st.st_size - got, (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			rag_error_sys(err, k < 0 ? errno : EIO, path, "cannot read manifest");
			goto out;
		}
		got += (size_t)k;
	}
	memcpy(h, body, MAN_HEADER);
	if (memcmp(h, MAN_MAGIC, 8) != 0) {
		rag_error_set(err, RAG_EDATA, path, 0, "not a ragkit store manifest (bad magic number)");
		goto out;
	}
	if (get32(h + 12) != ENDIAN_MARK) {
		rag_error_set(err, RAG_EDATA, path, 0, "damaged manifest: bad byte-order mark");
		goto out;
	}
	if (get32(h + 8) != MAN_VERSION) {
		rag_error_set(err, RAG_EDATA, path, 0,
			      "store format version %u; this ragkit reads version %d", get32(h + 8),
			      MAN_VERSION);
		goto out;
	}
	size_t blen = get32(h + 16);
	if (blen != (size_t)st.st_size - MAN_HEADER) {
		rag_error_set(err, RAG_EDATA, path, 0,
			      "truncated or damaged manifest: the header says %zu bytes of body, the file has %zu",
			      blen, (size_t)st.st_size - MAN_HEADER);
		goto out;
	}
	if (rag_crc32c(0, body + MAN_HEADER, blen) != get32(h + 20)) {
		rag_error_set(err, RAG_EDATA, path, 0, "damaged manifest: checksum mismatch");
		goto out;
	}
	m->generation = (uint64_t)get32(h + 24) | (uint64_t)get32(h + 28) << 32;
	m->bytes = (uint64_t)st.st_size;
	{
		rag_error e;
		json_t *v, *segs;
		const char *an;
		j = rag_json_parse(body + MAN_HEADER, blen, &e);
		if (!j || !json_is_object(j))
			goto bad;
		v = json_object_get(j, "generation");
		if (!json_is_integer(v) || (uint64_t)json_integer_value(v) != m->generation)
			goto bad;
		v = json_object_get(j, "next_segment");
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			goto bad;
		m->next_seg = (uint64_t)json_integer_value(v);
		v = json_object_get(j, "settings");
		if (!json_is_object(v))
			goto bad;
		an = json_string_value(json_object_get(v, "analyzer"));
		if (!an || strlen(an) >= sizeof m->settings.analyzer ||
		    !json_is_number(json_object_get(v, "k1")) ||
		    !json_is_number(json_object_get(v, "b")))
			goto bad;
		strcpy(m->settings.analyzer, an);
		m->settings.k1 = json_number_value(json_object_get(v, "k1"));
		m->settings.b = json_number_value(json_object_get(v, "b"));
		{
			json_t *fs = json_object_get(v, "fields"), *x;
			size_t i;
			if (fs && (!json_is_array(fs) || json_array_size(fs) > RAG_FIELDS_MAX))
				goto bad;
			json_array_foreach(fs, i, x) {
				if (!json_is_string(x) || json_string_length(x) == 0 ||
				    json_string_length(x) >= RAG_FIELD_NAME_MAX ||
				    strlen(json_string_value(x)) != json_string_length(x))
					goto bad;
				strcpy(m->settings.fields[i], json_string_value(x));
			}
			m->settings.nfields = fs ? (unsigned)json_array_size(fs) : 0;
		}
		if (vectors_read(json_object_get(v, "vectors"), &m->settings) < 0)
			goto bad;
		segs = json_object_get(j, "segments");
		if (!json_is_array(segs))
			goto bad;
		m->n = json_array_size(segs);
		m->v = calloc(m->n + 1, sizeof *m->v);
		if (!m->v) {
			nomem(err);
			goto out;
		}
		for (size_t i = 0; i < m->n; i++) {
			json_t *s = json_array_get(segs, i), *f, *r, *d, *df;
			uint64_t no;
			f = json_object_get(s, "file");
			r = json_object_get(s, "records");
			d = json_object_get(s, "deleted");
			df = json_object_get(s, "deletions");
			if (!json_is_string(f) || !json_is_integer(r) || !json_is_integer(d) ||
			    json_integer_value(r) < 0 || json_integer_value(d) < 0 ||
			    json_integer_value(d) > json_integer_value(r) ||
			    parse_no(json_string_value(f), &m->v[i].no, 0) < 0)
				goto bad;
			char want[64];
			seg_name(want, sizeof want, m->v[i].no);
			if (strcmp(want, json_string_value(f)) != 0 || m->v[i].no >= m->next_seg)
				goto bad;
			m->v[i].records = (uint64_t)json_integer_value(r);
			m->v[i].deleted = (uint64_t)json_integer_value(d);
			if (df && !json_is_null(df)) {
				if (!json_is_string(df) || parse_no(json_string_value(df), &no, 1) < 0 ||
				    no != m->v[i].no)
					goto bad;
				if (!(m->v[i].delname = strdup(json_string_value(df)))) {
					nomem(err);
					goto out;
				}
			} else if (m->v[i].deleted) {
				goto bad;
			}
			for (size_t k = 0; k < i; k++)
				if (m->v[k].no == m->v[i].no)
					goto bad;
		}
	}
	(void)dir;
	rc = 1;
	goto out;
bad:
	rag_error_set(err, RAG_EDATA, path, 0, "damaged manifest: its contents are not a valid store description");
out:
	if (rc < 0)
		manifest_free(m);
	json_decref(j);
	free(body);
	close(fd);
	return rc;
}

static int fsync_dir(const char *dir, rag_error *err)
{
	return rag_file_sync(dir, "store directory", err);
}

static int ix_task_end(indexer *ix, rag_error *err);

/* Writes the writer's state as generation gen and makes it the committed one. */
static int manifest_write(local *l, uint64_t gen, rag_error *err)
{
	rag_buf b;
	unsigned char h[MAN_HEADER];
	char tmp[PATH_MAX], name[64];
	const char *final;
	int rc = -1;

	rag_buf_init(&b, MAN_MAX);
	if (rag_buf_addf(&b, "{\"format\":\"ragkit-store\",\"version\":%d,\"generation\":%llu,"
			     "\"next_segment\":%llu,\"settings\":{\"analyzer\":",
			 MAN_VERSION, (unsigned long long)gen, (unsigned long long)l->next_seg) < 0 ||
	    rag_json_add_string(&b, l->settings.analyzer, strlen(l->settings.analyzer)) < 0 ||
	    rag_buf_adds(&b, ",\"k1\":") < 0 || rag_json_add_real(&b, l->settings.k1, 0) < 0 ||
	    rag_buf_adds(&b, ",\"b\":") < 0 || rag_json_add_real(&b, l->settings.b, 0) < 0)
		goto nomem;
	if (l->settings.nfields) {
		if (rag_buf_adds(&b, ",\"fields\":[") < 0)
			goto nomem;
		for (unsigned i = 0; i < l->settings.nfields; i++)
			if ((i && rag_buf_addc(&b, ',') < 0) ||
			    rag_json_add_string(&b, l->settings.fields[i],
						strlen(l->settings.fields[i])) < 0)
				goto nomem;
		if (rag_buf_addc(&b, ']') < 0)
			goto nomem;
	}
	if (rag_buf_addf(&b, ",\"vectors\":{\"metric\":\"%s\",\"m\":%u,\"ef_construction\":%u,"
			     "\"lexical_ok\":%s,\"quantize\":\"%s\",\"dim\":%u,\"model\":",
			 rag_metric_name(l->settings.metric), l->settings.hnsw_m,
			 l->settings.hnsw_efc, l->settings.lexical_ok ? "true" : "false",
			 rag_quant_name(l->settings.quant), l->settings.dim) < 0 ||
	    rag_json_add_string(&b, l->settings.model, strlen(l->settings.model)) < 0 ||
	    rag_buf_addc(&b, '}') < 0)
		goto nomem;
	if (rag_buf_adds(&b, "},\"segments\":[") < 0)
		goto nomem;
	for (size_t i = 0; i < l->nsegs; i++) {
		seg_name(name, sizeof name, l->segs[i].no);
		if (rag_buf_addf(&b, "%s{\"file\":\"%s\",\"records\":%u,\"deleted\":%u", i ? "," : "",
				 name, rag_seg_records(l->segs[i].seg), l->segs[i].ndel) < 0)
			goto nomem;
		if (l->segs[i].delname &&
		    rag_buf_addf(&b, ",\"deletions\":\"%s\"", l->segs[i].delname) < 0)
			goto nomem;
		if (rag_buf_addc(&b, '}') < 0)
			goto nomem;
	}
	if (rag_buf_adds(&b, "]}\n") < 0)
		goto nomem;
	memcpy(h, MAN_MAGIC, 8);
	put32(h + 8, MAN_VERSION);
	put32(h + 12, ENDIAN_MARK);
	put32(h + 16, (uint32_t)b.len);
	put32(h + 20, rag_crc32c(0, b.data, b.len));
	put32(h + 24, (uint32_t)gen);
	put32(h + 28, (uint32_t)(gen >> 32));
	snprintf(tmp, sizeof tmp, "%s/MANIFEST.tmp", l->dir);
	if (rag_write_file(tmp, h, sizeof h, b.data, b.len, "manifest", err) < 0)
		goto out;
	/* the new files, their contents and their names, before the manifest names them */
	if (ix_task_end(l->ix, err) < 0 || fsync_dir(l->dir, err) < 0)
		goto out;
	if (!(final = fpath(l, "MANIFEST")))
		goto nomem;
	if (rename(tmp, final) < 0) {
		rag_error_sys(err, errno, final, "cannot replace manifest");
		goto out;
	}
	l->unsaved = 0; /* the store exists from here on, whatever follows */
	if (fsync_dir(l->dir, err) < 0)
		goto out;
	if (l->made_dir && gen == 1) {
		/* the store's own name, in its parent */
		char parent[PATH_MAX];
		const char *slash = strrchr(l->dir, '/');
		if (!slash)
			snprintf(parent, sizeof parent, ".");
		else if (slash == l->dir)
			snprintf(parent, sizeof parent, "/");
		else
			snprintf(parent, sizeof parent, "%.*s", (int)(slash - l->dir), l->dir);
		if (fsync_dir(parent, err) < 0)
			goto out;
	}
	l->generation = gen;
	l->manifest_bytes = MAN_HEADER + b.len;
	rc = 0;
	goto out;
nomem:
	nomem(err);
out:
	rag_buf_free(&b);
	return rc;
}

/*
 * Opens the files m names.  1 on success; 0 when a file is missing (a
 * writer replaced it: read the manifest again); -1 with err.
 */
static int open_state(local *l, const manifest *m, int full, rag_error *err)
{
	lseg *v = calloc(m->n + 1, sizeof *v);
	char name[64];
	const char *p;

	if (!v)
		return nomem(err);
	for (size_t i = 0; i < m->n; i++) {
		v[i].no = m->v[i].no;
		seg_name(name, sizeof name, m->v[i].no);
		if (!(p = fpath(l, name)))
			goto nomem;
		if (!(v[i].seg = rag_seg_open(p, err))) {
			if (access(p, F_OK) < 0 && errno == ENOENT) {
				snprintf(l->missing, sizeof l->missing, "%s", p);
				goto gone;
			}
			goto fail;
		}
		if (rag_seg_records(v[i].seg) != m->v[i].records) {
			rag_error_set(err, RAG_EDATA, p, 0,
				      "segment has %u records, the manifest says %llu",
				      rag_seg_records(v[i].seg), (unsigned long long)m->v[i].records);
			goto fail;
		}
		if (m->v[i].delname) {
			if (!(v[i].delname = strdup(m->v[i].delname)) || !(p = fpath(l, v[i].delname)))
				goto nomem;
			if (rag_del_read(p, (uint32_t)m->v[i].records, &v[i].del, &v[i].ndel, full,
					 err) < 0) {
				if (access(p, F_OK) < 0 && errno == ENOENT) {
					snprintf(l->missing, sizeof l->missing, "%s", p);
					goto gone;
				}
				goto fail;
			}
			if (v[i].ndel != m->v[i].deleted) {
				rag_error_set(err, RAG_EDATA, p, 0,
					      "deletion file has %u deletions, the manifest says %llu",
					      v[i].ndel, (unsigned long long)m->v[i].deleted);
				goto fail;
			}
		}
	}
	segs_free(l->segs, l->nsegs);
	l->segs = v;
	l->nsegs = l->segs_cap = m->n;
	l->generation = m->generation;
	l->next_seg = m->next_seg;
	l->manifest_bytes = m->bytes;
	return 1;
gone:
	segs_free(v, m->n);
	return 0;
nomem:
	nomem(err);
fail:
	segs_free(v, m->n);
	return -1;
}

/* Reads the manifest and opens the state it names.  0 when there is no store. */
static int load(local *l, int full, rag_error *err)
{
	uint64_t gone_gen = UINT64_MAX;

	for (int tries = 0;; tries++) {
		manifest m;
		const char *p = fpath(l, "MANIFEST");
		int r;
		if (!p)
			return nomem(err);
		r = manifest_read(l->dir, p, &m, err);
		if (r <= 0)
			return r;
		memcpy(&l->settings, &m.settings, sizeof l->settings);
		if (!(l->settings.k1 >= 0 && l->settings.k1 < 1e6) ||
		    !(l->settings.b >= 0 && l->settings.b <= 1)) {
			manifest_free(&m);
			return rag_error_set(err, RAG_EDATA, p, 0,
					     "damaged manifest: BM25 settings out of range");
		}
		/* a file still missing under the same manifest is lost, not replaced */
		if (m.generation == gone_gen) {
			manifest_free(&m);
			return rag_error_set(err, RAG_EDATA, l->missing, 0,
					     "damaged store: the manifest names this file, which is missing");
		}
		r = open_state(l, &m, full, err);
		gone_gen = m.generation;
		manifest_free(&m);
		if (r != 0)
			return r < 0 ? -1 : 1;
		if (tries >= OPEN_TRIES)
			return rag_error_set(err, RAG_EIO, l->dir, 0,
					     "the store keeps changing under the reader; try again");
		usleep(1000);
	}
}

/* Removes the files of our kinds that the committed state does not name. */
static void sweep(local *l)
{
	DIR *d = opendir(l->dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		uint64_t no;
		int keep = 0;
		if (strcmp(e->d_name, "MANIFEST.tmp") == 0) {
			keep = 0;
		} else if (parse_no(e->d_name, &no, 0) == 0) {
			for (size_t i = 0; i < l->nsegs && !keep; i++)
				keep = l->segs[i].no == no;
		} else if (parse_no(e->d_name, &no, 1) == 0) {
			for (size_t i = 0; i < l->nsegs && !keep; i++)
				keep = l->segs[i].delname && strcmp(l->segs[i].delname, e->d_name) == 0;
		} else {
			continue;
		}
		if (!keep) {
			const char *p = fpath(l, e->d_name);
			if (p)
				unlink(p);
		}
	}
	closedir(d);
}

/* ---- the indexing thread ---- */

/* How the batch builder names its terms: the analyzer that numbered them. */
static const char *term_text(void *arg, uint32_t id, size_t *len)
{
	return rag_analyzer_term(arg, id, len);
}

/* From now on, an numbers the batch's terms. */
static void numbered_by(local *l, rag_analyzer *an)
{
	l->numbering = an;
	rag_segw_set_terms(l->batch, term_text, an);
}

/*
 * Postings.  The chunks numbered are posted in the order they were handed
 * over (a term's records must come in docno order), one at a time, by
 * whichever thread gets to the next one first: the thread when it has
 * nothing to number, the caller when it finds no chunk free to fill, and
 * at a commit (ix_sync).  So the work goes to the thread with time for it.
 */

/* The next chunk to post, marked as being posted; NULL when there is none (called locked). */
static chunk *post_take_locked(indexer *ix)
{
	if (ix->posting || ix->failed)
		return NULL;
	for (int i = 0; i < NCHUNKS; i++)
		if (ix->chunks[i].numbered && ix->chunks[i].seq == ix->post_next) {
			ix->posting = 1;
			return &ix->chunks[i];
		}
	return NULL;
}

/* Posts chunk c, taken with post_take_locked, and frees it (called unlocked).  0, or -1. */
static int post_chunk(indexer *ix, chunk *c, rag_error *err)
{
	int rc = 0;

	for (size_t i = 0; i < c->n && rc == 0; i++)
		rc = rag_segw_post_many(ix->w, c->docno[i], c->ids + c->idoff[i],
					c->idoff[i + 1] - c->idoff[i], err);
	pthread_mutex_lock(&ix->mu);
	if (rc < 0 && !ix->failed) {
		ix->failed = 1;
		ix->err = *err;
	}
	c->n = 0;
	c->numbered = 0;
	ix->post_next++;
	ix->posting = 0;
	pthread_cond_broadcast(&ix->cv);
	pthread_mutex_unlock(&ix->mu);
	return rc;
}

static void *ix_main(void *arg)
{
	indexer *ix = arg;

	pthread_mutex_lock(&ix->mu);
	for (;;) {
		while (!ix->stop && ix->qn == 0 && ix->task != 1)
			pthread_cond_wait(&ix->cv, &ix->mu);
		if (ix->task == 1) {
			rag_error e;
			int r;
			pthread_mutex_unlock(&ix->mu);
			rag_error_clear(&e);
			r = ix->task_fn(ix, &e);
			pthread_mutex_lock(&ix->mu);
			ix->task_rc = r;
			ix->task_err = e;
			ix->task = 2;
			pthread_cond_broadcast(&ix->cv);
			continue;
		}
		if (ix->qn == 0)
			break;
		chunk *c = &ix->chunks[ix->queue[0]];
		memmove(ix->queue, ix->queue + 1, --ix->qn * sizeof *ix->queue);
		ix->working = 1;
		int failed = ix->failed;
		pthread_mutex_unlock(&ix->mu);

		rag_error e;
		rag_error_clear(&e);
		/* every word takes two bytes at least */
		if (!failed && rag_array_reserve(&c->ids, &c->ids_cap, c->words.len / 2 + 1,
						 sizeof *c->ids) < 0)
			failed = nomem(&e);
		c->idoff[0] = 0;
		for (size_t i = 0; i < c->n && !failed; i++) {
			long n = rag_analyzer_word_ids(ix->an,
						       (const unsigned char *)c->words.data + c->off[i],
						       c->off[i + 1] - c->off[i], c->ids + c->idoff[i]);
			if (n < 0)
				failed = nomem(&e);
			else
				c->idoff[i + 1] = c->idoff[i] + (size_t)n;
		}

		pthread_mutex_lock(&ix->mu);
		if (failed && !ix->failed) {
			ix->failed = 1;
			ix->err = e;
		}
		rag_buf_truncate(&c->words, 0);
		c->numbered = !failed;
		c->busy = 0;
		ix->working = 0;
		pthread_cond_broadcast(&ix->cv);
		/* nothing else to do: post */
		while (ix->qn == 0 && ix->task != 1 && (c = post_take_locked(ix))) {
			pthread_mutex_unlock(&ix->mu);
			rag_error_clear(&e);
			post_chunk(ix, c, &e);
			pthread_mutex_lock(&ix->mu);
		}
	}
	pthread_mutex_unlock(&ix->mu);
	return NULL;
}

static void ix_free(indexer *ix)
{
	if (!ix)
		return;
	pthread_mutex_lock(&ix->mu);
	ix->stop = 1;
	pthread_cond_broadcast(&ix->cv);
	pthread_mutex_unlock(&ix->mu);
	pthread_join(ix->thread, NULL);
	pthread_mutex_destroy(&ix->mu);
	pthread_cond_destroy(&ix->cv);
	for (int i = 0; i < NCHUNKS; i++) {
		rag_buf_free(&ix->chunks[i].words);
		free(ix->chunks[i].ids);
	}
	rag_analyzer_free(ix->an);
	free(ix);
}

/*
 * Starts the thread, which numbers the batch's terms from then on; NULL
 * when it cannot be (then the caller indexes).
 */
static indexer *ix_new(local *l)
{
	indexer *ix = calloc(1, sizeof *ix);
	rag_error e;

	if (!ix)
		return NULL;
	ix->filling = -1;
	ix->w = l->batch;
	for (int i = 0; i < NCHUNKS; i++)
		rag_buf_init(&ix->chunks[i].words, 0);
	if (!(ix->an = rag_analyzer_new(l->settings.analyzer, &e)) ||
	    pthread_mutex_init(&ix->mu, NULL) != 0) {
		rag_analyzer_free(ix->an);
		free(ix);
		return NULL;
	}
	if (pthread_cond_init(&ix->cv, NULL) != 0) {
		pthread_mutex_destroy(&ix->mu);
		rag_analyzer_free(ix->an);
		free(ix);
		return NULL;
	}
	if (pthread_create(&ix->thread, NULL, ix_main, ix) != 0) {
		pthread_cond_destroy(&ix->cv);
		pthread_mutex_destroy(&ix->mu);
		rag_analyzer_free(ix->an);
		free(ix);
		return NULL;
	}
	numbered_by(l, ix->an);
	return ix;
}

/* Queues the chunk being filled (called with the lock held). */
static void ix_submit_locked(indexer *ix)
{
	if (ix->filling < 0)
		return;
	if (ix->chunks[ix->filling].n) {
		ix->chunks[ix->filling].seq = ix->seq_next++;
		ix->queue[ix->qn++] = ix->filling;
		pthread_cond_broadcast(&ix->cv);
	} else {
		ix->chunks[ix->filling].busy = 0;
	}
	ix->filling = -1;
}

/*
 * Splits the text of record docno into words with an, and hands them to
 * the thread.  0, or -1 with err set.
 */
static int ix_add(indexer *ix, rag_analyzer *an, uint32_t docno, const char *text, size_t len,
		  rag_error *err)
{
	chunk *c;

	while (ix->filling < 0) {
		chunk *post = NULL;
		int failed;
		pthread_mutex_lock(&ix->mu);
		for (int i = 0; i < NCHUNKS && ix->filling < 0; i++)
			if (!ix->chunks[i].busy && !ix->chunks[i].numbered) {
				ix->chunks[i].busy = 1;
				ix->filling = i;
			}
		failed = ix->failed;
		if (failed)
			*err = ix->err;
		/*
		 * No chunk is free: posting one that is numbered frees it, else
		 * the thread has them all.  (While one is free, the postings are
		 * left to the thread, which has time for them.)
		 */
		else if (ix->filling < 0 && !(post = post_take_locked(ix)))
			pthread_cond_wait(&ix->cv, &ix->mu);
		pthread_mutex_unlock(&ix->mu);
		if (failed || (post && post_chunk(ix, post, err) < 0))
			return -1;
	}
	c = &ix->chunks[ix->filling];
	if (rag_analyze_pack(an, text, len, &c->words, err) < 0)
		return -1;
	c->docno[c->n] = docno;
	c->off[c->n + 1] = c->words.len;
	c->n++;
	if (c->n == (ix->seq_next ? CHUNK_RECORDS : CHUNK_FIRST) || c->words.len >= CHUNK_BYTES) {
		pthread_mutex_lock(&ix->mu);
		ix_submit_locked(ix);
		pthread_mutex_unlock(&ix->mu);
	}
	return 0;
}

/* Has the thread run fn while the caller goes on (called locked). */
static void task_start_locked(indexer *ix, int (*fn)(indexer *, rag_error *))
{
	ix->task_fn = fn;
	ix->task = 1;
	pthread_cond_broadcast(&ix->cv);
}

/* Waits for the task asked for, if any.  0, or -1 with its error. */
static int ix_task_end(indexer *ix, rag_error *err)
{
	int rc = 0;

	if (!ix)
		return 0;
	pthread_mutex_lock(&ix->mu);
	while (ix->task == 1)
		pthread_cond_wait(&ix->cv, &ix->mu);
	if (ix->task == 2 && ix->task_rc < 0) {
		*err = ix->task_err;
		rc = -1;
	}
	ix->task = 0;
	pthread_mutex_unlock(&ix->mu);
	return rc;
}

static int task_job(indexer *ix, rag_error *err)
{
	rag_segjob_run(ix->job); /* its failures are rag_segw_write's to report */
	return 0;
}

static int task_fsync(indexer *ix, rag_error *err)
{
	return rag_file_sync(ix->spath, "segment", err);
}

/* Has the thread help write the batch's segment (all texts analyzed). */
static void ix_job_start(indexer *ix, rag_segjob *job)
{
	pthread_mutex_lock(&ix->mu);
	ix->job = job;
	task_start_locked(ix, task_job);
	pthread_mutex_unlock(&ix->mu);
}

/* Has the thread fsync the file at path. */
static void ix_fsync_start(indexer *ix, const char *path)
{
	pthread_mutex_lock(&ix->mu);
	snprintf(ix->spath, sizeof ix->spath, "%s", path);
	task_start_locked(ix, task_fsync);
	pthread_mutex_unlock(&ix->mu);
}

/* Waits until every text handed over is analyzed.  0, or -1 with the thread's error. */
static int ix_sync(indexer *ix, rag_error *err)
{
	int rc = 0;

	if (!ix)
		return 0;
	pthread_mutex_lock(&ix->mu);
	ix_submit_locked(ix);
	/*
	 * Done when nothing is queued, numbered or being posted: the thread
	 * may still take the next chunk to post whenever the lock is free, so
	 * the test is made, and the chunks left are taken, with it held.
	 */
	while (!ix->failed) {
		chunk *c;
		if (ix->qn || ix->working || ix->posting) {
			pthread_cond_wait(&ix->cv, &ix->mu);
			continue;
		}
		if (!(c = post_take_locked(ix)))
			break;
		pthread_mutex_unlock(&ix->mu);
		post_chunk(ix, c, err);
		pthread_mutex_lock(&ix->mu);
	}
	if (ix->failed) {
		*err = ix->err;
		rc = -1;
	}
	pthread_mutex_unlock(&ix->mu);
	return rc;
}

/* ---- indexed fields ---- */

/* Compiles the paths of the store's indexed fields not compiled yet.  0, or -1. */
static int paths_ready(local *l, rag_error *err)
{
	while (l->npaths < l->settings.nfields) {
		rag_error e;
		const char *name = l->settings.fields[l->npaths];
		if (!(l->paths[l->npaths] = rag_filter_path(name, &e))) {
			if (e.code == RAG_ENOMEM)
				return nomem(err);
			return rag_error_set(err, RAG_EDATA, l->dir, 0,
					     "damaged manifest: indexed field %s is not a field path",
					     rag_quote(0, name));
		}
		{
			int whole;
			const char *key = rag_filter_fields(l->paths[l->npaths], &whole)[0];
			unsigned k;
			if (whole || !key) {
				l->keys_whole = 1;
			} else {
				for (k = 0; k < l->ntopkeys && strcmp(l->topkeys[k], key) != 0; k++)
					;
				if (k == l->ntopkeys) {
					l->topkeys[l->ntopkeys++] = key;
					l->topkeys[l->ntopkeys] = NULL;
				}
			}
		}
		l->npaths++;
	}
	return 0;
}

/* Adds the fields in want the store does not index yet (a writer). */
static int add_fields(local *l, const rag_store_settings *want, rag_error *err)
{
	for (unsigned i = 0; i < want->nfields; i++) {
		rag_filter *f = rag_filter_path(want->fields[i], err);
		const char *name;
		unsigned j;
		int whole;
		if (!f)
			return -1;
		if (strcmp(rag_filter_fields(f, &whole)[0], "vector") == 0) {
			rag_filter_free(f);
			return rag_error_set(err, RAG_EUSAGE, l->dir, 0,
					     "the \"vector\" field cannot be indexed: rag-search --mode vector searches it");
		}
		/* one name for each field, however it was written */
		if (rag_filter_path_text(f, &l->fieldtext) < 0) {
			rag_filter_free(f);
			return nomem(err);
		}
		rag_filter_free(f);
		name = l->fieldtext.data;
		for (j = 0; j < l->settings.nfields; j++)
			if (strcmp(l->settings.fields[j], name) == 0)
				break;
		if (j < l->settings.nfields)
			continue;
		if (l->fieldtext.len >= RAG_FIELD_NAME_MAX)
			return rag_error_set(err, RAG_EUSAGE, l->dir, 0,
					     "the field path %s is longer than %d bytes",
					     rag_quote(0, name), RAG_FIELD_NAME_MAX - 1);
		if (l->settings.nfields == RAG_FIELDS_MAX)
			return rag_error_set(err, RAG_EUSAGE, l->dir, 0,
					     "a store indexes at most %d fields", RAG_FIELDS_MAX);
		snprintf(l->settings.fields[l->settings.nfields++], RAG_FIELD_NAME_MAX, "%s", name);
		if (!l->unsaved)
			l->resettled = 1;
	}
	return 0;
}

/* Field number field's value in record rec as compact JSON in out: 1, 0 when it has none. */
static int field_text(local *l, size_t field, const json_t *rec, rag_buf *out)
{
	const json_t *v = rag_filter_path_get(l->paths[field], rec);

	if (!v)
		return 0;
	rag_buf_truncate(out, 0);
	return rag_json_dump(out, v, 0) < 0 ? -1 : 1;
}

/* Whether segment s lacks one of the store's indexed fields (written before it was added). */
static int lacks_fields(const local *l, const rag_seg *s)
{
	for (unsigned k = 0; k < l->settings.nfields; k++)
		if (rag_seg_field_find(s, l->settings.fields[k]) < 0)
			return 1;
	return 0;
}

/* The store's number of segment s's field i, or -1 when the store does not index it. */
static long setting_of(const local *l, const rag_seg *s, uint32_t i)
{
	size_t len;
	const char *name = rag_seg_field_name(s, i, &len);

	for (unsigned k = 0; k < l->npaths; k++)
		if (strlen(l->settings.fields[k]) == len && memcmp(l->settings.fields[k], name, len) == 0)
			return k;
	return -1;
}

/* The store's indexed fields as an array of names (room for RAG_FIELDS_MAX). */
static const char *const *field_names(const local *l, const char **names)
{
	for (unsigned i = 0; i < l->settings.nfields; i++)
		names[i] = l->settings.fields[i];
	return names;
}

/* A stored or incoming record, parsed as far as the indexed fields need. */
static json_t *parse_for_fields(const local *l, const char *json, size_t len, rag_error *err)
{
	return rag_json_parse_keys(json, len, NULL, l->keys_whole ? NULL : l->topkeys, err);
}

/* Hands the batch record docno's values of the indexed fields to the builder. */
static int index_fields(local *l, uint32_t docno, const char *json, size_t len, rag_error *err)
{
	json_t *rec = parse_for_fields(l, json, len, err);
	int rc = 0;

	if (!rec)
		return -1;
	for (unsigned i = 0; i < l->npaths && rc == 0; i++) {
		int r = field_text(l, i, rec, &l->fieldtext);
		if (r < 0)
			rc = nomem(err);
		else if (r)
			rc = rag_segw_field(l->batch, docno, i, l->fieldtext.data, l->fieldtext.len,
					    err);
	}
	json_decref(rec);
	return rc;
}

/* rag_seg_extract_fn for merges: a field's value, from a stored record. */
static int extract_field(void *arg, size_t field, const char *json, size_t len, rag_buf *out,
			 rag_error *err)
{
	local *l = arg;
	json_t *rec = parse_for_fields(l, json, len, err);
	int r;

	if (!rec && err->code == RAG_ENOMEM)
		return -1;
	if (!rec)
		return rag_error_set(err, RAG_EDATA, l->dir, 0,
				     "damaged store: a stored record is not JSON");
	r = field_text(l, field, rec, out);
	json_decref(rec);
	return r < 0 ? nomem(err) : r;
}

/* A segment's indexed fields, as rag_filter_select reads them. */
typedef struct colsrc {
	local *l;
	lseg *s;
	size_t n;
	uint32_t field[RAG_FIELDS_MAX]; /* the segment's number of each column */
	const rag_filter *path[RAG_FIELDS_MAX];
} colsrc;

static const rag_filter *col_path(void *arg, size_t i)
{
	return ((colsrc *)arg)->path[i];
}

static size_t col_nvalues(void *arg, size_t i)
{
	colsrc *c = arg;

	return rag_seg_field_nvalues(c->s->seg, c->field[i]);
}

static const json_t *col_value(void *arg, size_t i, size_t j, rag_error *err)
{
	colsrc *c = arg;
	lseg *s = c->s;
	uint32_t f = c->field[i];
	const char *t;
	size_t tl;
	rag_error e;

	if (!s->vals && !(s->vals = calloc(rag_seg_nfields(s->seg) + 1, sizeof *s->vals)))
		goto nomem;
	if (!s->vals[f] &&
	    !(s->vals[f] = calloc((size_t)rag_seg_field_nvalues(s->seg, f) + 1, sizeof **s->vals)))
		goto nomem;
	if (s->vals[f][j])
		return s->vals[f][j];
	if (rag_seg_field_value(s->seg, f, (uint32_t)j, &t, &tl, err) < 0)
		return NULL;
	if (!(s->vals[f][j] = rag_json_parse(t, tl, &e))) {
		if (e.code == RAG_ENOMEM)
			goto nomem;
		rag_error_set(err, RAG_EDATA, rag_seg_path(s->seg), 0,
			      "damaged segment: an indexed value is not JSON");
		return NULL;
	}
	return s->vals[f][j];
nomem:
	nomem(err);
	return NULL;
}

static int col_mark(void *arg, size_t i, size_t j, unsigned char *bits, int set, rag_error *err)
{
	colsrc *c = arg;

	return rag_seg_field_mark(c->s->seg, c->field[i], (uint32_t)j, bits, set, err);
}

/*
 * The records of segment s that may match filter f, from its indexed
 * fields: *bits as rag_filter_select gives it, 1 when exact, 0 when not,
 * -1 with err set.
 */
static int segment_select(local *l, lseg *s, rag_filter *f, unsigned char **bits, rag_error *err)
{
	colsrc c = {l, s, 0, {0}, {NULL}};
	rag_filter_columns cols = {0, col_path, col_nvalues, col_value, col_mark, &c};

	*bits = NULL;
	for (uint32_t i = 0; i < rag_seg_nfields(s->seg) && c.n < RAG_FIELDS_MAX; i++) {
		long k = setting_of(l, s->seg, i);
		if (k >= 0) {
			c.field[c.n] = i;
			c.path[c.n++] = l->paths[k];
		}
	}
	if (!c.n)
		return 0;
	cols.n = c.n;
	return rag_filter_select(f, &cols, rag_seg_records(s->seg), bits, err);
}

static void sel_free(local *l)
{
	for (size_t i = 0; i < l->sel_n; i++)
		free(l->sel_bits[i]);
	free(l->sel_bits);
	free(l->sel_exact);
	l->sel_bits = NULL;
	l->sel_exact = NULL;
	l->sel_n = 0;
	l->sel_serial = 0;
}

/* The records filter f may match in each segment, from the indexed fields (see sel_serial). */
static int sel_ready(local *l, rag_filter *f, rag_error *err)
{
	if (l->sel_serial == rag_filter_serial(f) && l->sel_generation == l->generation &&
	    l->sel_n == l->nsegs && l->sel_bits) {
		l->sel_uses++;
		return 0;
	}
	sel_free(l);
	l->sel_uses = 0;
	l->sel_bits = calloc(l->nsegs + 1, sizeof *l->sel_bits);
	l->sel_exact = calloc(l->nsegs + 1, sizeof *l->sel_exact);
	if (!l->sel_bits || !l->sel_exact) {
		sel_free(l);
		return nomem(err);
	}
	l->sel_n = l->nsegs;
	for (size_t i = 0; i < l->nsegs; i++) {
		int ex = segment_select(l, &l->segs[i], f, &l->sel_bits[i], err);
		if (ex < 0) {
			sel_free(l);
			return -1;
		}
		l->sel_exact[i] = ex;
	}
	l->sel_serial = rag_filter_serial(f);
	l->sel_generation = l->generation;
	return 0;
}

/* ---- opening and closing ---- */

static void local_close(rag_store *st)
{
	local *l = (local *)st;

	if (!l)
		return;
	ix_free(l->ix);
	if (l->unsaved && l->writer) {
		/*
		 * Created and never committed: remove what this writer wrote.
		 * The lock file stays (another writer may be waiting on it), so
		 * the directory does too; without a manifest it is no store.
		 */
		const char *p = fpath(l, "MANIFEST");
		if (p && access(p, F_OK) < 0 && errno == ENOENT) {
			segs_free(l->segs, l->nsegs);
			l->segs = NULL;
			l->nsegs = 0;
			sweep(l);
		}
	}
	segs_free(l->segs, l->nsegs);
	rag_segw_free(l->batch);
	rag_analyzer_free(l->an);
	for (unsigned i = 0; i < l->npaths; i++)
		rag_filter_free(l->paths[i]);
	rag_buf_free(&l->fieldtext);
	sel_free(l);
	if (l->lockfd >= 0)
		close(l->lockfd); /* releases the lock */
	free(l->drop);
	free(l->btab);
	free(l->bdoc);
	free(l->sess);
	rag_buf_free(&l->cand_ids);
	free(l->cands);
	free(l->hits);
	free(l->bhits);
	free(l->vhits);
	rag_hnsw_scratch_free(l->scratch);
	free(l->qvec);
	free(l->vbuf);
	rag_buf_free(&l->hitbuf);
	rag_buf_free(&l->stripped);
	rag_buf_free(&l->scanbuf);
	free(l->qterms);
	free(l->qoff);
	rag_buf_free(&l->qtext);
	free(l->dir);
	free(l->path);
	free(l);
}

static int take_lock(local *l, int nowait, rag_error *err)
{
	const char *p = fpath(l, "LOCK");
	char pid[32];

	if (!p)
		return nomem(err);
	l->lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (l->lockfd < 0)
		return rag_error_sys(err, errno, p, "cannot open lock file");
	if (flock(l->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return rag_error_sys(err, errno, p, "cannot lock store");
		if (nowait) {
			ssize_t k = pread(l->lockfd, pid, sizeof pid - 1, 0);
			pid[k > 0 ? k : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			return rag_error_set(err, RAG_EIO, l->dir, 0,
					     "store is locked by another writer%s%s%s",
					     *pid ? " (process " : "", pid, *pid ? ")" : "");
		}
		while (flock(l->lockfd, LOCK_EX) < 0)
			if (errno != EINTR)
				return rag_error_sys(err, errno, p, "cannot lock store");
	}
	snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(l->lockfd, 0) == 0 && pwrite(l->lockfd, pid, strlen(pid), 0) < 0) {
		/* the pid is only for messages */
	}
	return 0;
}

static int settings_differ(local *l, const rag_store_settings *want, unsigned set,
			   rag_error *err)
{
	if (!want)
		return 0;
	if ((set & RAG_SET_ANALYZER) && strcmp(want->analyzer, l->settings.analyzer) != 0)
		return rag_error_set(err, RAG_EUSAGE, l->dir, 0,
				     "the store was created with analyzer %s, not %s; a store keeps its settings",
				     rag_quote(1, l->settings.analyzer), rag_quote(0, want->analyzer));
	if ((set & RAG_SET_K1) && want->k1 != l->settings.k1)
		return rag_error_set(err, RAG_EUSAGE, l->dir, 0,
				     "the store was created with k1 %g, not %g; a store keeps its settings",
				     l->settings.k1, want->k1);
	if ((set & RAG_SET_B) && want->b != l->settings.b)
		return rag_error_set(err, RAG_EUSAGE, l->dir, 0,
				     "the store was created with b %g, not %g; a store keeps its settings",
				     l->settings.b, want->b);
	if ((set & RAG_SET_METRIC) && want->metric != l->settings.metric)
		return rag_error_set(err, RAG_EUSAGE, l->dir, 0,
				     "the store was created with metric %s, not %s; a store keeps its settings",
				     rag_metric_name(l->settings.metric), rag_metric_name(want->metric));
	if ((set & RAG_SET_HNSW_M) && want->hnsw_m != l->settings.hnsw_m)
		return rag_error_set(err, RAG_EUSAGE, l->dir, 0,
				     "the store was created with --hnsw-m %u, not %u; a store keeps its settings",
				     l->settings.hnsw_m, want->hnsw_m);
	if ((set & RAG_SET_HNSW_EFC) && want->hnsw_efc != l->settings.hnsw_efc)
		return rag_error_set(err, RAG_EUSAGE, l->dir, 0,
				     "the store was created with --hnsw-ef-construction %u, not %u; a store keeps its settings",
				     l->settings.hnsw_efc, want->hnsw_efc);
	if ((set & RAG_SET_QUANT) && want->quant != l->settings.quant)
		return rag_error_set(err, RAG_EUSAGE, l->dir, 0,
				     "the store was created with --quantize %s, not %s; a store keeps its settings",
				     rag_quant_name(l->settings.quant), rag_quant_name(want->quant));
	if ((set & RAG_SET_LEXICAL_OK) && want->lexical_ok && !l->settings.lexical_ok)
		return rag_error_set(err, RAG_EUSAGE, l->dir, 0,
				     "the store was created without --lexical-ok; a store keeps its settings");
	return 0;
}

/* An empty handle on the store at location; NULL when memory runs out. */
static local *local_new(const char *location)
{
	local *l = calloc(1, sizeof *l);

	if (!l || !(l->dir = strdup(location))) {
		free(l);
		return NULL;
	}
	l->base.be = &rag_backend_local;
	l->lockfd = -1;
	rag_buf_init(&l->cand_ids, 0);
	rag_buf_init(&l->qtext, 0);
	rag_buf_init(&l->hitbuf, 0);
	rag_buf_init(&l->stripped, 0);
	rag_buf_init(&l->scanbuf, 0);
	rag_buf_init(&l->fieldtext, 0);
	/* "kb/" and "kb" are the same store */
	for (size_t n = strlen(l->dir); n > 1 && l->dir[n - 1] == '/'; n--)
		l->dir[n - 1] = '\0';
	return l;
}

static rag_store *local_open(const char *location, int flags, const rag_store_settings *want,
			     unsigned set, rag_error *err)
{
	local *l = local_new(location);
	struct stat st;
	int r;

	if (!l) {
		nomem(err);
		return NULL;
	}
	l->writer = (flags & RAG_STORE_WRITE) != 0;
	if (stat(l->dir, &st) < 0) {
		if (errno != ENOENT || !(flags & RAG_STORE_CREATE)) {
			if (errno == ENOENT)
				rag_error_set(err, RAG_EIO, l->dir, 0,
					      "no such store (rag-index creates one)");
			else
				rag_error_sys(err, errno, l->dir, "cannot open store");
			goto fail;
		}
		if (mkdir(l->dir, 0777) < 0 && errno != EEXIST) {
			rag_error_sys(err, errno, l->dir, "cannot create store");
			goto fail;
		}
		l->made_dir = 1;
	} else if (!S_ISDIR(st.st_mode)) {
		rag_error_set(err, RAG_EIO, l->dir, 0, "not a store: not a directory");
		goto fail;
	}
	if (l->writer && take_lock(l, (flags & RAG_STORE_NOWAIT) != 0, err) < 0)
		goto fail;
	r = load(l, 0, err);
	if (r < 0)
		goto fail;
	if (r == 0) {
		if (!(flags & RAG_STORE_CREATE) || !l->writer) {
			rag_error_set(err, RAG_EIO, l->dir, 0,
				      "not a store: it has no MANIFEST (rag-index creates one)");
			goto fail;
		}
		rag_store_settings_default(&l->settings);
		if (want) {
			if (set & RAG_SET_ANALYZER)
				snprintf(l->settings.analyzer, sizeof l->settings.analyzer, "%s",
					 want->analyzer);
			if (set & RAG_SET_K1)
				l->settings.k1 = want->k1;
			if (set & RAG_SET_B)
				l->settings.b = want->b;
			if (set & RAG_SET_METRIC)
				l->settings.metric = want->metric;
			if (set & RAG_SET_HNSW_M)
				l->settings.hnsw_m = want->hnsw_m;
			if (set & RAG_SET_HNSW_EFC)
				l->settings.hnsw_efc = want->hnsw_efc;
			if (set & RAG_SET_LEXICAL_OK)
				l->settings.lexical_ok = want->lexical_ok;
			if (set & RAG_SET_QUANT)
				l->settings.quant = want->quant;
		}
		if (!(l->an = rag_analyzer_new(l->settings.analyzer, err)))
			goto fail;
		l->next_seg = 1;
		sweep(l);
		/* the first commit writes the manifest, settings and all */
		l->unsaved = 1;
	} else {
		if (settings_differ(l, want, set, err) < 0)
			goto fail;
		if (!(l->an = rag_analyzer_new(l->settings.analyzer, err))) {
			err->code = RAG_EDATA;
			goto fail;
		}
		if (l->writer)
			sweep(l);
	}
	if (want && (set & RAG_SET_FIELDS) && l->writer && add_fields(l, want, err) < 0)
		goto fail;
	if (paths_ready(l, err) < 0)
		goto fail;
	l->settings.threads = want && want->threads ? want->threads : 1;
	if (l->writer) {
		const char *names[RAG_FIELDS_MAX];
		if (!(l->batch = rag_segw_new(err)) ||
		    rag_segw_set_fields(l->batch, field_names(l, names), l->settings.nfields, err) < 0)
			goto fail;
		numbered_by(l, l->an);
	}
	return &l->base;
fail:
	local_close(&l->base);
	return NULL;
}

static const rag_store_settings *local_settings(const rag_store *st)
{
	return &((const local *)st)->settings;
}

/* ---- writing ---- */

static int need_writer(local *l, rag_error *err)
{
	if (!l->writer)
		return rag_error_set(err, RAG_EUSAGE, l->dir, 0, "store was opened for reading");
	if (l->broken)
		return rag_error_set(err, RAG_EIO, l->dir, 0,
				     "an earlier commit failed; the store is at its last commit");
	return 0;
}

/* The live batch record with this id: its docno, or -1. */
static long batch_find(local *l, const char *id, size_t len, uint64_t h)
{
	if (!l->btab_size)
		return -1;
	for (size_t j = h & (l->btab_size - 1); l->bdoc[j]; j = (j + 1) & (l->btab_size - 1)) {
		uint32_t d = l->bdoc[j] - 1;
		const char *p;
		size_t n;
		if (l->btab[j] != h || rag_bit(l->drop, d))
			continue;
		rag_segw_id(l->batch, d, &p, &n);
		if (n == len && memcmp(p, id, len) == 0)
			return d;
	}
	return -1;
}

static int batch_insert(local *l, uint64_t h, uint32_t d)
{
	if (2 * (l->bcount + 1) > l->btab_size) {
		size_t size = l->btab_size ? 2 * l->btab_size : 1024;
		uint64_t *t = rag_zalloc(size, sizeof *t);
		uint32_t *v = rag_zalloc(size, sizeof *v);
		if (!t || !v) {
			free(t);
			free(v);
			return -1;
		}
		for (size_t i = 0; i < l->btab_size; i++) {
			if (!l->bdoc[i])
				continue;
			size_t j = l->btab[i] & (size - 1);
			while (v[j])
				j = (j + 1) & (size - 1);
			t[j] = l->btab[i];
			v[j] = l->bdoc[i];
		}
		free(l->btab);
		free(l->bdoc);
		l->btab = t;
		l->bdoc = v;
		l->btab_size = size;
	}
	size_t j = h & (l->btab_size - 1);
	while (l->bdoc[j])
		j = (j + 1) & (l->btab_size - 1);
	l->btab[j] = h;
	l->bdoc[j] = d + 1;
	l->bcount++;
	return 0;
}

typedef struct found {
	const lseg *ls;
	long docno;
} found;

static int found_fn(uint32_t docno, void *arg)
{
	found *f = arg;

	if (rag_bit(f->ls->del, docno))
		return 0;
	f->docno = docno;
	return 1;
}

/*
 * The committed live record with this id (whose key hash is h): 1 with
 * *seg and *docno, 0, or -1.  With old_only, only the segments from
 * before this session are searched.
 */
static int committed_find(local *l, const char *id, size_t len, uint64_t h, int old_only,
			  size_t *seg, uint32_t *docno, rag_error *err)
{
	for (size_t i = l->nsegs; i-- > 0;) {
		found f = {&l->segs[i], -1};
		int r;
		if (old_only && l->segs[i].fresh)
			continue;
		r = rag_seg_find_hash(l->segs[i].seg, SEC_IDS, id, len, h, found_fn, &f, err);
		if (r < 0)
			return -1;
		if (r) {
			*seg = i;
			*docno = (uint32_t)f.docno;
			return 1;
		}
	}
	return 0;
}

/*
 * The ids this session added, as key hashes.  An id that is not among
 * them can only be in a segment from before the session: a bulk load into
 * a new store then looks nothing up in the segments it wrote.  The set
 * gives up (and every segment is searched) past SESSION_MAX ids.
 */
#define SESSION_MAX ((size_t)1 << 23)

static int session_has(const local *l, uint64_t h)
{
	if (l->sess_off)
		return 1;
	if (!l->sess_size)
		return 0;
	h |= 1; /* 0 marks an empty slot */
	for (size_t j = (h >> 7) & (l->sess_size - 1); l->sess[j];
	     j = (j + 1) & (l->sess_size - 1))
		if (l->sess[j] == h)
			return 1;
	return 0;
}

static void session_add(local *l, uint64_t h)
{
	if (l->sess_off)
		return;
	if (2 * (l->sess_count + 1) > l->sess_size) {
		size_t size = l->sess_size ? 2 * l->sess_size : 4096;
		uint64_t *t = size / 2 > SESSION_MAX ? NULL : rag_zalloc(size, sizeof *t);
		if (!t) {
			free(l->sess);
			l->sess = NULL;
			l->sess_off = 1;
			return;
		}
		for (size_t i = 0; i < l->sess_size; i++) {
			if (!l->sess[i])
				continue;
			size_t j = (l->sess[i] >> 7) & (size - 1);
			while (t[j])
				j = (j + 1) & (size - 1);
			t[j] = l->sess[i];
		}
		free(l->sess);
		l->sess = t;
		l->sess_size = size;
	}
	h |= 1;
	size_t j = (h >> 7) & (l->sess_size - 1);
	for (; l->sess[j]; j = (j + 1) & (l->sess_size - 1))
		if (l->sess[j] == h)
			return;
	l->sess[j] = h;
	l->sess_count++;
}

static int tombstone(local *l, size_t i, uint32_t docno, rag_error *err)
{
	lseg *s = &l->segs[i];

	if (!s->del && !(s->del = calloc(((size_t)rag_seg_records(s->seg) + 7) / 8 + 1, 1)))
		return nomem(err);
	if (!rag_bit(s->del, docno)) {
		rag_bit_set(s->del, docno);
		s->ndel++;
		s->dirty = 1;
		l->pending++;
	}
	return 0;
}

static void touch(local *l, const char *id, size_t len)
{
	uint64_t h;

	if (!l->doc_open || !l->ncands)
		return;
	h = rag_seg_keyhash(id, len);
	for (size_t i = 0; i < l->ncands; i++)
		if (l->cands[i].hash == h && l->cands[i].len == len &&
		    memcmp(l->cand_ids.data + l->cands[i].off, id, len) == 0)
			l->cands[i].touched = 1;
}

static int post_cb(uint32_t id, void *arg)
{
	void **a = arg;
	rag_segw *w = a[0];

	return rag_segw_post(w, rag_segw_records(w) - 1, id, a[1]) < 0 ? 1 : 0;
}

/* How the store's segments keep vectors: vo filled, or NULL when the store has none yet. */
static const rag_seg_vecopts *vecopts(const local *l, rag_seg_vecopts *vo)
{
	if (!l->settings.dim)
		return NULL;
	*vo = (rag_seg_vecopts){l->settings.metric, l->settings.dim, l->settings.hnsw_m,
				l->settings.hnsw_efc, l->settings.threads, l->settings.quant};
	return vo;
}

/*
 * Checks record r's vector against the store's model and dimension (the
 * first vector fixes them) and readies it in l->vbuf.  1 with a vector, 0
 * for a record without one, -1 with err set.
 */
static int vector_ready(local *l, const rag_store_record *r, rag_error *err)
{
	rag_store_settings *st = &l->settings;
	const char *model = r->model ? r->model : "";
	size_t ml = r->model ? r->model_len : 0;

	if (!r->vector) {
		if (st->dim && !st->lexical_ok)
			return rag_error_set(err, RAG_EDATA, NULL, 0,
					     "record %s has no vector, and the store holds vectors of %s (rag-index --lexical-ok, at creation, allows records without)",
					     rag_quote_mem(0, r->id, r->id_len), rag_quote(1, st->model));
		return 0;
	}
	if (r->dim == 0 || r->dim > RAG_DIM_MAX)
		return rag_error_set(err, RAG_EDATA, NULL, 0, "record %s has a vector of %zu components",
				     rag_quote_mem(0, r->id, r->id_len), r->dim);
	if (ml >= RAG_MODEL_NAME_MAX || memchr(model, '\0', ml))
		return rag_error_set(err, RAG_EDATA, NULL, 0, "record %s names an impossible model",
				     rag_quote_mem(0, r->id, r->id_len));
	if (st->dim && r->dim != st->dim)
		return rag_error_set(err, RAG_EDATA, NULL, 0,
				     "record %s has a %zu-dimensional vector; the store holds %u-dimensional vectors of %s",
				     rag_quote_mem(0, r->id, r->id_len), r->dim, st->dim,
				     rag_quote(1, st->model));
	if (st->dim && r->model && (ml != strlen(st->model) || memcmp(model, st->model, ml) != 0))
		return rag_error_set(err, RAG_EDATA, NULL, 0,
				     "record %s has a vector of model %s; the store holds vectors of %s",
				     rag_quote_mem(0, r->id, r->id_len), rag_quote_mem(1, model, ml),
				     rag_quote(2, st->model));
	if (rag_array_reserve(&l->vbuf, &l->vbuf_cap, r->dim, sizeof *l->vbuf) < 0)
		return nomem(err);
	for (size_t i = 0; i < r->dim; i++)
		if (!isfinite(r->vector[i]))
			return rag_error_set(err, RAG_EDATA, NULL, 0,
					     "record %s has a vector component that is not a finite number",
					     rag_quote_mem(0, r->id, r->id_len));
	memcpy(l->vbuf, r->vector, r->dim * sizeof *l->vbuf);
	if (st->metric == RAG_METRIC_COSINE && rag_vec_normalize(l->vbuf, r->dim) == 0.0f)
		return rag_error_set(err, RAG_EDATA, NULL, 0,
				     "record %s has a zero vector, which has no direction for cosine",
				     rag_quote_mem(0, r->id, r->id_len));
	if (!st->dim) {
		memcpy(st->model, model, ml);
		st->model[ml] = '\0';
		st->dim = (unsigned)r->dim;
		l->unsaved = 1;
	}
	return 1;
}

/*
 * A stored record leaves out the text of its vector when the store can
 * write it back byte for byte: one top-level "vector" member, each
 * component the shortest text that reads back to the same float32 (as
 * rag-embed writes them).  "vector":[] keeps the place; the segment's
 * rows fill it in again as the record is read (put_record).  The record
 * to store: r->json, or the stripped copy in l->stripped.
 */
static void strip_vector(local *l, const rag_store_record *r, const char **json, size_t *len)
{
	size_t vs, ve, p;
	char t[RAG_JSON_FLOAT32_MAX];

	*json = r->json;
	*len = r->json_len;
	if (rag_json_top_member(r->json, r->json_len, "vector", 6, &vs, &ve) != 1 || ve - vs < 3 ||
	    r->json[vs] != '[')
		return;
	p = vs + 1;
	for (size_t i = 0; i < r->dim; i++) {
		size_t n = rag_json_float32_text(r->vector[i], t);
		if (ve - p < n + 1 || memcmp(r->json + p, t, n) != 0 ||
		    r->json[p + n] != (i + 1 < r->dim ? ',' : ']'))
			return;
		p += n + 1;
	}
	if (p != ve)
		return;
	rag_buf_truncate(&l->stripped, 0);
	if (rag_buf_add(&l->stripped, r->json, vs + 1) < 0 ||
	    rag_buf_add(&l->stripped, r->json + ve - 1, r->json_len - ve + 1) < 0)
		return; /* out of memory: the record is kept whole */
	*json = l->stripped.data;
	*len = l->stripped.len;
}

/*
 * Appends record docno of segment s, p[0..len) as stored, to out, with
 * its vector written back in when the stored text left it out.  0 or -1.
 */
static int put_record(rag_buf *out, const rag_seg *s, uint32_t docno, const char *p, size_t len,
		      rag_error *err)
{
	rag_seg_vecs v;
	size_t vs, ve;
	long row;

	if (!rag_seg_vectors(s, &v) || (row = rag_seg_vector_row(s, docno)) < 0 ||
	    rag_json_top_member(p, len, "vector", 6, &vs, &ve) != 1 || ve - vs != 2 ||
	    p[vs] != '[') {
		if (rag_buf_add(out, p, len) < 0)
			return nomem(err);
		return 0;
	}
	const float *x = v.raw + (size_t)row * v.dim;
	if (rag_buf_grow(out, len + (size_t)v.dim * 16) < 0 || rag_buf_add(out, p, vs + 1) < 0)
		return nomem(err);
	for (uint32_t i = 0; i < v.dim; i++) {
		char t[RAG_JSON_FLOAT32_MAX];
		size_t n = rag_json_float32_text(x[i], t);
		if ((i && rag_buf_addc(out, ',') < 0) || rag_buf_add(out, t, n) < 0)
			return nomem(err);
	}
	if (rag_buf_add(out, p + ve - 1, len - ve + 1) < 0)
		return nomem(err);
	return 0;
}

static int local_add(rag_store *st, const rag_store_record *r, rag_error *err)
{
	local *l = (local *)st;
	uint64_t h;
	long bd;
	size_t seg = 0;
	uint32_t docno = 0;
	int outcome = RAG_STORE_ADDED, found_it, tomb = 0;

	if (need_writer(l, err) < 0)
		return -1;
	if (!r->id_len)
		return rag_error_set(err, RAG_EDATA, NULL, 0, "record has an empty id");
	int has_vec = vector_ready(l, r, err);
	if (has_vec < 0)
		return -1;
	h = rag_seg_keyhash(r->id, r->id_len);
	touch(l, r->id, r->id_len);
	bd = batch_find(l, r->id, r->id_len, h);
	if (bd >= 0) {
		if (memcmp(rag_segw_hash(l->batch, (uint32_t)bd), r->hash, 16) == 0)
			return RAG_STORE_UNCHANGED;
		outcome = RAG_STORE_UPDATED;
	} else {
		found_it = committed_find(l, r->id, r->id_len, h, !session_has(l, h), &seg,
					  &docno, err);
		if (found_it < 0)
			return -1;
		if (found_it) {
			if (memcmp(rag_seg_hash(l->segs[seg].seg, docno), r->hash, 16) == 0)
				return RAG_STORE_UNCHANGED;
			tomb = 1;
			outcome = RAG_STORE_UPDATED;
		}
	}
	if (rag_array_reserve(&l->drop, &l->drop_cap, (size_t)rag_segw_records(l->batch) / 8 + 1,
			      1) < 0)
		return nomem(err);
	const char *json = r->json;
	size_t json_len = r->json_len;
	if (has_vec)
		strip_vector(l, r, &json, &json_len);
	long d = rag_segw_add(l->batch, json, json_len, r->id, r->id_len, r->doc, r->doc_len,
			      r->hash, err);
	if (d < 0)
		return -1;
	/* Past this point a failure leaves the batch half-changed: the writer stops. */
	if (d % 8 == 0)
		l->drop[d / 8] = 0;
	if (bd >= 0)
		rag_bit_set(l->drop, (uint32_t)bd);
	if (tomb) {
		if (tombstone(l, seg, docno, err) < 0)
			goto broken;
		l->pending--; /* counted with the add below */
	}
	if (batch_insert(l, h, (uint32_t)d) < 0) {
		nomem(err);
		goto broken;
	}
	/* from the record as stored, as a merge and --check will read it */
	if (l->npaths && index_fields(l, (uint32_t)d, json, json_len, err) < 0)
		goto broken;
	if (has_vec) {
		rag_seg_vecopts vo;
		rag_segw_set_vectors(l->batch, vecopts(l, &vo));
		if (rag_segw_vector(l->batch, (uint32_t)d, l->vbuf, r->vector, err) < 0)
			goto broken;
	}
	session_add(l, h);
	if (!l->ix && !l->no_thread && !(l->ix = ix_new(l)))
		l->no_thread = 1;
	if (l->ix) {
		if (ix_add(l->ix, l->an, (uint32_t)d, r->text, r->text_len, err) < 0)
			goto broken;
	} else {
		void *arg[2] = {l->batch, err};
		if (rag_analyze_ids(l->an, r->text, r->text_len, post_cb, arg, err) != 0)
			goto broken;
	}
	l->pending++;
	return outcome;
broken:
	l->broken = 1;
	return -1;
}

static int local_delete(rag_store *st, const char *id, size_t len, rag_error *err)
{
	local *l = (local *)st;
	size_t seg;
	uint32_t docno;
	long bd;
	int r;

	if (need_writer(l, err) < 0)
		return -1;
	uint64_t h = rag_seg_keyhash(id, len);
	bd = batch_find(l, id, len, h);
	if (bd >= 0) {
		rag_bit_set(l->drop, (uint32_t)bd);
		l->pending++;
		return 1;
	}
	r = committed_find(l, id, len, h, !session_has(l, h), &seg, &docno, err);
	if (r <= 0)
		return r;
	return tombstone(l, seg, docno, err) < 0 ? -1 : 1;
}

typedef struct cand_ctx {
	local *l;
	const rag_seg *seg;
	const unsigned char *del;
	rag_error *err;
} cand_ctx;

static int cand_fn(uint32_t docno, void *arg)
{
	cand_ctx *c = arg;
	local *l = c->l;
	const char *p;
	size_t n;

	if (rag_bit(c->del, docno))
		return 0;
	if (rag_seg_id(c->seg, docno, &p, &n, c->err) < 0)
		return -1;
	if (rag_array_reserve(&l->cands, &l->cands_cap, l->ncands + 1, sizeof *l->cands) < 0)
		return nomem(c->err);
	l->cands[l->ncands] = (cand){l->cand_ids.len, n, rag_seg_keyhash(p, n), 0};
	if (rag_buf_add(&l->cand_ids, p, n) < 0)
		return nomem(c->err);
	l->ncands++;
	return 0;
}

static int local_doc_end(rag_store *st, long *deleted, rag_error *err)
{
	local *l = (local *)st;
	long n = 0;

	if (deleted)
		*deleted = 0;
	if (need_writer(l, err) < 0)
		return -1;
	if (!l->doc_open)
		return 0;
	l->doc_open = 0;
	for (size_t i = 0; i < l->ncands; i++) {
		int r;
		if (l->cands[i].touched)
			continue;
		r = local_delete(st, l->cand_ids.data + l->cands[i].off, l->cands[i].len, err);
		if (r < 0)
			return -1;
		n += r;
	}
	l->ncands = 0;
	rag_buf_truncate(&l->cand_ids, 0);
	if (deleted)
		*deleted = n;
	return 0;
}

static int local_doc_begin(rag_store *st, const char *doc, size_t len, rag_error *err)
{
	local *l = (local *)st;

	if (need_writer(l, err) < 0 || local_doc_end(st, NULL, err) < 0)
		return -1;
	l->ncands = 0;
	rag_buf_truncate(&l->cand_ids, 0);
	/* The records of doc from before this session: the ones it may replace. */
	for (size_t i = 0; i < l->nsegs; i++) {
		cand_ctx c = {l, l->segs[i].seg, l->segs[i].del, err};
		if (l->segs[i].fresh)
			continue;
		if (rag_seg_find(l->segs[i].seg, SEC_DOCS, doc, len, cand_fn, &c, err) < 0)
			return -1;
	}
	l->doc_open = 1;
	return 0;
}

static size_t local_pending(const rag_store *st)
{
	return ((const local *)st)->pending;
}

static size_t local_pending_bytes(const rag_store *st)
{
	const local *l = (const local *)st;

	return l->batch ? rag_segw_bytes(l->batch) : 0;
}

/* Segments that are merged away, or deletion files replaced: removed after the commit. */
typedef struct oldfiles {
	char **v;
	size_t n, cap;
} oldfiles;

static int old_add(oldfiles *o, const char *name)
{
	if (rag_array_reserve(&o->v, &o->cap, o->n + 1, sizeof *o->v) < 0 ||
	    !(o->v[o->n] = strdup(name)))
		return -1;
	o->n++;
	return 0;
}

static void old_remove(local *l, oldfiles *o)
{
	for (size_t i = 0; i < o->n; i++) {
		const char *p = fpath(l, o->v[i]);
		if (p)
			unlink(p);
		free(o->v[i]);
	}
	free(o->v);
	memset(o, 0, sizeof *o);
}

static void old_free(oldfiles *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->v[i]);
	free(o->v);
	memset(o, 0, sizeof *o);
}

static int merge(local *l, size_t *idx, size_t n, rag_error *err);

/* Live records of a segment. */
static uint64_t live_of(const lseg *s)
{
	return rag_seg_records(s->seg) - s->ndel;
}

/* The size class of a segment, by live records: 0 up to 9, 1 up to 99, ... */
static int size_class(const lseg *s)
{
	uint64_t live = live_of(s);
	int c = 0;

	while (live >= 10) {
		live /= 10;
		c++;
	}
	return c;
}

/*
 * The merge policy, run after each commit.  Segments of one size class
 * below MERGE_MAX_CLASS are merged into one as soon as there are
 * MERGE_FACTOR of them, so that small batches do not pile up; each record
 * is rewritten about once per class it climbs.  Larger segments are left
 * alone (rewriting millions of records to save a few segment lookups
 * does not pay) unless there are more than MERGE_MAX_SEGMENTS in all,
 * when the MERGE_FACTOR smallest are merged.  --compact merges everything.
 */
#define MERGE_MAX_CLASS 5
#define MERGE_MAX_SEGMENTS 32

/* The want segments with the fewest live records, as ascending indexes. */
static size_t smallest(const local *l, size_t *idx, size_t want)
{
	size_t n = 0;

	/* a selection by insertion: idx[0..n) by live records */
	for (size_t i = 0; i < l->nsegs; i++) {
		size_t j = n < want ? n++ : want;
		if (j == want && live_of(&l->segs[i]) >= live_of(&l->segs[idx[want - 1]]))
			continue;
		if (j == want)
			j--;
		for (; j > 0 && live_of(&l->segs[idx[j - 1]]) > live_of(&l->segs[i]); j--)
			idx[j] = idx[j - 1];
		idx[j] = i;
	}
	/* merge keeps store order: ascending indexes */
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && idx[b - 1] > idx[b]; b--) {
			size_t t = idx[b];
			idx[b] = idx[b - 1];
			idx[b - 1] = t;
		}
	return n;
}

static int maybe_merge(local *l, rag_error *err)
{
	for (;;) {
		size_t idx[64], n = 0;
		int cls = -1;
		for (int c = 0; c < MERGE_MAX_CLASS && cls < 0; c++) {
			n = 0;
			for (size_t i = 0; i < l->nsegs && n < 64; i++)
				if (size_class(&l->segs[i]) == c)
					idx[n++] = i;
			if (n >= MERGE_FACTOR)
				cls = c;
		}
		if (cls < 0 && l->nsegs > MERGE_MAX_SEGMENTS)
			n = smallest(l, idx, MERGE_FACTOR);
		else if (cls < 0)
			return 0;
		if (merge(l, idx, n, err) < 0)
			return -1;
	}
}

static int local_commit(rag_store *st, rag_error *err)
{
	local *l = (local *)st;
	uint64_t gen;
	oldfiles old = {0};
	char name[64];
	const char *p;
	uint32_t live = 0;

	if (need_writer(l, err) < 0)
		return -1;
	if (!l->pending && !l->unsaved && !l->resettled)
		return 0;
	if (ix_sync(l->ix, err) < 0) {
		l->broken = 1;
		return -1;
	}
	gen = l->generation + 1;
	for (uint32_t i = 0; i < rag_segw_records(l->batch); i++)
		live += !rag_bit(l->drop, i);
	if (live) {
		lseg ns = {0};
		seg_name(name, sizeof name, l->next_seg);
		if (!(p = fpath(l, name)))
			goto nomem;
		if (rag_array_reserve(&l->segs, &l->segs_cap, l->nsegs + 1, sizeof *l->segs) < 0)
			goto nomem;
		rag_segjob *job = rag_segjob_new(l->batch, l->drop, p, err);
		if (!job)
			goto broken;
		if (l->ix)
			ix_job_start(l->ix, job);
		int w = rag_segw_write(l->batch, job, err);
		rag_error ignored;
		ix_task_end(l->ix, &ignored);
		rag_segjob_free(job);
		if (w < 0)
			goto broken;
		/*
		 * The segment's fsync: the thread's, while this one writes the
		 * rest (the manifest waits for it), or here.
		 */
		if (l->ix)
			ix_fsync_start(l->ix, p);
		else if (rag_file_sync(p, "segment", err) < 0)
			goto broken;
		if (!(ns.seg = rag_seg_open(p, err)))
			goto broken;
		ns.no = l->next_seg++;
		ns.fresh = 1;
		l->segs[l->nsegs++] = ns;
	}
	for (size_t i = 0; i < l->nsegs; i++) {
		lseg *s = &l->segs[i];
		if (!s->dirty)
			continue;
		if (s->delname && old_add(&old, s->delname) < 0)
			goto nomem;
		free(s->delname);
		s->delname = NULL;
		if (s->ndel == rag_seg_records(s->seg))
			continue; /* every record deleted: the segment goes below */
		del_name(name, sizeof name, s->no, gen);
		if (!(s->delname = strdup(name)) || !(p = fpath(l, name)))
			goto nomem;
		if (rag_del_write(p, s->del, rag_seg_records(s->seg), s->ndel, err) < 0)
			goto broken;
	}
	/* segments with nothing left in them */
	for (size_t i = 0; i < l->nsegs;) {
		lseg *s = &l->segs[i];
		if (s->ndel == rag_seg_records(s->seg)) {
			seg_name(name, sizeof name, s->no);
			if (old_add(&old, name) < 0)
				goto nomem;
			lseg_free(s);
			memmove(s, s + 1, (l->nsegs - i - 1) * sizeof *s);
			l->nsegs--;
			continue;
		}
		i++;
	}
	if (manifest_write(l, gen, err) < 0)
		goto broken;
	for (size_t i = 0; i < l->nsegs; i++)
		l->segs[i].dirty = 0;
	l->unsaved = 0;
	l->resettled = 0;
	old_remove(l, &old);
	rag_segw_reset(l->batch);
	if (rag_analyzer_terms(l->numbering) > VOCAB_KEEP)
		rag_analyzer_forget(l->numbering);
	if (l->btab)
		memset(l->bdoc, 0, l->btab_size * sizeof *l->bdoc);
	l->bcount = 0;
	l->pending = 0;
	return maybe_merge(l, err);
nomem:
	nomem(err);
broken:
	/* The committed state on disk is the last one; this writer cannot go on. */
	{
		rag_error ignored;
		ix_task_end(l->ix, &ignored);
	}
	l->broken = 1;
	old_free(&old);
	return -1;
}

/* Merges segments idx[0..n) (ascending) into one and commits the result. */
static int merge(local *l, size_t *idx, size_t n, rag_error *err)
{
	rag_seg **segs = calloc(n + 1, sizeof *segs);
	const unsigned char **del = calloc(n + 1, sizeof *del);
	oldfiles old = {0};
	char name[64];
	const char *p;
	lseg ns = {0};
	uint64_t live = 0;
	int rc = -1;

	ns.fresh = 1;
	if (!segs || !del)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		lseg *s = &l->segs[idx[i]];
		segs[i] = s->seg;
		del[i] = s->del;
		ns.fresh &= s->fresh;
		live += rag_seg_records(s->seg) - s->ndel;
		seg_name(name, sizeof name, s->no);
		if (old_add(&old, name) < 0 || (s->delname && old_add(&old, s->delname) < 0))
			goto nomem;
	}
	if (live) {
		seg_name(name, sizeof name, l->next_seg);
		if (!(p = fpath(l, name)))
			goto nomem;
		const char *names[RAG_FIELDS_MAX];
		rag_seg_vecopts vo;
		if (rag_seg_merge(segs, del, n, field_names(l, names), l->settings.nfields,
				  extract_field, l, vecopts(l, &vo), p, err) < 0)
			goto broken;
		if (!(ns.seg = rag_seg_open(p, err)))
			goto broken;
		ns.no = l->next_seg++;
	}
	/* the merged segment takes the place of the first one merged */
	for (size_t i = n; i-- > 0;) {
		lseg *s = &l->segs[idx[i]];
		lseg_free(s);
		if (i == 0 && live) {
			*s = ns;
			continue;
		}
		memmove(s, s + 1, (l->nsegs - idx[i] - 1) * sizeof *s);
		l->nsegs--;
	}
	if (manifest_write(l, l->generation + 1, err) < 0)
		goto broken;
	old_remove(l, &old);
	rc = 0;
	goto out;
nomem:
	nomem(err);
broken:
	l->broken = 1;
out:
	old_free(&old);
	free(segs);
	free(del);
	return rc;
}

static int local_compact(rag_store *st, rag_error *err)
{
	local *l = (local *)st;
	size_t *idx;
	int need = 0, rc;

	if (local_doc_end(st, NULL, err) < 0 || local_commit(st, err) < 0)
		return -1;
	for (size_t i = 0; i < l->nsegs; i++)
		need |= l->segs[i].ndel > 0 || lacks_fields(l, l->segs[i].seg);
	if (l->nsegs < 2 && !need)
		return 0;
	if (!(idx = calloc(l->nsegs + 1, sizeof *idx)))
		return nomem(err);
	for (size_t i = 0; i < l->nsegs; i++)
		idx[i] = i;
	rc = merge(l, idx, l->nsegs, err);
	free(idx);
	return rc;
}

/* ---- reading ---- */

static int local_stats(rag_store *st, rag_store_stats *s, rag_error *err)
{
	local *l = (local *)st;

	memset(s, 0, sizeof *s);
	s->segments = l->nsegs;
	s->generation = l->generation;
	s->bytes = l->manifest_bytes;
	for (size_t i = 0; i < l->nsegs; i++) {
		uint32_t n = rag_seg_records(l->segs[i].seg);
		s->records += n - l->segs[i].ndel;
		s->deleted += l->segs[i].ndel;
		s->bytes += rag_seg_bytes(l->segs[i].seg);
		if (l->segs[i].delname)
			s->bytes += 32 + ((uint64_t)n + 7) / 8;
	}
	(void)err;
	return 0;
}

static int qterm_cb(const char *term, size_t len, void *arg)
{
	local *l = arg;

	for (size_t i = 0; i < l->nqterms; i++)
		if (l->qterms[i].len == len && memcmp(l->qtext.data + l->qoff[i], term, len) == 0) {
			l->qterms[i].qtf++;
			return 0;
		}
	if (rag_array_reserve(&l->qterms, &l->qterms_cap, l->nqterms + 1, sizeof *l->qterms) < 0 ||
	    rag_array_reserve(&l->qoff, &l->qoff_cap, l->nqterms + 1, sizeof *l->qoff) < 0)
		return 1;
	l->qoff[l->nqterms] = l->qtext.len;
	l->qterms[l->nqterms++] = (rag_bm25_term){NULL, len, 1};
	return rag_buf_add(&l->qtext, term, len) < 0 ? 1 : 0;
}

/* A hit's place in the store, and its rank. */
typedef struct hitref {
	uint32_t seg, docno;
	size_t rank;
} hitref;

static int hitref_cmp(const void *a, const void *b)
{
	const hitref *x = a, *y = b;

	if (x->seg != y->seg)
		return x->seg < y->seg ? -1 : 1;
	return x->docno < y->docno ? -1 : x->docno > y->docno;
}

/* A search's metadata filter, asked about records as ranking meets them. */
typedef struct filter_ctx {
	rag_seg **segs;
	rag_filter *filter;
	const char *dir;
	/*
	 * The filter reads "vector" (or the whole record): a stored record
	 * that left its vector's text out gets it back in buf first.
	 */
	int vector;
	rag_buf *buf;
} filter_ctx;

static int filter_accept(void *arg, uint32_t seg, uint32_t docno, rag_error *err)
{
	filter_ctx *c = arg;
	const char *p;
	size_t len;
	int r;

	if (rag_seg_record(c->segs[seg], docno, &p, &len, err) < 0)
		return -1;
	if (c->vector) {
		rag_buf_truncate(c->buf, 0);
		if (put_record(c->buf, c->segs[seg], docno, p, len, err) < 0)
			return -1;
		p = c->buf->data;
		len = c->buf->len;
	}
	r = rag_filter_match_text(c->filter, p, len, err);
	if (r == -2 && err->code == RAG_EDATA) {
		char why[RAG_ERROR_TEXT_MAX];
		snprintf(why, sizeof why, "%s", err->text);
		rag_error_set(err, RAG_EDATA, c->dir, 0,
			      "damaged store: a stored record is not JSON (%s)", why);
	}
	return r < 0 ? -1 : r;
}

/*
 * Makes the bitmaps of sel_ready exact: each record they let through is
 * asked, once, whether it matches.  A vector search then knows how many
 * records a filter leaves (and searches them exactly when few do), and
 * never reads a record to decide; worth it when the same filter comes
 * back for another query.  0, or -1 with err set.
 */
static int sel_decide(local *l, filter_ctx *fc, rag_error *err)
{
	for (size_t i = 0; i < l->sel_n; i++) {
		uint32_t n = rag_seg_records(l->segs[i].seg);
		unsigned char *b = l->sel_bits[i];
		if (l->sel_exact[i])
			continue;
		if (!b) {
			if (!(b = malloc((size_t)n / 8 + 1)))
				return nomem(err);
			memset(b, 0xff, (size_t)n / 8 + 1);
			l->sel_bits[i] = b;
		}
		for (uint32_t d = 0; d < n; d++) {
			int r = 0;
			if (!rag_bit(b, d))
				continue;
			if (!rag_bit(l->segs[i].del, d) && (r = filter_accept(fc, (uint32_t)i, d, err)) < 0)
				return -1;
			if (!r)
				b[d >> 3] &= (unsigned char)~(1u << (d & 7));
		}
		l->sel_exact[i] = 1;
	}
	return 0;
}

/* A hit before its record is read: where it is, its score, its ranks in the lists. */
typedef struct fused {
	double score;
	uint32_t seg, docno;
	size_t rl, rv;
} fused;

static int cand_cmp(const void *a, const void *b)
{
	const fused *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->seg != y->seg)
		return x->seg < y->seg ? -1 : 1;
	return x->docno < y->docno ? -1 : x->docno > y->docno;
}

/* The query's terms in l->qterms.  0, or -1 with err set. */
static int query_terms(local *l, const char *query, size_t len, rag_error *err)
{
	int r;

	l->nqterms = 0;
	rag_buf_truncate(&l->qtext, 0);
	r = rag_analyze(l->an, query, len, qterm_cb, l, err);
	if (r > 0)
		return nomem(err);
	if (r < 0)
		return -1;
	for (size_t i = 0; i < l->nqterms; i++)
		l->qterms[i].term = l->qtext.data + l->qoff[i];
	return 0;
}

/*
 * Fuses the lexical list bh[0..nb) and the vector list vh[0..nv) into
 * c (room for nb + nv), best first; *nc gets their number.
 */
static void fuse(const rag_search_opts *o, int metric, const rag_bm25_hit *bh, size_t nb,
		 const rag_vhit *vh, size_t nv, fused *c, size_t *nc)
{
	double lmin = 0, lmax = 0, vmin = 0, vmax = 0;
	double rrf_k = o->rrf_k > 0 ? o->rrf_k : 60, alpha = o->alpha;
	size_t n = 0;

	for (size_t i = 0; i < nb; i++) {
		lmin = i == 0 || bh[i].score < lmin ? bh[i].score : lmin;
		lmax = i == 0 || bh[i].score > lmax ? bh[i].score : lmax;
	}
	for (size_t i = 0; i < nv; i++) {
		double v = rag_vsearch_score(metric, vh[i].dist);
		vmin = i == 0 || v < vmin ? v : vmin;
		vmax = i == 0 || v > vmax ? v : vmax;
	}
	for (size_t i = 0; i < nb; i++) {
		double part = o->fusion == RAG_FUSION_WEIGHTED
				      ? (1 - alpha) * (lmax > lmin ? (bh[i].score - lmin) / (lmax - lmin) : 1)
				      : 1 / (rrf_k + (double)(i + 1));
		c[n++] = (fused){part, bh[i].seg, bh[i].docno, i + 1, 0};
	}
	for (size_t i = 0; i < nv; i++) {
		double v = rag_vsearch_score(metric, vh[i].dist);
		double part = o->fusion == RAG_FUSION_WEIGHTED
				      ? alpha * (vmax > vmin ? (v - vmin) / (vmax - vmin) : 1)
				      : 1 / (rrf_k + (double)(i + 1));
		size_t j = 0;
		while (j < nb && (c[j].seg != vh[i].seg || c[j].docno != vh[i].docno))
			j++;
		if (j < nb) {
			c[j].score += part;
			c[j].rv = i + 1;
		} else {
			c[n++] = (fused){part, vh[i].seg, vh[i].docno, 0, i + 1};
		}
	}
	qsort(c, n, sizeof *c, cand_cmp);
	*nc = n;
}

static int local_search(rag_store *st, const char *query, size_t len, const rag_search_opts *o,
			const rag_hit **hits, size_t *n, rag_error *err)
{
	local *l = (local *)st;
	rag_seg **segs = NULL;
	const unsigned char **del = NULL;
	size_t nb = 0, nv = 0, nc = 0, *offs = NULL;
	hitref *order = NULL;
	fused *c = NULL;
	int rc = -1;
	int lex = o->mode != RAG_MODE_VECTOR, vec = o->mode != RAG_MODE_LEXICAL;

	*hits = NULL;
	*n = 0;
	if (vec && !l->settings.dim)
		return rag_error_set(err, RAG_EUSAGE, l->dir, 0,
				     "the store holds no vectors: only --mode lexical can search it");
	if (vec && (!o->vector || o->dim != l->settings.dim))
		return rag_error_set(err, RAG_EUSAGE, l->dir, 0,
				     "the query's vector has %zu components; the store holds %u-dimensional vectors of %s",
				     o->vector ? o->dim : 0, l->settings.dim,
				     rag_quote(0, l->settings.model));
	if (lex && query_terms(l, query, len, err) < 0)
		return -1;
	/* no more hits than records: a huge k costs no memory */
	size_t k = o->k, nrec = 0;
	for (size_t i = 0; i < l->nsegs; i++)
		nrec += rag_seg_records(l->segs[i].seg) - l->segs[i].ndel;
	if (k > nrec)
		k = nrec;
	/* each list's length: k alone, or deeper for fusing */
	size_t depth = o->mode == RAG_MODE_HYBRID ? (o->depth ? o->depth : k > 100 ? k : 100) : k;
	if (depth > nrec)
		depth = nrec;
	size_t want = depth > k ? depth : k;
	if (want > l->hits_cap) {
		rag_hit *h = realloc(l->hits, want * sizeof *h);
		if (h)
			l->hits = h;
		rag_bm25_hit *b = realloc(l->bhits, want * sizeof *b);
		if (b)
			l->bhits = b;
		if (!h || !b)
			return nomem(err);
		l->hits_cap = want;
	}
	if (vec && rag_array_reserve(&l->vhits, &l->vhits_cap, want + 1, sizeof *l->vhits) < 0)
		return nomem(err);
	segs = calloc(l->nsegs + 1, sizeof *segs);
	del = calloc(l->nsegs + 1, sizeof *del);
	c = malloc((2 * want + 1) * sizeof *c);
	if (!segs || !del || !c) {
		nomem(err);
		goto out;
	}
	for (size_t i = 0; i < l->nsegs; i++) {
		segs[i] = l->segs[i].seg;
		del[i] = l->segs[i].del;
	}
	filter_ctx fc = {segs, o->filter, l->dir, 0, &l->scanbuf};
	if (o->filter && l->settings.dim) {
		int whole;
		const char *const *f = rag_filter_fields(o->filter, &whole);
		fc.vector = whole;
		for (; *f && !fc.vector; f++)
			fc.vector = strcmp(*f, "vector") == 0;
	}
	rag_bm25_filter bf = {filter_accept, &fc, NULL, NULL};
	if (o->filter && (l->npaths || vec)) {
		if (sel_ready(l, o->filter, err) < 0)
			goto out;
		/* from the second query on with one filter, records are asked once for all */
		if (vec && l->sel_uses > 0 && sel_decide(l, &fc, err) < 0) {
			sel_free(l);
			goto out;
		}
		bf.allow = (const unsigned char *const *)l->sel_bits;
		bf.decided = l->sel_exact;
	}
	if (lex && rag_bm25_search(segs, del, l->nsegs, l->qterms, l->nqterms, l->settings.k1,
				   l->settings.b, depth, o->exhaustive, o->filter ? &bf : NULL,
				   l->bhits, &nb, err) < 0)
		goto out;
	if (vec) {
		rag_vfilter vf = {bf.allow, bf.decided, filter_accept, &fc};
		size_t ef = o->ef ? o->ef : RAG_EF_DEFAULT;
		rag_vsearch_opts vo = {NULL, depth, ef, o->exact, ef * l->settings.hnsw_m,
				       o->filter ? &vf : NULL, &l->scratch};
		if (rag_array_reserve(&l->qvec, &l->qvec_cap, o->dim, sizeof *l->qvec) < 0) {
			nomem(err);
			goto out;
		}
		memcpy(l->qvec, o->vector, o->dim * sizeof *l->qvec);
		if (l->settings.metric == RAG_METRIC_COSINE)
			rag_vec_normalize(l->qvec, o->dim);
		vo.query = l->qvec;
		if (rag_vsearch(segs, del, l->nsegs, &vo, l->vhits, &nv, err) < 0)
			goto out;
	}
	if (o->mode == RAG_MODE_HYBRID) {
		fuse(o, l->settings.metric, l->bhits, nb, l->vhits, nv, c, &nc);
	} else if (lex) {
		for (size_t i = 0; i < nb; i++)
			c[nc++] = (fused){l->bhits[i].score, l->bhits[i].seg, l->bhits[i].docno, 0, 0};
	} else {
		for (size_t i = 0; i < nv; i++)
			c[nc++] = (fused){rag_vsearch_score(l->settings.metric, l->vhits[i].dist),
					 l->vhits[i].seg, l->vhits[i].docno, 0, 0};
	}
	if (nc > k)
		nc = k;
	/*
	 * The records, read in store order so that each compressed block is
	 * decompressed once, and copied: a segment keeps one block at a time.
	 */
	if (!(order = malloc((nc + 1) * sizeof *order)) ||
	    !(offs = malloc((nc + 1) * sizeof *offs))) {
		nomem(err);
		goto out;
	}
	for (size_t i = 0; i < nc; i++)
		order[i] = (hitref){c[i].seg, c[i].docno, i};
	if (!o->ids_only) /* ids are read from a table: no block to share */
		qsort(order, nc, sizeof *order, hitref_cmp);
	rag_buf_truncate(&l->hitbuf, 0);
	for (size_t j = 0; j < nc; j++) {
		size_t i = order[j].rank, rlen;
		const char *p;
		offs[i] = l->hitbuf.len;
		if (o->ids_only) {
			if (rag_seg_id(segs[order[j].seg], order[j].docno, &p, &rlen, err) < 0)
				goto out;
			if (rag_json_add_string(&l->hitbuf, p, rlen) < 0) {
				nomem(err);
				goto out;
			}
			l->hits[i].json_len = l->hitbuf.len - offs[i];
			continue;
		}
		if (rag_seg_record(segs[order[j].seg], order[j].docno, &p, &rlen, err) < 0 ||
		    put_record(&l->hitbuf, segs[order[j].seg], order[j].docno, p, rlen, err) < 0)
			goto out;
		l->hits[i].json_len = l->hitbuf.len - offs[i];
	}
	for (size_t i = 0; i < nc; i++) {
		l->hits[i].json = l->hitbuf.data + offs[i];
		l->hits[i].score = c[i].score;
		l->hits[i].rank_lexical = c[i].rl;
		l->hits[i].rank_vector = c[i].rv;
	}
	*hits = l->hits;
	*n = nc;
	rc = 0;
out:
	free(segs);
	free(del);
	free(order);
	free(offs);
	free(c);
	return rc;
}

static int local_scan(rag_store *st, int (*fn)(const char *json, size_t len, void *arg),
		      void *arg, rag_error *err)
{
	local *l = (local *)st;

	for (size_t i = 0; i < l->nsegs; i++) {
		uint32_t n = rag_seg_records(l->segs[i].seg);
		for (uint32_t d = 0; d < n; d++) {
			const char *p;
			size_t len;
			int r;
			if (rag_bit(l->segs[i].del, d))
				continue;
			if (rag_seg_record(l->segs[i].seg, d, &p, &len, err) < 0)
				return -1;
			rag_buf_truncate(&l->scanbuf, 0);
			if (put_record(&l->scanbuf, l->segs[i].seg, d, p, len, err) < 0)
				return -1;
			if ((r = fn(l->scanbuf.data, l->scanbuf.len, arg)) != 0)
				return r;
		}
	}
	return 0;
}

/* ---- checking ---- */

typedef struct idref {
	uint64_t hash;
	uint32_t seg, docno;
} idref;

static int idref_cmp(const void *a, const void *b)
{
	const idref *x = a, *y = b;

	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/*
 * Checks segment s's indexed fields against its records: each is one the
 * store indexes, and each live record is listed under exactly the value
 * it holds (or under none when it lacks the field).
 */
static int check_fields(local *l, lseg *s, rag_error *err)
{
	uint32_t n = rag_seg_records(s->seg), *which = NULL;
	rag_buf v;
	int rc = -1;

	rag_buf_init(&v, 0);
	if (!rag_seg_nfields(s->seg))
		return 0;
	which = malloc(((size_t)n + 1) * sizeof *which);
	if (!which) {
		nomem(err);
		goto out;
	}
	for (uint32_t i = 0; i < rag_seg_nfields(s->seg); i++) {
		long k = setting_of(l, s->seg, i);
		if (k < 0) {
			rag_error_set(err, RAG_EDATA, rag_seg_path(s->seg), 0,
				      "damaged store: the segment indexes a field the store does not");
			goto out;
		}
		/* which value lists each record */
		for (uint32_t d = 0; d < n; d++)
			which[d] = UINT32_MAX;
		for (uint32_t j = 0; j < rag_seg_field_nvalues(s->seg, i); j++) {
			const unsigned char *docs;
			uint32_t count;
			if (rag_seg_field_list(s->seg, i, j, &docs, &count, err) < 0)
				goto out;
			for (uint32_t x = 0; x < count; x++)
				which[get32(docs + 4 * (size_t)x)] = j;
		}
		for (uint32_t d = 0; d < n; d++) {
			const char *json, *t = NULL;
			size_t jl, tl = 0;
			int r;
			if (rag_bit(s->del, d))
				continue;
			if (rag_seg_record(s->seg, d, &json, &jl, err) < 0)
				goto out;
			rag_buf_truncate(&v, 0);
			if ((r = extract_field(l, (size_t)k, json, jl, &v, err)) < 0)
				goto out;
			if (which[d] != UINT32_MAX &&
			    rag_seg_field_value(s->seg, i, which[d], &t, &tl, err) < 0)
				goto out;
			if (r != (which[d] != UINT32_MAX) ||
			    (r && (tl != v.len || memcmp(t, v.data, tl) != 0))) {
				rag_error_set(err, RAG_EDATA, rag_seg_path(s->seg), 0,
					      "damaged segment: record %u's value of indexed field %s "
					      "is not the one the index lists",
					      d, rag_quote(0, l->settings.fields[k]));
				goto out;
			}
		}
	}
	rc = 0;
out:
	rag_buf_free(&v);
	free(which);
	return rc;
}

static int local_check(const char *location, uint64_t *records, rag_error *err)
{
	local *l;
	idref *refs = NULL;
	size_t nrefs = 0;
	int rc = -1, r;

	if (records)
		*records = 0;
	if (!(l = local_new(location)))
		return nomem(err);
	r = load(l, 1, err);
	if (r == 0)
		rag_error_set(err, RAG_EDATA, location, 0, "not a store: it has no MANIFEST");
	if (r <= 0)
		goto out;
	{
		rag_analyzer *a = rag_analyzer_new(l->settings.analyzer, err);
		if (!a) {
			rag_error_set(err, RAG_EDATA, fpath(l, "MANIFEST"), 0,
				      "the manifest names an unknown analyzer %s",
				      rag_quote(0, l->settings.analyzer));
			goto out;
		}
		rag_analyzer_free(a);
	}
	if (!(l->settings.k1 >= 0) || !(l->settings.b >= 0 && l->settings.b <= 1)) {
		rag_error_set(err, RAG_EDATA, fpath(l, "MANIFEST"), 0, "the manifest's BM25 settings are out of range");
		goto out;
	}
	if (paths_ready(l, err) < 0)
		goto out;
	uint64_t total = 0;
	for (size_t i = 0; i < l->nsegs; i++) {
		if (rag_seg_verify(l->segs[i].seg, err) < 0 || check_fields(l, &l->segs[i], err) < 0)
			goto out;
		total += rag_seg_records(l->segs[i].seg) - l->segs[i].ndel;
	}
	refs = malloc((total + 1) * sizeof *refs);
	if (!refs) {
		nomem(err);
		goto out;
	}
	for (size_t i = 0; i < l->nsegs; i++) {
		uint32_t n = rag_seg_records(l->segs[i].seg);
		for (uint32_t d = 0; d < n; d++) {
			const char *p;
			size_t len;
			if (rag_bit(l->segs[i].del, d))
				continue;
			if (rag_seg_id(l->segs[i].seg, d, &p, &len, err) < 0)
				goto out;
			refs[nrefs++] = (idref){rag_seg_keyhash(p, len), (uint32_t)i, d};
		}
	}
	qsort(refs, nrefs, sizeof *refs, idref_cmp);
	for (size_t i = 1; i < nrefs; i++) {
		const char *a, *b;
		size_t na, nb;
		if (refs[i].hash != refs[i - 1].hash)
			continue;
		for (size_t j = i; j-- > 0 && refs[j].hash == refs[i].hash;) {
			if (rag_seg_id(l->segs[refs[i].seg].seg, refs[i].docno, &a, &na, err) < 0 ||
			    rag_seg_id(l->segs[refs[j].seg].seg, refs[j].docno, &b, &nb, err) < 0)
				goto out;
			if (na == nb && memcmp(a, b, na) == 0) {
				char id[128];
				snprintf(id, sizeof id, "%.*s", (int)(na < 100 ? na : 100), a);
				rag_error_set(err, RAG_EDATA, location, 0,
					      "damaged store: id %s is live in both %s and %s",
					      rag_quote(0, id), rag_seg_path(l->segs[refs[j].seg].seg),
					      rag_seg_path(l->segs[refs[i].seg].seg));
				goto out;
			}
		}
	}
	if (records)
		*records = total;
	rc = 0;
out:
	free(refs);
	local_close(&l->base);
	return rc;
}

const rag_backend rag_backend_local = {
	"local",
	local_open,
	local_close,
	local_settings,
	local_add,
	local_delete,
	local_doc_begin,
	local_doc_end,
	local_pending,
	local_pending_bytes,
	local_commit,
	local_compact,
	local_stats,
	local_search,
	local_scan,
	local_check,
};
