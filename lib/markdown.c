/*
 * markdown.c - the structure of a Markdown document that chunking needs.
 *
 * Not a renderer: it finds headings (ATX "# Title" and setext "Title" over
 * "===" or "---"), the path of headings each section sits under, and the
 * fenced code blocks that must never be split, following CommonMark's rules
 * for those constructs: up to three spaces of indentation, fences of three
 * or more backticks or tildes closed by a fence of the same character at
 * least as long, and an unclosed fence running to the end of the document.
 * A YAML front matter block ("---" on the first line up to the next "---"
 * or "...") is kept whole and is not read as headings.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "doc.h"

#define MAX_LEVEL 6

typedef struct {
	rag_doc *d;
	/* The open headings: level and text of each, outermost first. */
	int levels[MAX_LEVEL];
	json_t *texts[MAX_LEVEL];
	int depth;
} mdparse;

/* Columns of indentation at the start of [s, e), tabs to the next multiple of 4. */
static size_t indent_of(const char *s, const char *e, const char **after)
{
	size_t col = 0;

	while (s < e && (*s == ' ' || *s == '\t')) {
		col = *s == '\t' ? (col + 4) & ~(size_t)3 : col + 1;
		s++;
	}
	*after = s;
	return col;
}

static int blank_line(const char *s, const char *e)
{
	for (; s < e; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r')
			return 0;
	return 1;
}

/* Trims ASCII white space at both ends of [*s, *e). */
static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t' || **s == '\r' || **s == '\n'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r' || (*e)[-1] == '\n'))
		(*e)--;
}

/*
 * A fence opener: three or more '`' or '~'.  Sets *ch and *n.  A backtick
 * fence's info string may not hold a backtick.
 */
static int fence_open(const char *s, const char *e, char *ch, size_t *n)
{
	const char *p;
	size_t k = 0;

	if (indent_of(s, e, &p) > 3 || p >= e || (*p != '`' && *p != '~'))
		return 0;
	*ch = *p;
	while (p < e && *p == *ch) {
		p++;
		k++;
	}
	if (k < 3)
		return 0;
	if (*ch == '`' && memchr(p, '`', (size_t)(e - p)))
		return 0;
	*n = k;
	return 1;
}

static int fence_close(const char *s, const char *e, char ch, size_t n)
{
	const char *p;
	size_t k = 0;

	if (indent_of(s, e, &p) > 3)
		return 0;
	while (p < e && *p == ch) {
		p++;
		k++;
	}
	return k >= n && blank_line(p, e);
}

/* An ATX heading: its level (1-6) and text, or 0. */
static int atx_heading(const char *s, const char *e, const char **ts, const char **te)
{
	const char *p, *q;
	int level = 0;

	if (indent_of(s, e, &p) > 3)
		return 0;
	while (p < e && *p == '#' && level <= MAX_LEVEL) {
		p++;
		level++;
	}
	if (level == 0 || level > MAX_LEVEL)
		return 0;
	if (p < e && *p != ' ' && *p != '\t' && *p != '\r')
		return 0;
	q = e;
	trim(&p, &q);
	/* An optional closing run of '#', after a space or standing alone. */
	{
		const char *c = q;
		while (c > p && c[-1] == '#')
			c--;
		if (c == p)
			q = p;
		else if (c < q && (c[-1] == ' ' || c[-1] == '\t')) {
			q = c;
			trim(&p, &q);
		}
	}
	*ts = p;
	*te = q;
	return level;
}

/* A setext underline: 1 for "===", 2 for "---", else 0. */
static int setext_underline(const char *s, const char *e)
{
	const char *p;
	char ch;

	if (indent_of(s, e, &p) > 3 || p >= e || (*p != '=' && *p != '-'))
		return 0;
	ch = *p;
	while (p < e && *p == ch)
		p++;
	if (!blank_line(p, e))
		return 0;
	return ch == '=' ? 1 : 2;
}

/*
 * A line that starts a block other than a paragraph: a list item, a block
 * quote, an HTML block.  Text under it is not a setext heading's.
 */
static int other_block(const char *s, const char *e)
{
	const char *p;

	if (indent_of(s, e, &p) > 3 || p >= e)
		return 0;
	if (*p == '>' || *p == '<')
		return 1;
	if ((*p == '-' || *p == '*' || *p == '+') && (p + 1 == e || p[1] == ' ' || p[1] == '\t'))
		return 1;
	if (*p >= '0' && *p <= '9') {
		const char *q = p;
		while (q < e && q - p < 9 && *q >= '0' && *q <= '9')
			q++;
		if (q < e && (*q == '.' || *q == ')') && (q + 1 == e || q[1] == ' ' || q[1] == '\t'))
			return 1;
	}
	return 0;
}

/* Heading text with its line breaks turned into single spaces. */
static json_t *heading_text(const char *s, const char *e)
{
	char small[256], *buf = small;
	size_t n = 0, cap = sizeof small;
	json_t *j;
	int space = 0;

	trim(&s, &e);
	if ((size_t)(e - s) > cap) {
		cap = (size_t)(e - s);
		buf = malloc(cap);
		if (!buf)
			return NULL;
	}
	for (; s < e; s++) {
		if (*s == '\n' || *s == '\r') {
			space = 1;
			continue;
		}
		if (space) {
			if (n && buf[n - 1] != ' ')
				buf[n++] = ' ';
			space = 0;
			if (*s == ' ' || *s == '\t')
				continue;
		}
		buf[n++] = *s;
	}
	j = json_stringn_nocheck(buf, n);
	if (buf != small)
		free(buf);
	return j;
}

static int add_heading(mdparse *mp, size_t start, int level, json_t *text)
{
	json_t *path;
	int i;

	if (!text)
		return -1;
	while (mp->depth > 0 && mp->levels[mp->depth - 1] >= level) {
		mp->depth--;
		json_decref(mp->texts[mp->depth]);
	}
	mp->levels[mp->depth] = level;
	mp->texts[mp->depth] = text;
	mp->depth++;
	path = json_array();
	if (!path)
		return -1;
	for (i = 0; i < mp->depth; i++)
		if (json_array_append(path, mp->texts[i]) < 0) {
			json_decref(path);
			return -1;
		}
	return rag_doc_add_section(mp->d, start, path);
}

/* A front matter block at the very start: returns where it ends, or 0. */
static size_t front_matter(const char *t, size_t len)
{
	const char *p, *e = t + len;

	if (len < 4 || memcmp(t, "---", 3) != 0 || !(t[3] == '\n' || (t[3] == '\r' && len > 4 && t[4] == '\n')))
		return 0;
	p = (const char *)memchr(t, '\n', len) + 1;
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *le = nl ? nl : e;
		const char *q = le;
		while (q > p && (q[-1] == '\r' || q[-1] == ' ' || q[-1] == '\t'))
			q--;
		if ((q - p == 3) && (memcmp(p, "---", 3) == 0 || memcmp(p, "...", 3) == 0))
			return (size_t)(le - t);
		p = nl ? nl + 1 : e;
	}
	return 0;
}

int rag_markdown_parse(rag_doc *d, rag_error *err)
{
	mdparse mp;
	const char *t = d->text, *end = d->text + d->len, *p;
	const char *para = NULL; /* start of the paragraph being read */
	const char *fence_start = NULL;
	char fch = 0;
	size_t flen = 0, fm;
	int rc = 0;

	memset(&mp, 0, sizeof mp);
	mp.d = d;
	p = t;
	fm = front_matter(t, d->len);
	if (fm) {
		if (rag_doc_add_atom(d, t, 0, fm) < 0)
			rc = -1;
		p = t + fm;
	}
	while (rc == 0 && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *next = nl ? nl + 1 : end;
		const char *hs, *he;
		int level;

		if (fence_start) {
			if (fence_close(p, le, fch, flen)) {
				if (rag_doc_add_atom(d, t, (size_t)(fence_start - t), (size_t)(le - t)) < 0)
					rc = -1;
				fence_start = NULL;
			}
		} else if (fence_open(p, le, &fch, &flen)) {
			fence_start = p;
			para = NULL;
		} else if (blank_line(p, le)) {
			para = NULL;
		} else if ((level = atx_heading(p, le, &hs, &he)) > 0) {
			rc = add_heading(&mp, (size_t)(p - t), level, json_stringn_nocheck(hs, (size_t)(he - hs)));
			para = NULL;
		} else if (para && (level = setext_underline(p, le)) > 0) {
			rc = add_heading(&mp, (size_t)(para - t), level, heading_text(para, p));
			para = NULL;
		} else if (other_block(p, le)) {
			para = NULL;
		} else if (!para) {
			para = p;
		}
		p = next;
	}
	if (rc == 0 && fence_start && rag_doc_add_atom(d, t, (size_t)(fence_start - t), d->len) < 0)
		rc = -1;
	while (mp.depth > 0)
		json_decref(mp.texts[--mp.depth]);
	if (rc < 0)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	return 0;
}
