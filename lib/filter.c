/* filter.c - metadata filters; see filter.h. */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "filter.h"
#include "json.h"
#include "utf8.h"

/* ---- the tree ---- */

enum ntype {
	N_LIT,    /* lit */
	N_FIELD,  /* steps; none for $meta itself */
	N_AND,    /* kids */
	N_OR,     /* kids */
	N_NOT,    /* a */
	N_CMP,    /* kids[0] ops[0] kids[1] ops[1] kids[2] ...: a chain */
	N_IN,     /* a in lit (neg: not in) */
	N_LIKE,   /* a like pattern */
	N_REGEX,  /* a =~ re (neg: !~) */
	N_ISNULL, /* a is null (neg: is not null) */
	N_EXISTS, /* exists a */
	N_ARITH,  /* a op b */
	N_NEG,    /* -a */
	N_CALL    /* op(kids) */
};

enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
enum { AR_ADD, AR_SUB, AR_MUL, AR_DIV, AR_MOD, AR_POW };
enum {
	FN_ARRAY_CONTAINS,
	FN_ARRAY_CONTAINS_ALL,
	FN_ARRAY_CONTAINS_ANY,
	FN_ARRAY_LENGTH,
	FN_JSON_CONTAINS,
	FN_JSON_CONTAINS_ALL,
	FN_JSON_CONTAINS_ANY
};

static const struct {
	const char *name;
	int nargs;
} functions[] = {
	{"array_contains", 2},	   {"array_contains_all", 2}, {"array_contains_any", 2},
	{"array_length", 1},	   {"json_contains", 2},      {"json_contains_all", 2},
	{"json_contains_any", 2},
};

/* One step of a field path: a key, or an index (key NULL). */
typedef struct step {
	char *key;
	size_t len;
	size_t index;
} step;

/* A LIKE pattern: literal runs, '_' (one character) and '%' (any run). */
enum { LK_LIT, LK_ONE, LK_ANY };
typedef struct like_tok {
	int kind;
	size_t off, len; /* LK_LIT: bytes in like_pat.text */
} like_tok;
typedef struct like_pat {
	char *text;
	like_tok *tok;
	size_t ntok;
} like_pat;

typedef struct node {
	int type, op, neg;
	struct node *a, *b;
	struct node **kids;
	size_t nkids;
	json_t *lit;
	step *steps;
	size_t nsteps;
	int *ops; /* N_CMP */
	pcre2_code *re;
	pcre2_match_data *md;
	like_pat like;
} node;

/* The JIT stack a regex may grow to: deep backtracking needs more than the default 32 KiB. */
#define JIT_STACK_MAX (8u << 20)

struct rag_filter {
	node *root;
	pcre2_match_context *mctx; /* with jit, when any regex was JIT-compiled */
	pcre2_jit_stack *jit;
	char **fields; /* NULL-terminated */
	size_t nfields;
	int whole;
	int regex;  /* some node is a regex */
	int failed; /* set during a match when a regex fails */
	rag_error err;
	/*
	 * While rag_filter_select evaluates part of the tree on one value of
	 * an indexed field: that field's path, and the value every reference
	 * to it yields (NULL: missing).
	 */
	const node *as;
	const json_t *as_value;
	uint64_t serial; /* see rag_filter_serial */
};

static void node_free(node *n)
{
	if (!n)
		return;
	node_free(n->a);
	node_free(n->b);
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->ops);
	json_decref(n->lit);
	for (size_t i = 0; i < n->nsteps; i++)
		free(n->steps[i].key);
	free(n->steps);
	if (n->md)
		pcre2_match_data_free(n->md);
	if (n->re)
		pcre2_code_free(n->re);
	free(n->like.text);
	free(n->like.tok);
	free(n);
}

/* ---- tokens ---- */

enum tk {
	T_END,
	T_IDENT,
	T_INT,
	T_REAL,
	T_STRING,
	T_PARAM,
	T_LPAREN,
	T_RPAREN,
	T_LBRACK,
	T_RBRACK,
	T_COMMA,
	T_DOT,
	T_EQ,
	T_NE,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
	T_MATCH,
	T_NMATCH,
	T_PLUS,
	T_MINUS,
	T_STAR,
	T_SLASH,
	T_PERCENT,
	T_POW,
	T_ANDAND,
	T_OROR,
	T_BANG
};

typedef struct token {
	int kind;
	size_t off, len; /* where it is in the expression */
	long long i;     /* T_INT */
	double r;        /* T_REAL */
	rag_buf s;       /* T_STRING: the value; T_PARAM, T_IDENT: the name */
} token;

typedef struct parser {
	const char *src;
	size_t n, pos;
	token t;    /* the current token */
	int failed; /* err is set */
	rag_error *err;
	const rag_filter_param *params;
	size_t nparams;
	rag_filter *f;
	int depth;
} parser;

#define MAX_DEPTH 200

/* The 1-based line and byte column of offset off of the expression. */
static void pos_of(const parser *p, size_t off, long *line, long *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < p->n; i++) {
		if (p->src[i] == '\n') {
			++*line;
			*col = 1;
		} else {
			++*col;
		}
	}
}

/* Sets the error at byte offset off of the expression. */
__attribute__((format(printf, 3, 4))) static node *fail_at(parser *p, size_t off,
							    const char *fmt, ...)
{
	va_list ap;
	long line, col;

	if (p->failed)
		return NULL;
	p->failed = 1;
	pos_of(p, off, &line, &col);
	va_start(ap, fmt);
	rag_error_vset(p->err, RAG_EUSAGE, "expression", line, fmt, ap);
	va_end(ap);
	if (p->err)
		p->err->column = col;
	return NULL;
}

static node *nomem(parser *p)
{
	if (!p->failed) {
		p->failed = 1;
		rag_error_set(p->err, RAG_ENOMEM, NULL, 0, "out of memory");
	}
	return NULL;
}

/* How the current token reads in a message: 'text', or "the end". */
static const char *tok_text(parser *p, char *buf, size_t size)
{
	size_t len = p->t.len;

	if (p->t.kind == T_END)
		return "the end of the expression";
	if (len > 40) {
		len = 40;
		while (len > 0 && ((unsigned char)p->src[p->t.off + len] & 0xC0) == 0x80)
			len--; /* not inside a character */
	}
	snprintf(buf, size, "'%.*s%s'", (int)len, p->src + p->t.off, len < p->t.len ? "..." : "");
	return buf;
}

static int is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static int is_ident(int c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads a quoted string starting at p->pos (the quote); raw: no escapes. */
static int lex_string(parser *p, int raw)
{
	const char *s = p->src;
	char q = s[p->pos];
	size_t i = p->pos + 1, start = p->pos - (raw ? 1 : 0);

	rag_buf_truncate(&p->t.s, 0);
	for (;;) {
		size_t run = i;
		while (i < p->n && s[i] != q && (raw || s[i] != '\\') && s[i] != '\0')
			i++;
		if (rag_buf_add(&p->t.s, s + run, i - run) < 0)
			return nomem(p), -1;
		if (i >= p->n || s[i] == '\0')
			return fail_at(p, start, "this string has no closing %c", q), -1;
		if (s[i] == q)
			break;
		/* an escape */
		if (i + 1 >= p->n)
			return fail_at(p, start, "this string has no closing %c", q), -1;
		char c = s[i + 1], out;
		uint32_t cp;
		switch (c) {
		case '"': out = '"'; break;
		case '\'': out = '\''; break;
		case '\\': out = '\\'; break;
		case '/': out = '/'; break;
		case 'b': out = '\b'; break;
		case 'f': out = '\f'; break;
		case 'n': out = '\n'; break;
		case 'r': out = '\r'; break;
		case 't': out = '\t'; break;
		case 'u': {
			int k = 0;
			cp = 0;
			for (k = 0; k < 4; k++) {
				int h = i + 2 + (size_t)k < p->n ? hexval(s[i + 2 + k]) : -1;
				if (h < 0)
					return fail_at(p, i, "\\u needs four hex digits"), -1;
				cp = cp << 4 | (uint32_t)h;
			}
			i += 6;
			if (cp >= 0xD800 && cp < 0xDC00) {
				/* a surrogate pair */
				uint32_t lo = 0;
				int ok = i + 6 <= p->n && s[i] == '\\' && s[i + 1] == 'u';
				for (k = 0; ok && k < 4; k++) {
					int h = hexval(s[i + 2 + k]);
					ok = h >= 0;
					lo = lo << 4 | (uint32_t)(h < 0 ? 0 : h);
				}
				if (!ok || lo < 0xDC00 || lo > 0xDFFF)
					return fail_at(p, i - 6, "a lone surrogate in \\u escapes"), -1;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				i += 6;
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				return fail_at(p, i - 6, "a lone surrogate in \\u escapes"), -1;
			}
			char u[4];
			if (rag_buf_add(&p->t.s, u, rag_utf8_encode(cp, u)) < 0)
				return nomem(p), -1;
			continue;
		}
		default:
			/* kept as written, backslash and all (regex and LIKE escapes) */
			if (rag_buf_add(&p->t.s, s + i, 2) < 0)
				return nomem(p), -1;
			i += 2;
			continue;
		}
		if (rag_buf_addc(&p->t.s, out) < 0)
			return nomem(p), -1;
		i += 2;
	}
	if (rag_buf_addc(&p->t.s, '\0') < 0)
		return nomem(p), -1;
	p->t.s.len--;
	p->t.kind = T_STRING;
	p->t.off = start;
	p->t.len = i + 1 - start;
	p->pos = i + 1;
	return 0;
}

/* Moves to the next token.  0, or -1 with the error set. */
static int lex(parser *p)
{
	const char *s = p->src;
	size_t i = p->pos;
	int c;

	while (i < p->n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	p->pos = i;
	p->t.off = i;
	p->t.len = 1;
	if (i >= p->n) {
		p->t.kind = T_END;
		p->t.len = 0;
		return 0;
	}
	c = (unsigned char)s[i];
	if ((c == 'r' || c == 'R') && i + 1 < p->n && (s[i + 1] == '"' || s[i + 1] == '\'')) {
		p->pos = i + 1;
		return lex_string(p, 1);
	}
	if (is_ident_start(c)) {
		size_t j = i + 1;
		while (j < p->n && is_ident((unsigned char)s[j]))
			j++;
		rag_buf_truncate(&p->t.s, 0);
		if (rag_buf_add(&p->t.s, s + i, j - i) < 0 || rag_buf_addc(&p->t.s, '\0') < 0)
			return nomem(p), -1;
		p->t.s.len--;
		p->t.kind = T_IDENT;
		p->t.len = j - i;
		p->pos = j;
		return 0;
	}
	if ((c >= '0' && c <= '9') || (c == '.' && i + 1 < p->n && s[i + 1] >= '0' && s[i + 1] <= '9')) {
		size_t j = i;
		int real = 0;
		char buf[64];
		while (j < p->n && s[j] >= '0' && s[j] <= '9')
			j++;
		if (j < p->n && s[j] == '.') {
			real = 1;
			j++;
			while (j < p->n && s[j] >= '0' && s[j] <= '9')
				j++;
		}
		if (j < p->n && (s[j] == 'e' || s[j] == 'E')) {
			size_t k = j + 1;
			if (k < p->n && (s[k] == '+' || s[k] == '-'))
				k++;
			if (k < p->n && s[k] >= '0' && s[k] <= '9') {
				real = 1;
				j = k;
				while (j < p->n && s[j] >= '0' && s[j] <= '9')
					j++;
			}
		}
		if (j < p->n && is_ident((unsigned char)s[j]))
			return fail_at(p, i, "a number cannot run into letters"), -1;
		if (j - i >= sizeof buf)
			return fail_at(p, i, "this number is too long"), -1;
		memcpy(buf, s + i, j - i);
		buf[j - i] = '\0';
		p->t.len = j - i;
		p->pos = j;
		if (!real) {
			errno = 0;
			p->t.i = strtoll(buf, NULL, 10);
			if (errno != ERANGE) {
				p->t.kind = T_INT;
				return 0;
			}
		}
		p->t.r = strtod(buf, NULL);
		if (!isfinite(p->t.r))
			return fail_at(p, i, "this number is out of range"), -1;
		p->t.kind = T_REAL;
		return 0;
	}
	if (c == '"' || c == '\'')
		return lex_string(p, 0);
	if (c == '{') {
		size_t j = i + 1;
		while (j < p->n && (s[j] == ' ' || s[j] == '\t'))
			j++;
		size_t a = j;
		while (j < p->n && is_ident((unsigned char)s[j]) && s[j] != '$')
			j++;
		size_t b = j;
		while (j < p->n && (s[j] == ' ' || s[j] == '\t'))
			j++;
		if (a == b || j >= p->n || s[j] != '}')
			return fail_at(p, i, "expected a parameter name and '}' after '{'"), -1;
		rag_buf_truncate(&p->t.s, 0);
		if (rag_buf_add(&p->t.s, s + a, b - a) < 0 || rag_buf_addc(&p->t.s, '\0') < 0)
			return nomem(p), -1;
		p->t.s.len--;
		p->t.kind = T_PARAM;
		p->t.len = j + 1 - i;
		p->pos = j + 1;
		return 0;
	}
	static const struct {
		char a, b;
		int kind;
	} pairs[] = {
		{'=', '=', T_EQ},    {'!', '=', T_NE},	    {'<', '=', T_LE},	 {'>', '=', T_GE},
		{'=', '~', T_MATCH}, {'!', '~', T_NMATCH}, {'*', '*', T_POW},	 {'&', '&', T_ANDAND},
		{'|', '|', T_OROR},
	};
	int two = i + 1 < p->n ? (unsigned char)s[i + 1] : 0;
	p->t.kind = -1;
	p->t.len = 2;
	for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++)
		if (c == pairs[k].a && two == pairs[k].b)
			p->t.kind = pairs[k].kind;
	if (p->t.kind < 0) {
		p->t.len = 1;
		switch (c) {
		case '(': p->t.kind = T_LPAREN; break;
		case ')': p->t.kind = T_RPAREN; break;
		case '[': p->t.kind = T_LBRACK; break;
		case ']': p->t.kind = T_RBRACK; break;
		case ',': p->t.kind = T_COMMA; break;
		case '.': p->t.kind = T_DOT; break;
		case '<': p->t.kind = T_LT; break;
		case '>': p->t.kind = T_GT; break;
		case '+': p->t.kind = T_PLUS; break;
		case '-': p->t.kind = T_MINUS; break;
		case '*': p->t.kind = T_STAR; break;
		case '/': p->t.kind = T_SLASH; break;
		case '%': p->t.kind = T_PERCENT; break;
		case '!': p->t.kind = T_BANG; break;
		case '=':
			return fail_at(p, i, "'=' is not an operator here: compare with '=='"), -1;
		default: {
			size_t k = rag_utf8_decode(s + i, p->n - i, &(uint32_t){0});
			return fail_at(p, i, "unexpected character '%.*s'", (int)(k ? k : 1), s + i), -1;
		}
		}
	}
	p->pos = i + p->t.len;
	return 0;
}

/* Whether the current token is the keyword kw (any case). */
static int is_kw(parser *p, const char *kw)
{
	return p->t.kind == T_IDENT && strcasecmp(p->t.s.data, kw) == 0;
}

/* Whether the token after the current one is the keyword kw (looking ahead). */
static int next_is_kw(parser *p, const char *kw)
{
	size_t i = p->pos, k = strlen(kw);

	while (i < p->n && (p->src[i] == ' ' || p->src[i] == '\t' || p->src[i] == '\n' ||
			    p->src[i] == '\r'))
		i++;
	return i + k <= p->n && strncasecmp(p->src + i, kw, k) == 0 &&
	       (i + k == p->n || !is_ident((unsigned char)p->src[i + k]));
}

static int is_reserved(const char *s)
{
	static const char *const kw[] = {"and", "or", "not", "in", "like", "is", "null",
					 "exists", "true", "false", NULL};
	for (int i = 0; kw[i]; i++)
		if (strcasecmp(s, kw[i]) == 0)
			return 1;
	return 0;
}

static node *new_node(parser *p, int type)
{
	node *n = calloc(1, sizeof *n);

	if (!n)
		return nomem(p);
	n->type = type;
	return n;
}

static node *lit_node(parser *p, json_t *v)
{
	node *n;

	if (!v)
		return nomem(p);
	if (!(n = new_node(p, N_LIT))) {
		json_decref(v);
		return NULL;
	}
	n->lit = v;
	return n;
}

static node *parse_expr(parser *p);
static node *parse_sum(parser *p);

/* A value of the expression: what parse_sum can start with. */
static int starts_value(parser *p)
{
	switch (p->t.kind) {
	case T_IDENT:
		return !is_reserved(p->t.s.data) || is_kw(p, "true") || is_kw(p, "false") ||
		       is_kw(p, "null");
	case T_INT:
	case T_REAL:
	case T_STRING:
	case T_PARAM:
	case T_LPAREN:
	case T_LBRACK:
	case T_MINUS:
	case T_PLUS:
		return 1;
	default:
		return 0;
	}
}

/* Fails with "expected X after 'op'" at the current token. */
static node *expected(parser *p, const char *what, size_t op_off, size_t op_len)
{
	char b[64];

	if (p->t.kind == T_END)
		return fail_at(p, p->t.off, "expected %s after '%.*s'", what, (int)op_len,
			       p->src + op_off);
	return fail_at(p, p->t.off, "expected %s after '%.*s', not %s", what, (int)op_len,
		       p->src + op_off, tok_text(p, b, sizeof b));
}

/* The value of parameter {name} at the current token, a new reference. */
static json_t *param_value(parser *p)
{
	for (size_t i = 0; i < p->nparams; i++)
		if (strcmp(p->params[i].name, p->t.s.data) == 0) {
			/* a copy: folding a sign changes a literal in place */
			json_t *v = json_deep_copy(p->params[i].value);
			if (!v)
				nomem(p);
			return v;
		}
	fail_at(p, p->t.off, "no value given for the parameter {%s}", p->t.s.data);
	return NULL;
}

/* A list literal [v, ...] of literals (parameters and nested lists allowed). */
static json_t *parse_list(parser *p)
{
	json_t *arr;
	size_t open = p->t.off;

	if (++p->depth > MAX_DEPTH)
		return fail_at(p, open, "the expression nests too deeply"), NULL;
	if (!(arr = json_array()))
		return nomem(p), NULL;
	if (lex(p) < 0)
		goto fail;
	while (p->t.kind != T_RBRACK) {
		node *v;
		if (p->t.kind == T_END) {
			fail_at(p, open, "this '[' has no closing ']'");
			goto fail;
		}
		if (!starts_value(p)) {
			char b[64];
			fail_at(p, p->t.off, "expected a value in the list, not %s",
				tok_text(p, b, sizeof b));
			goto fail;
		}
		size_t at = p->t.off;
		if (!(v = parse_sum(p)))
			goto fail;
		if (v->type != N_LIT) {
			node_free(v);
			fail_at(p, at, "a list holds literal values only");
			goto fail;
		}
		if (json_array_append(arr, v->lit) < 0) {
			node_free(v);
			nomem(p);
			goto fail;
		}
		node_free(v);
		if (p->t.kind == T_COMMA) {
			if (lex(p) < 0)
				goto fail;
		} else if (p->t.kind != T_RBRACK) {
			char b[64];
			if (p->t.kind == T_END)
				fail_at(p, open, "this '[' has no closing ']'");
			else
				fail_at(p, p->t.off, "expected ',' or ']' in the list, not %s",
					tok_text(p, b, sizeof b));
			goto fail;
		}
	}
	if (lex(p) < 0)
		goto fail;
	p->depth--;
	return arr;
fail:
	json_decref(arr);
	return NULL;
}

static int add_step(parser *p, node *n, const char *key, size_t len, size_t index)
{
	step *s = realloc(n->steps, (n->nsteps + 1) * sizeof *s);

	if (!s)
		return nomem(p), -1;
	n->steps = s;
	s += n->nsteps;
	s->key = NULL;
	s->len = len;
	s->index = index;
	if (key) {
		if (!(s->key = malloc(len + 1)))
			return nomem(p), -1;
		memcpy(s->key, key, len);
		s->key[len] = '\0';
	}
	n->nsteps++;
	return 0;
}

/* A field reference: the current token is its first name (or $meta). */
static node *parse_field(parser *p)
{
	node *n = new_node(p, N_FIELD);

	if (!n)
		return NULL;
	if (strcmp(p->t.s.data, "$meta") != 0 &&
	    add_step(p, n, p->t.s.data, p->t.s.len, 0) < 0)
		goto fail;
	if (lex(p) < 0)
		goto fail;
	for (;;) {
		if (p->t.kind == T_DOT) {
			size_t dot = p->t.off;
			if (lex(p) < 0)
				goto fail;
			if (p->t.kind != T_IDENT) {
				expected(p, "a field name", dot, 1);
				goto fail;
			}
			if (add_step(p, n, p->t.s.data, p->t.s.len, 0) < 0 || lex(p) < 0)
				goto fail;
		} else if (p->t.kind == T_LBRACK) {
			size_t open = p->t.off;
			json_t *pv = NULL;
			if (lex(p) < 0)
				goto fail;
			if (p->t.kind == T_PARAM && !(pv = param_value(p)))
				goto fail;
			if (p->t.kind == T_STRING || (pv && json_is_string(pv))) {
				const char *k = pv ? json_string_value(pv) : p->t.s.data;
				size_t kl = pv ? json_string_length(pv) : p->t.s.len;
				int r = add_step(p, n, k, kl, 0);
				json_decref(pv);
				if (r < 0)
					goto fail;
			} else if (p->t.kind == T_INT || (pv && json_is_integer(pv))) {
				long long v = pv ? json_integer_value(pv) : p->t.i;
				json_decref(pv);
				if (v < 0) {
					fail_at(p, p->t.off, "an array index cannot be negative");
					goto fail;
				}
				if (add_step(p, n, NULL, 0, (size_t)v) < 0)
					goto fail;
			} else {
				json_decref(pv);
				expected(p, "a quoted key or an index", open, 1);
				goto fail;
			}
			if (lex(p) < 0)
				goto fail;
			if (p->t.kind != T_RBRACK) {
				fail_at(p, open, "this '[' has no closing ']'");
				goto fail;
			}
			if (lex(p) < 0)
				goto fail;
		} else {
			return n;
		}
	}
fail:
	node_free(n);
	return NULL;
}

static node *parse_call(parser *p, int fn, size_t name_off)
{
	node *n;
	size_t open;

	if (++p->depth > MAX_DEPTH)
		return fail_at(p, name_off, "the expression nests too deeply");
	if (!(n = new_node(p, N_CALL)))
		return NULL;
	n->op = fn;
	if (lex(p) < 0)
		goto fail;
	open = p->t.off;
	if (lex(p) < 0) /* past '(' */
		goto fail;
	while (p->t.kind != T_RPAREN) {
		node *a, **k;
		if (n->nkids && (p->t.kind != T_COMMA || lex(p) < 0)) {
			if (!p->failed) {
				char b[64];
				if (p->t.kind == T_END)
					fail_at(p, open, "this '(' has no closing ')'");
				else
					fail_at(p, p->t.off, "expected ',' or ')', not %s",
						tok_text(p, b, sizeof b));
			}
			goto fail;
		}
		if (!starts_value(p)) {
			expected(p, "an argument", open, 1);
			goto fail;
		}
		if (!(a = parse_sum(p)))
			goto fail;
		if (!(k = realloc(n->kids, (n->nkids + 1) * sizeof *k))) {
			node_free(a);
			nomem(p);
			goto fail;
		}
		n->kids = k;
		n->kids[n->nkids++] = a;
	}
	if ((int)n->nkids != functions[fn].nargs) {
		fail_at(p, name_off, "%s takes %d argument%s, not %zu", functions[fn].name,
			functions[fn].nargs, functions[fn].nargs == 1 ? "" : "s", n->nkids);
		goto fail;
	}
	if (lex(p) < 0)
		goto fail;
	p->depth--;
	return n;
fail:
	node_free(n);
	return NULL;
}

static node *parse_primary(parser *p)
{
	node *n;
	char b[64];

	switch (p->t.kind) {
	case T_INT:
		n = lit_node(p, json_integer(p->t.i));
		return n && lex(p) == 0 ? n : (node_free(n), NULL);
	case T_REAL:
		n = lit_node(p, json_real(p->t.r));
		return n && lex(p) == 0 ? n : (node_free(n), NULL);
	case T_STRING:
		/* valid UTF-8: the expression is, and escapes make whole characters */
		n = lit_node(p, json_stringn_nocheck(p->t.s.data, p->t.s.len));
		return n && lex(p) == 0 ? n : (node_free(n), NULL);
	case T_PARAM: {
		json_t *v = param_value(p);
		if (!v)
			return NULL;
		n = lit_node(p, v);
		return n && lex(p) == 0 ? n : (node_free(n), NULL);
	}
	case T_LBRACK: {
		json_t *v = parse_list(p);
		return v ? lit_node(p, v) : NULL;
	}
	case T_LPAREN: {
		size_t open = p->t.off;
		if (lex(p) < 0)
			return NULL;
		if (!(n = parse_expr(p)))
			return NULL;
		if (p->t.kind != T_RPAREN) {
			node_free(n);
			if (p->t.kind == T_END)
				return fail_at(p, open, "this '(' has no closing ')'");
			long line, col;
			pos_of(p, open, &line, &col);
			return fail_at(p, p->t.off, "expected ')' to close the '(' at %ld:%ld, not %s",
				       line, col, tok_text(p, b, sizeof b));
		}
		return lex(p) == 0 ? n : (node_free(n), NULL);
	}
	case T_IDENT:
		if (is_kw(p, "true") || is_kw(p, "false")) {
			n = lit_node(p, json_boolean(is_kw(p, "true")));
			return n && lex(p) == 0 ? n : (node_free(n), NULL);
		}
		if (is_kw(p, "null")) {
			n = lit_node(p, json_null());
			return n && lex(p) == 0 ? n : (node_free(n), NULL);
		}
		if (is_reserved(p->t.s.data))
			return fail_at(p, p->t.off, "expected a value, not the keyword %s",
				       tok_text(p, b, sizeof b));
		{
			/* a function call, or a field */
			size_t i = p->pos;
			while (i < p->n && (p->src[i] == ' ' || p->src[i] == '\t' ||
					    p->src[i] == '\n' || p->src[i] == '\r'))
				i++;
			if (i < p->n && p->src[i] == '(') {
				for (size_t f = 0; f < sizeof functions / sizeof *functions; f++)
					if (strcasecmp(functions[f].name, p->t.s.data) == 0)
						return parse_call(p, (int)f, p->t.off);
				return fail_at(p, p->t.off, "unknown function %s", tok_text(p, b, sizeof b));
			}
		}
		return parse_field(p);
	default:
		if (p->t.kind == T_END)
			return fail_at(p, p->t.off, "expected a value");
		return fail_at(p, p->t.off, "expected a value, not %s", tok_text(p, b, sizeof b));
	}
}

static node *parse_power(parser *p);

/* -x, +x and what they apply to. */
static node *parse_prefix(parser *p)
{
	if (p->t.kind == T_MINUS || p->t.kind == T_PLUS) {
		int minus = p->t.kind == T_MINUS;
		size_t off = p->t.off;
		node *a, *n;
		if (++p->depth > MAX_DEPTH)
			return fail_at(p, off, "the expression nests too deeply");
		if (lex(p) < 0)
			return NULL;
		if (!starts_value(p))
			return expected(p, "a value", off, 1);
		if (!(a = parse_prefix(p)))
			return NULL;
		p->depth--;
		if (!minus)
			return a;
		/* fold a negative literal */
		if (a->type == N_LIT && json_is_integer(a->lit) &&
		    json_integer_value(a->lit) != INT64_MIN) {
			json_integer_set(a->lit, -json_integer_value(a->lit));
			return a;
		}
		if (a->type == N_LIT && json_is_real(a->lit)) {
			json_real_set(a->lit, -json_real_value(a->lit));
			return a;
		}
		if (!(n = new_node(p, N_NEG))) {
			node_free(a);
			return NULL;
		}
		n->a = a;
		return n;
	}
	return parse_power(p);
}

static node *binary(parser *p, int type, int op, node *a, node *b)
{
	node *n;

	if (!a || !b) {
		node_free(a);
		node_free(b);
		return NULL;
	}
	if (!(n = new_node(p, type))) {
		node_free(a);
		node_free(b);
		return NULL;
	}
	n->op = op;
	n->a = a;
	n->b = b;
	return n;
}

/* A value and its power: a ** b, right-associative, binding tighter than a sign. */
static node *parse_power(parser *p)
{
	node *a = parse_primary(p);

	if (a && p->t.kind == T_POW) {
		size_t off = p->t.off;
		if (lex(p) < 0)
			return node_free(a), NULL;
		if (!starts_value(p))
			return node_free(a), expected(p, "a value", off, 2);
		if (++p->depth > MAX_DEPTH)
			return node_free(a), fail_at(p, off, "the expression nests too deeply");
		node *b = parse_prefix(p);
		p->depth--;
		return binary(p, N_ARITH, AR_POW, a, b);
	}
	return a;
}

/* The arithmetic operator of a token at a level (0 sums, 1 products), or -1. */
static int arith_op(int level, int kind)
{
	if (level == 0)
		return kind == T_PLUS ? AR_ADD : kind == T_MINUS ? AR_SUB : -1;
	return kind == T_STAR ? AR_MUL : kind == T_SLASH ? AR_DIV : kind == T_PERCENT ? AR_MOD : -1;
}

/*
 * Sums (level 0) and products (level 1).  They group from the left, so
 * each operator is one more level of the tree under it: a long chain
 * nests as deeply as it is long.
 */
static node *parse_arith(parser *p, int level)
{
	node *a = level ? parse_prefix(p) : parse_arith(p, 1);
	int levels = 0, op;

	while (a && (op = arith_op(level, p->t.kind)) >= 0) {
		size_t off = p->t.off;
		if (levels++, ++p->depth > MAX_DEPTH)
			return node_free(a), fail_at(p, off, "the expression nests too deeply");
		if (lex(p) < 0)
			return node_free(a), NULL;
		if (!starts_value(p))
			return node_free(a), expected(p, "a value", off, 1);
		a = binary(p, N_ARITH, op, a, level ? parse_prefix(p) : parse_arith(p, 1));
	}
	p->depth -= levels;
	return a;
}

static node *parse_sum(parser *p)
{
	return parse_arith(p, 0);
}

static int cmp_op(int kind)
{
	switch (kind) {
	case T_EQ: return OP_EQ;
	case T_NE: return OP_NE;
	case T_LT: return OP_LT;
	case T_LE: return OP_LE;
	case T_GT: return OP_GT;
	case T_GE: return OP_GE;
	default: return -1;
	}
}

/* Appends b to the and-node n (made from a when n is NULL). */
static node *and_add(parser *p, node *n, node *b)
{
	node **k;

	if (!n || !b) {
		node_free(n);
		node_free(b);
		return NULL;
	}
	if (!(k = realloc(n->kids, (n->nkids + 1) * sizeof *k))) {
		node_free(n);
		node_free(b);
		return nomem(p);
	}
	n->kids = k;
	n->kids[n->nkids++] = b;
	return n;
}

/* Compiles a LIKE pattern: '%', '_', and '\' escaping the next character. */
static int like_compile(parser *p, node *n, const char *s, size_t len)
{
	like_pat *lp = &n->like;

	if (!(lp->text = malloc(len + 1)) || !(lp->tok = malloc((len + 1) * sizeof *lp->tok)))
		return nomem(p), -1;
	size_t out = 0;
	for (size_t i = 0; i < len;) {
		char c = s[i];
		if (c == '%' || c == '_') {
			int kind = c == '%' ? LK_ANY : LK_ONE;
			/* %% is %; a run of % matches what one does */
			if (!(kind == LK_ANY && lp->ntok && lp->tok[lp->ntok - 1].kind == LK_ANY))
				lp->tok[lp->ntok++] = (like_tok){kind, 0, 0};
			i++;
			continue;
		}
		if (c == '\\' && i + 1 < len)
			i++;
		if (!lp->ntok || lp->tok[lp->ntok - 1].kind != LK_LIT)
			lp->tok[lp->ntok++] = (like_tok){LK_LIT, out, 0};
		lp->text[out++] = s[i++];
		lp->tok[lp->ntok - 1].len++;
	}
	return 0;
}

static int compile_regex(parser *p, node *n, const char *s, size_t len, size_t off)
{
	int code;
	PCRE2_SIZE at;

	n->re = pcre2_compile((PCRE2_SPTR)s, len, PCRE2_UTF, &code, &at, NULL);
	if (!n->re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof msg);
		fail_at(p, off, "bad regular expression: %s (at offset %zu of the pattern)",
			(const char *)msg, (size_t)at);
		return -1;
	}
	(void)pcre2_jit_compile(n->re, PCRE2_JIT_COMPLETE);
	if (!(n->md = pcre2_match_data_create_from_pattern(n->re, NULL)))
		return nomem(p), -1;
	return 0;
}

/* A string operand of like, =~ or !~: a string literal or a parameter. */
static int pattern_operand(parser *p, const char *op, size_t op_off, size_t op_len,
			   const char **s, size_t *len, json_t **hold)
{
	*hold = NULL;
	if (p->t.kind == T_STRING) {
		*s = p->t.s.data;
		*len = p->t.s.len;
		return 0;
	}
	if (p->t.kind == T_PARAM) {
		json_t *v = param_value(p);
		if (!v)
			return -1;
		if (!json_is_string(v)) {
			json_decref(v);
			fail_at(p, p->t.off, "the parameter {%s} must be a string after '%s'",
				p->t.s.data, op);
			return -1;
		}
		*hold = v;
		*s = json_string_value(v);
		*len = json_string_length(v);
		return 0;
	}
	expected(p, "a quoted pattern", op_off, op_len);
	return -1;
}

/* A value followed by what may be said of it: comparisons, in, like, =~, is null. */
static node *parse_predicate(parser *p)
{
	node *a, *n, *chain = NULL;

	if (is_kw(p, "exists")) {
		size_t off = p->t.off;
		if (lex(p) < 0)
			return NULL;
		if (p->t.kind != T_IDENT || is_reserved(p->t.s.data))
			return expected(p, "a field", off, 6);
		if (!(a = parse_field(p)))
			return NULL;
		if (!(n = new_node(p, N_EXISTS)))
			return node_free(a), NULL;
		n->a = a;
		return n;
	}
	if (!(a = parse_sum(p)))
		return NULL;
	/* comparisons, chained: a < b <= c means a < b and b <= c */
	if (cmp_op(p->t.kind) >= 0) {
		if (!(chain = new_node(p, N_CMP)))
			goto fail;
		if (!(chain = and_add(p, chain, a))) {
			a = NULL;
			goto fail;
		}
		a = NULL;
		while (cmp_op(p->t.kind) >= 0) {
			int *ops = realloc(chain->ops, chain->nkids * sizeof *ops);
			size_t off = p->t.off, len = p->t.len;
			node *rhs;
			if (!ops) {
				nomem(p);
				goto fail;
			}
			chain->ops = ops;
			ops[chain->nkids - 1] = cmp_op(p->t.kind);
			if (lex(p) < 0)
				goto fail;
			if (!starts_value(p)) {
				expected(p, "a value", off, len);
				goto fail;
			}
			if (!(rhs = parse_sum(p)) || !(chain = and_add(p, chain, rhs)))
				goto fail;
		}
		return chain;
	}
	if (is_kw(p, "in") || (is_kw(p, "not") && next_is_kw(p, "in"))) {
		int neg = is_kw(p, "not");
		size_t off = p->t.off, end;
		json_t *list;
		if (lex(p) < 0 || (neg && lex(p) < 0))
			goto fail;
		end = neg ? off + 3 : off + 2; /* "not" .. "in": measured below */
		if (neg) {
			size_t i = off + 3;
			while (i < p->n && (p->src[i] == ' ' || p->src[i] == '\t' || p->src[i] == '\n' ||
					    p->src[i] == '\r'))
				i++;
			end = i + 2;
		}
		if (p->t.kind == T_LBRACK) {
			if (!(list = parse_list(p)))
				goto fail;
		} else if (p->t.kind == T_PARAM) {
			if (!(list = param_value(p)))
				goto fail;
			if (!json_is_array(list)) {
				json_decref(list);
				fail_at(p, p->t.off, "the parameter {%s} must be a list after 'in'",
					p->t.s.data);
				goto fail;
			}
			if (lex(p) < 0) {
				json_decref(list);
				goto fail;
			}
		} else {
			expected(p, "a list in [ ]", off, end - off);
			goto fail;
		}
		if (!(n = new_node(p, N_IN))) {
			json_decref(list);
			goto fail;
		}
		n->neg = neg;
		n->a = a;
		n->lit = list;
		return n;
	}
	if (is_kw(p, "like") || p->t.kind == T_MATCH || p->t.kind == T_NMATCH) {
		int like = is_kw(p, "like"), neg = p->t.kind == T_NMATCH;
		size_t off = p->t.off, len = p->t.len;
		const char *opname = like ? "like" : neg ? "!~" : "=~";
		const char *s;
		size_t sl, at;
		json_t *hold;
		if (lex(p) < 0)
			goto fail;
		at = p->t.off;
		if (pattern_operand(p, opname, off, len, &s, &sl, &hold) < 0)
			goto fail;
		if (!(n = new_node(p, like ? N_LIKE : N_REGEX))) {
			json_decref(hold);
			goto fail;
		}
		n->neg = neg;
		n->a = a;
		a = NULL;
		int r = like ? like_compile(p, n, s, sl) : compile_regex(p, n, s, sl, at);
		json_decref(hold);
		if (r < 0 || lex(p) < 0) {
			node_free(n);
			return NULL;
		}
		return n;
	}
	if (is_kw(p, "is")) {
		size_t off = p->t.off, end = p->t.off + 2;
		int neg = 0;
		if (lex(p) < 0)
			goto fail;
		if (is_kw(p, "not")) {
			neg = 1;
			end = p->t.off + 3;
			if (lex(p) < 0)
				goto fail;
		}
		if (!is_kw(p, "null")) {
			expected(p, "null", off, end - off);
			goto fail;
		}
		if (lex(p) < 0 || !(n = new_node(p, N_ISNULL)))
			goto fail;
		n->neg = neg;
		n->a = a;
		return n;
	}
	return a;
fail:
	node_free(a);
	node_free(chain);
	return NULL;
}

static node *parse_not(parser *p)
{
	if (is_kw(p, "not") || p->t.kind == T_BANG) {
		size_t off = p->t.off, len = p->t.len;
		node *a, *n;
		if (lex(p) < 0)
			return NULL;
		if (++p->depth > MAX_DEPTH)
			return fail_at(p, off, "the expression nests too deeply");
		if (!starts_value(p) && !is_kw(p, "not") && !is_kw(p, "exists") &&
		    p->t.kind != T_BANG)
			return expected(p, "a condition", off, len);
		a = parse_not(p);
		p->depth--;
		if (!a || !(n = new_node(p, N_NOT)))
			return node_free(a), NULL;
		n->a = a;
		return n;
	}
	if (!starts_value(p) && !is_kw(p, "exists")) {
		char b[64];
		if (p->t.kind == T_END)
			return fail_at(p, p->t.off, "expected a condition");
		return fail_at(p, p->t.off, "expected a condition, not %s", tok_text(p, b, sizeof b));
	}
	return parse_predicate(p);
}

/* and / && (type N_AND, words "and") or or / || (N_OR). */
static node *parse_logic(parser *p, int type)
{
	const char *word = type == N_AND ? "and" : "or";
	int sym = type == N_AND ? T_ANDAND : T_OROR;
	node *a = type == N_AND ? parse_not(p) : parse_logic(p, N_AND), *n;

	if (!a || !(is_kw(p, word) || p->t.kind == sym))
		return a;
	if (!(n = new_node(p, type)))
		return node_free(a), NULL;
	if (!(n = and_add(p, n, a)))
		return NULL;
	while (is_kw(p, word) || p->t.kind == sym) {
		size_t off = p->t.off, len = p->t.len;
		node *b;
		if (lex(p) < 0)
			break;
		if (!starts_value(p) && !is_kw(p, "not") && !is_kw(p, "exists") &&
		    p->t.kind != T_BANG) {
			expected(p, "a condition", off, len);
			break;
		}
		if (!(b = type == N_AND ? parse_not(p) : parse_logic(p, N_AND)))
			break;
		if (!(n = and_add(p, n, b)))
			return NULL;
	}
	if (p->failed) {
		node_free(n);
		return NULL;
	}
	return n;
}

static node *parse_expr(parser *p)
{
	node *n;

	if (++p->depth > MAX_DEPTH)
		return fail_at(p, p->t.off, "the expression nests too deeply");
	n = parse_logic(p, N_OR);
	p->depth--;
	return n;
}

/* Records the top-level fields the tree reads, and whether it has a regex. */
static int collect_fields(rag_filter *f, const node *n)
{
	if (!n)
		return 0;
	if (n->type == N_REGEX)
		f->regex = 1;
	if (n->type == N_FIELD) {
		/* a first key with a NUL in it cannot be named by a C string */
		if (!n->nsteps || !n->steps[0].key || strlen(n->steps[0].key) != n->steps[0].len) {
			f->whole = 1;
		} else {
			size_t i;
			for (i = 0; i < f->nfields; i++)
				if (strcmp(f->fields[i], n->steps[0].key) == 0)
					break;
			if (i == f->nfields) {
				char **v = realloc(f->fields, (f->nfields + 2) * sizeof *v);
				if (!v)
					return -1;
				f->fields = v;
				if (!(v[f->nfields] = strdup(n->steps[0].key)))
					return -1;
				v[++f->nfields] = NULL;
			}
		}
	}
	if (collect_fields(f, n->a) < 0 || collect_fields(f, n->b) < 0)
		return -1;
	for (size_t i = 0; i < n->nkids; i++)
		if (collect_fields(f, n->kids[i]) < 0)
			return -1;
	return 0;
}

rag_filter *rag_filter_compile(const char *expr, const rag_filter_param *params, size_t nparams,
			       rag_error *err)
{
	parser p;
	rag_filter *f = calloc(1, sizeof *f);

	if (!f) {
		rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		return NULL;
	}
	memset(&p, 0, sizeof p);
	p.src = expr;
	p.n = strlen(expr);
	p.err = err;
	p.params = params;
	p.nparams = nparams;
	p.f = f;
	rag_buf_init(&p.t.s, 0);
	if (rag_utf8_valid_prefix(expr, p.n) != p.n) {
		fail_at(&p, rag_utf8_valid_prefix(expr, p.n), "the expression is not valid UTF-8");
		goto fail;
	}
	if (lex(&p) < 0)
		goto fail;
	if (p.t.kind == T_END) {
		fail_at(&p, 0, "the expression is empty");
		goto fail;
	}
	/* the whole expression is not a level of nesting; parentheses are */
	if (!(f->root = parse_logic(&p, N_OR)))
		goto fail;
	if (p.t.kind != T_END) {
		char b[64];
		fail_at(&p, p.t.off, "unexpected %s: expected 'and', 'or' or the end",
			tok_text(&p, b, sizeof b));
		goto fail;
	}
	if (collect_fields(f, f->root) < 0) {
		nomem(&p);
		goto fail;
	}
	if (f->regex) {
		if (!(f->mctx = pcre2_match_context_create(NULL))) {
			nomem(&p);
			goto fail;
		}
		/* without a JIT stack (no JIT here), matching just uses the interpreter */
		if ((f->jit = pcre2_jit_stack_create(32u << 10, JIT_STACK_MAX, NULL)))
			pcre2_jit_stack_assign(f->mctx, NULL, f->jit);
	}
	if (!f->fields && !(f->fields = calloc(1, sizeof *f->fields))) {
		nomem(&p);
		goto fail;
	}
	{
		static uint64_t serials;
		f->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
	}
	rag_buf_free(&p.t.s);
	return f;
fail:
	rag_buf_free(&p.t.s);
	rag_filter_free(f);
	return NULL;
}

void rag_filter_free(rag_filter *f)
{
	if (!f)
		return;
	node_free(f->root);
	if (f->mctx)
		pcre2_match_context_free(f->mctx);
	if (f->jit)
		pcre2_jit_stack_free(f->jit);
	for (size_t i = 0; i < f->nfields; i++)
		free(f->fields[i]);
	free(f->fields);
	free(f);
}

const char *const *rag_filter_fields(const rag_filter *f, int *whole)
{
	if (whole)
		*whole = f->whole;
	return (const char *const *)f->fields;
}

/* ---- evaluation ---- */

enum vt { V_MISSING, V_NULL, V_BOOL, V_INT, V_REAL, V_STR, V_ARR, V_OBJ };

typedef struct val {
	int t;
	int b;
	long long i;
	double r;
	const char *s;
	size_t n;
	const json_t *j; /* V_ARR, V_OBJ */
} val;

static val mk(int t)
{
	val v;

	memset(&v, 0, sizeof v);
	v.t = t;
	return v;
}

static val from_json(const json_t *j)
{
	val v = mk(V_MISSING);

	if (!j)
		return v;
	switch (json_typeof(j)) {
	case JSON_NULL: v.t = V_NULL; break;
	case JSON_TRUE: v.t = V_BOOL; v.b = 1; break;
	case JSON_FALSE: v.t = V_BOOL; break;
	case JSON_INTEGER: v.t = V_INT; v.i = json_integer_value(j); break;
	case JSON_REAL: v.t = V_REAL; v.r = json_real_value(j); break;
	case JSON_STRING:
		v.t = V_STR;
		v.s = json_string_value(j);
		v.n = json_string_length(j);
		break;
	case JSON_ARRAY: v.t = V_ARR; v.j = j; break;
	case JSON_OBJECT: v.t = V_OBJ; v.j = j; break;
	}
	return v;
}

/* An integer against a real, exactly: <0, 0, >0; 2 when r is NaN. */
static int cmp_int_real(long long i, double r)
{
	long long t;
	double frac;

	if (r != r)
		return 2;
	if (r >= 9223372036854775808.0)
		return -1;
	if (r < -9223372036854775808.0)
		return 1;
	t = (long long)r;
	if (i != t)
		return i < t ? -1 : 1;
	frac = r - (double)t;
	return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int is_num(const val *v)
{
	return v->t == V_INT || v->t == V_REAL;
}

/* Numbers: <0, 0, >0, or 2 when not comparable (NaN). */
static int cmp_num(const val *a, const val *b)
{
	if (a->t == V_INT && b->t == V_INT)
		return (a->i > b->i) - (a->i < b->i);
	if (a->t == V_INT)
		return cmp_int_real(a->i, b->r);
	if (b->t == V_INT) {
		int c = cmp_int_real(b->i, a->r);
		return c == 2 ? 2 : -c;
	}
	if (a->r != a->r || b->r != b->r)
		return 2;
	return (a->r > b->r) - (a->r < b->r);
}

static int cmp_str(const val *a, const val *b)
{
	size_t m = a->n < b->n ? a->n : b->n;
	int c = memcmp(a->s, b->s, m);

	return c ? (c > 0) - (c < 0) : (a->n > b->n) - (a->n < b->n);
}

static int json_eq(const json_t *x, const json_t *y);

/* Deep equality of two present, non-null values; numbers by value. */
static int val_eq(const val *a, const val *b)
{
	if (is_num(a) && is_num(b))
		return cmp_num(a, b) == 0;
	if (a->t != b->t)
		return 0;
	switch (a->t) {
	case V_BOOL: return a->b == b->b;
	case V_STR: return a->n == b->n && memcmp(a->s, b->s, a->n) == 0;
	case V_ARR:
	case V_OBJ: return json_eq(a->j, b->j);
	case V_NULL: return 1;
	default: return 0;
	}
}

static int json_eq(const json_t *x, const json_t *y)
{
	val a = from_json(x), b = from_json(y);

	if (a.t == V_ARR && b.t == V_ARR) {
		size_t n = json_array_size(x);
		if (n != json_array_size(y))
			return 0;
		for (size_t i = 0; i < n; i++)
			if (!json_eq(json_array_get(x, i), json_array_get(y, i)))
				return 0;
		return 1;
	}
	if (a.t == V_OBJ && b.t == V_OBJ) {
		const char *k;
		size_t kl;
		json_t *v;
		if (json_object_size(x) != json_object_size(y))
			return 0;
		json_object_keylen_foreach((json_t *)x, k, kl, v)
		{
			const json_t *w = json_object_getn(y, k, kl);
			if (!w || !json_eq(v, w))
				return 0;
		}
		return 1;
	}
	return val_eq(&a, &b);
}

/* The comparison op of a and b: 1 or 0 (missing, null, mismatched: 0). */
static int compare(int op, const val *a, const val *b)
{
	int c;

	if (a->t <= V_NULL || b->t <= V_NULL)
		return 0;
	if (op == OP_EQ || op == OP_NE) {
		int comparable = (is_num(a) && is_num(b)) || a->t == b->t;
		if (!comparable)
			return 0;
		if (is_num(a) && cmp_num(a, b) == 2)
			return 0;
		return val_eq(a, b) == (op == OP_EQ);
	}
	if (is_num(a) && is_num(b))
		c = cmp_num(a, b);
	else if (a->t == V_STR && b->t == V_STR)
		c = cmp_str(a, b);
	else
		return 0;
	if (c == 2)
		return 0;
	switch (op) {
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	default: return c >= 0;
	}
}

static val real(double r)
{
	val v = mk(V_REAL);

	v.r = r;
	return v;
}

static val integer(long long i)
{
	val v = mk(V_INT);

	v.i = i;
	return v;
}

static double as_real(const val *v)
{
	return v->t == V_INT ? (double)v->i : v->r;
}

static val arith(int op, const val *a, const val *b)
{
	long long r;

	if (!is_num(a) || !is_num(b))
		return mk(V_MISSING);
	if (a->t == V_INT && b->t == V_INT) {
		switch (op) {
		case AR_ADD:
			if (!__builtin_add_overflow(a->i, b->i, &r))
				return integer(r);
			break;
		case AR_SUB:
			if (!__builtin_sub_overflow(a->i, b->i, &r))
				return integer(r);
			break;
		case AR_MUL:
			if (!__builtin_mul_overflow(a->i, b->i, &r))
				return integer(r);
			break;
		case AR_MOD:
			if (b->i == 0)
				return mk(V_MISSING);
			return integer(b->i == -1 ? 0 : a->i % b->i);
		case AR_POW:
			if (b->i >= 0) {
				long long base = a->i, e = b->i, acc = 1;
				int over = 0;
				while (e && !over) {
					if (e & 1)
						over |= __builtin_mul_overflow(acc, base, &acc);
					e >>= 1;
					if (e)
						over |= __builtin_mul_overflow(base, base, &base);
				}
				if (!over)
					return integer(acc);
			}
			break;
		default:
			break;
		}
	}
	double x = as_real(a), y = as_real(b), z;
	switch (op) {
	case AR_ADD: z = x + y; break;
	case AR_SUB: z = x - y; break;
	case AR_MUL: z = x * y; break;
	case AR_DIV:
		if (y == 0)
			return mk(V_MISSING);
		z = x / y;
		break;
	case AR_MOD:
		if (y == 0)
			return mk(V_MISSING);
		z = fmod(x, y);
		break;
	default: z = pow(x, y); break;
	}
	return isfinite(z) ? real(z) : mk(V_MISSING);
}

/* One UTF-8 character's length at s[0] (1 for a stray byte). */
static size_t char_len(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	size_t k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;

	return k <= n ? k : n;
}

static int like_match(const like_pat *lp, const char *s, size_t n)
{
	size_t t = 0, i = 0, star_t = SIZE_MAX, star_i = 0;

	while (t < lp->ntok || i < n) {
		if (t < lp->ntok) {
			const like_tok *k = &lp->tok[t];
			if (k->kind == LK_ANY) {
				star_t = t++;
				star_i = i;
				continue;
			}
			if (k->kind == LK_ONE && i < n) {
				i += char_len(s + i, n - i);
				t++;
				continue;
			}
			if (k->kind == LK_LIT && i + k->len <= n &&
			    memcmp(s + i, lp->text + k->off, k->len) == 0) {
				i += k->len;
				t++;
				continue;
			}
		}
		if (star_t != SIZE_MAX && star_i < n) {
			star_i += char_len(s + star_i, n - star_i);
			i = star_i;
			t = star_t + 1;
			continue;
		}
		return 0;
	}
	return 1;
}

static val eval(rag_filter *f, const node *n, const json_t *rec);

static int truth(rag_filter *f, const node *n, const json_t *rec)
{
	val v = eval(f, n, rec);

	return v.t == V_BOOL && v.b;
}

static val boolean(int b)
{
	val v = mk(V_BOOL);

	v.b = b != 0;
	return v;
}

/* Whether field nodes a and b name the same path. */
static int same_path(const node *a, const node *b)
{
	if (a->nsteps != b->nsteps)
		return 0;
	for (size_t i = 0; i < a->nsteps; i++) {
		const step *x = &a->steps[i], *y = &b->steps[i];
		if (!x->key != !y->key)
			return 0;
		if (x->key ? x->len != y->len || memcmp(x->key, y->key, x->len) != 0
			   : x->index != y->index)
			return 0;
	}
	return 1;
}

static const json_t *path_get(const node *n, const json_t *rec)
{
	const json_t *j = rec;

	for (size_t i = 0; i < n->nsteps && j; i++) {
		const step *s = &n->steps[i];
		if (s->key)
			j = json_is_object(j) ? json_object_getn(j, s->key, s->len) : NULL;
		else
			j = json_is_array(j) ? json_array_get(j, s->index) : NULL;
	}
	return j;
}

static val lookup(const rag_filter *f, const node *n, const json_t *rec)
{
	if (f->as && same_path(n, f->as))
		return from_json(f->as_value);
	return from_json(path_get(n, rec));
}

/* Whether the array arr holds a value equal to x. */
static int holds(const json_t *arr, const val *x)
{
	size_t k = json_array_size(arr);

	if (x->t <= V_NULL)
		return 0;
	for (size_t i = 0; i < k; i++) {
		val e = from_json(json_array_get(arr, i));
		if (e.t > V_NULL && val_eq(&e, x))
			return 1;
	}
	return 0;
}

static val call(rag_filter *f, const node *n, const json_t *rec)
{
	val a = eval(f, n->kids[0], rec), b;
	size_t k;

	if (n->op == FN_ARRAY_LENGTH)
		return a.t == V_ARR ? integer((long long)json_array_size(a.j)) : mk(V_MISSING);
	b = eval(f, n->kids[1], rec);
	if (a.t != V_ARR)
		return boolean(0);
	switch (n->op) {
	case FN_ARRAY_CONTAINS:
	case FN_JSON_CONTAINS:
		return boolean(holds(a.j, &b));
	case FN_ARRAY_CONTAINS_ALL:
	case FN_JSON_CONTAINS_ALL:
		if (b.t != V_ARR)
			return boolean(0);
		k = json_array_size(b.j);
		for (size_t i = 0; i < k; i++) {
			val e = from_json(json_array_get(b.j, i));
			if (!holds(a.j, &e))
				return boolean(0);
		}
		return boolean(1);
	default:
		if (b.t != V_ARR)
			return boolean(0);
		k = json_array_size(b.j);
		for (size_t i = 0; i < k; i++) {
			val e = from_json(json_array_get(b.j, i));
			if (holds(a.j, &e))
				return boolean(1);
		}
		return boolean(0);
	}
}

static val eval(rag_filter *f, const node *n, const json_t *rec)
{
	val a, b;

	switch (n->type) {
	case N_LIT:
		return from_json(n->lit);
	case N_FIELD:
		return lookup(f, n, rec);
	case N_AND:
		for (size_t i = 0; i < n->nkids; i++)
			if (!truth(f, n->kids[i], rec))
				return boolean(0);
		return boolean(1);
	case N_OR:
		for (size_t i = 0; i < n->nkids; i++)
			if (truth(f, n->kids[i], rec))
				return boolean(1);
		return boolean(0);
	case N_NOT:
		return boolean(!truth(f, n->a, rec));
	case N_CMP:
		a = eval(f, n->kids[0], rec);
		for (size_t i = 1; i < n->nkids; i++) {
			b = eval(f, n->kids[i], rec);
			if (!compare(n->ops[i - 1], &a, &b))
				return boolean(0);
			a = b;
		}
		return boolean(1);
	case N_IN:
		a = eval(f, n->a, rec);
		if (a.t <= V_NULL)
			return boolean(0);
		return boolean(holds(n->lit, &a) != n->neg);
	case N_LIKE:
		a = eval(f, n->a, rec);
		return boolean(a.t == V_STR && like_match(&n->like, a.s, a.n));
	case N_REGEX: {
		int r;
		a = eval(f, n->a, rec);
		if (a.t != V_STR)
			return boolean(n->neg);
		r = pcre2_match(n->re, (PCRE2_SPTR)a.s, a.n, 0, PCRE2_NO_UTF_CHECK, n->md, f->mctx);
		if (r == PCRE2_ERROR_JIT_STACKLIMIT)
			/* the interpreter backtracks on the heap, within PCRE2's own limits */
			r = pcre2_match(n->re, (PCRE2_SPTR)a.s, a.n, 0,
					PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, n->md, f->mctx);
		if (r < 0 && r != PCRE2_ERROR_NOMATCH && !f->failed) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(r, msg, sizeof msg);
			f->failed = 1;
			rag_error_set(&f->err, RAG_EDATA, NULL, 0, "regular expression: %s",
				      (const char *)msg);
		}
		return boolean((r >= 0) != n->neg);
	}
	case N_ISNULL:
		a = eval(f, n->a, rec);
		return boolean((a.t <= V_NULL) != n->neg);
	case N_EXISTS:
		a = eval(f, n->a, rec);
		return boolean(a.t != V_MISSING);
	case N_ARITH:
		a = eval(f, n->a, rec);
		b = eval(f, n->b, rec);
		return arith(n->op, &a, &b);
	case N_NEG:
		a = eval(f, n->a, rec);
		if (a.t == V_INT && a.i != INT64_MIN)
			return integer(-a.i);
		if (a.t == V_INT)
			return real(-(double)a.i);
		if (a.t == V_REAL)
			return real(-a.r);
		return mk(V_MISSING);
	case N_CALL:
		return call(f, n, rec);
	}
	return mk(V_MISSING);
}

int rag_filter_match(rag_filter *f, const json_t *record, rag_error *err)
{
	int r;

	f->failed = 0;
	r = truth(f, f->root, record);
	if (f->failed) {
		if (err)
			*err = f->err;
		return -1;
	}
	return r;
}

/* ---- indexed fields ---- */

rag_filter *rag_filter_path(const char *path, rag_error *err)
{
	rag_filter *f = rag_filter_compile(path, NULL, 0, err);

	if (f ? f->root->type != N_FIELD || f->root->nsteps == 0 || !f->root->steps[0].key
	      : err->code == RAG_EUSAGE) {
		rag_filter_free(f);
		rag_error_set(err, RAG_EUSAGE, NULL, 0,
			      "%s is not a field path (a name, a.b, a[\"b\"] or a[0])", rag_quote(0, path));
		return NULL;
	}
	return f;
}

const json_t *rag_filter_path_get(const rag_filter *path, const json_t *record)
{
	return path_get(path->root, record);
}

int rag_filter_path_text(const rag_filter *path, rag_buf *out)
{
	const node *n = path->root;

	rag_buf_truncate(out, 0);
	for (size_t i = 0; i < n->nsteps; i++) {
		const step *s = &n->steps[i];
		int plain = s->key && s->len && is_ident_start((unsigned char)s->key[0]) &&
			    s->key[0] != '$' && !is_reserved(s->key) && strlen(s->key) == s->len;
		for (size_t k = 1; plain && k < s->len; k++)
			plain = is_ident((unsigned char)s->key[k]);
		if (!s->key) {
			if (rag_buf_addf(out, "[%zu]", s->index) < 0)
				return -1;
		} else if (plain) {
			if ((i && rag_buf_addc(out, '.') < 0) || rag_buf_add(out, s->key, s->len) < 0)
				return -1;
		} else if (rag_buf_addc(out, i ? '[' : '$') < 0 ||
			   (!i && rag_buf_adds(out, "meta[") < 0) ||
			   rag_json_add_string(out, s->key, s->len) < 0 || rag_buf_addc(out, ']') < 0) {
			return -1;
		}
	}
	return 0;
}

uint64_t rag_filter_serial(const rag_filter *f)
{
	return f->serial;
}

/* Records that may match part of the tree: bits NULL for all of them. */
typedef struct sel {
	unsigned char *bits;
	int exact; /* the records set (all, for NULL) match, and no others */
} sel;

/*
 * The column that every field the subtree n reads is: its number, -2 when
 * n reads no field at all, -1 when it reads another field or several.
 */
static long column_of(const rag_filter_columns *c, const node *n, long col)
{
	if (!n || col == -1)
		return col;
	if (n->type == N_FIELD) {
		size_t i;
		for (i = 0; i < c->n; i++)
			if (n->nsteps && same_path(n, c->path(c->arg, i)->root))
				break;
		if (i == c->n || (col >= 0 && (size_t)col != i))
			return -1;
		col = (long)i;
	}
	col = column_of(c, n->a, column_of(c, n->b, col));
	for (size_t i = 0; i < n->nkids && col != -1; i++)
		col = column_of(c, n->kids[i], col);
	return col;
}

static void trim_bits(unsigned char *bits, uint32_t n)
{
	if (n % 8)
		bits[n / 8] &= (unsigned char)((1u << (n % 8)) - 1);
}

/*
 * n evaluated on each distinct value of column col (-2: on nothing).  When
 * a regular expression fails on some value, the part is left to
 * rag_filter_match (no narrowing, not exact), so that only a record that
 * is actually asked about can make a search fail, as without the index.
 */
static int select_values(rag_filter *f, const rag_filter_columns *c, long col, const node *n,
			 uint32_t nrec, sel *out, rag_error *err)
{
	size_t bytes = ((size_t)nrec + 7) / 8, nv = col >= 0 ? c->nvalues(c->arg, (size_t)col) : 0;
	int missing, rc = -1;

	out->bits = NULL;
	out->exact = 0;
	f->failed = 0;
	f->as = col >= 0 ? c->path(c->arg, (size_t)col)->root : NULL;
	f->as_value = NULL;
	missing = truth(f, n, NULL);
	if (!(out->bits = malloc(bytes ? bytes : 1))) {
		rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		goto out;
	}
	memset(out->bits, missing ? 0xff : 0, bytes);
	for (size_t j = 0; j < nv && !f->failed; j++) {
		int t;
		if (!(f->as_value = c->value(c->arg, (size_t)col, j, err)))
			goto out;
		t = truth(f, n, NULL);
		if (t != missing && !f->failed &&
		    c->mark(c->arg, (size_t)col, j, out->bits, t, err) < 0)
			goto out;
	}
	if (f->failed) {
		free(out->bits);
		out->bits = NULL;
		f->failed = 0;
	} else {
		trim_bits(out->bits, nrec);
		out->exact = 1;
	}
	rc = 0;
out:
	f->as = NULL;
	if (rc < 0) {
		free(out->bits);
		out->bits = NULL;
	}
	return rc;
}

static int select_node(rag_filter *f, const rag_filter_columns *c, const node *n, uint32_t nrec,
		       sel *out, rag_error *err)
{
	size_t bytes = ((size_t)nrec + 7) / 8;
	long col = column_of(c, n, -2);

	out->bits = NULL;
	out->exact = 0;
	if (col != -1)
		return select_values(f, c, col, n, nrec, out, err);
	switch (n->type) {
	case N_AND:
	case N_OR: {
		int and = n->type == N_AND, any = 0;
		out->exact = 1;
		for (size_t i = 0; i < n->nkids; i++) {
			sel k;
			if (select_node(f, c, n->kids[i], nrec, &k, err) < 0) {
				free(out->bits);
				out->bits = NULL;
				return -1;
			}
			out->exact &= k.exact;
			if (!k.bits) {
				/* and: no narrowing; or: any record may match */
				if (!and)
					any = 1;
				continue;
			}
			if (!out->bits) {
				out->bits = k.bits;
				continue;
			}
			for (size_t b = 0; b < bytes; b++)
				out->bits[b] = and ? out->bits[b] & k.bits[b] : out->bits[b] | k.bits[b];
			free(k.bits);
		}
		if (any) {
			free(out->bits);
			out->bits = NULL;
		}
		return 0;
	}
	case N_NOT: {
		sel k;
		if (select_node(f, c, n->a, nrec, &k, err) < 0)
			return -1;
		if (!k.exact) {
			free(k.bits);
			return 0;
		}
		if (!k.bits) {
			/* not (every record): none */
			if (!(k.bits = calloc(bytes ? bytes : 1, 1)))
				return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		} else {
			for (size_t b = 0; b < bytes; b++)
				k.bits[b] = (unsigned char)~k.bits[b];
			trim_bits(k.bits, nrec);
		}
		*out = k;
		return 0;
	}
	default:
		return 0;
	}
}

int rag_filter_select(rag_filter *f, const rag_filter_columns *c, uint32_t n,
		      unsigned char **bits, rag_error *err)
{
	sel s;

	*bits = NULL;
	if (select_node(f, c, f->root, n, &s, err) < 0)
		return -1;
	*bits = s.bits;
	return s.exact;
}

int rag_filter_match_text(rag_filter *f, const char *json, size_t len, rag_error *err)
{
	json_t *rec = rag_json_parse(json, len, err);
	int r;

	if (!rec)
		return -2;
	r = rag_filter_match(f, rec, err);
	json_decref(rec);
	return r;
}

json_t *rag_filter_param_value(const char *text)
{
	rag_error e;
	size_t n = strlen(text);
	json_t *v = rag_json_parse(text, n, &e);

	if (v)
		return v;
	if (rag_utf8_valid_prefix(text, n) != n)
		return NULL;
	return json_stringn(text, n);
}

int rag_filter_params_add(rag_filter_params *ps, const char *arg, rag_error *err)
{
	const char *eq = strchr(arg, '=');
	rag_filter_param *v;
	json_t *value;
	char *name;
	size_t i;

	if (!eq || eq == arg)
		return rag_error_set(err, RAG_EUSAGE, NULL, 0, "--param wants NAME=VALUE, not %s",
				     rag_quote(0, arg));
	for (const char *c = arg; c < eq; c++)
		if (!is_ident((unsigned char)*c) || *c == '$')
			return rag_error_set(err, RAG_EUSAGE, NULL, 0,
					     "--param %s: a name is letters, digits and '_'",
					     rag_quote(0, arg));
	if (!(value = rag_filter_param_value(eq + 1)))
		return rag_error_set(err, RAG_EUSAGE, NULL, 0,
				     "--param %s: the value is not valid UTF-8", rag_quote(0, arg));
	for (i = 0; i < ps->n; i++)
		if (strlen(ps->v[i].name) == (size_t)(eq - arg) &&
		    memcmp(ps->v[i].name, arg, (size_t)(eq - arg)) == 0) {
			json_decref(ps->v[i].value);
			ps->v[i].value = value;
			return 0;
		}
	if (!(v = realloc(ps->v, (ps->n + 1) * sizeof *v)) ||
	    !(name = strndup(arg, (size_t)(eq - arg)))) {
		if (v)
			ps->v = v;
		json_decref(value);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	}
	ps->v = v;
	ps->v[ps->n].name = name;
	ps->v[ps->n].value = value;
	ps->n++;
	return 0;
}

void rag_filter_params_free(rag_filter_params *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		free((char *)ps->v[i].name);
		json_decref(ps->v[i].value);
	}
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

const char *rag_filter_caret(const char *expr, const rag_error *err, char *buf, size_t size)
{
	const char *line = expr;
	size_t len, col;

	if (!size)
		return buf;
	buf[0] = '\0';
	if (!err || err->column <= 0 || err->line <= 0)
		return buf;
	for (long l = 1; l < err->line && line; l++) {
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (!line)
		return buf;
	len = strcspn(line, "\n");
	col = (size_t)err->column - 1;
	if (col > len)
		col = len;
	/* the caret goes under the column's character: one space per character */
	int k = snprintf(buf, size, "  %.*s\n  ", (int)len, line);
	for (size_t i = 0; i < col && k >= 0 && (size_t)k + 2 < size; i += char_len(line + i, col - i))
		buf[k++] = line[i] == '\t' ? '\t' : ' ';
	if (k < 0) {
		buf[0] = '\0';
	} else if ((size_t)k + 2 < size) {
		buf[k++] = '^';
		buf[k++] = '\n';
		buf[k] = '\0';
	} else {
		/* cut short: the spaces may have overwritten the end */
		buf[(size_t)k < size ? (size_t)k : size - 1] = '\0';
	}
	return buf;
}
