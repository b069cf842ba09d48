/* json.c - a fast JSON reader and writer over jansson values; see json.h. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "text.h"
#include "utf8.h"

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Non-zero when some byte of v is a quote, a backslash or below 0x20. */
static inline uint64_t special8(uint64_t v)
{
	uint64_t quote = v ^ (ONES * '"');
	uint64_t bslash = v ^ (ONES * '\\');
	uint64_t ctl = (v - ONES * 0x20) & ~v;
	quote = (quote - ONES) & ~quote;
	bslash = (bslash - ONES) & ~bslash;
	return (quote | bslash | ctl) & HIGHS;
}

/* ---- reader ---- */

typedef struct parser {
	const char *start, *p, *end;
	int depth;
	int in_scratch;            /* the last string read lives in scratch */
	rag_json_members *members; /* of the top-level object, or NULL */
	const char *const *keep;   /* the top-level members to build (NULL-terminated), or NULL */
	int skipping;              /* checking a value without building it */
	rag_buf scratch; /* decoded strings that had escapes */
	rag_error *err;
} parser;

static json_t *parse_value(parser *ps);

static json_t *fail_at(parser *ps, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static json_t *fail_at(parser *ps, const char *at, const char *fmt, ...)
{
	va_list ap;

	if (ps->err && ps->err->code == RAG_OK) {
		va_start(ap, fmt);
		rag_error_vset(ps->err, RAG_EDATA, NULL, 0, fmt, ap);
		va_end(ap);
		ps->err->column = (long)(at - ps->start) + 1;
	}
	return NULL;
}

static json_t *fail_nomem(parser *ps)
{
	if (ps->err && ps->err->code == RAG_OK)
		rag_error_set(ps->err, RAG_ENOMEM, NULL, 0, "out of memory");
	return NULL;
}

static inline void skip_ws(parser *ps)
{
	while (ps->p < ps->end) {
		char c = *ps->p;
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		ps->p++;
	}
}

/* A short name for the byte at p, for messages. */
static const char *describe(parser *ps, const char *p, char *buf, size_t n)
{
	unsigned char c;

	if (p >= ps->end)
		return "the end of the line";
	c = (unsigned char)*p;
	if (c >= 0x21 && c < 0x7f)
		snprintf(buf, n, "'%c'", c);
	else
		snprintf(buf, n, "byte 0x%02x", c);
	return buf;
}

static int hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/*
 * Reads a string whose opening quote is at ps->p.  On success *s and *n hold
 * its decoded bytes: a slice of the input when it had no escapes, the
 * scratch buffer otherwise (valid until the next string).  0 or -1.
 */
static int parse_string(parser *ps, const char **s, size_t *n)
{
	const char *open = ps->p;
	const char *p = open + 1, *end = ps->end, *run;
	int escaped = 0;

	run = p;
	for (;;) {
		while (end - p >= 8 && !(special8(rag_load64(p)) | (rag_load64(p) & HIGHS)))
			p += 8;
		if (p >= end) {
			fail_at(ps, open, "invalid JSON: unterminated string");
			return -1;
		}
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c >= 0x80) {
			uint32_t cp;
			size_t k = rag_utf8_decode(p, (size_t)(end - p), &cp);
			if (!k) {
				fail_at(ps, p, "invalid UTF-8");
				return -1;
			}
			p += k;
			continue;
		}
		if (c < 0x20) {
			fail_at(ps, p, "invalid JSON: control character 0x%02x in a string", c);
			return -1;
		}
		if (c != '\\') {
			p++;
			continue;
		}
		/* An escape: from here on the string is built in scratch. */
		if (!escaped) {
			ps->scratch.len = 0;
			escaped = 1;
		}
		if (rag_buf_add(&ps->scratch, run, (size_t)(p - run)) < 0) {
			fail_nomem(ps);
			return -1;
		}
		if (end - p < 2) {
			fail_at(ps, open, "invalid JSON: unterminated string");
			return -1;
		}
		char e = p[1], out[4];
		size_t olen = 1;
		const char *esc = p;
		p += 2;
		switch (e) {
		case '"': out[0] = '"'; break;
		case '\\': out[0] = '\\'; break;
		case '/': out[0] = '/'; break;
		case 'b': out[0] = '\b'; break;
		case 'f': out[0] = '\f'; break;
		case 'n': out[0] = '\n'; break;
		case 'r': out[0] = '\r'; break;
		case 't': out[0] = '\t'; break;
		case 'u': {
			uint32_t cp, lo;
			if (end - p < 4 || hex4(p, &cp) < 0) {
				fail_at(ps, esc, "invalid JSON: \\u must be followed by four hex digits");
				return -1;
			}
			p += 4;
			if (cp >= 0xDC00 && cp <= 0xDFFF) {
				fail_at(ps, esc, "invalid JSON: lone low surrogate \\u%04X", (unsigned)cp);
				return -1;
			}
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    hex4(p + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
					fail_at(ps, esc, "invalid JSON: high surrogate \\u%04X without a low surrogate", (unsigned)cp);
					return -1;
				}
				p += 6;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			olen = rag_utf8_encode(cp, out);
			break;
		}
		default:
			fail_at(ps, esc, "invalid JSON: invalid escape '\\%c'", e >= 0x20 && e < 0x7f ? e : '?');
			return -1;
		}
		if (rag_buf_add(&ps->scratch, out, olen) < 0) {
			fail_nomem(ps);
			return -1;
		}
		run = p;
	}
	ps->in_scratch = escaped;
	if (escaped) {
		if (rag_buf_add(&ps->scratch, run, (size_t)(p - run)) < 0) {
			fail_nomem(ps);
			return -1;
		}
		*s = ps->scratch.data;
		*n = ps->scratch.len;
	} else {
		*s = run;
		*n = (size_t)(p - run);
	}
	ps->p = p + 1;
	return 0;
}

static json_t *parse_number(parser *ps)
{
	const char *start = ps->p, *p = start, *end = ps->end;
	int is_real = 0;

	if (p < end && *p == '-')
		p++;
	if (p >= end || *p < '0' || *p > '9')
		return fail_at(ps, start, "invalid JSON: expected a digit after '-'");
	if (*p == '0') {
		p++;
		if (p < end && *p >= '0' && *p <= '9')
			return fail_at(ps, start, "invalid JSON: a number cannot have a leading zero");
	} else {
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && *p == '.') {
		is_real = 1;
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return fail_at(ps, p, "invalid JSON: expected a digit after '.'");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		is_real = 1;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return fail_at(ps, p, "invalid JSON: expected a digit in the exponent");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	ps->p = p;
	if (!is_real) {
		const char *q = start;
		int neg = *q == '-';
		unsigned long long v = 0, limit = neg ? (unsigned long long)INT64_MAX + 1 : INT64_MAX;
		json_t *j;
		if (neg)
			q++;
		for (; q < p; q++) {
			unsigned d = (unsigned)(*q - '0');
			if (v > (limit - d) / 10)
				break;
			v = v * 10 + d;
		}
		/* Beyond 64 bits: the nearest real (passed on as written, see json.h). */
		if (q == p) {
			if (ps->skipping)
				return json_null();
			j = json_integer(neg ? (json_int_t)(0 - v) : (json_int_t)v);
			return j ? j : fail_nomem(ps);
		}
	}
	{
		char small[64], *text = small;
		size_t n = (size_t)(p - start);
		double d;
		json_t *j;
		/* skipped: only an exponent or 300 digits can pass the range of a double */
		if (ps->skipping && n < 300 && !memchr(start, 'e', n) && !memchr(start, 'E', n))
			return json_null();
		if (n >= sizeof small) {
			text = malloc(n + 1);
			if (!text)
				return fail_nomem(ps);
		}
		memcpy(text, start, n);
		text[n] = '\0';
		errno = 0;
		d = strtod(text, NULL);
		if (text != small)
			free(text);
		if (isinf(d) || isnan(d))
			return fail_at(ps, start, "real number out of range");
		if (ps->skipping)
			return json_null();
		j = json_real(d);
		return j ? j : fail_nomem(ps);
	}
}

static json_t *parse_literal(parser *ps, const char *word, size_t n, json_t *v)
{
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
		char b[16];
		return fail_at(ps, ps->p, "invalid JSON: unexpected %s", describe(ps, ps->p, b, sizeof b));
	}
	ps->p += n;
	return v;
}

static int add_member(rag_json_members *m, size_t key, size_t key_len, size_t val,
		      size_t val_len)
{
	if (rag_array_reserve(&m->v, &m->cap, m->n + 1, sizeof *m->v) < 0)
		return -1;
	m->v[m->n].key = key;
	m->v[m->n].key_len = key_len;
	m->v[m->n].val = val;
	m->v[m->n].val_len = val_len;
	m->n++;
	return 0;
}

void rag_json_members_free(rag_json_members *m)
{
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

/* Whether a top-level member with key[0..n) is to be built. */
static int kept(const parser *ps, const char *key, size_t n)
{
	if (!ps->keep || ps->depth != 1)
		return 1;
	for (const char *const *k = ps->keep; *k; k++)
		if (strlen(*k) == n && memcmp(*k, key, n) == 0)
			return 1;
	return 0;
}

/*
 * Objects and arrays: while skipping, the value is checked as carefully
 * but nothing is built (json_null stands for it).
 */
static json_t *parse_object(parser *ps)
{
	json_t *obj = ps->skipping ? json_null() : json_object(), *v;
	const char *key;
	size_t klen;
	char *kcopy = NULL;
	char b[16];

	if (!obj)
		return fail_nomem(ps);
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return obj;
	}
	for (;;) {
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '"') {
			fail_at(ps, ps->p, "invalid JSON: expected a string key, found %s", describe(ps, ps->p, b, sizeof b));
			goto fail;
		}
		const char *kstart = ps->p, *vstart;
		if (parse_string(ps, &key, &klen) < 0)
			goto fail;
		const char *kend = ps->p;
		/*
		 * A key without escapes points into the input, which stays; one
		 * decoded into scratch is copied, as the value may reuse scratch.
		 */
		int keep = !ps->skipping && kept(ps, key, klen);
		if (ps->in_scratch && keep) {
			kcopy = malloc(klen + 1);
			if (!kcopy) {
				fail_nomem(ps);
				goto fail;
			}
			memcpy(kcopy, key, klen);
			key = kcopy;
		}
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':') {
			fail_at(ps, ps->p, "invalid JSON: expected ':' after a key, found %s", describe(ps, ps->p, b, sizeof b));
			goto fail;
		}
		ps->p++;
		skip_ws(ps);
		vstart = ps->p;
		{
			int was = ps->skipping;
			ps->skipping = !keep; /* a member left out is checked, not built */
			v = parse_value(ps);
			ps->skipping = was;
		}
		if (!v)
			goto fail;
		if (ps->members && ps->depth == 1 &&
		    add_member(ps->members, (size_t)(kstart - ps->start), (size_t)(kend - kstart),
			       (size_t)(vstart - ps->start), (size_t)(ps->p - vstart)) < 0) {
			json_decref(v);
			fail_nomem(ps);
			goto fail;
		}
		if (!keep) {
			json_decref(v);
		} else if (json_object_setn_new_nocheck(obj, key, klen, v) < 0) {
			fail_nomem(ps);
			goto fail;
		}
		free(kcopy);
		kcopy = NULL;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return obj;
		}
		fail_at(ps, ps->p, "invalid JSON: expected ',' or '}' in an object, found %s", describe(ps, ps->p, b, sizeof b));
		goto fail;
	}
fail:
	free(kcopy);
	json_decref(obj);
	return NULL;
}

static json_t *parse_array(parser *ps)
{
	json_t *arr = ps->skipping ? json_null() : json_array(), *v;
	char b[16];

	if (!arr)
		return fail_nomem(ps);
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return arr;
	}
	for (;;) {
		v = parse_value(ps);
		if (!v)
			goto fail;
		if (ps->skipping) {
			json_decref(v);
		} else if (json_array_append_new(arr, v) < 0) {
			fail_nomem(ps);
			goto fail;
		}
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return arr;
		}
		fail_at(ps, ps->p, "invalid JSON: expected ',' or ']' in an array, found %s", describe(ps, ps->p, b, sizeof b));
		goto fail;
	}
fail:
	json_decref(arr);
	return NULL;
}

static json_t *parse_value(parser *ps)
{
	json_t *v;
	char b[16];

	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail_at(ps, ps->p, "invalid JSON: expected a value, found the end of the line");
	switch (*ps->p) {
	case '{':
	case '[':
		if (++ps->depth > RAG_JSON_MAX_DEPTH)
			return fail_at(ps, ps->p, "invalid JSON: nested deeper than %d levels", RAG_JSON_MAX_DEPTH);
		v = *ps->p == '{' ? parse_object(ps) : parse_array(ps);
		ps->depth--;
		return v;
	case '"': {
		const char *s;
		size_t n;
		if (parse_string(ps, &s, &n) < 0)
			return NULL;
		if (ps->skipping)
			return json_null();
		v = json_stringn_nocheck(s, n);
		return v ? v : fail_nomem(ps);
	}
	case 't':
		return parse_literal(ps, "true", 4, json_true());
	case 'f':
		return parse_literal(ps, "false", 5, json_false());
	case 'n':
		return parse_literal(ps, "null", 4, json_null());
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps);
		if ((unsigned char)*ps->p >= 0x80 &&
		    rag_utf8_valid_prefix(ps->p, (size_t)(ps->end - ps->p)) == 0)
			return fail_at(ps, ps->p, "invalid UTF-8");
		return fail_at(ps, ps->p, "invalid JSON: expected a value, found %s", describe(ps, ps->p, b, sizeof b));
	}
}

json_t *rag_json_parse(const char *buf, size_t len, rag_error *err)
{
	return rag_json_parse_members(buf, len, NULL, err);
}

json_t *rag_json_parse_members(const char *buf, size_t len, rag_json_members *m,
			       rag_error *err)
{
	return rag_json_parse_keys(buf, len, m, NULL, err);
}

json_t *rag_json_parse_keys(const char *buf, size_t len, rag_json_members *m,
			    const char *const *keep, rag_error *err)
{
	parser ps;
	json_t *v;
	char b[16];

	rag_error_clear(err);
	ps.keep = keep;
	ps.skipping = 0;
	ps.start = ps.p = buf;
	ps.end = buf + len;
	ps.depth = 0;
	ps.members = m;
	if (m)
		m->n = 0;
	ps.err = err;
	rag_buf_init(&ps.scratch, 0);
	v = parse_value(&ps);
	if (v) {
		skip_ws(&ps);
		if (ps.p < ps.end) {
			if ((unsigned char)*ps.p >= 0x80 &&
			    rag_utf8_valid_prefix(ps.p, (size_t)(ps.end - ps.p)) == 0)
				fail_at(&ps, ps.p, "invalid UTF-8");
			else
				fail_at(&ps, ps.p, "invalid JSON: unexpected %s after the value", describe(&ps, ps.p, b, sizeof b));
			json_decref(v);
			v = NULL;
		}
	}
	rag_buf_free(&ps.scratch);
	return v;
}

/* ---- writer ---- */

int rag_json_add_string(rag_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0;

	/* Worst case every byte becomes \u00XX. */
	if (rag_buf_grow(out, n + 2) < 0)
		return -1;
	out->data[out->len++] = '"';
	while (i < n) {
		while (n - i >= 8 && !special8(rag_load64(s + i)))
			i += 8;
		while (i < n) {
			unsigned char c = (unsigned char)s[i];
			if (c == '"' || c == '\\' || c < 0x20)
				break;
			i++;
		}
		if (rag_buf_add(out, s + run, i - run) < 0)
			return -1;
		if (i >= n)
			break;
		{
			unsigned char c = (unsigned char)s[i];
			char e[6] = {'\\', 0, 0, 0, 0, 0};
			size_t el = 2;
			switch (c) {
			case '"': e[1] = '"'; break;
			case '\\': e[1] = '\\'; break;
			case '\n': e[1] = 'n'; break;
			case '\t': e[1] = 't'; break;
			case '\r': e[1] = 'r'; break;
			case '\b': e[1] = 'b'; break;
			case '\f': e[1] = 'f'; break;
			default:
				e[1] = 'u';
				e[2] = '0';
				e[3] = '0';
				e[4] = hex[c >> 4];
				e[5] = hex[c & 15];
				el = 6;
			}
			if (rag_buf_add(out, e, el) < 0)
				return -1;
		}
		i++;
		run = i;
	}
	return rag_buf_addc(out, '"');
}

int rag_json_add_raw(rag_buf *out, const char *text, size_t n)
{
	size_t i, run = 0;
	int in_string = 0;

	if (rag_buf_grow(out, n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		char c;
		/* in a string, only a quote or a backslash matters: eight bytes at a time */
		if (in_string)
			while (n - i >= 8 && !special8(rag_load64(text + i)))
				i += 8;
		if (i >= n)
			break;
		c = text[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (rag_buf_add(out, text + run, i - run) < 0)
				return -1;
			run = i + 1;
		}
	}
	return rag_buf_add(out, text + run, n - run);
}

long rag_json_top_member(const char *json, size_t len, const char *key, size_t klen, size_t *vs,
			 size_t *ve)
{
	long found = 0;
	int depth = 0, want_key = 0, in_value = 0;

	for (size_t i = 0; i < len; i++) {
		char c = json[i];
		if (c == '"') {
			size_t s = ++i;
			int escaped = 0;
			while (i < len && json[i] != '"') {
				if (json[i] == '\\') {
					escaped = 1;
					i++;
				}
				i++;
			}
			if (i >= len)
				return -1; /* not the valid JSON it must be */
			if (depth == 1 && want_key) {
				want_key = 0;
				if (escaped)
					return -1;
				if (i - s == klen && memcmp(json + s, key, klen) == 0 &&
				    found++ == 0) {
					*vs = i + 2; /* past the quote and the colon */
					in_value = 1;
				}
			}
		} else if (c == '{' || c == '[') {
			if (++depth == 1)
				want_key = 1;
		} else if (c == '}' || c == ']') {
			if (--depth == 0 && in_value) {
				*ve = i;
				in_value = 0;
			}
		} else if (c == ',' && depth == 1) {
			want_key = 1;
			if (in_value) {
				*ve = i;
				in_value = 0;
			}
		}
	}
	if (depth != 0 || in_value || (found && *vs >= len))
		return -1; /* not the valid JSON it must be */
	return found;
}

int rag_json_add_int(rag_buf *out, long long v)
{
	char tmp[24];
	size_t i = sizeof tmp;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--i] = '-';
	return rag_buf_add(out, tmp + i, sizeof tmp - i);
}

/*
 * The shortest text of a float f with 1e-4 <= |f| < 1 ("0.0123"), the
 * common case of embedding components, without printf.  With k decimal
 * places the best candidate is the nearest k-place decimal n / 10^k (a
 * tie to the even n, as printf rounds; a * 10^k is exact whenever it is a
 * tie); it is taken when it lies strictly between the midpoints that
 * separate f from its neighbours, so that it reads back as f.  Six places
 * are tried first: in this range floats lie closer together than 1e-6, so
 * at most one decimal of six places or fewer reads back as f, and when
 * there is one it is the six-place candidate without its trailing zeros.
 * Otherwise 7, 8, ... places are tried in turn.  The test is made in
 * double arithmetic, exact but for an error far below 2^-50 of f; a
 * candidate that close to a midpoint is left to the caller, as is f
 * outside the range: then the answer is 0 and the caller goes the slow
 * way.  Writes into tmp (>= 20 bytes) and returns the length.
 */
static int float32_fast(float f, char *tmp)
{
	static const double p10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6, 1e7,
				     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14};
	static const double inv10[] = {1e-0, 1e-1, 1e-2,  1e-3,  1e-4,  1e-5,  1e-6, 1e-7,
				       1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14};
	uint32_t bits, nb;
	float fa, below, above;
	double a, lo, hi, n = 0, x = 0, y;
	unsigned long long u;
	int i = 0, k;

	memcpy(&bits, &f, sizeof bits);
	tmp[0] = '-'; /* kept only for a negative f: no branch to mispredict */
	i = (int)(bits >> 31);
	bits &= 0x7fffffffu;
	if (bits == 0) {
		memcpy(tmp + i, "0.0", 3);
		return i + 3;
	}
	memcpy(&fa, &bits, sizeof fa);
	a = (double)fa;
	if (!(a >= 1e-4 && a < 1))
		return 0;
	/* the neighbours, from the bits: a is normal here */
	nb = bits - 1;
	memcpy(&below, &nb, sizeof below);
	nb = bits + 1;
	memcpy(&above, &nb, sizeof above);
	lo = (a + (double)below) / 2;
	hi = (a + (double)above) / 2;
	for (k = 6; k <= 14; k++) {
		y = a * p10[k];
		n = (double)(long long)(y + 0.5); /* floor: y + 0.5 is positive, below 2^53 */
		if (n - y == 0.5 && ((unsigned long long)n & 1))
			n -= 1;
		x = n * inv10[k];
		if (x > lo && x < hi)
			break;
	}
	if (k > 14 || x - lo < a * 0x1p-50 || hi - x < a * 0x1p-50)
		return 0; /* too close to call in double */
	tmp[i++] = '0';
	tmp[i++] = '.';
	if (k == 6) {
		/* below 10^6: six digits in three pairs, then less the trailing zeros */
		static const char pairs[] = "00010203040506070809101112131415161718192021222324"
					    "25262728293031323334353637383940414243444546474849"
					    "50515253545556575859606162636465666768697071727374"
					    "75767778798081828384858687888990919293949596979899";
		uint32_t v = (uint32_t)n;
		memcpy(tmp + i, pairs + 2 * (v / 10000), 2);
		memcpy(tmp + i + 2, pairs + 2 * (v / 100 % 100), 2);
		memcpy(tmp + i + 4, pairs + 2 * (v % 100), 2);
		return i + 6 - (v % 10 == 0) - (v % 100 == 0) - (v % 1000 == 0) -
		       (v % 10000 == 0) - (v % 100000 == 0);
	}
	u = (unsigned long long)n;
	for (int j = k; j > 0; j--) {
		tmp[i + j - 1] = (char)('0' + u % 10);
		u /= 10;
	}
	return i + k;
}

/* Keeps printf's text s[0..n) a real when read back (1.0 stays 1.0, not the integer 1): the new length. */
static int as_real(char *s, int n)
{
	if (!memchr(s, '.', (size_t)n) && !memchr(s, 'e', (size_t)n)) {
		memcpy(s + n, ".0", 2);
		n += 2;
	}
	return n;
}

size_t rag_json_float32_text(float f, char *out)
{
	int n = float32_fast(f, out), prec;

	if (n > 0)
		return (size_t)n;
	if (!isfinite(f)) {
		memcpy(out, "null", 4);
		return 4;
	}
	for (prec = 6; prec <= 9; prec++) {
		n = snprintf(out, RAG_JSON_FLOAT32_MAX, "%.*g", prec, (double)f);
		if (strtof(out, NULL) == f)
			break;
	}
	return (size_t)as_real(out, n);
}

int rag_json_add_real(rag_buf *out, double d, int flags)
{
	char tmp[40];
	int prec, n = 0;

	if (!isfinite(d))
		return rag_buf_adds(out, "null");
	if (flags & RAG_JSON_FLOAT32)
		return rag_buf_add(out, tmp, rag_json_float32_text((float)d, tmp));
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(tmp, sizeof tmp, "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	return rag_buf_add(out, tmp, (size_t)as_real(tmp, n));
}

static int dump(rag_buf *out, const json_t *v, int flags)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *val;
		void *it;
		int first = 1;
		if (rag_buf_addc(out, '{') < 0)
			return -1;
		for (it = json_object_iter((json_t *)v); it;
		     it = json_object_iter_next((json_t *)v, it)) {
			key = json_object_iter_key(it);
			val = json_object_iter_value(it);
			if (!first && rag_buf_addc(out, ',') < 0)
				return -1;
			first = 0;
			if (rag_json_add_string(out, key, json_object_iter_key_len(it)) < 0 ||
			    rag_buf_addc(out, ':') < 0 || dump(out, val, flags) < 0)
				return -1;
		}
		return rag_buf_addc(out, '}');
	}
	case JSON_ARRAY: {
		size_t i, n = json_array_size(v);
		if (rag_buf_addc(out, '[') < 0)
			return -1;
		for (i = 0; i < n; i++) {
			if (i && rag_buf_addc(out, ',') < 0)
				return -1;
			if (dump(out, json_array_get(v, i), flags) < 0)
				return -1;
		}
		return rag_buf_addc(out, ']');
	}
	case JSON_STRING:
		return rag_json_add_string(out, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return rag_json_add_int(out, json_integer_value(v));
	case JSON_REAL:
		return rag_json_add_real(out, json_real_value(v), flags);
	case JSON_TRUE:
		return rag_buf_add(out, "true", 4);
	case JSON_FALSE:
		return rag_buf_add(out, "false", 5);
	case JSON_NULL:
	default:
		return rag_buf_add(out, "null", 4);
	}
}

int rag_json_dump(rag_buf *out, const json_t *v, int flags)
{
	return dump(out, v, flags);
}
