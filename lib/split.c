/* split.c - cutting text into size-limited spans; see split.h. */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "split.h"
#include "text.h"
#include "utf8.h"

/* The separator levels of the recursive strategy, coarsest first. */
enum { LV_PARA, LV_LINE, LV_SENT, LV_WORD, LV_CHAR };

struct rag_splitter {
	rag_split_opts o;
	pcre2_code *sent_re;
	pcre2_match_data *md;
	/* The run in progress. */
	const char *text;
	const rag_span *atoms;
	size_t natoms;
	rag_spans *out;
	size_t out_first; /* the first chunk this run appended */
	rag_error *err;
};

/* A growable list of offsets or pieces, local to one recursion level. */
typedef struct {
	size_t s, e, m;
} piece;

typedef struct {
	size_t *v;
	size_t n, cap;
} offsets;

static int offsets_push(offsets *o, size_t x)
{
	if (rag_array_reserve(&o->v, &o->cap, o->n + 1, sizeof *o->v) < 0)
		return -1;
	o->v[o->n++] = x;
	return 0;
}

int rag_spans_push(rag_spans *s, size_t start, size_t end)
{
	if (rag_array_reserve(&s->v, &s->cap, s->n + 1, sizeof *s->v) < 0)
		return -1;
	s->v[s->n].start = start;
	s->v[s->n].end = end;
	s->n++;
	return 0;
}

void rag_spans_free(rag_spans *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

static const char *const unit_names[] = {"chars", "words", "tokens"};
static const char *const strategy_names[] = {"recursive", "sentence", "fixed"};

int rag_unit_parse(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(name, unit_names[i]) == 0)
			return i;
	return -1;
}

int rag_strategy_parse(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(name, strategy_names[i]) == 0)
			return i;
	return -1;
}

const char *rag_unit_name(rag_unit u)
{
	return unit_names[u];
}

const char *rag_strategy_name(rag_strategy s)
{
	return strategy_names[s];
}

/* ---- measuring ---- */


/* Letters and digits for the token estimate: ASCII alphanumerics and U+0080..U+1FFF. */
static inline int is_wordch(uint32_t cp)
{
	if (cp < 0x80)
		return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
		       (cp >= '0' && cp <= '9');
	return cp < 0x2000;
}

/* An incremental measure: exact for text fed one code point at a time. */
typedef struct {
	size_t total;
	size_t run;  /* tokens: length of the current letter run */
	int inword;  /* words: inside a word */
} meter;

static inline void meter_cp(rag_unit u, meter *m, uint32_t cp)
{
	switch (u) {
	case RAG_UNIT_CHARS:
		m->total++;
		break;
	case RAG_UNIT_WORDS:
		if (cp < 0x80 && rag_is_space((unsigned char)cp)) {
			m->inword = 0;
		} else {
			m->total += !m->inword;
			m->inword = 1;
		}
		break;
	case RAG_UNIT_TOKENS:
		if (cp < 0x80 && rag_is_space((unsigned char)cp)) {
			m->run = 0;
		} else if (is_wordch(cp)) {
			m->total += m->run % 4 == 0;
			m->run++;
		} else {
			m->run = 0;
			m->total++;
		}
		break;
	}
}

static inline size_t next_cp(const char *s, size_t i, size_t n, uint32_t *cp)
{
	unsigned char c = (unsigned char)s[i];
	size_t k;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	k = rag_utf8_decode(s + i, n - i, cp);
	if (!k) { /* not expected on validated text; count the byte */
		*cp = 0xFFFD;
		return 1;
	}
	return k;
}

size_t rag_measure(rag_unit u, const char *s, size_t n)
{
	size_t i, total = 0;

	switch (u) {
	case RAG_UNIT_CHARS:
		return rag_utf8_count(s, n);
	case RAG_UNIT_WORDS: {
		int inword = 0;
		for (i = 0; i < n; i++) {
			int sp = rag_is_space((unsigned char)s[i]);
			total += !sp && !inword;
			inword = !sp;
		}
		return total;
	}
	case RAG_UNIT_TOKENS: {
		meter m = {0, 0, 0};
		uint32_t cp;
		for (i = 0; i < n;) {
			i += next_cp(s, i, n, &cp);
			meter_cp(u, &m, cp);
		}
		return m.total;
	}
	}
	return 0;
}

/* ---- the splitter ---- */

/*
 * Sentence ends: '.', '!' or '?' (and any closing quotes or brackets),
 * then white space, then what can start a sentence: an upper-case letter
 * or a digit, maybe after opening quotes.  A full stop after a common
 * abbreviation or a single capital (an initial) is not an end.  The match
 * is the white space, so the boundary is where it begins.
 */
static const char *const abbreviations[] = {
	"Mr", "Mrs", "Ms", "Dr", "Prof", "Sr", "Jr", "St", "Mt", "Ft",
	"Gen", "Col", "Lt", "Sgt", "Capt", "Cmdr", "Adm", "Gov", "Sen", "Rep",
	"Rev", "Hon", "Pres", "Supt", "vs", "Inc", "Ltd", "Co", "Corp", "Bros",
	"No", "Nos", "Fig", "Figs", "Vol", "Vols", "Ch", "Sec", "Art", "Eq",
	"pp", "cf", "al", "approx", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul",
	"Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "e\\.g", "i\\.e", "a\\.m",
	"p\\.m", "U\\.S", "U\\.K", "Ph\\.D", NULL};

static int compile_sentences(rag_splitter *sp, rag_error *err)
{
	rag_buf pat;
	int rc, code;
	PCRE2_SIZE off;

	rag_buf_init(&pat, 0);
	rc = rag_buf_adds(&pat, "(?<!");
	for (int i = 0; abbreviations[i] && rc == 0; i++)
		rc = rag_buf_addf(&pat, "\\b%s|", abbreviations[i]);
	/*
	 * A match never starts inside a run of end marks (the lookbehind
	 * refuses one before it) and the quantifiers are possessive, so a
	 * long run of dots costs linear time, not quadratic.
	 */
	if (rc == 0)
		rc = rag_buf_adds(&pat,
				  "\\b\\p{Lu}|[.!?])[.!?]++[\"'\\x{2019}\\x{201D})\\]]*+\\K\\s++"
				  "(?=[\"'\\x{201C}\\x{2018}(\\[]*+[\\p{Lu}\\p{Nd}])");
	if (rc < 0) {
		rag_buf_free(&pat);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	}
	sp->sent_re = pcre2_compile((PCRE2_SPTR)pat.data, pat.len, PCRE2_UTF,
				    &code, &off, NULL);
	rag_buf_free(&pat);
	if (!sp->sent_re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof msg);
		return rag_error_set(err, RAG_EUSAGE, NULL, 0,
				     "sentence pattern: %s at offset %zu", (char *)msg, (size_t)off);
	}
	/* JIT when the system allows it; the interpreter otherwise. */
	(void)pcre2_jit_compile(sp->sent_re, PCRE2_JIT_COMPLETE);
	sp->md = pcre2_match_data_create_from_pattern(sp->sent_re, NULL);
	if (!sp->md)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	return 0;
}

rag_splitter *rag_splitter_new(const rag_split_opts *o, rag_error *err)
{
	rag_splitter *sp;

	if (o->size < 1)
		return rag_error_set(err, RAG_EUSAGE, NULL, 0, "the size must be at least 1"), NULL;
	if (o->overlap >= o->size)
		return rag_error_set(err, RAG_EUSAGE, NULL, 0,
				     "the overlap (%zu) must be smaller than the size (%zu)",
				     o->overlap, o->size), NULL;
	sp = calloc(1, sizeof *sp);
	if (!sp)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory"), NULL;
	sp->o = *o;
	if (compile_sentences(sp, err) < 0) {
		rag_splitter_free(sp);
		return NULL;
	}
	return sp;
}

void rag_splitter_free(rag_splitter *sp)
{
	if (!sp)
		return;
	pcre2_match_data_free(sp->md);
	pcre2_code_free(sp->sent_re);
	free(sp);
}

static int nomem(rag_splitter *sp)
{
	return rag_error_set(sp->err, RAG_ENOMEM, NULL, 0, "out of memory");
}

/* The atom that strictly contains offset p (a cut at p would split it), or NULL. */
static const rag_span *atom_around(const rag_splitter *sp, size_t p)
{
	size_t lo = 0, hi = sp->natoms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const rag_span *a = &sp->atoms[mid];
		if (a->end <= p)
			lo = mid + 1;
		else if (a->start >= p)
			hi = mid;
		else
			return a;
	}
	return NULL;
}

/* The atom that starts at offset p, or NULL. */
static const rag_span *atom_at(const rag_splitter *sp, size_t p)
{
	size_t lo = 0, hi = sp->natoms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sp->atoms[mid].start < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < sp->natoms && sp->atoms[lo].start == p ? &sp->atoms[lo] : NULL;
}

/*
 * Adds a chunk: [s, e) trimmed of white space.  Empty chunks are dropped,
 * and so is a chunk that lies inside the one before it (an overlap whose
 * only new piece was white space).
 */
static int emit(rag_splitter *sp, size_t s, size_t e)
{
	rag_trim_span(sp->text, &s, &e);
	if (s == e)
		return 0;
	if (sp->out->n > sp->out_first) {
		const rag_span *last = &sp->out->v[sp->out->n - 1];
		if (s >= last->start && e <= last->end)
			return 0;
	}
	return rag_spans_push(sp->out, s, e) < 0 ? nomem(sp) : 0;
}

/* Where a boundary found at p may go: p itself, or past the atom it is in. */
static int usable(const rag_splitter *sp, size_t p, size_t *skip_to)
{
	const rag_span *a;

	if (!sp->natoms)
		return 1;
	a = atom_around(sp, p);
	if (!a)
		return 1;
	*skip_to = a->end;
	return 0;
}

/* Paragraph breaks: a boundary at the newline that ends a paragraph's last line. */
static int find_paragraphs(rag_splitter *sp, size_t s, size_t e, offsets *b)
{
	const char *t = sp->text;
	size_t p = s;

	while (p < e) {
		const char *nl = memchr(t + p, '\n', e - p);
		size_t at, q, skip;
		if (!nl)
			break;
		at = (size_t)(nl - t);
		q = at + 1;
		while (q < e && (t[q] == ' ' || t[q] == '\t' || t[q] == '\r'))
			q++;
		if (q >= e || t[q] != '\n') {
			p = at + 1;
			continue;
		}
		if (!usable(sp, at, &skip)) {
			p = skip;
			continue;
		}
		/* The whole run of blank lines is one separator. */
		while (q < e && rag_is_space((unsigned char)t[q]))
			q++;
		if (at > s && q < e && offsets_push(b, at) < 0)
			return nomem(sp);
		p = q;
	}
	return 0;
}

static int find_lines(rag_splitter *sp, size_t s, size_t e, offsets *b)
{
	const char *t = sp->text;
	size_t p = s, skip;

	while (p < e) {
		const char *nl = memchr(t + p, '\n', e - p);
		size_t at;
		if (!nl)
			break;
		at = (size_t)(nl - t);
		if (!usable(sp, at, &skip)) {
			p = skip;
			continue;
		}
		if (at > s && offsets_push(b, at) < 0)
			return nomem(sp);
		p = at + 1;
	}
	return 0;
}

static int find_words(rag_splitter *sp, size_t s, size_t e, offsets *b)
{
	const char *t = sp->text;
	size_t p, skip;

	for (p = s + 1; p < e; p++) {
		if (!rag_is_space((unsigned char)t[p]) || rag_is_space((unsigned char)t[p - 1]))
			continue;
		if (!usable(sp, p, &skip)) {
			p = skip - 1;
			continue;
		}
		if (offsets_push(b, p) < 0)
			return nomem(sp);
	}
	return 0;
}

static int find_sentences(rag_splitter *sp, size_t s, size_t e, offsets *b)
{
	size_t p = s, skip;

	while (p < e) {
		int rc = pcre2_match(sp->sent_re, (PCRE2_SPTR)sp->text, e, p,
				     PCRE2_NO_UTF_CHECK, sp->md, NULL);
		PCRE2_SIZE *ov;
		if (rc < 0) {
			if (rc == PCRE2_ERROR_NOMATCH)
				break;
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(rc, msg, sizeof msg);
			return rag_error_set(sp->err, RAG_ENOMEM, NULL, 0,
					     "sentence matching failed: %s", (char *)msg);
		}
		ov = pcre2_get_ovector_pointer(sp->md);
		if (ov[0] > s && ov[0] < e) {
			if (usable(sp, ov[0], &skip)) {
				if (offsets_push(b, ov[0]) < 0)
					return nomem(sp);
			} else {
				p = skip;
				continue;
			}
		}
		p = ov[1] > p ? ov[1] : p + 1;
	}
	return 0;
}

static int find_level(rag_splitter *sp, int level, size_t s, size_t e, offsets *b)
{
	switch (level) {
	case LV_PARA:
		return find_paragraphs(sp, s, e, b);
	case LV_LINE:
		return find_lines(sp, s, e, b);
	case LV_SENT:
		return find_sentences(sp, s, e, b);
	case LV_WORD:
		return find_words(sp, s, e, b);
	}
	return 0;
}

/*
 * Windows over [s, e): each as long as the size allows, the next starting
 * where the last `overlap` units of the previous one begin.  Atoms are
 * taken whole.
 */
static int windows(rag_splitter *sp, size_t s, size_t e)
{
	const char *t = sp->text;
	rag_unit u = sp->o.unit;
	size_t pos = s;

	while (pos < e) {
		meter m = {0, 0, 0};
		size_t i = pos, lo, hi;
		uint32_t cp;

		while (i < e) {
			const rag_span *a = sp->natoms ? atom_at(sp, i) : NULL;
			if (a) {
				/* An atom is whole, but never reaches past the span. */
				size_t aend = a->end < e ? a->end : e, j;
				meter m2 = m;
				for (j = a->start; j < aend;) {
					j += next_cp(t, j, aend, &cp);
					meter_cp(u, &m2, cp);
				}
				if (m2.total <= sp->o.size || i == pos) {
					m = m2;
					i = aend;
					if (m.total > sp->o.size)
						break;
					continue;
				}
				break;
			}
			meter m2 = m;
			size_t k = next_cp(t, i, e, &cp);
			meter_cp(u, &m2, cp);
			if (m2.total > sp->o.size && i > pos)
				break;
			m = m2;
			i += k;
		}
		if (emit(sp, pos, i) < 0)
			return -1;
		if (i >= e)
			break;
		if (sp->o.overlap == 0) {
			pos = i;
			continue;
		}
		/*
		 * The earliest code point start p in (pos, i] with
		 * measure(p, i) <= overlap; i itself always qualifies.
		 */
		lo = pos + next_cp(t, pos, e, &cp);
		hi = i;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			while (mid > lo && ((unsigned char)t[mid] & 0xC0) == 0x80)
				mid--;
			if (rag_measure(u, t + mid, i - mid) <= sp->o.overlap)
				hi = mid;
			else
				lo = mid + next_cp(t, mid, e, &cp);
		}
		if (sp->natoms) {
			const rag_span *a = atom_around(sp, hi);
			if (a)
				hi = a->end < i ? a->end : i;
		}
		pos = hi > pos ? hi : i;
	}
	return 0;
}

/*
 * Greedy merge of pieces that each fit, carrying trailing pieces of up to
 * `overlap` units into the next chunk.
 */
static int merge(rag_splitter *sp, const piece *g, size_t n)
{
	size_t first = 0, total = 0, i;

	for (i = 0; i < n; i++) {
		size_t m = g[i].m;
		if (i > first && total + m > sp->o.size) {
			if (emit(sp, g[first].s, g[i - 1].e) < 0)
				return -1;
			while (first < i &&
			       (total > sp->o.overlap || total + m > sp->o.size)) {
				total -= g[first].m;
				first++;
			}
		}
		total += m;
	}
	if (n && emit(sp, g[first].s, g[n - 1].e) < 0)
		return -1;
	return 0;
}

typedef struct {
	piece *v;
	size_t n, cap;
} pieces;

static int pieces_push(pieces *p, size_t s, size_t e, size_t m)
{
	if (rag_array_reserve(&p->v, &p->cap, p->n + 1, sizeof *p->v) < 0)
		return -1;
	p->v[p->n].s = s;
	p->v[p->n].e = e;
	p->v[p->n].m = m;
	p->n++;
	return 0;
}

static int split_rec(rag_splitter *sp, size_t s, size_t e, size_t m, int level);

/*
 * Splits [s, e) at the boundaries b; pieces that fit are merged, larger
 * ones split again from level `next`.
 */
static int split_at(rag_splitter *sp, size_t s, size_t e, const offsets *b, int next)
{
	pieces good = {NULL, 0, 0};
	size_t i, ps = s;
	int rc = 0;

	for (i = 0; i <= b->n && rc == 0; i++) {
		size_t pe = i < b->n ? b->v[i] : e;
		size_t m;
		if (pe <= ps)
			continue;
		m = rag_measure(sp->o.unit, sp->text + ps, pe - ps);
		if (m <= sp->o.size) {
			if (pieces_push(&good, ps, pe, m) < 0)
				rc = nomem(sp);
		} else {
			rc = merge(sp, good.v, good.n);
			good.n = 0;
			if (rc == 0)
				rc = split_rec(sp, ps, pe, m, next);
		}
		ps = pe;
	}
	if (rc == 0)
		rc = merge(sp, good.v, good.n);
	free(good.v);
	return rc;
}

/*
 * Splits [s, e), whose size is m (SIZE_MAX when not yet measured), from
 * separator level `level` down.
 */
static int split_rec(rag_splitter *sp, size_t s, size_t e, size_t m, int level)
{
	offsets b = {NULL, 0, 0};
	int rc = 0;

	/* What fits is one chunk: no separator needs looking for. */
	if (m == SIZE_MAX)
		m = rag_measure(sp->o.unit, sp->text + s, e - s);
	if (m <= sp->o.size)
		return emit(sp, s, e);

	for (; level < LV_CHAR; level++) {
		b.n = 0;
		if (find_level(sp, level, s, e, &b) < 0) {
			free(b.v);
			return -1;
		}
		if (b.n)
			break;
	}
	if (level == LV_CHAR)
		rc = windows(sp, s, e);
	else
		rc = split_at(sp, s, e, &b, level + 1);
	free(b.v);
	return rc;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* Sentences and paragraphs as pieces, packed; big ones split recursively. */
static int split_sentences(rag_splitter *sp, size_t s, size_t e)
{
	offsets b = {NULL, 0, 0};
	size_t i, j;
	int rc;

	if (rag_measure(sp->o.unit, sp->text + s, e - s) <= sp->o.size)
		return emit(sp, s, e);
	if (find_sentences(sp, s, e, &b) < 0 || find_paragraphs(sp, s, e, &b) < 0) {
		free(b.v);
		return -1;
	}
	if (b.n > 1)
		qsort(b.v, b.n, sizeof *b.v, cmp_size);
	for (i = j = 0; i < b.n; i++)
		if (j == 0 || b.v[i] != b.v[j - 1])
			b.v[j++] = b.v[i];
	b.n = j;
	rc = split_at(sp, s, e, &b, LV_LINE);
	free(b.v);
	return rc;
}

int rag_splitter_run(rag_splitter *sp, const char *text, size_t start,
		     size_t end, const rag_span *atoms, size_t natoms,
		     rag_spans *out, rag_error *err)
{
	sp->text = text;
	sp->atoms = atoms;
	sp->natoms = atoms ? natoms : 0;
	sp->out = out;
	sp->out_first = out->n;
	sp->err = err;
	if (start >= end)
		return 0;
	switch (sp->o.strategy) {
	case RAG_SPLIT_SENTENCE:
		return split_sentences(sp, start, end);
	case RAG_SPLIT_FIXED:
		return windows(sp, start, end);
	case RAG_SPLIT_RECURSIVE:
	default:
		return split_rec(sp, start, end, SIZE_MAX, LV_PARA);
	}
}

int rag_splitter_sentences(rag_splitter *sp, const char *text, size_t start,
			   size_t end, rag_spans *out, rag_error *err)
{
	offsets b = {NULL, 0, 0};
	size_t i;
	int rc = 0;

	sp->text = text;
	sp->atoms = NULL;
	sp->natoms = 0;
	sp->err = err;
	if (find_sentences(sp, start, end, &b) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < b.n; i++)
		if (rag_spans_push(out, b.v[i], b.v[i]) < 0)
			rc = nomem(sp);
	free(b.v);
	return rc;
}
