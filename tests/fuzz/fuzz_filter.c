/*
 * fuzz_filter - the filter expression parser and evaluator over any bytes.
 *
 * The input, up to its first NUL, is compiled as an expression with a few
 * fixed parameters ({n} 42, {r} 2.5, {s} "abc", {b} true, {z} null,
 * {l} [1, "a", null], {o} {"k": [1, 2]}).  A bad expression must be a
 * usage error whose line and column lie inside the expression (or one past
 * the end of its line), and rag_filter_caret must draw it within any
 * buffer.  A good one is matched against a handful of fixed records,
 * twice (the working memory must not change the answer), and "not (EXPR)"
 * must give the opposite answer on each; its field list must be
 * NULL-terminated without repeats.  When the input holds a newline, the
 * text before it is also an expression and the text after it, when it is
 * JSON, a record for it.  The input is also tried as a --param argument.
 *
 * The seeds in tests/fuzz/corpus/filter: 1, an expression using most of
 * the language and the parameters; 2 and 3, an expression line and a
 * record line.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const record_text[] = {
	"{\"a\": 1, \"b\": 2.5, \"s\": \"abc\", \"e\": \"caf\\u00e9\", \"n\": null, \"t\": true,"
	" \"year\": 2021, \"tags\": [\"x\", \"y\", null, 1, true], \"m\": {\"k\": [1, 2, {\"z\": null}],"
	" \"s\": \"a%b_\"}, \"big\": 9223372036854775807, \"neg\": -9223372036854775808,"
	" \"huge\": 1e300, \"odd key\": \"v\", \"l\": [1, \"a\", null], \"o\": {\"k\": [1, 2]}}",
	"{}",
	"{\"a\": \"1\", \"b\": -0.0, \"s\": \"\", \"tags\": [], \"year\": 2024.0, \"m\": [1, 2],"
	" \"t\": false, \"big\": 18446744073709551616, \"a\\u0000b\": \"x\\u0000y\"}",
	"{\"a\": [1, [2, 3]], \"b\": {\"c\": {\"d\": 4}}, \"s\": \"\\u00e9\\u00e9_%\", \"n\": 42,"
	" \"r\": 2.5, \"e\": \"ABC\", \"year\": 1999, \"tags\": [\"x\"]}",
	"[1, 2, 3]",
	"\"a string\"",
	"null",
};

#define NRECORDS (sizeof record_text / sizeof *record_text)

static json_t *records[NRECORDS];
static rag_filter_param params[7];

static void setup(void)
{
	static int done;
	static const char *const names[] = {"n", "r", "s", "b", "z", "l", "o"};
	static const char *const values[] = {"42", "2.5", "\"abc\"", "true",
					     "null", "[1, \"a\", null]", "{\"k\": [1, 2]}"};
	rag_error err;

	if (done)
		return;
	done = 1;
	for (size_t i = 0; i < NRECORDS; i++)
		if (!(records[i] = rag_json_parse(record_text[i], strlen(record_text[i]), &err)))
			abort();
	for (size_t i = 0; i < sizeof params / sizeof *params; i++) {
		params[i].name = names[i];
		if (!(params[i].value = rag_json_parse(values[i], strlen(values[i]), &err)))
			abort();
	}
}

/* rag_filter_caret into a buffer of exactly size bytes stays inside it, terminated. */
static void check_caret_size(const char *expr, const rag_error *err, size_t size)
{
	char *buf = malloc(size);

	if (!buf)
		return;
	memset(buf, 'x', size);
	if (rag_filter_caret(expr, err, buf, size) != buf)
		abort();
	if (strnlen(buf, size) >= size)
		abort(); /* not terminated inside the buffer */
	free(buf);
}

/* The caret of err for expr must fit any buffer and end as promised. */
static void check_caret(const char *expr, const rag_error *err)
{
	static const size_t sizes[] = {1, 2, 3, 7, 64};
	const char *line = expr;
	size_t len = 0, col = err->column > 0 && err->column < 65536 ? (size_t)err->column : 0;
	char big[8192];

	rag_filter_caret(expr, err, big, 0); /* must not touch the buffer */
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		check_caret_size(expr, err, sizes[i]);
	/* every size around where the line, then the caret, stop fitting */
	for (long l = 1; line && l < err->line; l++)
		if ((line = strchr(line, '\n')))
			line++;
	if (line)
		len = strcspn(line, "\n");
	{
		size_t lo = len, hi = 2 * len + col + 8;
		size_t step = (hi - lo) / 24 + 1;
		for (size_t size = lo ? lo : 1; size <= hi; size += step)
			check_caret_size(expr, err, size);
	}
	rag_filter_caret(expr, err, big, sizeof big);
	if (big[0] && 2 * len + col + 8 < sizeof big) {
		/* two lines, the second a caret */
		size_t n = strlen(big);
		const char *nl = strchr(big, '\n');
		if (n < 4 || big[n - 1] != '\n' || big[n - 2] != '^' || !nl || nl + 1 == big + n)
			abort();
	}
}

/* The columns a compile error may point at: inside its line, or just past it. */
static void check_error(const char *expr, const rag_error *err)
{
	const char *line = expr;
	long l;

	if (err->code == RAG_ENOMEM)
		return;
	if (err->code != RAG_EUSAGE || !err->text[0] || strcmp(err->source, "expression") != 0)
		abort();
	if (err->line < 1 || err->column < 1)
		abort();
	for (l = 1; l < err->line; l++) {
		line = strchr(line, '\n');
		if (!line)
			abort(); /* a line the expression does not have */
		line++;
	}
	if ((size_t)err->column > strcspn(line, "\n") + 1)
		abort();
	check_caret(expr, err);
}

/* Matches f (and, when it compiled, its negation g) against rec. */
static void match(rag_filter *f, rag_filter *g, const json_t *rec)
{
	rag_error err;
	int a = rag_filter_match(f, rec, &err), b;

	if (a < -1 || a > 1)
		abort();
	if (a < 0) {
		if (!err.text[0])
			abort();
		return;
	}
	if ((b = rag_filter_match(f, rec, &err)) != a)
		abort(); /* the same record, another answer */
	if (g && (b = rag_filter_match(g, rec, &err)) >= 0 && b == a)
		abort(); /* "not (EXPR)" agrees with EXPR */
}

static void check_fields(const rag_filter *f)
{
	int whole = -1;
	const char *const *v = rag_filter_fields(f, &whole);

	if (!v || (whole != 0 && whole != 1))
		abort();
	for (size_t i = 0; v[i]; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(v[i], v[j]) == 0)
				abort();
	rag_filter_fields(f, NULL);
}

/*
 * Compiles expr and matches it against the fixed records (evaluate set)
 * and rec (when not NULL).
 */
static void try_expr(const char *expr, size_t len, int evaluate, const json_t *rec)
{
	rag_error err;
	rag_filter *f = rag_filter_compile(expr, params, sizeof params / sizeof *params, &err), *g;
	char *neg;

	if (!f) {
		check_error(expr, &err);
		return;
	}
	check_fields(f);
	/* a caret at made-up places of a good expression */
	memset(&err, 0, sizeof err);
	err.line = 1 + (long)(len % 3);
	err.column = 1 + (long)(len % 17) * 3;
	check_caret(expr, &err);
	err.line = 1;
	err.column = (long)len + 1;
	check_caret(expr, &err);

	g = NULL;
	if ((neg = malloc(len + 8))) {
		memcpy(neg, "not (", 5);
		memcpy(neg + 5, expr, len);
		memcpy(neg + 5 + len, ")", 2);
		g = rag_filter_compile(neg, params, sizeof params / sizeof *params, &err);
		free(neg);
	}
	if (evaluate)
		for (size_t i = 0; i < NRECORDS; i++)
			match(f, g, records[i]);
	if (rec)
		match(f, g, rec);
	rag_filter_free(g);
	rag_filter_free(f);
}

/* Regular expressions may take a while each; keep an input's matching brief. */
static int few_regexes(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += s[i] == '~';
	return k <= 8;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	size_t len;
	const char *nl;

	if (!copy)
		return 0;
	setup();
	memcpy(copy, data, size);
	copy[size] = '\0';
	len = strlen(copy);
	try_expr(copy, len, few_regexes(copy, len), NULL);

	/* EXPR\nRECORD */
	if ((nl = memchr(data, '\n', size))) {
		size_t elen = (size_t)(nl - (const char *)data), rlen = size - elen - 1;
		rag_error err;
		json_t *rec = rag_json_parse(nl + 1, rlen, &err);
		if (elen < len) { /* no NUL in the first line */
			copy[elen] = '\0';
			try_expr(copy, elen, 0, few_regexes(copy, elen) ? rec : NULL);
			copy[elen] = '\n';
		}
		json_decref(rec);
	}

	/* as a --param argument */
	{
		rag_filter_params ps = {NULL, 0};
		rag_error err;
		json_t *v;
		if (rag_filter_params_add(&ps, copy, &err) == 0 && ps.n != 1)
			abort();
		if (rag_filter_params_add(&ps, copy, &err) == 0 && ps.n != 1)
			abort(); /* the same name again replaces the value */
		rag_filter_params_free(&ps);
		v = rag_filter_param_value(copy);
		json_decref(v);
	}
	free(copy);
	return 0;
}
