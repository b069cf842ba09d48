/*
 * prompt.c - prompts for a chat model from the hits of a search; see
 * prompt.h.
 *
 * A group holds the hits of one query, each a copy of its line, the
 * places of its members and its parsed record.  Building the prompt:
 *
 *   1. Duplicates go: of the hits with the same id, or with the same
 *      document and the same span (start, end), the best-ranked stays.
 *   2. Hits of the same document ("doc", else "source") whose spans
 *      overlap or touch are merged into one passage, in the order of
 *      their starts.  A hit's offsets describe its text when the text is
 *      end - start bytes long (plain text and Markdown chunks); only such
 *      hits are merged, and only when the bytes they share are the same
 *      in both, so the merged text holds each byte of the document once.
 *      The others stay passages of their own.
 *   3. Passages are numbered by the best rank among their parts.
 *   4. The budget keeps the first m passages for the largest m whose
 *      rendered prompt fits (the length grows with m, so a binary search
 *      finds it).  When not even the first fits, it is cut at the end of
 *      the longest run of sentences that fits, or else of words.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prompt.h"
#include "record.h"
#include "text.h"
#include "utf8.h"

const char rag_prompt_default_system[] =
    "You are a careful assistant. Answer the question using only the numbered sources in the "
    "user's message, and cite the sources you use as [n], for example [1] or [2][3]. If the "
    "sources do not hold the answer, say that you do not know.";

const char rag_prompt_default_template[] = "Sources:\n"
                                           "\n"
                                           "{{context}}\n"
                                           "\n"
                                           "Question: {{question}}\n";

static int nomem(rag_error *err)
{
	return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
}

size_t rag_prompt_tokens(size_t bytes)
{
	return bytes / 4 + (bytes % 4 != 0);
}

/* ---- templates ---- */

enum { T_LIT, T_QUESTION, T_QID, T_CONTEXT, T_BLOCK, T_END, T_FIELD };

typedef struct tnode {
	int kind;
	size_t off, len; /* T_LIT: the text; T_FIELD: the name (in the template's text) */
	size_t end;      /* T_BLOCK: the index of its T_END */
} tnode;

struct rag_template {
	char *text; /* owned */
	size_t len;
	tnode *v;
	size_t n, cap;
};

void rag_template_free(rag_template *t)
{
	if (!t)
		return;
	free(t->text);
	free(t->v);
	free(t);
}

static int tadd(rag_template *t, int kind, size_t off, size_t len)
{
	if (kind == T_LIT && len == 0)
		return 0;
	if (rag_array_reserve(&t->v, &t->cap, t->n + 1, sizeof *t->v) < 0)
		return -1;
	t->v[t->n].kind = kind;
	t->v[t->n].off = off;
	t->v[t->n].len = len;
	t->v[t->n].end = 0;
	t->n++;
	return 0;
}

static int name_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(s, name, n) == 0;
}

static int valid_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

/* Whether s[a..b) is spaces and tabs only. */
static int blank(const char *s, size_t a, size_t b)
{
	for (; a < b; a++)
		if (s[a] != ' ' && s[a] != '\t' && s[a] != '\r')
			return 0;
	return 1;
}

rag_template *rag_template_parse(const char *text, size_t len, const char *source, rag_error *err)
{
	rag_template *t;
	size_t i = 0, lit = 0, valid, open = SIZE_MAX;
	long line = 1, open_line = 0;

	valid = rag_utf8_valid_prefix(text, len);
	if (valid < len) {
		for (i = 0; i < valid; i++)
			line += text[i] == '\n';
		rag_error_set(err, RAG_EUSAGE, source, line, "invalid UTF-8");
		return NULL;
	}
	if (len > RAG_TEMPLATE_MAX) {
		rag_error_set(err, RAG_EUSAGE, source, 0, "the template is larger than %d bytes",
		              RAG_TEMPLATE_MAX);
		return NULL;
	}
	if (len && text[len - 1] == '\n')
		len--;
	if (!(t = calloc(1, sizeof *t)) || !(t->text = malloc(len + 1))) {
		free(t);
		nomem(err);
		return NULL;
	}
	memcpy(t->text, text, len);
	t->text[len] = '\0';
	t->len = len;
	text = t->text;
	while (i < len) {
		size_t j, a, b, tag_end;
		const char *tag;
		int kind;

		if (text[i] == '\\' && i + 2 < len && text[i + 1] == '{' && text[i + 2] == '{') {
			if (tadd(t, T_LIT, lit, i - lit) < 0 || tadd(t, T_LIT, i + 1, 2) < 0)
				goto nomem;
			i += 3;
			lit = i;
			continue;
		}
		if (!(text[i] == '{' && i + 1 < len && text[i + 1] == '{')) {
			line += text[i] == '\n';
			i++;
			continue;
		}
		for (j = i + 2; j + 1 < len && text[j] != '\n'; j++)
			if (text[j] == '}' && text[j + 1] == '}')
				break;
		if (j + 1 >= len || text[j] != '}' || text[j + 1] != '}') {
			for (j = i; j < len && text[j] != '\n'; j++)
				;
			rag_error_set(err, RAG_EUSAGE, source, line, "unclosed placeholder %s",
			              rag_quote_mem(0, text + i, j - i));
			goto fail;
		}
		tag = text + i;
		tag_end = j + 2;
		a = i + 2;
		b = j;
		rag_trim_span(text, &a, &b);
		if (text[a] == '#' || text[a] == '/') {
			int opening = text[a] == '#';
			size_t ls = i, le = tag_end;
			long tag_line = line;
			a++;
			rag_trim_span(text, &a, &b);
			if (!name_is(text + a, b - a, "sources")) {
				rag_error_set(err, RAG_EUSAGE, source, line,
				              "unknown block %s (the only block is {{#sources}})",
				              rag_quote_mem(0, tag, tag_end - i));
				goto fail;
			}
			if (opening && open != SIZE_MAX) {
				rag_error_set(err, RAG_EUSAGE, source, line,
				              "%s inside {{#sources}} of line %ld",
				              rag_quote_mem(0, tag, tag_end - i), open_line);
				goto fail;
			}
			if (!opening && open == SIZE_MAX) {
				rag_error_set(err, RAG_EUSAGE, source, line,
				              "%s without {{#sources}}",
				              rag_quote_mem(0, tag, tag_end - i));
				goto fail;
			}
			/* a block tag alone on its line takes the line with it */
			while (ls > lit && text[ls - 1] != '\n')
				ls--;
			while (le < len && text[le] != '\n')
				le++;
			if ((ls == 0 || text[ls - 1] == '\n') && blank(text, ls, i) &&
			    blank(text, tag_end, le)) {
				if (tadd(t, T_LIT, lit, ls - lit) < 0)
					goto nomem;
				if (le < len) {
					le++;
					line++;
				}
				tag_end = le;
			} else if (tadd(t, T_LIT, lit, i - lit) < 0) {
				goto nomem;
			}
			if (opening) {
				open = t->n;
				open_line = tag_line;
				if (tadd(t, T_BLOCK, 0, 0) < 0)
					goto nomem;
			} else {
				t->v[open].end = t->n;
				open = SIZE_MAX;
				if (tadd(t, T_END, 0, 0) < 0)
					goto nomem;
			}
			i = lit = tag_end;
			continue;
		}
		if (!valid_name(text + a, b - a)) {
			rag_error_set(err, RAG_EUSAGE, source, line, "bad placeholder %s",
			              rag_quote_mem(0, tag, tag_end - i));
			goto fail;
		}
		if (name_is(text + a, b - a, "question")) {
			kind = T_QUESTION;
		} else if (name_is(text + a, b - a, "qid")) {
			kind = T_QID;
		} else if (name_is(text + a, b - a, "context")) {
			if (open != SIZE_MAX) {
				rag_error_set(err, RAG_EUSAGE, source, line,
				              "%s inside {{#sources}} of line %ld",
				              rag_quote_mem(0, tag, tag_end - i), open_line);
				goto fail;
			}
			kind = T_CONTEXT;
		} else if (open != SIZE_MAX) {
			kind = T_FIELD;
		} else {
			rag_error_set(err, RAG_EUSAGE, source, line,
			              "unknown placeholder %s (the fields of a source go inside "
			              "{{#sources}}...{{/sources}})",
			              rag_quote_mem(0, tag, tag_end - i));
			goto fail;
		}
		if (tadd(t, T_LIT, lit, i - lit) < 0 || tadd(t, kind, a, b - a) < 0)
			goto nomem;
		i = lit = tag_end;
	}
	if (open != SIZE_MAX) {
		rag_error_set(err, RAG_EUSAGE, source, open_line,
		              "{{#sources}} is not closed (no {{/sources}})");
		goto fail;
	}
	if (tadd(t, T_LIT, lit, len - lit) < 0)
		goto nomem;
	return t;
nomem:
	nomem(err);
fail:
	rag_template_free(t);
	return NULL;
}

/* ---- the group ---- */

typedef struct hit {
	char *line; /* a copy of the line */
	size_t len;
	rag_json_member *mem; /* where the members lie in line */
	size_t nmem;
	char *keybuf;      /* the members' keys, decoded, one after another */
	size_t *koff, *kn; /* member i's key is keybuf[koff[i]..+kn[i]) */
	json_t *rec;       /* a reference */
	const char *query, *text, *qid, *id, *dockey;
	size_t query_len, text_len, qid_len, id_len, dockey_len;
	char qid_num[24], id_num[24], doc_num[24];
	long long rank;
	size_t order; /* in the input */
	int has_span, has_ls, has_le, exact;
	long long start, end, line_start, line_end;
} hit;

typedef struct passage {
	hit *best;            /* the best-ranked part */
	size_t part0, nparts; /* the parts: sorted[part0..+nparts), in document order */
	char *own;            /* the merged text, or NULL */
	const char *text;
	size_t len;
	size_t keep; /* the bytes of text in the prompt: len, or less when cut */
	int has_span, has_ls, has_le, exact;
	long long start, end, line_start, line_end;
} passage;

struct rag_prompt {
	rag_prompt_opts o;
	rag_template *own_tmpl;
	const rag_template *tmpl;
	const char *system;
	size_t system_len;
	hit **hits;
	size_t n, cap;
	hit **sorted;
	size_t sorted_cap;
	passage *pass;
	size_t np, pcap;
	char src[RAG_ERROR_SOURCE_MAX]; /* where the group's first hit is */
	long src_line;
	rag_buf user;
	rag_buf tmp;
};

static void hit_free(hit *h)
{
	if (!h)
		return;
	free(h->line);
	free(h->mem);
	free(h->keybuf);
	free(h->koff);
	free(h->kn);
	json_decref(h->rec);
	free(h);
}

rag_prompt *rag_prompt_new(const rag_prompt_opts *o, rag_error *err)
{
	rag_prompt *p = calloc(1, sizeof *p);

	if (!p) {
		nomem(err);
		return NULL;
	}
	p->o = *o;
	p->tmpl = o->tmpl;
	if (!p->tmpl) {
		p->own_tmpl = rag_template_parse(rag_prompt_default_template,
		                                 strlen(rag_prompt_default_template),
		                                 "the default template", err);
		if (!p->own_tmpl) {
			free(p);
			return NULL;
		}
		p->tmpl = p->own_tmpl;
	}
	p->system = o->system ? o->system : rag_prompt_default_system;
	p->system_len = strlen(p->system);
	rag_buf_init(&p->user, 0);
	rag_buf_init(&p->tmp, 0);
	return p;
}

void rag_prompt_reset(rag_prompt *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		hit_free(p->hits[i]);
	p->n = 0;
	for (i = 0; i < p->np; i++)
		free(p->pass[i].own);
	p->np = 0;
}

void rag_prompt_free(rag_prompt *p)
{
	if (!p)
		return;
	rag_prompt_reset(p);
	free(p->hits);
	free(p->sorted);
	free(p->pass);
	rag_buf_free(&p->user);
	rag_buf_free(&p->tmp);
	rag_template_free(p->own_tmpl);
	free(p);
}

size_t rag_prompt_count(const rag_prompt *p)
{
	return p->n;
}

/* A whole number >= 0 named name: 1 with *v set, 0 missing or null, -1 err set. */
static int get_count(const json_t *rec, const char *name, long long *v, const char *source,
                     long lineno, rag_error *err)
{
	const json_t *j = json_object_get(rec, name);

	if (!j || json_is_null(j))
		return 0;
	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return rag_error_set(err, RAG_EDATA, source, lineno, "\"%s\" is not a whole number",
		                     name);
	*v = json_integer_value(j);
	return 1;
}

/* Fills the decoded keys of h's members.  0 or -1 (memory). */
static int hit_keys(hit *h)
{
	rag_buf kb;
	size_t i;

	rag_buf_init(&kb, 0);
	if (h->nmem && (!(h->koff = malloc(h->nmem * sizeof *h->koff)) ||
	                !(h->kn = malloc(h->nmem * sizeof *h->kn))))
		return -1;
	for (i = 0; i < h->nmem; i++) {
		const char *k = h->line + h->mem[i].key;
		size_t n = h->mem[i].key_len;
		h->koff[i] = kb.len;
		if (!memchr(k, '\\', n)) {
			if (rag_buf_add(&kb, k + 1, n - 2) < 0)
				goto fail;
		} else {
			rag_error e;
			json_t *s = rag_json_parse(k, n, &e);
			int rc = s && json_is_string(s)
			             ? rag_buf_add(&kb, json_string_value(s), json_string_length(s))
			             : 0;
			json_decref(s);
			if (rc < 0)
				goto fail;
		}
		h->kn[i] = kb.len - h->koff[i];
	}
	if (!(h->keybuf = rag_buf_release(&kb)))
		return -1;
	return 0;
fail:
	rag_buf_free(&kb);
	return -1;
}

/* The last member of h named name, or -1. */
static long member(const hit *h, const char *name)
{
	size_t n = strlen(name), i;

	for (i = h->nmem; i-- > 0;)
		if (h->kn[i] == n && memcmp(h->keybuf + h->koff[i], name, n) == 0)
			return (long)i;
	return -1;
}

int rag_prompt_add(rag_prompt *p, const json_t *rec, const char *line, size_t len,
                   const rag_json_members *m, const char *source, long lineno, rag_error *err)
{
	hit *h = calloc(1, sizeof *h);
	const json_t *v;
	int k;

	if (!h)
		return nomem(err);
	h->rec = json_incref((json_t *)rec);
	v = json_object_get(rec, "query");
	if (!v) {
		rag_error_set(err, RAG_EDATA, source, lineno, "hit has no \"query\"");
		goto fail;
	}
	if (!json_is_string(v)) {
		rag_error_set(err, RAG_EDATA, source, lineno, "\"query\" is not a string");
		goto fail;
	}
	h->query = json_string_value(v);
	h->query_len = json_string_length(v);
	if (rag_record_id_value(json_object_get(rec, "qid"), "qid", 1, h->qid_num, &h->qid,
	                        &h->qid_len, source, lineno, err) < 0)
		goto fail;
	/* the hit of another query starts the next group */
	if (p->n > 0) {
		const hit *f = p->hits[0];
		int same = f->qid ? h->qid && h->qid_len == f->qid_len &&
		                        memcmp(h->qid, f->qid, f->qid_len) == 0
		                  : !h->qid && h->query_len == f->query_len &&
		                        memcmp(h->query, f->query, f->query_len) == 0;
		if (!same) {
			hit_free(h);
			return 0;
		}
	}
	if (p->n >= RAG_PROMPT_MAX_HITS) {
		rag_error_set(err, RAG_EDATA, source, lineno, "query %s has more than %d hits",
		              rag_quote(0, h->query), RAG_PROMPT_MAX_HITS);
		goto fail;
	}
	v = json_object_get(rec, "text");
	if (!v) {
		rag_error_set(err, RAG_EDATA, source, lineno, "hit has no \"text\"");
		goto fail;
	}
	if (!json_is_string(v)) {
		rag_error_set(err, RAG_EDATA, source, lineno, "\"text\" is not a string");
		goto fail;
	}
	h->text = json_string_value(v);
	h->text_len = json_string_length(v);
	if (rag_record_id_value(json_object_get(rec, "id"), "id", 1, h->id_num, &h->id, &h->id_len,
	                        source, lineno, err) < 0)
		goto fail;
	k = rag_record_id_value(json_object_get(rec, "doc"), "doc", 1, h->doc_num, &h->dockey,
	                        &h->dockey_len, source, lineno, err);
	if (k < 0)
		goto fail;
	v = json_object_get(rec, "source");
	if (v && !json_is_null(v) && !json_is_string(v)) {
		rag_error_set(err, RAG_EDATA, source, lineno, "\"source\" is not a string");
		goto fail;
	}
	if (k == 0 && json_is_string(v)) {
		h->dockey = json_string_value(v);
		h->dockey_len = json_string_length(v);
	}
	{
		int hs, he;
		if ((hs = get_count(rec, "start", &h->start, source, lineno, err)) < 0 ||
		    (he = get_count(rec, "end", &h->end, source, lineno, err)) < 0 ||
		    (h->has_ls =
		         get_count(rec, "line_start", &h->line_start, source, lineno, err)) < 0 ||
		    (h->has_le = get_count(rec, "line_end", &h->line_end, source, lineno, err)) < 0)
			goto fail;
		h->has_span = hs && he;
		if (h->has_span && h->end < h->start) {
			rag_error_set(err, RAG_EDATA, source, lineno,
			              "\"end\" (%lld) is before \"start\" (%lld)", h->end,
			              h->start);
			goto fail;
		}
		h->exact = h->has_span && (unsigned long long)(h->end - h->start) == h->text_len;
	}
	v = json_object_get(rec, "rank");
	h->rank = LLONG_MAX;
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v)) {
			rag_error_set(err, RAG_EDATA, source, lineno,
			              "\"rank\" is not a whole number");
			goto fail;
		}
		h->rank = json_integer_value(v);
	}
	h->order = p->n;
	if (!(h->line = malloc(len + 1)))
		goto nomem;
	memcpy(h->line, line, len);
	h->line[len] = '\0';
	h->len = len;
	if (m->n && !(h->mem = malloc(m->n * sizeof *h->mem)))
		goto nomem;
	if (m->n)
		memcpy(h->mem, m->v, m->n * sizeof *h->mem);
	h->nmem = m->n;
	if (hit_keys(h) < 0)
		goto nomem;
	if (rag_array_reserve(&p->hits, &p->cap, p->n + 1, sizeof *p->hits) < 0)
		goto nomem;
	if (p->n == 0) {
		snprintf(p->src, sizeof p->src, "%s", source ? source : "");
		p->src_line = lineno;
	}
	p->hits[p->n++] = h;
	return 1;
nomem:
	nomem(err);
fail:
	hit_free(h);
	return -1;
}

/* ---- passages ---- */

static int cmp_len(const char *a, size_t an, const char *b, size_t bn)
{
	int c = an && bn ? memcmp(a, b, an < bn ? an : bn) : 0;

	return c ? c : an < bn ? -1 : an > bn;
}

static int cmp_ll(long long a, long long b)
{
	return a < b ? -1 : a > b;
}

/* Better rank first; the earlier in the input of equal ranks. */
static int cmp_rank(const hit *a, const hit *b)
{
	int c = cmp_ll(a->rank, b->rank);

	return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

static int by_id(const void *x, const void *y)
{
	const hit *a = *(hit *const *)x, *b = *(hit *const *)y;
	int c = cmp_len(a->id, a->id_len, b->id, b->id_len);

	return c ? c : cmp_rank(a, b);
}

/*
 * The hits that have a key (ka, kb: a document and what the order needs)
 * by (document, start, end) after the others; then by rank.
 */
static int by_doc_span(const hit *a, const hit *b, int ka, int kb)
{
	int c;

	if (ka != kb)
		return ka - kb;
	if (ka) {
		if ((c = cmp_len(a->dockey, a->dockey_len, b->dockey, b->dockey_len)) ||
		    (c = cmp_ll(a->start, b->start)) || (c = cmp_ll(a->end, b->end)))
			return c;
	}
	return cmp_rank(a, b);
}

/* Hits with a document and a span by (document, start, end), the rest first. */
static int by_span(const void *x, const void *y)
{
	const hit *a = *(hit *const *)x, *b = *(hit *const *)y;

	return by_doc_span(a, b, a->dockey && a->has_span, b->dockey && b->has_span);
}

/* The hits that may merge, by (document, start) after the others. */
static int by_merge(const void *x, const void *y)
{
	const hit *a = *(hit *const *)x, *b = *(hit *const *)y;

	return by_doc_span(a, b, a->dockey && a->exact, b->dockey && b->exact);
}

static int by_best(const void *x, const void *y)
{
	return cmp_rank(((const passage *)x)->best, ((const passage *)y)->best);
}

static int same_doc(const hit *a, const hit *b)
{
	return a->dockey && b->dockey && a->dockey_len == b->dockey_len &&
	       memcmp(a->dockey, b->dockey, a->dockey_len) == 0;
}

/* Starts a passage of hit h, sorted[i]. */
static int passage_start(rag_prompt *p, hit *h, size_t i)
{
	passage *ps;

	if (rag_array_reserve(&p->pass, &p->pcap, p->np + 1, sizeof *p->pass) < 0)
		return -1;
	ps = &p->pass[p->np++];
	memset(ps, 0, sizeof *ps);
	ps->best = h;
	ps->part0 = i;
	ps->nparts = 1;
	ps->text = h->text;
	ps->len = ps->keep = h->text_len;
	ps->has_span = h->has_span;
	ps->exact = h->exact;
	ps->start = h->start;
	ps->end = h->end;
	ps->has_ls = h->has_ls;
	ps->line_start = h->line_start;
	ps->has_le = h->has_le;
	ps->line_end = h->line_end;
	return 0;
}

/*
 * Whether h, which starts at or after the passage ps (exact, of the same
 * document), overlaps or touches it, and the bytes they share agree.
 */
static int mergeable(const passage *ps, const hit *h)
{
	long long shared_end;

	if (h->start > ps->end)
		return 0;
	shared_end = h->end < ps->end ? h->end : ps->end;
	return memcmp(ps->text + (h->start - ps->start), h->text,
	              (size_t)(shared_end - h->start)) == 0;
}

/* Adds h to the passage ps (mergeable).  0 or -1 (memory). */
static int passage_merge(passage *ps, hit *h)
{
	ps->nparts++;
	if (cmp_rank(h, ps->best) < 0)
		ps->best = h;
	if (h->has_ls && (!ps->has_ls || h->line_start < ps->line_start))
		ps->line_start = h->line_start, ps->has_ls = 1;
	if (h->has_le && (!ps->has_le || h->line_end > ps->line_end))
		ps->line_end = h->line_end, ps->has_le = 1;
	if (h->end > ps->end) {
		size_t skip = (size_t)(ps->end - h->start), add = h->text_len - skip;
		char *t = realloc(ps->own, ps->len + add + 1);
		if (!t)
			return -1;
		if (!ps->own)
			memcpy(t, ps->text, ps->len);
		memcpy(t + ps->len, h->text + skip, add);
		t[ps->len + add] = '\0';
		ps->own = t;
		ps->text = t;
		ps->len += add;
		ps->keep = ps->len;
		ps->end = h->end;
	}
	return 0;
}

/* Steps 1 to 3: the group's hits into numbered passages.  0 or -1 (memory). */
static int make_passages(rag_prompt *p)
{
	size_t i, n = 0, k;

	if (rag_array_reserve(&p->sorted, &p->sorted_cap, p->n, sizeof *p->sorted) < 0)
		return -1;
	memcpy(p->sorted, p->hits, p->n * sizeof *p->hits);
	/* duplicate ids: the best-ranked stays */
	qsort(p->sorted, p->n, sizeof *p->sorted, by_id);
	for (i = 0; i < p->n; i++) {
		hit *h = p->sorted[i];
		if (h->id && n > 0 && p->sorted[n - 1]->id &&
		    !cmp_len(h->id, h->id_len, p->sorted[n - 1]->id, p->sorted[n - 1]->id_len))
			continue;
		p->sorted[n++] = h;
	}
	/* the same span of the same document */
	qsort(p->sorted, n, sizeof *p->sorted, by_span);
	for (i = k = 0; i < n; i++) {
		hit *h = p->sorted[i], *g = k ? p->sorted[k - 1] : NULL;
		if (g && h->has_span && g->has_span && same_doc(h, g) && h->start == g->start &&
		    h->end == g->end)
			continue;
		p->sorted[k++] = h;
	}
	n = k;
	/* merge what overlaps or touches */
	qsort(p->sorted, n, sizeof *p->sorted, by_merge);
	for (i = 0; i < n; i++) {
		hit *h = p->sorted[i];
		passage *cur = p->np ? &p->pass[p->np - 1] : NULL;
		if (cur && h->exact && cur->exact && same_doc(h, cur->best) && mergeable(cur, h)) {
			if (passage_merge(cur, h) < 0)
				return -1;
			continue;
		}
		if (passage_start(p, h, i) < 0)
			return -1;
	}
	qsort(p->pass, p->np, sizeof *p->pass, by_best);
	return 0;
}

/* ---- rendering ---- */

/* The passage's text as the prompt holds it, and what changes with a cut. */
static long long pass_end(const passage *ps)
{
	return ps->keep < ps->len && ps->exact ? ps->start + (long long)ps->keep : ps->end;
}

static long long pass_line_end(const passage *ps)
{
	long long le = ps->line_end;

	if (ps->keep < ps->len && ps->exact && ps->has_ls) {
		size_t i;
		le = ps->line_start;
		for (i = 0; i < ps->keep; i++)
			le += ps->text[i] == '\n';
	}
	return le;
}

/* "source:line_start-line_end", or the doc, or the id. */
static int add_location(rag_buf *out, const passage *ps)
{
	const hit *h = ps->best;
	const json_t *s = json_object_get(h->rec, "source");
	int rc = 0;

	if (json_is_string(s))
		rc = rag_buf_add(out, json_string_value(s), json_string_length(s));
	else if (h->dockey)
		rc = rag_buf_add(out, h->dockey, h->dockey_len);
	else if (h->id)
		rc = rag_buf_add(out, h->id, h->id_len);
	if (rc == 0 && ps->has_ls && ps->has_le && (json_is_string(s) || h->dockey || h->id))
		rc = rag_buf_addf(out, ":%lld-%lld", ps->line_start, pass_line_end(ps));
	return rc;
}

/* The text of a JSON value in a template: a string as it is, null as "". */
static int add_value(rag_buf *out, const json_t *v)
{
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v))
		return rag_buf_add(out, json_string_value(v), json_string_length(v));
	return rag_json_dump(out, v, 0);
}

static int add_field(rag_buf *out, const rag_prompt *p, const passage *ps, size_t n,
                     const char *name, size_t len)
{
	if (name_is(name, len, "n"))
		return rag_buf_addf(out, "%zu", n);
	if (name_is(name, len, "text"))
		return rag_buf_add(out, ps->text, ps->keep);
	if (name_is(name, len, "location"))
		return add_location(out, ps);
	if (name_is(name, len, "start"))
		return ps->has_span ? rag_buf_addf(out, "%lld", ps->start) : 0;
	if (name_is(name, len, "end"))
		return ps->has_span ? rag_buf_addf(out, "%lld", pass_end(ps)) : 0;
	if (name_is(name, len, "line_start"))
		return ps->has_ls ? rag_buf_addf(out, "%lld", ps->line_start) : 0;
	if (name_is(name, len, "line_end"))
		return ps->has_le ? rag_buf_addf(out, "%lld", pass_line_end(ps)) : 0;
	(void)p;
	{
		/* any other field of the best-ranked part */
		char key[256];
		if (len >= sizeof key)
			return 0;
		memcpy(key, name, len);
		key[len] = '\0';
		return add_value(out, json_object_get(ps->best->rec, key));
	}
}

static int add_context(rag_buf *out, const rag_prompt *p, size_t m)
{
	size_t i;

	if (m == 0)
		return rag_buf_adds(out, "(no sources)");
	for (i = 0; i < m; i++) {
		const passage *ps = &p->pass[i];
		size_t at;
		if ((i > 0 && rag_buf_adds(out, "\n\n") < 0) ||
		    rag_buf_addf(out, "[%zu] ", i + 1) < 0)
			return -1;
		at = out->len;
		if (add_location(out, ps) < 0)
			return -1;
		if (out->len == at)
			rag_buf_truncate(out, at - 1);
		if (rag_buf_addc(out, '\n') < 0 || rag_buf_add(out, ps->text, ps->keep) < 0)
			return -1;
	}
	return 0;
}

static int render_nodes(rag_buf *out, const rag_prompt *p, size_t from, size_t to, size_t m,
                        const passage *ps, size_t n)
{
	const rag_template *t = p->tmpl;
	const hit *q = p->hits[0];
	size_t k, i;
	int rc = 0;

	for (k = from; k < to && rc == 0; k++) {
		const tnode *nd = &t->v[k];
		switch (nd->kind) {
		case T_LIT:
			rc = rag_buf_add(out, t->text + nd->off, nd->len);
			break;
		case T_QUESTION:
			rc = rag_buf_add(out, q->query, q->query_len);
			break;
		case T_QID:
			rc = q->qid ? rag_buf_add(out, q->qid, q->qid_len) : 0;
			break;
		case T_CONTEXT:
			rc = add_context(out, p, m);
			break;
		case T_FIELD:
			rc = add_field(out, p, ps, n, t->text + nd->off, nd->len);
			break;
		case T_BLOCK:
			for (i = 0; i < m && rc == 0; i++)
				rc = render_nodes(out, p, k + 1, nd->end, m, &p->pass[i], i + 1);
			k = nd->end;
			break;
		default:
			break;
		}
	}
	return rc;
}

/* Renders the user message with the first m passages into p->user; the tokens of the prompt. */
static int render(rag_prompt *p, size_t m, size_t *tokens)
{
	rag_buf_truncate(&p->user, 0);
	if (render_nodes(&p->user, p, 0, p->tmpl->n, m, NULL, 0) < 0)
		return -1;
	*tokens = rag_prompt_tokens(p->system_len + p->user.len);
	return 0;
}

/* Whether the prompt with the first m passages fits: 1, 0, or -1 (memory). */
static int fits(rag_prompt *p, size_t m)
{
	size_t tokens;

	if (render(p, m, &tokens) < 0)
		return -1;
	return !p->o.max_tokens || tokens <= p->o.max_tokens;
}

/* Whether text[0..e) ends a sentence: after . ! or ? (and closing marks), before space. */
static int sentence_end(const char *s, size_t len, size_t e)
{
	size_t i = e;

	if (e == 0 || (e < len && !rag_is_space((unsigned char)s[e])))
		return 0;
	if (e + 1 < len && s[e] == '\n' && s[e + 1] == '\n' &&
	    !rag_is_space((unsigned char)s[e - 1]))
		return 1; /* the end of a paragraph */
	for (;;) {
		if (i >= 1 &&
		    (s[i - 1] == '"' || s[i - 1] == '\'' || s[i - 1] == ')' || s[i - 1] == ']'))
			i--;
		else if (i >= 3 && (unsigned char)s[i - 3] == 0xE2 &&
		         (unsigned char)s[i - 2] == 0x80 &&
		         ((unsigned char)s[i - 1] == 0x9D || (unsigned char)s[i - 1] == 0x99))
			i -= 3; /* a closing quote mark */
		else
			break;
	}
	return i >= 1 && (s[i - 1] == '.' || s[i - 1] == '!' || s[i - 1] == '?');
}

static int word_end(const char *s, size_t len, size_t e)
{
	return e > 0 && e < len && rag_is_space((unsigned char)s[e]) &&
	       !rag_is_space((unsigned char)s[e - 1]);
}

/*
 * Cuts the first passage to the longest prefix that ends where ok says
 * and fits, by a binary search over those ends.  1 cut, 0 no such prefix
 * fits, -1 memory.
 */
static int cut(rag_prompt *p, int (*ok)(const char *, size_t, size_t))
{
	passage *ps = &p->pass[0];
	size_t *ends = NULL, n = 0, cap = 0, e, lo, hi;
	int k, rc = 0;

	for (e = 1; e < ps->len; e++)
		if (ok(ps->text, ps->len, e)) {
			if (rag_array_reserve(&ends, &cap, n + 1, sizeof *ends) < 0) {
				free(ends);
				return -1;
			}
			ends[n++] = e;
		}
	/* the largest i with ends[i] fitting: lo is the count of those that fit */
	lo = 0;
	hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		ps->keep = ends[mid];
		if ((k = fits(p, 1)) < 0) {
			rc = -1;
			goto out;
		}
		if (k)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0) {
		ps->keep = ends[lo - 1];
		rc = 1;
	} else {
		ps->keep = ps->len;
	}
out:
	free(ends);
	return rc;
}

/* Step 4: how many passages fit, cutting the first when it must.  0 or -1 with err set. */
static int fit(rag_prompt *p, size_t *m, rag_error *warn, rag_error *err)
{
	size_t lo, hi, tokens;
	int k;
	const char *how = "sentence";
	rag_buf *loc = &p->tmp;

	*m = p->np;
	if (!p->o.max_tokens)
		return 0;
	if ((k = fits(p, p->np)) != 0)
		return k < 0 ? nomem(err) : 0;
	/* the largest m that fits: fits(lo) holds, fits(hi) does not */
	lo = 0;
	hi = p->np;
	if ((k = fits(p, 0)) <= 0) {
		if (k < 0 || render(p, 0, &tokens) < 0)
			return nomem(err);
		return rag_error_set(
		    err, RAG_EDATA, p->src, p->src_line,
		    "query %s: the prompt takes %zu tokens without any source, more "
		    "than the budget of %zu",
		    rag_quote(0, p->hits[0]->query), tokens, p->o.max_tokens);
	}
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if ((k = fits(p, mid)) < 0)
			return nomem(err);
		if (k)
			lo = mid;
		else
			hi = mid;
	}
	*m = lo;
	if (lo > 0)
		return 0;
	/* not even the best passage fits whole */
	rag_buf_truncate(loc, 0);
	if (add_location(loc, &p->pass[0]) < 0)
		return nomem(err);
	if ((k = cut(p, sentence_end)) == 0) {
		how = "word";
		k = cut(p, word_end);
	}
	if (k < 0)
		return nomem(err);
	if (k == 0) {
		rag_error_set(
		    warn, RAG_EDATA, p->src, p->src_line,
		    "query %s: source [1] %s left out: not a word of it fits in %zu tokens",
		    rag_quote(0, p->hits[0]->query), rag_quote(1, loc->data ? loc->data : ""),
		    p->o.max_tokens);
		return 0;
	}
	*m = 1;
	rag_error_set(warn, RAG_EDATA, p->src, p->src_line,
	              "query %s: source [1] %s cut at a %s boundary to fit %zu tokens (%zu of %zu "
	              "bytes kept)",
	              rag_quote(0, p->hits[0]->query), rag_quote(1, loc->data ? loc->data : ""),
	              how, p->o.max_tokens, p->pass[0].keep, p->pass[0].len);
	return 0;
}

/* ---- output ---- */

static int add_member(rag_buf *out, const hit *h, long i)
{
	const rag_json_member *mm = &h->mem[i];

	return rag_buf_addc(out, ',') < 0 ||
	               rag_json_add_raw(out, h->line + mm->key, mm->key_len) < 0 ||
	               rag_buf_addc(out, ':') < 0 ||
	               rag_json_add_raw(out, h->line + mm->val, mm->val_len) < 0
	           ? -1
	           : 0;
}

/* Fields of a hit a source leaves out, or writes itself. */
static const char *const not_metadata[] = {
    "text", "score",  "rank",  "ranks", "query",      "qid",      "vector", "n",         "id",
    "doc",  "source", "start", "end",   "line_start", "line_end", "ids",    "truncated", NULL,
};

static int add_source(rag_buf *out, const rag_prompt *p, const passage *ps, size_t n)
{
	const hit *h = ps->best;
	static const char *const first[] = {"id", "doc", "source"};
	size_t i, j;
	long k;

	if (rag_buf_addf(out, "{\"n\":%zu", n) < 0)
		return -1;
	for (i = 0; i < sizeof first / sizeof first[0]; i++) {
		const json_t *v = json_object_get(h->rec, first[i]);
		if (v && !json_is_null(v) && (k = member(h, first[i])) >= 0 &&
		    add_member(out, h, k) < 0)
			return -1;
	}
	if (ps->has_span &&
	    rag_buf_addf(out, ",\"start\":%lld,\"end\":%lld", ps->start, pass_end(ps)) < 0)
		return -1;
	if (ps->has_ls && rag_buf_addf(out, ",\"line_start\":%lld", ps->line_start) < 0)
		return -1;
	if (ps->has_le && rag_buf_addf(out, ",\"line_end\":%lld", pass_line_end(ps)) < 0)
		return -1;
	if (ps->nparts > 1) {
		int any = 0;
		for (i = 0; i < ps->nparts; i++) {
			const hit *g = p->sorted[ps->part0 + i];
			if (!g->id || (k = member(g, "id")) < 0)
				continue;
			if (rag_buf_adds(out, any ? "," : ",\"ids\":[") < 0 ||
			    rag_json_add_raw(out, g->line + g->mem[k].val, g->mem[k].val_len) < 0)
				return -1;
			any = 1;
		}
		if (any && rag_buf_addc(out, ']') < 0)
			return -1;
	}
	if (ps->keep < ps->len && rag_buf_adds(out, ",\"truncated\":true") < 0)
		return -1;
	for (i = 0; i < h->nmem; i++) {
		const char *key = h->keybuf + h->koff[i];
		size_t kn = h->kn[i];
		int skip = 0;
		for (j = 0; not_metadata[j] && !skip; j++)
			skip = name_is(key, kn, not_metadata[j]);
		/* a repeated key: the last one counts */
		for (j = i + 1; j < h->nmem && !skip; j++)
			skip = h->kn[j] == kn && memcmp(h->keybuf + h->koff[j], key, kn) == 0;
		if (!skip && add_member(out, h, (long)i) < 0)
			return -1;
	}
	/* the passage as the prompt has it: what an answerer without a model quotes */
	if (rag_buf_adds(out, ",\"text\":") < 0 || rag_json_add_string(out, ps->text, ps->keep) < 0)
		return -1;
	return rag_buf_addc(out, '}');
}

int rag_prompt_build(rag_prompt *p, rag_buf *out, rag_error *warn, rag_error *err)
{
	size_t m, i, tokens;
	const hit *q;

	rag_error_clear(warn);
	if (p->n == 0)
		return rag_error_set(err, RAG_EDATA, NULL, 0, "no hits to make a prompt of");
	q = p->hits[0];
	for (i = 0; i < p->np; i++)
		free(p->pass[i].own);
	p->np = 0;
	if (make_passages(p) < 0)
		return nomem(err);
	if (fit(p, &m, warn, err) < 0)
		return -1;
	if (render(p, m, &tokens) < 0)
		return nomem(err);
	if (p->o.format == RAG_PROMPT_TEXT) {
		if (rag_buf_adds(out, "System:\n") < 0 ||
		    rag_buf_add(out, p->system, p->system_len) < 0 ||
		    rag_buf_adds(out, "\n\nUser:\n") < 0 ||
		    rag_buf_add(out, p->user.data ? p->user.data : "", p->user.len) < 0)
			return nomem(err);
		return 0;
	}
	if (rag_buf_adds(out, "{\"query\":") < 0 ||
	    rag_json_add_string(out, q->query, q->query_len) < 0)
		return nomem(err);
	if (q->qid) {
		long k = member(q, "qid");
		if (k >= 0 && add_member(out, q, k) < 0)
			return nomem(err);
	}
	if (rag_buf_adds(out, ",\"messages\":[{\"role\":\"system\",\"content\":") < 0 ||
	    rag_json_add_string(out, p->system, p->system_len) < 0 ||
	    rag_buf_adds(out, "},{\"role\":\"user\",\"content\":") < 0 ||
	    rag_json_add_string(out, p->user.data ? p->user.data : "", p->user.len) < 0 ||
	    rag_buf_adds(out, "}],\"sources\":[") < 0)
		return nomem(err);
	for (i = 0; i < m; i++)
		if ((i > 0 && rag_buf_addc(out, ',') < 0) ||
		    add_source(out, p, &p->pass[i], i + 1) < 0)
			return nomem(err);
	if (rag_buf_adds(out, "]}") < 0)
		return nomem(err);
	return 0;
}

rag_template *rag_template_read(const char *path, rag_error *err)
{
	rag_buf b;
	rag_template *t = NULL;
	int fd = open(path, O_RDONLY);

	rag_buf_init(&b, (size_t)RAG_TEMPLATE_MAX + 1);
	if (fd < 0) {
		rag_error_sys(err, errno, path, "cannot open the template");
		err->code = RAG_EUSAGE;
		return NULL;
	}
	if (rag_buf_read_fd(&b, fd, 0) < 0) {
		if (errno == EFBIG)
			rag_error_set(err, RAG_EUSAGE, path, 0,
			              "the template is larger than %d bytes", RAG_TEMPLATE_MAX);
		else
			rag_error_sys(err, errno, path, "cannot read the template");
		err->code = RAG_EUSAGE;
		goto out;
	}
	t = rag_template_parse(b.data ? b.data : "", b.len, path, err);
out:
	close(fd);
	rag_buf_free(&b);
	return t;
}
