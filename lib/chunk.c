/* chunk.c - documents in, chunk records out; see chunk.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk.h"
#include "doc.h"
#include "hash.h"
#include "json.h"
#include "utf8.h"

struct rag_chunker {
	rag_chunk_opts o;
	rag_writer *w;
	rag_splitter *sp;
	rag_hasher *h;
	rag_doc doc;
	rag_buf file;     /* the contents of the file being read */
	rag_buf repaired; /* the text with invalid UTF-8 replaced (lossy) */
	rag_offmap rmap;  /* repaired text -> file offsets */
	rag_buf key;      /* a metadata key with escapes, decoded */
	/*
	 * What every chunk of the current document (or section) repeats,
	 * written once: the document id as a JSON string, the source member,
	 * and the metadata members after the headings.
	 */
	rag_buf doc_json, source_json, meta_json;
	rag_spans spans;
	rag_chunk_stats st;
	int out_failed;   /* writing output failed: nothing more can be done */
	const char *name; /* the input's name for messages, while reading a file */
	/* A line cursor over the current document's source. */
	size_t lc_pos;
	long lc_line;
};

int rag_format_parse(const char *name)
{
	if (!strcmp(name, "text") || !strcmp(name, "txt") || !strcmp(name, "plain"))
		return RAG_FMT_TEXT;
	if (!strcmp(name, "markdown") || !strcmp(name, "md"))
		return RAG_FMT_MARKDOWN;
	if (!strcmp(name, "html") || !strcmp(name, "htm"))
		return RAG_FMT_HTML;
	if (!strcmp(name, "auto"))
		return RAG_FMT_AUTO;
	return -1;
}

static rag_format format_of(const char *path)
{
	static const char *const md[] = {"md", "markdown", "mdown", "mkd", "mkdn", NULL};
	static const char *const html[] = {"html", "htm", "xhtml", NULL};
	const char *ext = rag_path_ext(path);
	int i;

	for (i = 0; md[i]; i++)
		if (!strcasecmp(ext, md[i]))
			return RAG_FMT_MARKDOWN;
	for (i = 0; html[i]; i++)
		if (!strcasecmp(ext, html[i]))
			return RAG_FMT_HTML;
	return RAG_FMT_TEXT;
}

static int is_ndjson_name(const char *path)
{
	const char *ext = rag_path_ext(path);

	return !strcasecmp(ext, "jsonl") || !strcasecmp(ext, "ndjson");
}

rag_chunker *rag_chunker_new(const rag_chunk_opts *o, rag_writer *w, rag_error *err)
{
	rag_chunker *c = calloc(1, sizeof *c);

	if (!c)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory"), NULL;
	c->o = *o;
	if (!c->o.text_field)
		c->o.text_field = "text";
	if (!c->o.id_field)
		c->o.id_field = "id";
	if (!c->o.stdin_id)
		c->o.stdin_id = "-";
	if (!*c->o.stdin_id ||
	    rag_utf8_valid_prefix(c->o.stdin_id, strlen(c->o.stdin_id)) < strlen(c->o.stdin_id)) {
		free(c);
		return rag_error_set(err, RAG_EUSAGE, NULL, 0, "the document id of standard input must be non-empty UTF-8"), NULL;
	}
	c->w = w;
	rag_doc_init(&c->doc);
	rag_buf_init(&c->file, 0);
	rag_buf_init(&c->repaired, 0);
	rag_buf_init(&c->key, 0);
	rag_buf_init(&c->doc_json, 0);
	rag_buf_init(&c->source_json, 0);
	rag_buf_init(&c->meta_json, 0);
	rag_offmap_init(&c->rmap);
	c->sp = rag_splitter_new(&o->split, err);
	if (!c->sp) {
		rag_chunker_free(c);
		return NULL;
	}
	c->h = rag_hasher_new(err);
	if (!c->h) {
		rag_chunker_free(c);
		return NULL;
	}
	return c;
}

void rag_chunker_free(rag_chunker *c)
{
	if (!c)
		return;
	rag_splitter_free(c->sp);
	rag_hasher_free(c->h);
	rag_doc_free(&c->doc);
	rag_buf_free(&c->file);
	rag_buf_free(&c->repaired);
	rag_buf_free(&c->key);
	rag_buf_free(&c->doc_json);
	rag_buf_free(&c->source_json);
	rag_buf_free(&c->meta_json);
	rag_offmap_free(&c->rmap);
	rag_spans_free(&c->spans);
	free(c);
}

const rag_chunk_stats *rag_chunker_stats(const rag_chunker *c)
{
	return &c->st;
}

void rag_chunker_skip(rag_chunker *c, const rag_error *e)
{
	c->st.skipped++;
	if (c->o.notify)
		c->o.notify(c->o.notify_ctx, RAG_NOTE_SKIPPED, e);
}

int rag_chunker_input_error(const rag_chunker *c, const rag_error *e)
{
	return !c->out_failed && e->code == RAG_EIO;
}

/* Bad input that skip_bad may leave out; never a failure to write. */
static int skippable(const rag_chunker *c, const rag_error *e)
{
	return c->o.skip_bad && !c->out_failed &&
	       (e->code == RAG_EDATA || e->code == RAG_EIO);
}

/* ---- lines ---- */

static size_t count_newlines(const char *s, size_t n)
{
	size_t k = 0;
	const char *e = s + n;

	while (s < e && (s = memchr(s, '\n', (size_t)(e - s))) != NULL) {
		k++;
		s++;
	}
	return k;
}

/* The 1-based line of byte offset off in the current source. */
static long line_at(rag_chunker *c, size_t off)
{
	const char *src = c->doc.src;

	if (off >= c->lc_pos)
		c->lc_line += (long)count_newlines(src + c->lc_pos, off - c->lc_pos);
	else
		c->lc_line -= (long)count_newlines(src + off, c->lc_pos - off);
	c->lc_pos = off;
	return c->lc_line;
}

/* ---- records ---- */

static int nomem(rag_error *err)
{
	return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
}

/*
 * The metadata a document's chunks carry: the fields of its record, as
 * written in its line when there is one (raw and members), so that they
 * pass on untouched.
 */
typedef struct {
	json_t *obj;                     /* the record, for look-ups; may be NULL */
	const char *raw;                 /* its line, or NULL */
	const rag_json_members *members; /* where its fields are in raw */
} meta_t;

/* Whether a metadata field is one the chunk record writes itself. */
static int reserved(const rag_chunker *c, const char *key, size_t n, int source, int headings,
		    int title)
{
	static const char *const always[] = {"id", "doc", "start", "end", "line_start",
					     "line_end", "text", "hash", NULL};
	int i;

#define IS(word) (n == strlen(word) && memcmp(key, word, n) == 0)
	for (i = 0; always[i]; i++)
		if (IS(always[i]))
			return 1;
	return (source && IS("source")) || (headings && IS("headings")) || (title && IS("title")) ||
	       IS(c->o.id_field) || IS(c->o.text_field);
#undef IS
}

/*
 * The key of member i, decoded (into c->key when it has escapes).
 * NULL when memory runs out.
 */
static const char *member_key(rag_chunker *c, const meta_t *m, size_t i, size_t *n)
{
	const rag_json_member *mb = &m->members->v[i];
	const char *k = m->raw + mb->key + 1;
	json_t *s;
	rag_error e;

	*n = mb->key_len - 2;
	if (!memchr(k, '\\', *n))
		return k;
	s = rag_json_parse(m->raw + mb->key, mb->key_len, &e);
	c->key.len = 0;
	if (!s || rag_buf_add(&c->key, json_string_value(s), json_string_length(s)) < 0) {
		json_decref(s);
		return NULL;
	}
	json_decref(s);
	*n = c->key.len;
	return c->key.data;
}

/* Whether a later member of the record has the same key (which then wins). */
static int overridden(const meta_t *m, size_t i)
{
	const rag_json_members *ms = m->members;
	size_t j;

	/* Keys are unique when the object has as many as there are members. */
	if (json_object_size(m->obj) == ms->n)
		return 0;
	for (j = i + 1; j < ms->n; j++)
		if (ms->v[j].key_len == ms->v[i].key_len &&
		    memcmp(m->raw + ms->v[j].key, m->raw + ms->v[i].key, ms->v[i].key_len) == 0)
			return 1;
	return 0;
}

/* Appends the metadata fields that are not reserved. */
static int add_meta(rag_chunker *c, rag_buf *b, const meta_t *m, int source, int headings,
		    int title)
{
	size_t i, n;
	const char *key;

	if (m->raw) {
		for (i = 0; i < m->members->n; i++) {
			const rag_json_member *mb = &m->members->v[i];
			key = member_key(c, m, i, &n);
			if (!key)
				return -1;
			if (reserved(c, key, n, source, headings, title) || overridden(m, i))
				continue;
			if (rag_buf_addc(b, ',') < 0 || rag_buf_add(b, m->raw + mb->key, mb->key_len) < 0 ||
			    rag_buf_addc(b, ':') < 0 || rag_json_add_raw(b, m->raw + mb->val, mb->val_len) < 0)
				return -1;
		}
		return 0;
	}
	if (m->obj) {
		void *it;
		for (it = json_object_iter(m->obj); it; it = json_object_iter_next(m->obj, it)) {
			key = json_object_iter_key(it);
			n = json_object_iter_key_len(it);
			if (reserved(c, key, n, source, headings, title))
				continue;
			if (rag_buf_addc(b, ',') < 0 || rag_json_add_string(b, key, n) < 0 ||
			    rag_buf_addc(b, ':') < 0 ||
			    rag_json_dump(b, json_object_iter_value(it), 0) < 0)
				return -1;
		}
	}
	return 0;
}

/* Where a chunk of the text lies in the source: [*s, *e). */
static void source_span(const rag_doc *d, rag_span sp, size_t *s, size_t *e)
{
	*s = d->map.n ? rag_offmap_lookup(&d->map, sp.start) : sp.start;
	*e = d->map.n ? rag_offmap_lookup(&d->map, sp.end) : sp.end;
}

/*
 * Writes one chunk record.  c->doc_json, c->source_json and c->meta_json
 * hold the parts that are the same for the whole section.
 */
static int write_chunk(rag_chunker *c, json_t *headings, long ordinal, rag_span sp,
		       size_t s, size_t e, rag_error *err)
{
	const rag_doc *d = &c->doc;
	rag_buf *b = rag_writer_begin(c->w);
	size_t mark = b->len;
	long l1, l2;
	char hex[RAG_HASH_HEX + 1];

	l1 = line_at(c, s);
	l2 = e > s ? line_at(c, e - 1) : l1;

	/* The id is the doc's JSON string with "#N" before its closing quote. */
	if (rag_buf_adds(b, "{\"id\":") < 0 ||
	    rag_buf_add(b, c->doc_json.data, c->doc_json.len - 1) < 0 || rag_buf_addc(b, '#') < 0 ||
	    rag_json_add_int(b, ordinal) < 0 || rag_buf_addc(b, '"') < 0 ||
	    rag_buf_adds(b, ",\"doc\":") < 0 || rag_buf_add(b, c->doc_json.data, c->doc_json.len) < 0 ||
	    rag_buf_add(b, c->source_json.data, c->source_json.len) < 0)
		goto nomem;
	if (rag_buf_adds(b, ",\"start\":") < 0 || rag_json_add_int(b, (long long)s) < 0 ||
	    rag_buf_adds(b, ",\"end\":") < 0 || rag_json_add_int(b, (long long)e) < 0 ||
	    rag_buf_adds(b, ",\"line_start\":") < 0 || rag_json_add_int(b, l1) < 0 ||
	    rag_buf_adds(b, ",\"line_end\":") < 0 || rag_json_add_int(b, l2) < 0)
		goto nomem;
	if (headings && (rag_buf_adds(b, ",\"headings\":") < 0 || rag_json_dump(b, headings, 0) < 0))
		goto nomem;
	if (rag_buf_add(b, c->meta_json.data, c->meta_json.len) < 0 ||
	    rag_buf_adds(b, ",\"text\":") < 0 ||
	    rag_json_add_string(b, d->text + sp.start, sp.end - sp.start) < 0)
		goto nomem;
	if (rag_hasher_start(c->h) < 0 || rag_hasher_add(c->h, b->data + mark, b->len - mark) < 0 ||
	    rag_hasher_hex(c->h, hex, RAG_HASH_HEX) < 0) {
		rag_writer_cancel(c->w);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "hashing failed");
	}
	if (rag_buf_adds(b, ",\"hash\":\"") < 0 || rag_buf_add(b, hex, RAG_HASH_HEX) < 0 ||
	    rag_buf_adds(b, "\"}") < 0)
		goto nomem;
	if (rag_writer_end(c->w, err) < 0) {
		c->out_failed = 1;
		return -1;
	}
	c->st.chunks++;
	return 0;
nomem:
	rag_writer_cancel(c->w);
	return nomem(err);
}

/* Maps the HTML map's source offsets (in the repaired or BOM-less text) on to the file. */
static void compose(rag_offmap *outer, const rag_offmap *inner)
{
	size_t i;

	for (i = 0; i < outer->n; i++)
		outer->src[i] = rag_offmap_lookup(inner, outer->src[i]);
	outer->src_end = rag_offmap_lookup(inner, outer->src_end);
}

static int chunk_doc(rag_chunker *c, const char *doc_id, const char *source,
		     const char *text, size_t len, rag_format format, const meta_t *meta,
		     rag_error *err)
{
	rag_doc *d = &c->doc;
	const char *base = text;
	size_t base_len = len, valid, i, nregions;
	const char *where = c->name ? c->name : source ? source : doc_id;
	long ordinal = 0;
	int has_title;
	int mapped = 0; /* base is not text itself; c->rmap maps it back */
	/* A byte order mark is not text; offsets still count it. */
	size_t bom = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;

	rag_doc_reset(d);
	valid = bom + rag_utf8_valid_prefix(text + bom, len - bom);
	rag_offmap_reset(&c->rmap);
	if (valid < len) {
		long fixes;
		if (!c->o.lossy) {
			d->src = text;
			c->lc_pos = 0;
			c->lc_line = 1;
			return rag_error_set(err, RAG_EDATA, where, line_at(c, valid),
					     "invalid UTF-8 at byte %zu (use --lossy to replace it)", valid);
		}
		c->repaired.len = 0;
		fixes = rag_utf8_repair(text + bom, len - bom, &c->repaired, &c->rmap, bom);
		if (fixes < 0)
			return nomem(err);
		c->st.repairs += fixes;
		base = c->repaired.data;
		base_len = c->repaired.len;
		mapped = 1;
	} else if (bom) {
		if (rag_offmap_add(&c->rmap, 0, bom) < 0)
			return nomem(err);
		base = text + bom;
		base_len = len - bom;
		mapped = 1;
	}
	c->rmap.src_end = len;
	if (format == RAG_FMT_AUTO)
		format = source ? format_of(source) : RAG_FMT_TEXT;
	if (format == RAG_FMT_HTML) {
		if (rag_html_extract(d, base, base_len, err) < 0)
			return -1;
		if (mapped)
			compose(&d->map, &c->rmap);
	} else {
		d->text = base;
		d->len = base_len;
		if (mapped) {
			rag_offmap tmp = d->map;
			d->map = c->rmap;
			c->rmap = tmp;
		}
		if (format == RAG_FMT_MARKDOWN && rag_markdown_parse(d, err) < 0)
			return -1;
	}
	d->src = text;
	d->src_len = len;
	c->lc_pos = 0;
	c->lc_line = 1;
	c->st.docs++;
	c->st.bytes += len;
	if (c->o.progress)
		c->o.progress(c->o.notify_ctx, &c->st);

	has_title = d->title && !(meta->obj && json_object_get(meta->obj, "title"));
	c->doc_json.len = 0;
	c->source_json.len = 0;
	if (rag_json_add_string(&c->doc_json, doc_id, strlen(doc_id)) < 0 ||
	    (source && (rag_buf_adds(&c->source_json, ",\"source\":") < 0 ||
			rag_json_add_string(&c->source_json, source, strlen(source)) < 0)))
		return nomem(err);

	/* Regions: the text before the first heading, then each section. */
	nregions = d->nsections + 1;
	for (i = 0; i < nregions; i++) {
		size_t rs = i == 0 ? 0 : d->sections[i - 1].start;
		size_t re = i < d->nsections ? d->sections[i].start : d->len;
		json_t *heads = i == 0 ? NULL : d->sections[i - 1].headings;
		size_t k;
		if (re <= rs)
			continue;
		if (heads && json_array_size(heads) == 0)
			heads = NULL;
		/* The title and metadata, the same for every chunk of the section. */
		c->meta_json.len = 0;
		if ((has_title && (rag_buf_adds(&c->meta_json, ",\"title\":") < 0 ||
				   rag_json_dump(&c->meta_json, d->title, 0) < 0)) ||
		    add_meta(c, &c->meta_json, meta, source != NULL, heads != NULL, has_title) < 0)
			return nomem(err);
		c->spans.n = 0;
		if (rag_splitter_run(c->sp, d->text, rs, re, d->atoms.v, d->atoms.n, &c->spans, err) < 0)
			return -1;
		for (k = 0; k < c->spans.n; k++) {
			size_t s, e;
			/* Text made only of what extraction put in (a cell separator) is no chunk. */
			source_span(d, c->spans.v[k], &s, &e);
			if (e <= s)
				continue;
			if (write_chunk(c, heads, ++ordinal, c->spans.v[k], s, e, err) < 0)
				return -1;
		}
	}
	return 0;
}

int rag_chunker_doc(rag_chunker *c, const char *doc_id, const char *source,
		    const char *text, size_t len, rag_format format,
		    json_t *meta, rag_error *err)
{
	meta_t m = {meta, NULL, NULL};

	/* Ids and paths become JSON strings: they must be UTF-8. */
	if (!*doc_id || rag_utf8_valid_prefix(doc_id, strlen(doc_id)) < strlen(doc_id))
		return rag_error_set(err, RAG_EDATA, source, 0, "the document id is empty or not valid UTF-8");
	if (source && rag_utf8_valid_prefix(source, strlen(source)) < strlen(source))
		return rag_error_set(err, RAG_EDATA, NULL, 0,
				     "file name is not valid UTF-8: %s", rag_quote(0, source));
	return chunk_doc(c, doc_id, source, text, len, format, &m, err);
}

static const meta_t no_meta = {NULL, NULL, NULL};

/*
 * Reads all of fd into buf.  Returns 0, 1 when the input is binary (it
 * holds a NUL byte, found as soon as it is read, so that /dev/zero ends
 * quickly), or -1 with err set.
 */
static int read_all(int fd, const char *name, rag_buf *buf, rag_error *err)
{
	struct stat st;

	buf->len = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    rag_buf_grow(buf, (size_t)st.st_size + 1) < 0)
		return rag_error_set(err, RAG_ENOMEM, name, 0, "file too large (%lld bytes)",
				     (long long)st.st_size);
	switch (rag_buf_read_fd(buf, fd, 1)) {
	case 0:
		return 0;
	case 1:
		return 1;
	}
	if (errno == EFBIG || errno == ENOMEM)
		return rag_error_set(err, RAG_ENOMEM, name, 0, "file too large");
	return rag_error_sys(err, errno, name, "read error");
}

static int doc_from_record(rag_chunker *c, rag_reader *r, json_t *rec, rag_error *err)
{
	json_t *idv = json_object_get(rec, c->o.id_field);
	json_t *tv = json_object_get(rec, c->o.text_field);
	const char *name = rag_reader_name(r);
	long line = rag_reader_lineno(r);
	char num[32];
	const char *id;
	int rc;

	if (!idv)
		return rag_error_set(err, RAG_EDATA, name, line, "record has no %s", rag_quote(0, c->o.id_field));
	if (json_is_string(idv)) {
		id = json_string_value(idv);
		if (strlen(id) != json_string_length(idv))
			return rag_error_set(err, RAG_EDATA, name, line, "%s holds a NUL character",
					     rag_quote(0, c->o.id_field));
	} else if (json_is_integer(idv)) {
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(idv));
		id = num;
	} else {
		return rag_error_set(err, RAG_EDATA, name, line, "%s is not a string or an integer",
				     rag_quote(0, c->o.id_field));
	}
	if (!*id)
		return rag_error_set(err, RAG_EDATA, name, line, "%s is empty", rag_quote(0, c->o.id_field));
	if (!tv)
		return rag_error_set(err, RAG_EDATA, name, line, "record has no %s", rag_quote(0, c->o.text_field));
	if (!json_is_string(tv))
		return rag_error_set(err, RAG_EDATA, name, line, "%s is not a string", rag_quote(0, c->o.text_field));
	{
		size_t n;
		meta_t m = {rec, rag_reader_line(r, &n), rag_reader_members(r)};
		rc = chunk_doc(c, id, NULL, json_string_value(tv), json_string_length(tv),
			       c->o.format, &m, err);
	}
	if (rc < 0 && !c->out_failed && !err->source[0]) {
		/* Give errors from inside the document the record's place. */
		char text[RAG_ERROR_TEXT_MAX];
		snprintf(text, sizeof text, "%s", err->text);
		rag_error_set(err, err->code, name, line, "%s", text);
	}
	return rc;
}

static int chunk_ndjson(rag_chunker *c, const char *path, rag_error *err)
{
	rag_reader *r = rag_reader_open(path, c->o.lossy ? RAG_READ_LOSSY : 0, err);
	json_t *rec;
	int rc = 0, k;

	if (!r)
		return -1;
	c->name = NULL; /* messages name the record's line instead */
	for (;;) {
		k = rag_reader_next(r, &rec, err);
		if (k == 0)
			break;
		if (k > 0) {
			k = doc_from_record(c, r, rec, err);
			json_decref(rec);
		}
		if (k < 0) {
			if (err->code == RAG_EDATA && skippable(c, err)) {
				rag_chunker_skip(c, err);
				continue;
			}
			rc = -1;
			break;
		}
	}
	c->st.repairs += rag_reader_repairs(r);
	rag_reader_free(r);
	return rc;
}

static int chunk_file(rag_chunker *c, const char *path, int from_dir, rag_error *err)
{
	int is_stdin = strcmp(path, "-") == 0;
	const char *name = c->name;
	const rag_loader *ld = is_stdin ? NULL : rag_loader_find(c->o.loaders, c->o.nloaders, path);
	rag_format fmt;
	int fd, rc;

	c->st.files++;
	if (!is_stdin && rag_utf8_valid_prefix(path, strlen(path)) < strlen(path))
		return rag_error_set(err, RAG_EDATA, NULL, 0, "file name is not valid UTF-8: %s",
				     rag_quote(0, path));
	if (!ld && (c->o.json || (!is_stdin && is_ndjson_name(path))))
		return chunk_ndjson(c, path, err);
	c->file.len = 0;
	if (ld) {
		if (rag_loader_run(ld, path, &c->file, err) < 0)
			return -1;
	} else {
		fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return rag_error_sys(err, errno, path, "cannot open");
		rc = read_all(fd, name, &c->file, err);
		if (!is_stdin)
			close(fd);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			if (from_dir) {
				rag_error e;
				rag_error_set(&e, RAG_EDATA, path, 0, "binary file left out");
				c->st.binary++;
				if (c->o.notify)
					c->o.notify(c->o.notify_ctx, RAG_NOTE_BINARY, &e);
				return 0;
			}
			return rag_error_set(err, RAG_EDATA, name, 0,
					     "binary file (it holds NUL bytes); convert it with --loader");
		}
	}
	/* A loader's output is text unless --format says otherwise; AUTO is by the path. */
	fmt = ld && c->o.format == RAG_FMT_AUTO ? RAG_FMT_TEXT : c->o.format;
	return chunk_doc(c, is_stdin ? c->o.stdin_id : path, is_stdin ? NULL : path,
			 c->file.data ? c->file.data : "", c->file.len, fmt, &no_meta, err);
}

int rag_chunker_file(rag_chunker *c, const char *path, int from_dir, rag_error *err)
{
	int rc;

	c->name = strcmp(path, "-") == 0 ? "<stdin>" : path;
	rc = chunk_file(c, path, from_dir, err);
	c->name = NULL;
	if (rc == 0)
		return 0;
	if (skippable(c, err)) {
		rag_chunker_skip(c, err);
		return 0;
	}
	return -1;
}
