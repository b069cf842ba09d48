/*
 * html.c - the readable text of an HTML document; see doc.h.
 *
 * One pass over the source, no tree and no recursion: a tokenizer that
 * knows tags, comments, character references and the raw-text elements,
 * and a little state for what the tags mean to the text.
 *
 * Text is not written as soon as it is seen.  White space and the breaks
 * that tags ask for are kept pending and written just before the next
 * visible character, which is what keeps them from appearing at the start
 * or the end of the text, before a break, or twice in a row:
 *
 *   block elements (p, div, h1..h6, pre, table, ...)  a blank line ("\n\n")
 *                                                     at their start and end
 *   li, dt, dd, tr, option                            "\n" at their start
 *   br                                                "\n"; two in a row
 *                                                     make a blank line
 *   td, th                                            " | " between the cells
 *                                                     of a row (never at the
 *                                                     start of a line)
 *   white space outside <pre> and <textarea>          one space
 *
 * The offset map gets a run for every stretch of text copied from the
 * source, one for every decoded reference (and one after it), and one for
 * every byte of an inserted break or separator.  A collapsed space maps to
 * the end of the character before it, and so does every inserted byte: so
 * the end of a chunk, which the splitter never leaves on white space,
 * maps to the end of its last character's source, and its start, which
 * begins a copied run or continues one, to the start of its first's.
 * When two characters that are adjacent in the text are apart in the
 * source (a tag between them), the offset between them maps to the second.
 *
 * Robustness over fidelity: a tag cut off by the end of the input is
 * retried as ending at its first '>' (or dropped when there is none), an
 * unterminated comment or raw-text element runs to the end, stray end tags
 * are ignored, an unclosed <head> ends at the first tag or text that does
 * not belong in it, an unclosed <svg> or <math> at the first HTML block
 * tag, and an unclosed heading at the first block boundary after its text.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "text.h"
#include "html_entities.h"
#include "utf8.h"

#define NONE ((size_t)-1)

/* What a tag does. */
enum {
	F_BLOCK = 1 << 0,   /* a blank line at its start and end */
	F_LINE = 1 << 1,    /* a line break at its start */
	F_CELL = 1 << 2,    /* a table cell */
	F_BR = 1 << 3,      /* a line break where it is */
	F_PRE = 1 << 4,     /* text kept verbatim; an atom */
	F_HEADING = 1 << 5, /* h1..h6 */
	F_RAW = 1 << 6,     /* raw text, skipped up to the end tag */
	F_SKIP = 1 << 7,    /* markup whose content is dropped */
	F_HEADOK = 1 << 8,  /* may appear inside <head> */
	F_BREAKOUT = 1 << 9, /* ends an unclosed <svg> or <math> */
	F_ROW = 1 << 10,    /* starts a new row of cells */
	F_TITLE = 1 << 11,
	F_TEXTAREA = 1 << 12,
	F_BODY = 1 << 13,
	F_HEAD = 1 << 14,
	F_FOREIGN = 1 << 15 /* svg, math */
};

#define BLK (F_BLOCK | F_BREAKOUT)

/* Sorted by name for a binary search. */
static const struct tag {
	const char *name;
	unsigned flags;
} tags[] = {
	{"address", F_BLOCK},
	{"article", F_BLOCK},
	{"aside", F_BLOCK},
	{"b", F_BREAKOUT},
	{"base", F_HEADOK},
	{"basefont", F_HEADOK},
	{"bgsound", F_HEADOK},
	{"big", F_BREAKOUT},
	{"blockquote", BLK},
	{"body", BLK | F_BODY},
	{"br", F_BR | F_BREAKOUT},
	{"canvas", F_SKIP},
	{"caption", F_BLOCK},
	{"center", BLK},
	{"code", F_BREAKOUT},
	{"dd", F_LINE | F_BREAKOUT},
	{"details", F_BLOCK},
	{"dialog", F_BLOCK},
	{"dir", F_BLOCK},
	{"div", BLK},
	{"dl", BLK},
	{"dt", F_LINE | F_BREAKOUT},
	{"em", F_BREAKOUT},
	{"fieldset", F_BLOCK},
	{"figcaption", F_BLOCK},
	{"figure", F_BLOCK},
	{"footer", F_BLOCK},
	{"form", F_BLOCK},
	{"h1", BLK | F_HEADING},
	{"h2", BLK | F_HEADING},
	{"h3", BLK | F_HEADING},
	{"h4", BLK | F_HEADING},
	{"h5", BLK | F_HEADING},
	{"h6", BLK | F_HEADING},
	{"head", F_SKIP | F_HEAD | F_HEADOK},
	{"header", F_BLOCK},
	{"hgroup", F_BLOCK},
	{"hr", BLK},
	{"html", F_HEADOK},
	{"i", F_BREAKOUT},
	{"iframe", F_RAW},
	{"legend", F_BLOCK},
	{"li", F_LINE | F_BREAKOUT},
	{"link", F_HEADOK},
	{"listing", BLK | F_PRE},
	{"main", F_BLOCK},
	{"math", F_SKIP | F_FOREIGN},
	{"menu", BLK},
	{"meta", F_HEADOK | F_BREAKOUT},
	{"nav", F_BLOCK},
	{"noembed", F_RAW},
	{"noframes", F_RAW},
	{"noscript", F_RAW | F_HEADOK},
	{"object", F_SKIP},
	{"ol", BLK},
	{"option", F_LINE},
	{"p", BLK},
	{"pre", BLK | F_PRE},
	{"script", F_RAW | F_HEADOK},
	{"search", F_BLOCK},
	{"section", F_BLOCK},
	{"small", F_BREAKOUT},
	{"span", F_BREAKOUT},
	{"strong", F_BREAKOUT},
	{"style", F_RAW | F_HEADOK},
	{"summary", F_BLOCK},
	{"svg", F_SKIP | F_FOREIGN},
	{"table", BLK | F_ROW},
	{"td", F_CELL},
	{"template", F_SKIP | F_HEADOK},
	{"textarea", F_TEXTAREA},
	{"th", F_CELL},
	{"title", F_TITLE | F_HEADOK},
	{"tr", F_LINE | F_ROW},
	{"ul", BLK},
};

#define NTAGS (sizeof tags / sizeof tags[0])
#define TAG_NAME_MAX 16

/* Pending white space, weakest first. */
enum { SP_NONE, SP_SPACE, SP_CELL };

/* Flags of text(). */
enum {
	TX_VERBATIM = 1, /* keep white space (textarea) */
	TX_NOREFS = 2    /* no character references (CDATA) */
};

struct heading {
	int level;
	json_t *text; /* owned */
};

struct ex {
	rag_doc *d;
	const char *s;
	size_t n;
	rag_buf *out;
	rag_offmap *map;
	size_t exp;      /* the source offset that continues the current run */
	size_t last_end; /* the source end of the last character written */
	int nl;          /* pending newlines, 0..2 */
	int sp;          /* pending SP_* */
	size_t ws_src;   /* the source of the first pending space */
	/* The open elements whose content is dropped, innermost last. */
	rag_buf skip;
	size_t skipcount[NTAGS];
	size_t nforeign;
	int head_seen, body_seen;
	size_t pre_depth;
	size_t atom_start;
	int hlevel;      /* the open heading's level, 0 when none */
	size_t hstart;   /* where its text starts, NONE before any */
	struct heading hs[6]; /* the enclosing headings, levels increasing */
	int nhs;
	int cells;       /* whether the current row has had a cell */
	rag_buf tmp;     /* a heading's or the title's text */
};


static int is_alpha(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static int is_alnum(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* The index of the tag named s[0..len) in any case, or -1. */
static int find_tag(const char *s, size_t len)
{
	char name[TAG_NAME_MAX];
	size_t i, lo = 0, hi = NTAGS;

	if (len >= TAG_NAME_MAX)
		return -1;
	for (i = 0; i < len; i++)
		name[i] = (char)lower((unsigned char)s[i]);
	name[len] = '\0';
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, tags[mid].name);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* ---- character references ---- */

/* What HTML5 makes of &#128; .. &#159;: Windows-1252, or 0 for "as is". */
static const uint16_t win1252[32] = {
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
};

static uint32_t numeric_cp(uint32_t v)
{
	if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0xFFFD;
	if (v >= 0x80 && v <= 0x9F && win1252[v - 0x80])
		return win1252[v - 0x80];
	return v;
}

static int named_cp(const char *s, size_t len, uint32_t *cp)
{
	size_t lo = 0, hi = RAG_HTML_NENTITIES;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *e = rag_html_entities[mid].name;
		int c = strncmp(s, e, len);
		if (c == 0 && e[len] != '\0')
			c = -1;
		if (c == 0) {
			*cp = rag_html_entities[mid].cp;
			return 1;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/* The references that may go without their ';'. */
static int legacy(const char *s, size_t len)
{
	static const char *const names[] = {"amp", "lt", "gt", "quot", "nbsp"};
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == len && memcmp(s, names[i], len) == 0)
			return 1;
	return 0;
}

/*
 * Decodes the character reference at s[i] == '&', which must end before
 * to.  Returns its length in the source and sets *cp, or returns 0 when
 * there is none there (the '&' is then literal).
 */
static size_t charref(const char *s, size_t i, size_t to, uint32_t *cp)
{
	size_t j = i + 1, start;

	if (j < to && s[j] == '#') {
		uint32_t v = 0, base = 10;
		j++;
		if (j < to && (s[j] | 0x20) == 'x') {
			base = 16;
			j++;
		}
		start = j;
		for (; j < to; j++) {
			unsigned char c = (unsigned char)s[j];
			uint32_t dv;
			if (c >= '0' && c <= '9')
				dv = c - '0';
			else if (base == 16 && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				dv = (c | 0x20) - 'a' + 10;
			else
				break;
			v = v * base + dv;
			if (v > 0x110000)
				v = 0x110000; /* saturate: invalid whatever follows */
		}
		if (j == start)
			return 0;
		if (j < to && s[j] == ';')
			j++;
		*cp = numeric_cp(v);
		return j - i;
	}
	start = j;
	while (j < to && j - start <= RAG_HTML_ENTITY_MAX &&
	       is_alnum((unsigned char)s[j]))
		j++;
	if (j == start || j - start > RAG_HTML_ENTITY_MAX)
		return 0;
	if (j < to && s[j] == ';')
		return named_cp(s + start, j - start, cp) ? j + 1 - i : 0;
	if (legacy(s + start, j - start) && named_cp(s + start, j - start, cp))
		return j - i;
	return 0;
}

/* ---- writing the text ---- */

/*
 * Appends p[0..len), which came from source bytes [from, to), starting a
 * new run of the map unless it continues the current one.
 */
static int put(struct ex *x, const char *p, size_t len, size_t from,
	       size_t to)
{
	if (x->exp != from && rag_offmap_add(x->map, x->out->len, from) < 0)
		return -1;
	if (rag_buf_add(x->out, p, len) < 0)
		return -1;
	x->exp = to - from == len ? to : NONE;
	x->last_end = to;
	return 0;
}

/* Appends bytes that have no source, each mapped to the last end. */
static int insert(struct ex *x, const char *p)
{
	for (; *p; p++)
		if (rag_offmap_add(x->map, x->out->len, x->last_end) < 0 ||
		    rag_buf_addc(x->out, *p) < 0)
			return -1;
	x->exp = NONE;
	return 0;
}

/* Writes the pending break or space, if the text so far wants it. */
static int flush(struct ex *x)
{
	rag_buf *o = x->out;
	int nl = x->nl, sp = x->sp, have;
	char last;

	x->nl = 0;
	x->sp = SP_NONE;
	if (!o->len || (!nl && !sp))
		return 0;
	last = o->data[o->len - 1];
	if (nl) {
		/* Text from a <pre> may already end with a newline or two. */
		have = last == '\n';
		if (have && o->len >= 2 && o->data[o->len - 2] == '\n')
			have = 2;
		for (; have < nl; have++)
			if (insert(x, "\n") < 0)
				return -1;
		return 0;
	}
	if (last == '\n')
		return 0;
	if (sp == SP_CELL)
		return insert(x, last == ' ' ? "| " : " | ");
	if (last == ' ' || last == '\t')
		return 0;
	if (x->ws_src == x->last_end) /* right after the text: one run */
		return put(x, " ", 1, x->ws_src, x->ws_src + 1);
	return insert(x, " ");
}

/* Writes visible text (or verbatim white space). */
static int emit(struct ex *x, const char *p, size_t len, size_t from,
		size_t to)
{
	if (flush(x) < 0)
		return -1;
	if (x->pre_depth && x->atom_start == NONE)
		x->atom_start = x->out->len;
	if (x->hlevel && x->hstart == NONE)
		x->hstart = x->out->len;
	return put(x, p, len, from, to);
}

static int emit_cp(struct ex *x, uint32_t cp, size_t from, size_t to)
{
	char b[4];

	return emit(x, b, rag_utf8_encode(cp, b), from, to);
}

static void want_space(struct ex *x, size_t src)
{
	if (x->sp == SP_NONE) {
		x->sp = SP_SPACE;
		x->ws_src = src;
	}
}

static void want_break(struct ex *x, int nl)
{
	if (x->nl < nl)
		x->nl = nl;
}

/* ---- the elements whose content is dropped ---- */

static int push_skip(struct ex *x, int t)
{
	if (rag_buf_addc(&x->skip, (char)t) < 0)
		return -1;
	x->skipcount[t]++;
	if (tags[t].flags & F_FOREIGN)
		x->nforeign++;
	return 0;
}

static int pop_skip(struct ex *x)
{
	int t = (unsigned char)x->skip.data[--x->skip.len];

	x->skipcount[t]--;
	if (tags[t].flags & F_FOREIGN)
		x->nforeign--;
	return t;
}

/* Closes the innermost open t and everything inside it. */
static void close_skip(struct ex *x, int t)
{
	if (!x->skipcount[t])
		return;
	while (pop_skip(x) != t)
		;
}

/* Closes the outermost open svg or math and everything inside it. */
static void close_foreign(struct ex *x)
{
	while (x->nforeign)
		pop_skip(x);
}

static int head_only(const struct ex *x)
{
	return x->skip.len == 1 && (tags[(unsigned char)x->skip.data[0]].flags &
				    F_HEAD);
}

/* ---- headings and atoms ---- */

/* Appends text[0..len) to b with white space collapsed and trimmed. */
static int add_collapsed(rag_buf *b, const char *text, size_t len)
{
	size_t i = 0;
	int space = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (rag_is_space(c)) {
			space = b->len > 0;
			continue;
		}
		if (space && rag_buf_addc(b, ' ') < 0)
			return -1;
		space = 0;
		if (rag_buf_addc(b, (char)c) < 0)
			return -1;
	}
	return 0;
}

/* Ends the open heading: a section, when it has text. */
static int end_heading(struct ex *x)
{
	int level = x->hlevel;
	size_t start = x->hstart;
	json_t *path, *text;
	int i;

	x->hlevel = 0;
	x->hstart = NONE;
	if (start == NONE)
		return 0;
	x->tmp.len = 0;
	if (add_collapsed(&x->tmp, x->out->data + start, x->out->len - start) < 0)
		return -1;
	if (!x->tmp.len)
		return 0;
	text = json_stringn(x->tmp.data, x->tmp.len);
	if (!text)
		return -1;
	while (x->nhs && x->hs[x->nhs - 1].level >= level)
		json_decref(x->hs[--x->nhs].text);
	x->hs[x->nhs].level = level;
	x->hs[x->nhs].text = text;
	x->nhs++;
	path = json_array();
	if (!path)
		return -1;
	for (i = 0; i < x->nhs; i++)
		if (json_array_append(path, x->hs[i].text) < 0) {
			json_decref(path);
			return -1;
		}
	return rag_doc_add_section(x->d, start, path);
}

static int end_atom(struct ex *x)
{
	size_t start = x->atom_start;

	x->atom_start = NONE;
	if (start == NONE || start == x->out->len)
		return 0;
	return rag_doc_add_atom(x->d, x->out->data, start, x->out->len);
}

/* ---- text ---- */

/* Whether s[i..to) has anything but white space. */
static int visible(const char *s, size_t i, size_t to)
{
	for (; i < to; i++)
		if (!rag_is_space((unsigned char)s[i]))
			return 1;
	return 0;
}

static int is_nbsp(const char *s, size_t i, size_t to)
{
	return (unsigned char)s[i] == 0xC2 && i + 1 < to &&
	       (unsigned char)s[i + 1] == 0xA0;
}

/* Whether s[i] can go into a plain run of copied text. */
static int plain(const char *s, size_t i, size_t to, int flags)
{
	unsigned char c = (unsigned char)s[i];

	if (c == '&')
		return flags & TX_NOREFS;
	return c && !rag_is_space(c) && !is_nbsp(s, i, to);
}

/* The text s[i..to), which has no markup ('<' is literal in it). */
static int text(struct ex *x, size_t i, size_t to, int flags)
{
	const char *s = x->s;
	int verbatim = (flags & TX_VERBATIM) || x->pre_depth > 0;

	if (x->skip.len) {
		/* Text ends a <head> left open; it is dropped anywhere else. */
		if (!head_only(x) || !visible(s, i, to))
			return 0;
		pop_skip(x);
	}
	while (i < to) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t k;

		if (c == '&' && !(flags & TX_NOREFS) &&
		    (k = charref(s, i, to, &cp)) > 0) {
			if (cp == 0xA0)
				cp = ' ';
			if (cp < 0x80 && rag_is_space((unsigned char)cp) && !verbatim)
				want_space(x, i);
			else if (emit_cp(x, cp == '\r' ? '\n' : cp, i, i + k) < 0)
				return -1;
			i += k;
		} else if (rag_is_space(c) || is_nbsp(s, i, to)) {
			k = c == 0xC2 ? 2 : 1;
			if (!verbatim) {
				want_space(x, i);
			} else if (c == '\r') {
				if (i + 1 < to && s[i + 1] == '\n')
					k = 2;
				if (emit(x, "\n", 1, i, i + k) < 0)
					return -1;
			} else if (emit(x, c == 0xC2 ? " " : s + i, 1, i, i + k) < 0) {
				return -1;
			}
			i += k;
		} else if (c == 0) {
			if (emit_cp(x, 0xFFFD, i, i + 1) < 0)
				return -1;
			i++;
		} else {
			k = i + 1;
			while (k < to && plain(s, k, to, flags))
				k++;
			if (emit(x, s + i, k - i, i, k) < 0)
				return -1;
			i = k;
		}
	}
	return 0;
}

/* The title's text s[i..to): decoded and collapsed into x->tmp. */
static int title_text(struct ex *x, size_t i, size_t to)
{
	const char *s = x->s;
	rag_buf *b = &x->tmp;
	int space = 0;

	b->len = 0;
	while (i < to) {
		unsigned char c = (unsigned char)s[i];
		char enc[4];
		const char *p = s + i;
		uint32_t cp;
		size_t k, len = 1;

		if (c == '&' && (k = charref(s, i, to, &cp)) > 0) {
			if (cp == 0xA0 || (cp < 0x80 && rag_is_space((unsigned char)cp)))
				cp = ' ';
			len = rag_utf8_encode(cp, enc);
			p = enc;
		} else if (is_nbsp(s, i, to)) {
			k = 2;
			p = " ";
		} else if (c == 0) {
			k = 1;
			len = rag_utf8_encode(0xFFFD, enc);
			p = enc;
		} else {
			k = 1;
		}
		i += k;
		if (len == 1 && rag_is_space((unsigned char)*p)) {
			space = b->len > 0;
			continue;
		}
		if (space && rag_buf_addc(b, ' ') < 0)
			return -1;
		space = 0;
		if (rag_buf_add(b, p, len) < 0)
			return -1;
	}
	if (b->len && !x->d->title) {
		x->d->title = json_stringn(b->data, b->len);
		if (!x->d->title)
			return -1;
	}
	return 0;
}

/* ---- markup ---- */

/*
 * Where the end tag </name> (any case) starts at or after i: the offset
 * of its '<', or n.
 */
static size_t find_end_tag(const struct ex *x, size_t i, const char *name,
			   size_t len)
{
	const char *s = x->s, *p;
	size_t n = x->n, k;

	while (i < n && (p = memchr(s + i, '<', n - i)) != NULL) {
		i = (size_t)(p - s);
		if (i + 2 + len <= n && s[i + 1] == '/') {
			for (k = 0; k < len; k++)
				if (lower((unsigned char)s[i + 2 + k]) !=
				    lower((unsigned char)name[k]))
					break;
			if (k == len && (i + 2 + len == n ||
					 rag_is_space((unsigned char)s[i + 2 + len]) ||
					 s[i + 2 + len] == '/' ||
					 s[i + 2 + len] == '>'))
				return i;
		}
		i++;
	}
	return n;
}

/*
 * Reads the tag whose name starts at s[i]: the name, its attributes
 * (quoted values may hold '>'), and the '>'.  Returns the offset after the
 * tag and sets *len to the name's length and *selfclose for "/>".
 */
static size_t read_tag(const struct ex *x, size_t i, size_t *len,
		       int *selfclose)
{
	const char *s = x->s;
	size_t n = x->n, j = i;
	const char *gt;

	*selfclose = 0;
	while (j < n && !rag_is_space((unsigned char)s[j]) && s[j] != '/' && s[j] != '>')
		j++;
	*len = j - i;
	for (;;) {
		while (j < n && rag_is_space((unsigned char)s[j]))
			j++;
		if (j >= n)
			break;
		if (s[j] == '>')
			return j + 1;
		if (s[j] == '/') {
			if (j + 1 < n && s[j + 1] == '>') {
				*selfclose = 1;
				return j + 2;
			}
			j++;
			continue;
		}
		/* An attribute name: its first character may be '='. */
		j++;
		while (j < n && !rag_is_space((unsigned char)s[j]) && s[j] != '/' &&
		       s[j] != '>' && s[j] != '=')
			j++;
		while (j < n && rag_is_space((unsigned char)s[j]))
			j++;
		if (j >= n || s[j] != '=')
			continue;
		j++;
		while (j < n && rag_is_space((unsigned char)s[j]))
			j++;
		if (j < n && (s[j] == '"' || s[j] == '\'')) {
			const char *q = memchr(s + j + 1, s[j], n - j - 1);
			if (!q)
				break;
			j = (size_t)(q - s) + 1;
		} else {
			while (j < n && !rag_is_space((unsigned char)s[j]) && s[j] != '>')
				j++;
		}
	}
	/* Cut off by the end of the input: end it at its first '>', if any. */
	gt = memchr(s + i, '>', n - i);
	if (!gt)
		return n;
	j = (size_t)(gt - s);
	*selfclose = j > i && s[j - 1] == '/';
	if (*len > j - i)
		*len = j - i;
	return j + 1;
}

/* A newline right after <pre> or <textarea> is not part of its text. */
static size_t skip_newline(const struct ex *x, size_t j)
{
	if (j < x->n && x->s[j] == '\n')
		return j + 1;
	if (j < x->n && x->s[j] == '\r')
		return j + 1 < x->n && x->s[j + 1] == '\n' ? j + 2 : j + 1;
	return j;
}

/* A start tag t (or -1) ending at j; returns where to go on. */
static int start_tag(struct ex *x, int t, const char *name, size_t len,
		     int selfclose, size_t *pj)
{
	size_t j = *pj, end;
	unsigned f = t >= 0 ? tags[t].flags : 0;

	if (x->skip.len && head_only(x) && !(f & F_HEADOK))
		pop_skip(x); /* <head> left open */
	if (x->nforeign && (f & F_BREAKOUT))
		close_foreign(x);
	if (f & F_RAW) {
		*pj = find_end_tag(x, j, name, len);
		return 0;
	}
	if (x->skip.len) {
		if (f & F_TITLE && head_only(x)) {
			end = find_end_tag(x, j, name, len);
			*pj = end;
			return title_text(x, j, end);
		}
		if (f & F_SKIP && !(f & F_HEAD) && !selfclose)
			return push_skip(x, t);
		return 0;
	}
	if (f & F_SKIP) {
		if (f & F_HEAD) {
			if (x->head_seen || x->body_seen || x->out->len)
				return 0;
			x->head_seen = 1;
		}
		return selfclose ? 0 : push_skip(x, t);
	}
	if (f & F_TITLE) {
		end = find_end_tag(x, j, name, len);
		*pj = end;
		return title_text(x, j, end);
	}
	if (f & F_TEXTAREA) {
		end = find_end_tag(x, j, name, len);
		*pj = end;
		return text(x, skip_newline(x, j), end, TX_VERBATIM);
	}
	if (f & F_BODY)
		x->body_seen = 1;
	if ((f & F_BLOCK) && x->hlevel && x->hstart != NONE &&
	    end_heading(x) < 0)
		return -1;
	if (f & F_BLOCK)
		want_break(x, 2);
	if (f & F_LINE)
		want_break(x, 1);
	if (f & F_ROW)
		x->cells = 0;
	if (f & F_CELL) {
		if (x->cells && x->sp < SP_CELL)
			x->sp = SP_CELL;
		x->cells = 1;
	}
	if (f & F_BR)
		x->nl = x->nl < 2 ? x->nl + 1 : 2;
	/* A heading inside <pre> is text of the block, not a section. */
	if ((f & F_HEADING) && !x->pre_depth) {
		if (x->hlevel && end_heading(x) < 0)
			return -1;
		x->hlevel = name[1] - '0';
		x->hstart = NONE;
	}
	if (f & F_PRE) {
		if (!x->pre_depth++)
			x->atom_start = NONE;
		*pj = skip_newline(x, j);
	}
	return 0;
}

static int end_tag(struct ex *x, int t)
{
	unsigned f = t >= 0 ? tags[t].flags : 0;

	if (x->skip.len) {
		if (f & F_SKIP)
			close_skip(x, t);
		return 0;
	}
	if ((f & F_BLOCK) && x->hlevel && x->hstart != NONE &&
	    !(f & F_HEADING) && end_heading(x) < 0)
		return -1;
	if (f & F_BLOCK)
		want_break(x, 2);
	if (f & F_BR) /* </br> is <br> */
		x->nl = x->nl < 2 ? x->nl + 1 : 2;
	if (f & F_ROW)
		x->cells = 0;
	if ((f & F_HEADING) && x->hlevel && end_heading(x) < 0)
		return -1;
	if ((f & F_PRE) && x->pre_depth && !--x->pre_depth)
		return end_atom(x);
	return 0;
}

/* After s[i..n) starts with "<!--": where the comment ends. */
static size_t skip_comment(const struct ex *x, size_t i)
{
	const char *s = x->s, *p;
	size_t n = x->n, j = i + 4;

	if (j < n && s[j] == '>')
		return j + 1; /* <!--> */
	if (j + 1 < n && s[j] == '-' && s[j + 1] == '>')
		return j + 2; /* <!---> */
	while (j < n && (p = memchr(s + j, '-', n - j)) != NULL) {
		j = (size_t)(p - s);
		if (j + 2 < n && s[j + 1] == '-' && s[j + 2] == '>')
			return j + 3;
		if (j + 3 < n && s[j + 1] == '-' && s[j + 2] == '!' &&
		    s[j + 3] == '>')
			return j + 4;
		j++;
	}
	return n;
}

/* Past the next '>' at or after i, or n. */
static size_t skip_to_gt(const struct ex *x, size_t i)
{
	const char *p = i < x->n ? memchr(x->s + i, '>', x->n - i) : NULL;

	return p ? (size_t)(p - x->s) + 1 : x->n;
}

static int starts_ci(const char *s, size_t n, const char *with)
{
	size_t i;

	for (i = 0; with[i]; i++)
		if (i >= n || lower((unsigned char)s[i]) != (unsigned char)with[i])
			return 0;
	return 1;
}

/* The markup at s[*pi] == '<'; moves *pi past it. */
static int markup(struct ex *x, size_t *pi)
{
	const char *s = x->s;
	size_t n = x->n, i = *pi, j, len;
	unsigned char c = i + 1 < n ? (unsigned char)s[i + 1] : 0;
	int selfclose, t;

	if (i + 1 < n && is_alpha(c)) {
		j = read_tag(x, i + 1, &len, &selfclose);
		t = find_tag(s + i + 1, len);
		*pi = j;
		return start_tag(x, t, s + i + 1, len, selfclose, pi);
	}
	if (c == '/' && i + 2 < n) {
		c = (unsigned char)s[i + 2];
		if (is_alpha(c)) {
			j = read_tag(x, i + 2, &len, &selfclose);
			*pi = j;
			return end_tag(x, find_tag(s + i + 2, len));
		}
		*pi = c == '>' ? i + 3 : skip_to_gt(x, i + 2);
		return 0;
	}
	if (c == '!' && i + 1 < n) {
		if (starts_ci(s + i, n - i, "<!--")) {
			*pi = skip_comment(x, i);
			return 0;
		}
		if (i + 9 <= n && memcmp(s + i, "<![CDATA[", 9) == 0) {
			/* The text of a CDATA section is kept, as is. */
			size_t k = i + 9;
			const char *p;
			for (;;) {
				p = k < n ? memchr(s + k, ']', n - k) : NULL;
				if (!p) {
					k = n;
					break;
				}
				k = (size_t)(p - s);
				if (k + 2 < n && s[k + 1] == ']' && s[k + 2] == '>')
					break;
				k++;
			}
			*pi = k < n ? k + 3 : n;
			return text(x, i + 9, k, TX_NOREFS);
		}
		*pi = skip_to_gt(x, i + 2);
		return 0;
	}
	if (c == '?') {
		*pi = skip_to_gt(x, i + 2);
		return 0;
	}
	/* Not markup: a literal '<' (also "</" at the end of the input). */
	*pi = i + 1;
	return text(x, i, i + 1, 0);
}

/* ---- the whole document ---- */

static int extract(struct ex *x)
{
	const char *s = x->s, *p;
	size_t n = x->n, i = 0, to;

	while (i < n) {
		if (s[i] == '<') {
			if (markup(x, &i) < 0)
				return -1;
			continue;
		}
		p = memchr(s + i, '<', n - i);
		to = p ? (size_t)(p - s) : n;
		if (text(x, i, to, 0) < 0)
			return -1;
		i = to;
	}
	if (x->hlevel && end_heading(x) < 0)
		return -1;
	if (x->pre_depth && end_atom(x) < 0)
		return -1;
	/* The end of the text maps to the end of its last character. */
	if (x->out->len && rag_offmap_add(x->map, x->out->len, x->last_end) < 0)
		return -1;
	return 0;
}

int rag_html_extract(rag_doc *d, const char *src, size_t n, rag_error *err)
{
	struct ex *x;
	int rc, i;

	d->owned.len = 0;
	rag_offmap_reset(&d->map);
	x = calloc(1, sizeof *x);
	if (!x)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	x->d = d;
	x->s = src;
	x->n = n;
	x->out = &d->owned;
	x->map = &d->map;
	x->exp = NONE;
	x->hstart = NONE;
	x->atom_start = NONE;
	rag_buf_init(&x->skip, 0);
	rag_buf_init(&x->tmp, 0);

	rc = extract(x);

	for (i = 0; i < x->nhs; i++)
		json_decref(x->hs[i].text);
	rag_buf_free(&x->skip);
	rag_buf_free(&x->tmp);
	free(x);
	d->map.src_end = n;
	d->text = d->owned.len ? d->owned.data : "";
	d->len = d->owned.len;
	d->src = src;
	d->src_len = n;
	if (rc < 0)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	return 0;
}
