/*
 * Tests for lib/filter.c: the grammar token by token, the semantics of
 * every operator (missing fields, nulls and mismatched types included),
 * template parameters, errors with their line and column, the caret, the
 * nesting limit, the fields an expression reads, and what the indexed
 * fields of a segment tell of the records that may match (field paths,
 * rag_filter_select against rag_filter_match on random records).
 *
 * Expected results follow filter.h and rag-filter(1), not what the code
 * happened to print.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "filter.h"
#include "json.h"
#include "test.h"
#include "utf8.h"

/* ---- helpers ---- */

/* A record (any JSON value) from its text; NULL when the text is bad. */
static json_t *record(const char *text)
{
	rag_error err;
	json_t *r = rag_json_parse(text, strlen(text), &err);

	if (!r)
		fprintf(stderr, "bad test record %s: %s\n", text, err.text);
	return r;
}

enum { E_COMPILE = -2, E_RECORD = -3 };

/*
 * Whether the record (JSON text) matches expr: 1 or 0, -1 when the match
 * fails, E_COMPILE when expr does not compile (err says why).
 */
static int match_p(const char *expr, const char *rec, const rag_filter_param *ps, size_t n,
		   rag_error *err)
{
	json_t *r = record(rec);
	rag_filter *f;
	int k;

	if (!r)
		return E_RECORD;
	if (!(f = rag_filter_compile(expr, ps, n, err))) {
		json_decref(r);
		return E_COMPILE;
	}
	k = rag_filter_match(f, r, err);
	rag_filter_free(f);
	json_decref(r);
	return k;
}

static void expect(int line, const char *expr, const char *rec, const rag_filter_param *ps,
		   size_t n, int want)
{
	rag_error err;
	int got;

	rag_error_clear(&err);
	got = match_p(expr, rec, ps, n, &err);
	test_checks++;
	if (got != want) {
		test_failures++;
		fprintf(stderr, "%s:%d: %s: [%.120s%s] on %s: got %d, want %d", __FILE__, line,
			test_current, expr, strlen(expr) > 120 ? "..." : "", rec, got, want);
		if (got == E_COMPILE || got == -1)
			fprintf(stderr, " (error %ld:%ld: %s)", err.line, err.column, err.text);
		fputc('\n', stderr);
	}
}

#define YES(e, r) expect(__LINE__, e, r, NULL, 0, 1)
#define NO(e, r) expect(__LINE__, e, r, NULL, 0, 0)
#define YESP(e, r, ps) expect(__LINE__, e, r, ps, sizeof ps / sizeof *ps, 1)
#define NOP(e, r, ps) expect(__LINE__, e, r, ps, sizeof ps / sizeof *ps, 0)

/* Checks that expr fails to compile with exactly this message and place. */
static void expect_error(int line, const char *expr, const rag_filter_param *ps, size_t n,
			 const char *msg, long eline, long ecol)
{
	rag_error err;
	rag_filter *f;

	memset(&err, 0, sizeof err);
	f = rag_filter_compile(expr, ps, n, &err);
	test_checks++;
	if (f || err.code != RAG_EUSAGE || strcmp(err.text, msg) != 0 || err.line != eline ||
	    err.column != ecol || strcmp(err.source, "expression") != 0) {
		test_failures++;
		if (f)
			fprintf(stderr, "%s:%d: %s: [%s] compiled, want error %ld:%ld: %s\n",
				__FILE__, line, test_current, expr, eline, ecol, msg);
		else
			fprintf(stderr,
				"%s:%d: %s: [%s]\n  got  code %d source \"%s\" %ld:%ld: %s\n"
				"  want code %d source \"expression\" %ld:%ld: %s\n",
				__FILE__, line, test_current, expr, err.code, err.source, err.line,
				err.column, err.text, RAG_EUSAGE, eline, ecol, msg);
	}
	rag_filter_free(f);
}

#define BAD(e, msg, l, c) expect_error(__LINE__, e, NULL, 0, msg, l, c)
#define BADP(e, ps, msg, l, c) expect_error(__LINE__, e, ps, sizeof ps / sizeof *ps, msg, l, c)

/* A string of n copies of s followed by tail (and head before them); free it. */
static char *repeat(const char *head, const char *s, size_t n, const char *mid, const char *s2,
		    size_t n2, const char *tail)
{
	size_t hl = strlen(head), sl = strlen(s), ml = strlen(mid), s2l = strlen(s2),
	       tl = strlen(tail);
	char *out = malloc(hl + sl * n + ml + s2l * n2 + tl + 1), *o = out;

	if (!out)
		return NULL;
	memcpy(o, head, hl);
	o += hl;
	for (size_t i = 0; i < n; i++, o += sl)
		memcpy(o, s, sl);
	memcpy(o, mid, ml);
	o += ml;
	for (size_t i = 0; i < n2; i++, o += s2l)
		memcpy(o, s2, s2l);
	memcpy(o, tail, tl + 1);
	return out;
}

/* What came of a run in a child process. */
enum { CHILD_OK, CHILD_WRONG, CHILD_CRASHED, CHILD_LOST };

struct child_job {
	int (*fn)(const char *);
	const char *arg;
	int result;
};

static void *child_thread(void *p)
{
	struct child_job *j = p;

	j->result = j->fn(j->arg);
	return NULL;
}

/*
 * Runs fn(arg) in a child process, on a thread with a 1 MiB stack (room
 * for the 200 levels of nesting the parser allows, not for unbounded
 * recursion), and says what came of it: CHILD_OK when fn returned 0,
 * CHILD_WRONG for another value, CHILD_CRASHED when the child died without
 * an answer.  The answer comes through a pipe, not the exit status, which
 * valgrind may change.
 */
static int in_child(int (*fn)(const char *), const char *arg)
{
	int fd[2], st;
	pid_t pid;
	char c = 0;
	ssize_t k;

	if (pipe(fd) < 0)
		return CHILD_LOST;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(fd[0]);
		close(fd[1]);
		return CHILD_LOST;
	}
	if (pid == 0) {
		struct child_job j = {fn, arg, 1};
		pthread_attr_t a;
		pthread_t t;
		close(fd[0]);
		c = 'L';
		if (pthread_attr_init(&a) == 0 && pthread_attr_setstacksize(&a, 1u << 20) == 0 &&
		    pthread_create(&t, &a, child_thread, &j) == 0 && pthread_join(t, NULL) == 0)
			c = j.result == 0 ? 'Y' : 'N';
		_exit(write(fd[1], &c, 1) == 1 ? 0 : 1);
	}
	close(fd[1]);
	do
		k = read(fd[0], &c, 1);
	while (k < 0 && errno == EINTR);
	close(fd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (k != 1)
		return CHILD_CRASHED;
	return c == 'Y' ? CHILD_OK : c == 'N' ? CHILD_WRONG : CHILD_LOST;
}

/* ---- the grammar ---- */

static const char R_FIELDS[] =
	"{\"a\":1,\"b\":{\"c\":2,\"d e\":3,\"x.y\":4,\"arr\":[10,{\"k\":\"v\"}]},"
	"\"lst\":[[1,2],[3,4]],\"_u\":5,\"A\":6,\"a1\":7,\"$d\":8,\"like2\":9,"
	"\"odd key\":10,\"é\":11,\"0\":12,\"x\":{\"y\":13},"
	"\"kw\":{\"in\":1,\"not\":2,\"null\":3,\"true\":4},\"not\":5}";

static void fields_and_paths(void)
{
	const char *R = R_FIELDS;

	YES("a == 1", R);
	NO("a == 2", R);
	YES("b.c == 2", R);
	YES("b[\"c\"] == 2", R);
	YES("b['c'] == 2", R);
	YES("b[r'c'] == 2", R);
	YES("b[\"d e\"] == 3", R);
	/* a quoted key is one key, dots and all */
	YES("b[\"x.y\"] == 4", R);
	NO("b.x.y == 4", R);
	YES("x.y == 13", R);
	YES("b.arr[0] == 10", R);
	YES("b.arr[1].k == 'v'", R);
	YES("b[\"arr\"][1]['k'] == \"v\"", R);
	YES("lst[1][0] == 3", R);
	YES("lst[0][1] == 2", R);
	/* white space between the steps */
	YES("b . c == 2", R);
	YES("b [ 'c' ] == 2", R);
	YES("lst [1] [0] == 3", R);
	YES("b\n.\tarr\n[1]\n.k == 'v'", R);
	/* out of range, an index into an object, a key into a number or an array */
	NO("b.arr[2] == 10", R);
	YES("b.arr[2] is null", R);
	NO("exists b.arr[2]", R);
	NO("b[0] == 2", R);
	NO("exists b[0]", R);
	NO("a.x == 1", R);
	NO("exists a.x", R);
	NO("b.arr.k == 'v'", R);
	NO("lst['0'] == [1, 2]", R);
	/* identifiers: underscores, digits, '$', case-sensitive */
	YES("_u == 5", R);
	YES("A == 6", R);
	NO("A == 1", R);
	YES("a1 == 7", R);
	YES("$d == 8", R);
	YES("like2 == 9", R);
	/* $meta: the record itself */
	YES("$meta[\"odd key\"] == 10", R);
	YES("$meta['é'] == 11", R);
	YES("$meta[\"\\u00e9\"] == 11", R);
	YES("$meta.a == 1", R);
	YES("$meta[\"b\"].c == 2", R);
	YES("$meta['b']['arr'][1].k == 'v'", R);
	YES("$meta[\"0\"] == 12", R);
	NO("$meta[0] == 12", R);
	YES("exists $meta['odd key']", R);
	NO("exists $meta['odd']", R);
	/* after a dot any name, keywords included; $meta for a top-level one */
	YES("kw.in == 1", R);
	YES("kw.not == 2", R);
	YES("kw.null == 3", R);
	YES("kw.true == 4", R);
	NO("kw.TRUE == 4", R);
	YES("exists kw.in and kw.in in [1]", R);
	YES("$meta[\"not\"] == 5", R);
}

static void numbers(void)
{
	const char *R = "{\"i\":1500,\"q\":0.25,\"h\":0.5,\"five\":5,\"neg\":-1500,"
			"\"big\":9223372036854775807,\"zero\":0}";

	YES("i == 1500", R);
	YES("i == 1500.0", R);
	YES("i == 1.5e3", R);
	YES("i == 1.5E3", R);
	YES("i == 15e2", R);
	YES("i == 1.5e+3", R);
	YES("i == 1500e0", R);
	YES("i == 150000e-2", R);
	YES("q == 2.5e-1", R);
	YES("q == 25E-2", R);
	YES("h == .5", R);
	YES("h == .5e0", R);
	YES("five == 5.", R);
	YES("five == 005", R);
	YES("017 == 17", R);
	YES("five == 5.0e0", R);
	YES("neg == -1.5e3", R);
	YES("neg == -1500", R);
	YES("neg == - 1500", R);
	YES("zero == 0", R);
	YES("zero == 0.0", R);
	YES("zero == -0.0", R);
	YES("zero == 0e5", R);
	YES("big == 9223372036854775807", R);
	/* past int64: a real, 2^63 */
	NO("big == 9223372036854775808", R);
	YES("big < 9223372036854775808", R);
	YES("9223372036854775808 == 9223372036854775808.0", R);
	YES("9223372036854775808 == 2 ** 63", R);
	/* the longest number accepted: 63 characters */
	YES("i == 000000000000000000000000000000000000000000000000000000000001500", R);
	YES("1e308 > 1e307", R);
}

static void strings(void)
{
	/* q " s ' b \ / BS FF LF CR TAB */
	const char *R = "{\"s\":\"q\\\"s'b\\\\/\\b\\f\\n\\r\\t\",\"t\":\"abc\",\"e\":\"\","
			"\"sq\":\"q\\\"s'b\",\"bs\":\"a\\\\qb\",\"raw\":\"a\\\\nb\",\"tail\":\"x\\\\\","
			"\"nul\":\"a\\u0000b\",\"é\":\"é\",\"cjk\":\"日本\",\"emoji\":\"😀\","
			"\"mix\":\"é日😀\"}";

	YES("t == \"abc\"", R);
	YES("t == 'abc'", R);
	YES("e == \"\"", R);
	YES("e == ''", R);
	YES("e == r''", R);
	YES("e == R\"\"", R);
	/* every escape, both quotes */
	YES("s == \"q\\\"s\\'b\\\\\\/\\b\\f\\n\\r\\t\"", R);
	YES("s == 'q\\\"s\\'b\\\\\\/\\b\\f\\n\\r\\t'", R);
	YES("sq == 'q\"s\\'b'", R);
	YES("sq == \"q\\\"s'b\"", R);
	/* other escapes stay as written, backslash and all */
	YES("bs == \"a\\qb\"", R);
	YES("bs == 'a\\\\qb'", R);
	/* raw strings: no escapes */
	YES("raw == r\"a\\nb\"", R);
	YES("raw == R'a\\nb'", R);
	NO("raw == \"a\\nb\"", R);
	YES("tail == r'x\\'", R);
	YES("tail == r\"x\\\"", R);
	/* \u: BMP, upper and lower hex, NUL, surrogate pairs */
	YES("$meta['é'] == \"\\u00e9\"", R);
	YES("$meta['é'] == \"\\u00E9\"", R);
	YES("cjk == \"\\u65e5\\u672C\"", R);
	YES("cjk == '日本'", R);
	YES("emoji == \"\\ud83d\\ude00\"", R);
	YES("emoji == \"\\uD83D\\uDE00\"", R);
	YES("emoji == '😀'", R);
	YES("mix == '\\u00e9\\u65e5\\ud83d\\ude00'", R);
	YES("mix == 'é\\u65e5😀'", R);
	YES("nul == \"a\\u0000b\"", R);
	NO("nul == \"a\"", R);
	NO("nul == \"ab\"", R);
	YES("'\\u0041' == 'A'", R);
	/* a string may hold a newline as it is */
	YES("'a\nb' == \"a\\nb\" and r'a\nb' == 'a\\nb'", R);
	YES("\"\\u002F\" == '/' and '\\/' == '/'", R);
}

static void keywords_and_literals(void)
{
	const char *R = "{\"t\":true,\"f\":false,\"n\":null,\"x\":1}";

	YES("t == true", R);
	YES("t == TRUE", R);
	YES("t == True", R);
	YES("f == fAlSe", R);
	NO("t == false", R);
	YES("t != false", R);
	YES("n is NULL", R);
	YES("n IS Null", R);
	YES("true", R);
	YES("TRUE", R);
	NO("false", R);
	NO("null", R);
	NO("1", R);
	NO("'true'", R);
	YES("not false", R);
	YES("NOT null", R);
	YES("true == true", R);
	YES("true != false", R);
	YES("tRUE == TrUe", R);
	/* a comparison that meets null is false, even null == null */
	NO("null == null", R);
	NO("null != null", R);
	NO("n == null", R);
	NO("x != null", R);
	/* booleans are not numbers */
	NO("t == 1", R);
	NO("t != 1", R);
	NO("f == 0", R);
	/* keywords in any case */
	YES("x == 1 AND t", R);
	YES("x == 2 Or t", R);
	YES("NoT f", R);
	YES("x In [1]", R);
	YES("x NOT IN [2]", R);
	YES("x iS NoT nUlL", R);
	YES("EXISTS x", R);
	YES("'ab' LIKE 'a%'", R);
	YES("'ab' Like 'A%' or true", R);
}

static void lists(void)
{
	const char *R = "{\"a\":2,\"s\":\"x\",\"l\":[1,2],\"m\":[3],\"e\":[]}";

	YES("a in [1, 2, 3]", R);
	NO("a in [1, 3]", R);
	YES("a in [2]", R);
	NO("a in []", R);
	NO("a in [ ]", R);
	YES("s in [1, 'x', 2.5]", R);
	YES("a in [1, 2,]", R);
	YES("a in [\n1,\n2\n]", R);
	YES("l in [[1, 2], [3]]", R);
	YES("m in [[1, 2], [3.0]]", R);
	NO("l in [[2, 1]]", R);
	YES("e in [[]]", R);
	NO("e in []", R);
	YES("a in [-2, +2]", R);
	YES("a in [-1.5, 2.0]", R);
	YES("a in [(2)]", R);
	YES("a in [true, null, 2]", R);
	YES("a in [[[2]], 2]", R);
	YES("l == [1, 2]", R);
	YES("l == [1.0, 2e0]", R);
	YES("e == []", R);
	NO("l == [1]", R);
	YES("l != [2, 1]", R);
	YES("[1, [2, 'x']] == [1, [2, \"x\"]]", R);
	YES("[] == []", R);
	YES("[r'\\d', '\\u00e9'] == ['\\\\d', 'é']", R);
}

static void precedence(void)
{
	const char *R = "{\"t\":true,\"f\":false,\"x\":3}";

	/* and binds tighter than or */
	YES("t or f and f", R);
	YES("f and f or t", R);
	YES("t || f && f", R);
	NO("(t or f) and f", R);
	/* not binds tighter than and and or */
	NO("not f and f", R);
	YES("not (f and f)", R);
	YES("not t or t", R);
	NO("not (t or t)", R);
	NO("!f && f", R);
	YES("f || !f", R);
	YES("t && !f", R);
	/* and looser than comparisons */
	YES("not x == 4", R);
	NO("not x == 3", R);
	YES("! x == 4", R);
	YES("x > 1 and x < 5", R);
	YES("not not t", R);
	YES("!!t", R);
	YES("! not t", R);
	NO("not !f", R);
	YES("not not not f", R);
	/* arithmetic: * / % before + -, left to right */
	YES("x == 1 + 2", R);
	YES("x + 1 == 4", R);
	YES("1 + 2 * 3 == 7", R);
	YES("(1 + 2) * 3 == 9", R);
	YES("10 - 2 - 3 == 5", R);
	YES("100 / 10 / 5 == 2", R);
	YES("2 * 3 % 4 == 2", R);
	YES("7 - 2 * 3 == 1", R);
	YES("12 / 2 * 3 == 18", R);
	YES("12 % 5 * 2 == 4", R);
	/* ** before * and right-associative */
	YES("2 ** 3 ** 2 == 512", R);
	YES("(2 ** 3) ** 2 == 64", R);
	YES("2 * 3 ** 2 == 18", R);
	YES("x ** 2 == 9", R);
	YES("2 ** -1 == 0.5", R);
	YES("2 ** - x == 0.125", R);
	/* unary minus and plus */
	YES("-3 * 2 == -6", R);
	YES("- 3 + 1 == -2", R);
	YES("-(3 + 1) == -4", R);
	YES("--3 == 3", R);
	YES("- -x == 3", R);
	YES("-(-x) == 3", R);
	YES("+x == 3", R);
	YES("-x == -3", R);
	YES("x - -1 == 4", R);
	YES("x--1 == 4", R);
	YES("x-1 == 2", R);
	YES("-x + 3 == 0", R);
	/* ** binds tighter than a sign before it (rag-filter(1), as Python, Milvus) */
	YES("-2 ** 2 == -4", R);
	YES("-x ** 2 == -9", R);
	YES("(-2) ** 2 == 4", R);
	YES("2 ** -2 ** 2 == 0.0625", R);
	YES("-2 ** -1 == -0.5", R);
	YES("- - 2 ** 2 == 4", R);
	/* a condition is a value: it can be compared */
	YES("(x > 5) == false", R);
	YES("(missing > 5) == false", R);
	YES("(x == 3) == t", R);
	NO("(x == 3) == 1", R);
	/* a comparison chain, not (x == 3) == true */
	NO("x == 3 == true", R);
}

static void chains(void)
{
	const char *R = "{\"year\":2022,\"a\":1,\"b\":2,\"c\":3,\"d\":\"2024-01-15\"}";

	YES("2020 <= year < 2024", R);
	NO("2020 <= year < 2022", R);
	YES("2020 <= year <= 2022", R);
	NO("2023 <= year < 2024", R);
	YES("2024 > year >= 2022", R);
	NO("2024 > year > 2022", R);
	YES("a < b < c", R);
	NO("a < c < b", R);
	NO("b < a < c", R);
	YES("c > b > a", R);
	YES("a <= a < b <= c", R);
	YES("a < b < c < 4 < 5", R);
	NO("a < b < c < 3", R);
	YES("1 < 2 < 3", R);
	NO("3 < 2 < 1", R);
	YES("3 > 2 > 1", R);
	YES("1 < 3 > 2", R);
	YES("a < b > a", R);
	NO("a < missing < c", R);
	NO("missing < a < c", R);
	NO("a < c < missing", R);
	YES("not (a < missing < c)", R);
	YES("'2024-01-01' <= d < '2024-02-01'", R);
	NO("'2024-01-16' <= d < '2024-02-01'", R);
	YES("a + 1 == b == c - 1", R);
	YES("a != b != a", R);
	YES("a == a == a", R);
	YES("0 < a < 2 and 1 < b < 3", R);
	YES("0 < a < 2 && 1 < b < 3 || false", R);
	/* mixed types in a chain: each link on its own */
	NO("a < b < d", R);
}

static void forms(void)
{
	const char *R = "{\"x\":1,\"n\":null,\"s\":\"abc\",\"tags\":[\"a\",\"b\"]}";

	YES("x not in [2, 3]", R);
	NO("x not in [1]", R);
	YES("x NOT IN [2]", R);
	YES("x Not In [2]", R);
	YES("x not\n\tin [2]", R);
	YES("x not in[2]", R);
	YES("x in[1]", R);
	YES("n is null", R);
	YES("x is not null", R);
	YES("x IS NOT NULL", R);
	YES("x is\nnot\nnull", R);
	NO("n is not null", R);
	YES("exists x", R);
	YES("EXISTS n", R);
	NO("exists y", R);
	YES("not exists y", R);
	YES("!exists y", R);
	YES("exists x and x == 1", R);
	YES("Exists tags[1]", R);
	NO("exists tags[2]", R);
	YES("ARRAY_CONTAINS(tags, 'a')", R);
	YES("Array_Length(tags) == 2", R);
	YES("array_length (tags) == 2", R);
	YES("array_length\t( tags ) == 2", R);
	YES("x == 1 && s == 'abc'", R);
	YES("x == 2 || s == 'abc'", R);
	NO("x == 2 || s == 'x'", R);
	YES("!(x == 2)", R);
	YES("! (x == 2)", R);
	NO("!(x == 1)", R);
	YES("x == 1 AND s == 'abc'", R);
	YES("x == 2 OR s == 'abc'", R);
	YES("x == 1 and not x == 2", R);
	YES("x\t==\n1\r\nand\ts == 'abc'", R);
	YES("x==1&&s=='abc'", R);
	YES("x!=2||x<1", R);
	YES("s=~'b'&&s!~'z'", R);
	YES("x>=1 and(x<=1)", R);
	YES("(((x == 1)))", R);
	YES("((x == 1) and (s == 'abc'))", R);
	/* white space, newlines included, between any two tokens */
	YES("array_length\n(tags) == 2", R);
	YES("array_length\r\n(\ntags\n)\n==\n2", R);
}

/* ---- semantics ---- */

static void missing_null_mismatch(void)
{
	static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
	/* x is missing, null or of another type than the 1 it meets */
	static const char *const recs[] = {
		"{}",
		"{\"x\":null}",
		"{\"x\":\"1\"}",
		"{\"x\":true}",
		"{\"x\":[1]}",
		"{\"x\":{\"a\":1}}",
		"{\"y\":1}",
		"{\"x\":{\"x\":1}}",
	};
	char e[64];

	for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
		for (size_t r = 0; r < sizeof recs / sizeof *recs; r++) {
			snprintf(e, sizeof e, "x %s 1", ops[o]);
			NO(e, recs[r]);
			snprintf(e, sizeof e, "1 %s x", ops[o]);
			NO(e, recs[r]);
			snprintf(e, sizeof e, "not (x %s 1)", ops[o]);
			YES(e, recs[r]);
			snprintf(e, sizeof e, "!(1 %s x)", ops[o]);
			YES(e, recs[r]);
			if (r < 2 || r == 6) {
				snprintf(e, sizeof e, "x %s x", ops[o]);
				NO(e, recs[r]);
			}
		}
		/* a present number against a string, a boolean, null, a list */
		snprintf(e, sizeof e, "x %s '1'", ops[o]);
		NO(e, "{\"x\":1}");
		snprintf(e, sizeof e, "x %s true", ops[o]);
		NO(e, "{\"x\":1}");
		snprintf(e, sizeof e, "x %s null", ops[o]);
		NO(e, "{\"x\":1}");
		snprintf(e, sizeof e, "x %s [1]", ops[o]);
		NO(e, "{\"x\":1}");
		snprintf(e, sizeof e, "not (x %s null)", ops[o]);
		YES(e, "{\"x\":1}");
	}
	YES("x == x", "{\"x\":1}");
	YES("x == x", "{\"x\":\"s\"}");
	YES("x == x", "{\"x\":[1,{\"a\":null}]}");
	NO("x != x", "{\"x\":1}");
	/* booleans have no order */
	NO("x < true", "{\"x\":false}");
	NO("x >= false", "{\"x\":false}");
	YES("x == false", "{\"x\":false}");
	/* lists and objects have no order */
	NO("x < [2]", "{\"x\":[1]}");
	NO("x <= [1]", "{\"x\":[1]}");
	NO("x >= x", "{\"x\":{\"a\":1}}");
}

static void number_comparisons(void)
{
	const char *R1 = "{\"x\":9007199254740993}";
	const char *R2 = "{\"r\":9007199254740992.0}";
	const char *R3 = "{\"i\":9007199254740993,\"r\":9007199254740992.0}";
	const char *RMAX = "{\"x\":9223372036854775807}";
	const char *RMIN = "{\"x\":-9223372036854775808}";
	const char *R4 = "{\"r\":1.0,\"i\":1,\"h\":-1.5}";

	/* an int and a real compare exactly, not through a double */
	NO("x == 9007199254740992.0", R1);
	YES("x != 9007199254740992.0", R1);
	YES("x > 9007199254740992.0", R1);
	YES("x >= 9007199254740992.0", R1);
	NO("x < 9007199254740992.0", R1);
	NO("x <= 9007199254740992.0", R1);
	YES("9007199254740992.0 < x", R1);
	NO("9007199254740992.0 == x", R1);
	YES("x == 9007199254740993", R1);
	YES("x > 9007199254740992", R1);
	NO("r == 9007199254740993", R2);
	YES("r != 9007199254740993", R2);
	YES("r < 9007199254740993", R2);
	YES("r == 9007199254740992", R2);
	NO("i == r", R3);
	YES("i != r", R3);
	YES("i > r", R3);
	YES("r < i", R3);
	/* 9223372036854775807.0 is 2^63, one more than the int */
	NO("x == 9223372036854775807.0", RMAX);
	YES("x < 9223372036854775807.0", RMAX);
	YES("x == 9223372036854775807", RMAX);
	YES("x < 1e19", RMAX);
	YES("x > -1e19", RMAX);
	NO("x > 1e300", RMAX);
	YES("x < 1e300", RMAX);
	YES("x == -9223372036854775808.0", RMIN);
	YES("x == -9223372036854775807 - 1", RMIN);
	YES("x > -1e19", RMIN);
	YES("x < -9223372036854775807", RMIN);
	YES("x < -9223372036854775807.0 + 1e4", RMIN);
	/* 1 and 1.0 */
	YES("r == 1", R4);
	YES("i == 1.0", R4);
	YES("r == i", R4);
	NO("r != 1", R4);
	YES("1.5 > i", R4);
	YES("i < 1.5", R4);
	YES("h < -1", R4);
	YES("-1 > h", R4);
	YES("h == -1.5", R4);
	YES("-0.5 > -1", R4);
	YES("0.5 > 0", R4);
	NO("-0.5 > 0", R4);
	YES("-0.5 < 0", R4);
	YES("0 == -0.0", R4);
	YES("0.0 == -0.0", R4);
	YES("2.5 < 2.75", R4);
	YES("0.1 + 0.2 > 0.3", R4);
	YES("i <= r and i >= r", R4);
}

static void string_comparisons(void)
{
	const char *R = "{\"d\":\"2024-01-15\",\"t\":\"2024-01-15T10:00:00Z\",\"u\":\"B\","
			"\"l\":\"a\",\"e\":\"é\",\"z\":\"z\",\"p\":\"ab\",\"nul\":\"a\\u0000b\","
			"\"y\":\"2024\"}";

	/* ISO dates compare as text */
	YES("d >= '2024-01-01' and d < '2024-02-01'", R);
	NO("d > '2024-01-15'", R);
	YES("d >= '2024-01-15'", R);
	YES("d <= '2024-01-15'", R);
	YES("d < '2024-01-16'", R);
	YES("d > '2023-12-31'", R);
	YES("t > d", R);
	YES("d < t", R);
	YES("t < '2024-01-15T10:00:01Z'", R);
	/* bytewise: 'B' < 'a', 'é' (0xC3) > 'z', a prefix first */
	YES("u < l", R);
	NO("u > l", R);
	YES("e > z", R);
	YES("e > 'zzz'", R);
	YES("p < 'abc'", R);
	YES("p > 'a'", R);
	YES("'' < p", R);
	YES("'' <= ''", R);
	YES("nul > 'a'", R);
	YES("nul < 'ab'", R);
	YES("nul == 'a\\u0000b'", R);
	YES("d != '2024-01-16'", R);
	YES("'abc' == 'abc'", R);
	NO("'abc' == 'ABC'", R);
	/* a string is not a number */
	NO("y == 2024", R);
	NO("y != 2024", R);
	NO("y < 2025", R);
	NO("d > 2000", R);
}

static void deep_equality(void)
{
	const char *R = "{\"a\":[1,\"x\",[true,null],{\"x\":1.0}],"
			"\"o\":{\"x\":1,\"y\":[1,2]},\"o2\":{\"y\":[1.0,2],\"x\":1},"
			"\"o3\":{\"x\":1},\"o4\":{\"x\":1,\"y\":[1,2],\"z\":null},"
			"\"arr\":[1,2],\"e\":{},\"e2\":{}}";

	/* objects: any key order, numbers by value */
	YES("o == o2", R);
	NO("o != o2", R);
	NO("o == o3", R);
	YES("o != o3", R);
	NO("o == o4", R);
	YES("o4 != o", R);
	YES("e == e2", R);
	NO("e == o3", R);
	/* an object is not a list */
	NO("o == arr", R);
	NO("o != arr", R);
	NO("e == []", R);
	NO("e != []", R);
	/* lists: in order, nested, nulls inside equal */
	YES("a[2] == [true, null]", R);
	NO("a[2] == [true, false]", R);
	YES("a[3] == o3", R);
	YES("a[1] == 'x' and a[0] == 1.0", R);
	NO("arr == [1, 2, 3]", R);
	NO("arr == [2, 1]", R);
	YES("arr != [1, 2, 3]", R);
	YES("arr == [1.0, 2.0]", R);
	NO("arr == ['1', '2']", R);
	YES("arr != ['1', '2']", R);
	/* no order */
	NO("arr < [1, 3]", R);
	NO("o > o3", R);
}

static void in_semantics(void)
{
	const char *R = "{\"x\":1,\"s\":\"a\",\"n\":null,\"b\":true,\"l\":[1],\"o\":{\"k\":1}}";

	YES("x in [1.0]", R);
	YES("x in [0, 1e0]", R);
	YES("s in ['a']", R);
	NO("s in ['A']", R);
	NO("s in [1]", R);
	YES("s not in [1]", R);
	/* null and missing are in nothing and not-in nothing */
	NO("n in [null]", R);
	NO("n not in [1]", R);
	NO("n not in []", R);
	NO("m in [1]", R);
	NO("m not in [1]", R);
	NO("m not in []", R);
	YES("not m in [1]", R);
	YES("not (m in [1])", R);
	YES("not (m not in [1])", R);
	YES("not n not in [1]", R);
	/* a present value of another type is not in the list */
	YES("b in [true]", R);
	NO("b in [1]", R);
	YES("b not in [1]", R);
	YES("l in [[1]]", R);
	YES("l in [[1.0], 2]", R);
	NO("l in [1]", R);
	YES("x not in ['1']", R);
	YES("x not in []", R);
	NO("x in []", R);
	NO("x in [null]", R);
	YES("x not in [null]", R);
	NO("o in [1, 'k']", R);
	YES("o.k in [1]", R);
	YES("x + 1 in [2]", R);
	YES("array_length(l) in [1]", R);
}

static void like_one(int line, const char *s, const char *pat, int want)
{
	char e[512], r[512];

	snprintf(e, sizeof e, "s like %s", pat);
	snprintf(r, sizeof r, "{\"s\":%s}", s);
	expect(line, e, r, NULL, 0, want);
}

#define LIKE(s, pat, want) like_one(__LINE__, s, pat, want)

static void like_semantics(void)
{
	/* the record's string as JSON, the pattern as written in the expression */
	LIKE("\"abc\"", "'abc'", 1);
	LIKE("\"abc\"", "'ab'", 0);
	LIKE("\"abc\"", "'bc'", 0);
	LIKE("\"abc\"", "'abcd'", 0);
	LIKE("\"abc\"", "'a%'", 1);
	LIKE("\"abc\"", "'%c'", 1);
	LIKE("\"abc\"", "'%b%'", 1);
	LIKE("\"abc\"", "'%'", 1);
	LIKE("\"abc\"", "'%%'", 1);
	LIKE("\"\"", "'%'", 1);
	LIKE("\"\"", "''", 1);
	LIKE("\"a\"", "''", 0);
	LIKE("\"abc\"", "'a_c'", 1);
	LIKE("\"abc\"", "'___'", 1);
	LIKE("\"abc\"", "'__'", 0);
	LIKE("\"abc\"", "'____'", 0);
	LIKE("\"abc\"", "'ABC'", 0);
	LIKE("\"ABC\"", "'abc'", 0);
	LIKE("\"abc\"", "'a%%c'", 1);
	LIKE("\"ac\"", "'a%c'", 1);
	LIKE("\"ab\"", "'a%c'", 0);
	LIKE("\"aXbXbc\"", "'a%bc'", 1);
	LIKE("\"abcabd\"", "'%abd'", 1);
	LIKE("\"banana\"", "'%an%an%'", 1);
	LIKE("\"banana\"", "'%an%an%an%'", 0);
	LIKE("\"banana\"", "'b%a'", 1);
	LIKE("\"banana\"", "'b%n'", 0);
	LIKE("\"aaa\"", "'a%a%a'", 1);
	LIKE("\"aa\"", "'a%a%a'", 0);
	LIKE("\"ab\"", "'_%'", 1);
	LIKE("\"\"", "'_%'", 0);
	LIKE("\"ab\"", "'%_'", 1);
	LIKE("\"abc\"", "'%_c'", 1);
	LIKE("\"c\"", "'%_c'", 0);
	/* '_' is one character, however many bytes */
	LIKE("\"é\"", "'_'", 1);
	LIKE("\"日\"", "'_'", 1);
	LIKE("\"😀\"", "'_'", 1);
	LIKE("\"é\"", "'__'", 0);
	LIKE("\"😀\"", "'____'", 0);
	LIKE("\"aé b\"", "'a_ _'", 1);
	LIKE("\"é日😀x\"", "'___x'", 1);
	LIKE("\"é日😀x\"", "'%_x'", 1);
	LIKE("\"日本語\"", "'日本%'", 1);
	LIKE("\"日本語\"", "'%語'", 1);
	LIKE("\"日本語\"", "'日_語'", 1);
	LIKE("\"日本語\"", "'_本_'", 1);
	LIKE("\"日本語\"", "'日%本%語'", 1);
	LIKE("\"a\\nb\"", "'a_b'", 1);
	LIKE("\"a\\nb\"", "'a%'", 1);
	/* escapes: \% \_ \\ (the lexer keeps \% and \_ as written) */
	LIKE("\"100%\"", "'100\\%'", 1);
	LIKE("\"1000\"", "'100\\%'", 0);
	LIKE("\"100%\"", "r'100\\%'", 1);
	LIKE("\"%\"", "'\\%'", 1);
	LIKE("\"x\"", "'\\%'", 0);
	LIKE("\"a%b\"", "'a\\%b'", 1);
	LIKE("\"axb\"", "'a\\%b'", 0);
	LIKE("\"a_c\"", "'a\\_c'", 1);
	LIKE("\"abc\"", "'a\\_c'", 0);
	LIKE("\"a_c\"", "'a\\\\_c'", 1); /* \\ is \ to the lexer: the pattern is a\_c */
	LIKE("\"a\\\\b\"", "'a\\\\\\\\b'", 1); /* pattern a\\b: a literal backslash */
	LIKE("\"a\\\\b\"", "r'a\\\\b'", 1);
	LIKE("\"ab\"", "r'a\\\\b'", 0);
	LIKE("\"a\\\\\"", "'a\\\\'", 1); /* a trailing backslash is itself */
	LIKE("\"50% off\"", "'%\\%%'", 1);
	LIKE("\"50 off\"", "'%\\%%'", 0);
	/* like meets strings only */
	NO("x like '5'", "{\"x\":5}");
	NO("x like '%'", "{\"x\":null}");
	NO("x like '%'", "{}");
	NO("x like '%'", "{\"x\":[\"a\"]}");
	YES("not (x like 'a%')", "{}");
	YES("not x like 'a%'", "{\"x\":\"b\"}");
	NO("not x like 'a%'", "{\"x\":\"abc\"}");
}

static void regex_semantics(void)
{
	const char *R = "{\"s\":\"abc\",\"u\":\"ABC\",\"c\":\"café\",\"e\":\"é\",\"d\":\"123\","
			"\"d2\":\"12a\",\"cat\":\"a cat sat\",\"concat\":\"concat\","
			"\"nl\":\"a\\nb\",\"lines\":\"line1\\nline2\",\"x\":123,\"n\":null}";

	/* a search, not a whole match */
	YES("s =~ 'b'", R);
	NO("s =~ '^b'", R);
	YES("s =~ '^a.c$'", R);
	YES("s =~ ''", R);
	YES("s =~ 'x|b'", R);
	NO("u =~ 'abc'", R);
	YES("u =~ '(?i)abc'", R);
	YES("s =~ '(?i)ABC'", R);
	YES("s =~ '(?i)B'", R);
	/* UTF-8 mode: '.' is one character, caseless beyond ASCII */
	YES("e =~ '^.$'", R);
	YES("c =~ '(?i)CAFÉ'", R);
	YES("c =~ 'caf.$'", R);
	/* \d in every spelling */
	YES("d =~ '^\\d+$'", R);
	YES("d =~ r'^\\d+$'", R);
	YES("d =~ '^\\\\d+$'", R);
	NO("d2 =~ r'^\\d+$'", R);
	YES("cat =~ r'\\bcat\\b'", R);
	NO("concat =~ r'\\bcat\\b'", R);
	/* PCRE2 defaults: '.' not newline, '^' only at the start, unless flagged */
	NO("nl =~ 'a.b'", R);
	YES("nl =~ '(?s)a.b'", R);
	NO("lines =~ '^line2'", R);
	YES("lines =~ '(?m)^line2'", R);
	YES("lines =~ r'\\Aline1'", R);
	NO("lines =~ r'\\Aline2'", R);
	YES("s =~ '(?x) a b c  # a comment'", R);
	/* $ matches before a final newline, \z does not */
	YES("x =~ 'c$'", "{\"x\":\"abc\\n\"}");
	NO("x =~ r'c\\z'", "{\"x\":\"abc\\n\"}");
	YES("x =~ r'c\\z'", "{\"x\":\"abc\"}");
	/* \w and \d are ASCII unless (*UCP) */
	NO("e =~ r'^\\w$'", R);
	YES("e =~ r'(*UCP)^\\w$'", R);
	NO("x =~ r'^\\d$'", "{\"x\":\"\\u0663\"}");
	YES("x =~ r'(*UCP)^\\d$'", "{\"x\":\"\\u0663\"}");
	/* !~ is the negation, true when there is no string */
	YES("s !~ 'z'", R);
	NO("s !~ 'b'", R);
	YES("m !~ 'z'", R);
	NO("m =~ 'z'", R);
	NO("n =~ ''", R);
	YES("n !~ 'z'", R);
	NO("x =~ '1'", R);
	YES("x !~ '1'", R);
	YES("not (m =~ 'a')", R);
	NO("not (s =~ 'a')", R);
}

static void null_semantics(void)
{
	const char *R = "{\"n\":null,\"p\":1,\"z\":0,\"f\":false,\"e\":\"\",\"l\":[],\"o\":{},"
			"\"a\":{\"b\":null}}";

	YES("exists n", R);
	YES("exists p", R);
	NO("exists m", R);
	YES("exists z and exists f and exists e and exists l and exists o", R);
	YES("n is null", R);
	YES("m is null", R);
	NO("p is null", R);
	NO("z is null", R);
	NO("f is null", R);
	NO("e is null", R);
	NO("l is null", R);
	NO("o is null", R);
	NO("n is not null", R);
	NO("m is not null", R);
	YES("p is not null", R);
	YES("f is not null", R);
	YES("not exists m", R);
	NO("not exists n", R);
	NO("exists o.k", R);
	YES("o.k is null", R);
	YES("exists a.b", R);
	NO("exists a.c", R);
	NO("exists a.b.c", R);
	YES("a.b is null", R);
	YES("a.b.c is null", R);
	NO("a is null", R);
	/* what has no value is null: arithmetic that fails, functions of non-lists */
	NO("(p + 1) is null", R);
	YES("(m + 1) is null", R);
	YES("1 / 0 is null", R);
	YES("p + 'x' is null", R);
	YES("array_length(p) is null", R);
	YES("array_length(l) is not null", R);
	YES("null is null", R);
	NO("1 is null", R);
}

static void arithmetic(void)
{
	const char *R = "{\"i\":7,\"j\":-7,\"r\":7.5,\"z\":0,\"s\":\"x\",\"t\":true,\"n\":null,"
			"\"max\":9223372036854775807,\"min\":-9223372036854775808}";

	YES("i + 1 == 8", R);
	YES("i - 10 == -3", R);
	YES("i * 3 == 21", R);
	YES("i * 2 == i + i", R);
	/* / is real division */
	YES("i / 2 == 3.5", R);
	NO("i / 2 == 3", R);
	YES("6 / 3 == 2", R);
	YES("1 / 3 > 0.333 and 1 / 3 < 0.334", R);
	YES("-i / 2 == -3.5", R);
	/* % as C: the sign of the dividend */
	YES("i % 3 == 1", R);
	YES("j % 3 == -1", R);
	YES("i % -3 == 1", R);
	YES("j % -3 == -1", R);
	YES("6 % 3 == 0", R);
	YES("r % 2 == 1.5", R);
	YES("-r % 2 == -1.5", R);
	YES("r % -2 == 1.5", R);
	YES("i % 2.5 == 2", R);
	YES("r * 2 == 15", R);
	YES("r + i == 14.5", R);
	YES("r - r == 0", R);
	/* ** on ints stays an int while it fits */
	YES("2 ** 10 == 1024", R);
	YES("2 ** 0 == 1", R);
	YES("0 ** 0 == 1", R);
	YES("i ** 1 == 7", R);
	YES("1 ** 1000000 == 1", R);
	YES("(-1) ** 1000001 == -1", R);
	YES("(-2) ** 3 == -8", R);
	YES("2 ** -1 == 0.5", R);
	YES("2 ** -2 == 0.25", R);
	YES("4 ** 0.5 == 2", R);
	YES("2.0 ** 3 == 8", R);
	YES("2.5 ** 2 == 6.25", R);
	YES("2 ** 62 == 4611686018427387904", R);
	YES("2 ** 63 == 9223372036854775808.0", R);
	YES("2 ** 63 > max", R);
	YES("(-2) ** 63 == min", R);
	YES("(-2) ** 64 == 18446744073709551616.0", R);
	YES("3 ** 40 > 1e19", R);
	YES("10 ** 18 == 1000000000000000000", R);
	YES("10 ** 19 == 1e19", R);
	/* int overflow goes to real */
	YES("max + 1 > max", R);
	YES("max + 1 == 9223372036854775808.0", R);
	/* the real nearest -2^63 - 1 is -2^63: rounding, as documented */
	YES("min - 1 <= min", R);
	YES("min - 4096 < min", R);
	YES("min - 1 == -9223372036854775809.0", R);
	YES("max * 2 > max", R);
	YES("min * -1 > 0", R);
	YES("-min > max", R);
	YES("-min == 9223372036854775808.0", R);
	YES("min % -1 == 0", R);
	YES("max % -1 == 0", R);
	YES("max - max == 0", R);
	YES("min + max == -1", R);
	YES("max - -1 > max", R);
	/* no value: division by zero, infinities, NaN; every comparison false */
	NO("i / 0 == 1", R);
	NO("i / 0 != 1", R);
	NO("i / 0 > 0", R);
	YES("not (i / 0 == 1)", R);
	NO("i / z < 1", R);
	NO("i % 0 == 0", R);
	NO("i % 0 != 0", R);
	NO("r / 0 > 0", R);
	NO("r / 0.0 < 0", R);
	NO("r % 0.0 >= 0", R);
	NO("0.0 / 0 == 0", R);
	NO("0 ** -1 > 0", R);
	NO("0 ** -1 != 0", R);
	NO("1e308 * 10 > 0", R);
	NO("1e308 + 1e308 != 0", R);
	NO("(-8) ** 0.5 > 0", R);
	NO("(-8) ** 0.5 != 0", R);
	NO("(i / 0) * 0 == 0", R);
	/* numbers only */
	NO("s + 1 == 1", R);
	NO("s + 1 != 1", R);
	NO("s * 2 == 'xx'", R);
	NO("n + 1 == 1", R);
	NO("m + 1 == 1", R);
	NO("m + 1 != 1", R);
	NO("-s == 1", R);
	NO("-s != 1", R);
	NO("-m != 1", R);
	NO("'a' + 'b' == 'ab'", R);
	NO("t + 1 == 2", R);
	NO("i + t == 8", R);
	NO("[1] + [2] == [1, 2]", R);
	/* a number is no condition */
	NO("i + 1", R);
	NO("i", R);
	NO("0", R);
	/* the parts of a chain are sums */
	YES("i - 1 < i < i + 1", R);
}

static void functions(void)
{
	const char *R = "{\"tags\":[\"a\",\"b\",\"c\"],\"nums\":[1,2.5,3],\"e\":[],"
			"\"nested\":[[1,2],[3]],\"s\":\"abc\",\"x\":1,\"n\":null,"
			"\"mixed\":[null,1],\"objs\":[{\"k\":1},{\"k\":2}]}";

	YES("array_contains(tags, 'a')", R);
	NO("array_contains(tags, 'd')", R);
	YES("array_contains(nums, 2.5)", R);
	YES("array_contains(nums, 3.0)", R);
	YES("array_contains(nums, 1)", R);
	NO("array_contains(nums, '1')", R);
	NO("array_contains(e, 1)", R);
	NO("array_contains(s, 'a')", R);
	NO("array_contains(x, 1)", R);
	NO("array_contains(m, 'a')", R);
	YES("not array_contains(m, 'a')", R);
	NO("array_contains(tags, m)", R);
	NO("array_contains(mixed, null)", R);
	NO("array_contains(mixed, n)", R);
	YES("array_contains(mixed, 1)", R);
	YES("array_contains(nested, [1, 2])", R);
	NO("array_contains(nested, [2, 1])", R);
	YES("array_contains(nested, [3.0])", R);
	NO("array_contains(nested, 1)", R);
	YES("array_contains(nested[0], 1)", R);
	YES("array_contains(tags, tags[2])", R);
	YES("array_contains([1, 2], x)", R);
	YES("array_contains(objs, objs[1])", R);
	YES("array_contains(tags, 'a') and array_contains(tags, 'b')", R);
	/* all: every element in; of none, true */
	YES("array_contains_all(tags, ['a', 'c'])", R);
	YES("array_contains_all(tags, ['c', 'a', 'a'])", R);
	NO("array_contains_all(tags, ['a', 'd'])", R);
	YES("array_contains_all(tags, [])", R);
	YES("array_contains_all(tags, tags)", R);
	NO("array_contains_all(e, ['a'])", R);
	YES("array_contains_all(e, [])", R);
	NO("array_contains_all(tags, 'a')", R);
	NO("array_contains_all(tags, m)", R);
	NO("array_contains_all(m, [])", R);
	NO("array_contains_all(s, [])", R);
	NO("array_contains_all(mixed, [null])", R);
	NO("array_contains_all(mixed, [null, 1])", R);
	YES("array_contains_all(nums, [1.0, 3])", R);
	YES("array_contains_all(nested, [[3], [1, 2]])", R);
	/* any: some element in; of none, false */
	YES("array_contains_any(tags, ['x', 'b'])", R);
	NO("array_contains_any(tags, ['x', 'y'])", R);
	NO("array_contains_any(tags, [])", R);
	NO("array_contains_any(e, [])", R);
	NO("array_contains_any(e, ['a'])", R);
	NO("array_contains_any(tags, 'a')", R);
	NO("array_contains_any(m, ['a'])", R);
	NO("array_contains_any(mixed, [null])", R);
	YES("array_contains_any(mixed, [null, 1])", R);
	YES("array_contains_any(nested, [[3], 7])", R);
	YES("array_contains_any(nums, [2.50])", R);
	YES("not array_contains_any(m, ['a'])", R);
	/* length: an int, no value for what is not a list */
	YES("array_length(tags) == 3", R);
	YES("array_length(e) == 0", R);
	YES("array_length([]) == 0", R);
	YES("array_length([1, [2, 3]]) == 2", R);
	NO("array_length(s) == 3", R);
	NO("array_length(m) == 0", R);
	NO("array_length(m) != 0", R);
	NO("array_length(n) == 0", R);
	YES("array_length(tags) + 1 == 4", R);
	YES("array_length(nested[0]) == 2", R);
	NO("array_length(tags)", R);
	YES("array_length(tags) > array_length(e)", R);
	YES("array_length(x) is null", R);
	YES("2 < array_length(tags) < 4", R);
	YES("array_length(tags) in [3]", R);
	YES("array_length(tags) ** 2 == 9", R);
	/* json_* are the same on lists */
	YES("json_contains(tags, 'b')", R);
	YES("JSON_CONTAINS(nested, [3])", R);
	NO("json_contains(s, 'a')", R);
	NO("json_contains(m, 'a')", R);
	YES("json_contains_all(tags, ['a', 'b'])", R);
	NO("json_contains_all(tags, ['a', 'z'])", R);
	YES("json_contains_all(tags, [])", R);
	YES("json_contains_any(tags, ['z', 'c'])", R);
	NO("json_contains_any(tags, ['z'])", R);
	NO("json_contains_any(tags, [])", R);
	/* names in any case */
	YES("Array_Contains_ALL(tags, ['a'])", R);
	YES("ARRAY_CONTAINS_ANY(tags, ['a'])", R);
	YES("Json_Contains_Any(tags, ['a'])", R);
	YES("json_contains_ALL(tags, ['a'])", R);
	/* a field may have a function's name when no '(' follows */
	YES("array_length == 1", "{\"array_length\":1}");
}

static void bare_conditions(void)
{
	const char *R = "{\"ok\":true,\"no\":false,\"one\":1,\"str\":\"true\",\"n\":null,"
			"\"l\":[true],\"o\":{\"ok\":true}}";

	YES("ok", R);
	NO("no", R);
	NO("one", R);
	NO("str", R);
	NO("n", R);
	NO("missing", R);
	NO("l", R);
	YES("l[0]", R);
	YES("o.ok", R);
	NO("o", R);
	YES("not no", R);
	YES("not missing", R);
	YES("not one", R);
	YES("not n", R);
	NO("not ok", R);
	YES("!no", R);
	YES("ok and not no", R);
	YES("no or ok", R);
	NO("no or one", R);
	YES("ok == true", R);
	YES("(ok)", R);
	YES("ok && one == 1", R);
	/* records that are not objects: fields are missing, $meta is the record */
	NO("a == 1", "5");
	YES("not a == 1", "5");
	NO("exists a", "5");
	YES("$meta == 5", "5");
	YES("$meta > 4.5", "5");
	YES("$meta[0] == 1", "[1, 2]");
	YES("array_length($meta) == 2", "[1, 2]");
	YES("$meta == [1, 2]", "[1, 2]");
	YES("array_contains($meta, 2)", "[1, 2]");
	NO("$meta == null", "null");
	YES("$meta is null", "null");
	YES("exists $meta", "null");
	YES("$meta like 's%'", "\"str\"");
	YES("$meta", "true");
	NO("$meta", "false");
	YES("$meta == $meta", R);
	YES("array_length($meta) is null", R);
	YES("$meta.ok", R);
}

/* ---- template parameters ---- */

/*
 * A minus before a parameter, with fresh values of f (5) and r (2.5):
 * whether expr matches R, and whether the caller's values are untouched
 * afterwards (filter.h: the values are borrowed).
 */
static void minus_param(int line, const char *expr, int want)
{
	const char *R = "{\"a\":-5,\"b\":5,\"h\":-2.5}";
	json_t *f = json_integer(5), *r = json_real(2.5);
	rag_filter_param ps[] = {{"f", f}, {"r", r}};

	expect(line, expr, R, ps, 2, want);
	test_checks++;
	if (json_integer_value(f) != 5 || json_real_value(r) != 2.5) {
		test_failures++;
		fprintf(stderr, "%s:%d: %s: [%s] changed the parameters: f %lld, r %g\n",
			__FILE__, line, test_current, expr, (long long)json_integer_value(f),
			json_real_value(r));
	}
	json_decref(f);
	json_decref(r);
}

#define MINUS_PARAM(e, want) minus_param(__LINE__, e, want)

static void parameter_minus(void)
{
	const char *R = "{\"a\":-5,\"b\":5}";
	json_t *f = json_integer(5);
	rag_filter_param ps[] = {{"f", f}};
	rag_error err;
	rag_filter *f1, *f2;
	json_t *rec = record(R);

	MINUS_PARAM("b == {f}", 1);
	MINUS_PARAM("b == +{f}", 1);
	MINUS_PARAM("a == 0 - {f}", 1);
	/*
	 * A sign before a parameter is folded into the literal: into a copy,
	 * never the caller's value, so a later {f} in the same expression and
	 * a later compile with the same parameters still see 5.
	 */
	MINUS_PARAM("a == -{f}", 1);
	MINUS_PARAM("a == -{f} + 0", 1);
	MINUS_PARAM("a == -({f})", 1);
	MINUS_PARAM("h == -{r}", 1);
	MINUS_PARAM("a in [-{f}]", 1);
	MINUS_PARAM("a == -{f} and b == {f}", 1);
	MINUS_PARAM("a == -{f} and a == -{f}", 1);
	MINUS_PARAM("h == -{r} and -h == {r}", 1);
	/* the second compile with the same parameters sees 5 too */
	f1 = rag_filter_compile("a == -{f}", ps, 1, &err);
	f2 = rag_filter_compile("a == -{f}", ps, 1, &err);
	CHECK(f1 && f2);
	if (f1 && f2 && rec) {
		CHECK_EQ(rag_filter_match(f1, rec, &err), 1);
		CHECK_EQ(rag_filter_match(f2, rec, &err), 1);
	}
	rag_filter_free(f1);
	rag_filter_free(f2);
	json_decref(rec);
	json_decref(f);
}

static void parameters(void)
{
	json_t *y = record("2020"), *srcs = record("[\"arxiv\", \"acl\"]"), *pat = record("\"A%\""),
	       *re = record("\"(?i)^ab\""), *k = record("\"c\""), *i = record("1"),
	       *obj = record("{\"x\":1}"), *t = record("true"), *s = record("\"2020\""),
	       *f = record("5"), *r = record("2.5"), *nl = record("null"),
	       *sp = record("\"odd key\"");
	rag_filter_param ps[] = {
		{"y", y},     {"srcs", srcs}, {"pat", pat}, {"re", re}, {"k", k},
		{"i", i},     {"obj", obj},   {"t", t},     {"s", s},   {"f", f},
		{"r", r},     {"nl", nl},     {"sp", sp},
	};
	const char *R = "{\"year\":2021,\"source\":\"acl\",\"title\":\"Abstract\","
			"\"m\":{\"c\":3},\"l\":[10,20],\"o\":{\"x\":1},\"a\":-5,\"b\":5,"
			"\"s\":\"2020\",\"h\":-2.5,\"odd key\":7}";

	YESP("year > {y}", R, ps);
	NOP("year < {y}", R, ps);
	YESP("{y} < year", R, ps);
	YESP("{y} == 2020", R, ps);
	YESP("{ y } == 2020", R, ps);
	YESP("{\ty\t} == 2020", R, ps);
	YESP("{y} <= year <= {y} + 1", R, ps);
	YESP("source in {srcs}", R, ps);
	NOP("source not in {srcs}", R, ps);
	YESP("'x' not in {srcs}", R, ps);
	YESP("year in [{y}, 2021]", R, ps);
	NOP("year in [{y}]", R, ps);
	YESP("[{srcs}, {y}] == [['arxiv', 'acl'], 2020]", R, ps);
	YESP("source in [{srcs}, 'acl']", R, ps);
	YESP("{srcs} in [{srcs}]", R, ps);
	YESP("array_contains({srcs}, source)", R, ps);
	YESP("title like {pat}", R, ps);
	NOP("source like {pat}", R, ps);
	YESP("title =~ {re}", R, ps);
	NOP("title !~ {re}", R, ps);
	YESP("source !~ {re}", R, ps);
	YESP("m[{k}] == 3", R, ps);
	YESP("$meta['m'][{k}] == 3", R, ps);
	YESP("l[{i}] == 20", R, ps);
	YESP("$meta[{sp}] == 7", R, ps);
	YESP("o == {obj}", R, ps);
	YESP("{obj} == o", R, ps);
	YESP("{t}", R, ps);
	YESP("not not {t}", R, ps);
	YESP("s == {s}", R, ps);
	NOP("{s} == 2020", R, ps);
	NOP("{nl} == {nl}", R, ps);
	YESP("{nl} is null", R, ps);
	YESP("{f} == b and {r} == -h", R, ps);

	/* the filter holds its own references */
	{
		rag_error err;
		json_t *v = json_integer(2021), *rec = record(R);
		rag_filter_param p1[] = {{"v", v}};
		rag_filter *flt = rag_filter_compile("year == {v} and [{v}] == [2021]", p1, 1, &err);
		json_decref(v);
		CHECK(flt != NULL);
		if (flt && rec) {
			CHECK_EQ(rag_filter_match(flt, rec, &err), 1);
			CHECK_EQ(rag_filter_match(flt, rec, &err), 1);
		}
		rag_filter_free(flt);
		json_decref(rec);
	}

	for (size_t n = 0; n < sizeof ps / sizeof *ps; n++)
		json_decref(ps[n].value);
}

static void param_values(void)
{
	json_t *v;

	v = rag_filter_param_value("42");
	CHECK(json_is_integer(v) && json_integer_value(v) == 42);
	json_decref(v);
	v = rag_filter_param_value("-3");
	CHECK(json_is_integer(v) && json_integer_value(v) == -3);
	json_decref(v);
	v = rag_filter_param_value(" 7 ");
	CHECK(json_is_integer(v) && json_integer_value(v) == 7);
	json_decref(v);
	v = rag_filter_param_value("2.5");
	CHECK(json_is_real(v) && json_real_value(v) == 2.5);
	json_decref(v);
	v = rag_filter_param_value("1e3");
	CHECK(json_is_real(v) && json_real_value(v) == 1000.0);
	json_decref(v);
	v = rag_filter_param_value("\"s\"");
	CHECK(json_is_string(v));
	CHECK_STR(json_string_value(v), "s");
	json_decref(v);
	v = rag_filter_param_value("\"2020\"");
	CHECK(json_is_string(v));
	CHECK_STR(json_string_value(v), "2020");
	json_decref(v);
	v = rag_filter_param_value("[1, 2]");
	CHECK(json_is_array(v) && json_array_size(v) == 2 &&
	      json_integer_value(json_array_get(v, 1)) == 2);
	json_decref(v);
	v = rag_filter_param_value("{\"a\": [1]}");
	CHECK(json_is_object(v) && json_is_array(json_object_get(v, "a")));
	json_decref(v);
	v = rag_filter_param_value("true");
	CHECK(json_is_true(v));
	json_decref(v);
	v = rag_filter_param_value("false");
	CHECK(json_is_false(v));
	json_decref(v);
	v = rag_filter_param_value("null");
	CHECK(json_is_null(v));
	json_decref(v);
	/* not JSON: the text itself */
	v = rag_filter_param_value("hello");
	CHECK(json_is_string(v));
	CHECK_STR(json_string_value(v), "hello");
	json_decref(v);
	v = rag_filter_param_value("hello world ");
	CHECK_STR(json_string_value(v), "hello world ");
	json_decref(v);
	v = rag_filter_param_value("");
	CHECK(json_is_string(v));
	CHECK_STR(json_string_value(v), "");
	json_decref(v);
	v = rag_filter_param_value("2020-01-01");
	CHECK(json_is_string(v));
	CHECK_STR(json_string_value(v), "2020-01-01");
	json_decref(v);
	v = rag_filter_param_value("[1, 2");
	CHECK_STR(json_string_value(v), "[1, 2");
	json_decref(v);
	v = rag_filter_param_value("'x'");
	CHECK_STR(json_string_value(v), "'x'");
	json_decref(v);
	v = rag_filter_param_value("12abc");
	CHECK_STR(json_string_value(v), "12abc");
	json_decref(v);
	v = rag_filter_param_value("TRUE");
	CHECK_STR(json_string_value(v), "TRUE");
	json_decref(v);
	v = rag_filter_param_value("héllo");
	CHECK_STR(json_string_value(v), "héllo");
	json_decref(v);
	v = rag_filter_param_value("1 2");
	CHECK_STR(json_string_value(v), "1 2");
	json_decref(v);
	/* not UTF-8: nothing */
	v = rag_filter_param_value("\xff");
	CHECK(v == NULL);
	json_decref(v);
}

static void params_add(void)
{
	rag_filter_params ps = {NULL, 0};
	rag_error err;
	json_t *rec = record("{}");
	rag_filter *f;

	CHECK_EQ(rag_filter_params_add(&ps, "y=2020", &err), 0);
	CHECK_EQ(rag_filter_params_add(&ps, "s=hello world", &err), 0);
	CHECK_EQ(rag_filter_params_add(&ps, "l=[1, 2]", &err), 0);
	CHECK_EQ(rag_filter_params_add(&ps, "e=", &err), 0);
	CHECK_EQ(rag_filter_params_add(&ps, "eq=a=b", &err), 0);
	CHECK_EQ(rag_filter_params_add(&ps, "Y_2=\"q\"", &err), 0);
	CHECK_EQ(ps.n, 6);
	/* a later one of the same name wins */
	CHECK_EQ(rag_filter_params_add(&ps, "y=2021", &err), 0);
	CHECK_EQ(ps.n, 6);
	if (ps.n == 6) {
		CHECK_STR(ps.v[0].name, "y");
		CHECK(json_integer_value(ps.v[0].value) == 2021);
		CHECK_STR(ps.v[4].name, "eq");
		CHECK_STR(json_string_value(ps.v[4].value), "a=b");
		CHECK_STR(ps.v[5].name, "Y_2");
	}
	/* errors */
	CHECK_EQ(rag_filter_params_add(&ps, "=5", &err), -1);
	CHECK_EQ(err.code, RAG_EUSAGE);
	CHECK_STR(err.text, "--param wants NAME=VALUE, not \"=5\"");
	CHECK_EQ(rag_filter_params_add(&ps, "noequals", &err), -1);
	CHECK_EQ(err.code, RAG_EUSAGE);
	CHECK_STR(err.text, "--param wants NAME=VALUE, not \"noequals\"");
	CHECK_EQ(rag_filter_params_add(&ps, "a-b=1", &err), -1);
	CHECK_EQ(err.code, RAG_EUSAGE);
	CHECK_STR(err.text, "--param \"a-b=1\": a name is letters, digits and '_'");
	CHECK_EQ(rag_filter_params_add(&ps, "$x=1", &err), -1);
	CHECK_EQ(err.code, RAG_EUSAGE);
	CHECK_EQ(rag_filter_params_add(&ps, "a b=1", &err), -1);
	CHECK_EQ(err.code, RAG_EUSAGE);
	CHECK_EQ(rag_filter_params_add(&ps, "v=\xff", &err), -1);
	CHECK_EQ(err.code, RAG_EUSAGE);
	CHECK_STR(err.text, "--param \"v=\\xff\": the value is not valid UTF-8");
	CHECK_EQ(ps.n, 6);

	f = rag_filter_compile("{y} == 2021 and {s} == 'hello world' and {l} == [1, 2] and "
			       "{e} == '' and {eq} == 'a=b' and {Y_2} == 'q'",
			       ps.v, ps.n, &err);
	CHECK(f != NULL);
	if (f && rec)
		CHECK_EQ(rag_filter_match(f, rec, &err), 1);
	rag_filter_free(f);
	json_decref(rec);
	rag_filter_params_free(&ps);
	CHECK(ps.v == NULL);
	CHECK_EQ(ps.n, 0);
	rag_filter_params_free(&ps);
}

/* ---- errors ---- */

static void errors(void)
{
	json_t *one = json_integer(1), *neg = json_integer(-1), *t = json_true(),
	       *r = json_real(1.5), *str = json_string("x");
	rag_filter_param ps[] = {{"one", one}, {"neg", neg}, {"t", t}, {"r", r}, {"str", str}};
	char *e;

	BAD("", "the expression is empty", 1, 1);
	BAD("   ", "the expression is empty", 1, 1);
	BAD("a == 1 and b = 2", "'=' is not an operator here: compare with '=='", 1, 14);
	BAD("a = = 1", "'=' is not an operator here: compare with '=='", 1, 3);
	BAD("a == 1 # x", "unexpected character '#'", 1, 8);
	BAD("a == «x»", "unexpected character '«'", 1, 6);
	BAD("a & b", "unexpected character '&'", 1, 3);
	BAD("a | b", "unexpected character '|'", 1, 3);
	BAD("a ~ 'x'", "unexpected character '~'", 1, 3);
	BAD("a[0:1] == 1", "unexpected character ':'", 1, 4);
	BAD("a ==", "expected a value after '=='", 1, 5);
	BAD("a == )", "expected a value after '==', not ')'", 1, 6);
	BAD("a == not", "expected a value after '==', not 'not'", 1, 6);
	BAD("a < like", "expected a value after '<', not 'like'", 1, 5);
	BAD("a == 1 b", "unexpected 'b': expected 'and', 'or' or the end", 1, 8);
	BAD("a == 1 2", "unexpected '2': expected 'and', 'or' or the end", 1, 8);
	BAD("exists a == 1", "unexpected '==': expected 'and', 'or' or the end", 1, 10);
	BAD("a.1 == 1", "unexpected '.1': expected 'and', 'or' or the end", 1, 2);
	BAD("(a == 1", "this '(' has no closing ')'", 1, 1);
	BAD("(a == 1 b", "expected ')' to close the '(' at 1:1, not 'b'", 1, 9);
	BAD("x and (a == 1 b", "expected ')' to close the '(' at 1:7, not 'b'", 1, 15);
	BAD("a in [1, 2", "this '[' has no closing ']'", 1, 6);
	BAD("a in [1,", "this '[' has no closing ']'", 1, 6);
	BAD("a in [1 2]", "expected ',' or ']' in the list, not '2'", 1, 9);
	BAD("a in [,]", "expected a value in the list, not ','", 1, 7);
	BAD("a in [1, like]", "expected a value in the list, not 'like'", 1, 10);
	BAD("a in [b]", "a list holds literal values only", 1, 7);
	BAD("a in [1, 1 + 2]", "a list holds literal values only", 1, 10);
	BAD("a in [-b]", "a list holds literal values only", 1, 7);
	BAD("a in [1 and 2]", "expected ',' or ']' in the list, not 'and'", 1, 9);
	BAD("a in 5", "expected a list in [ ] after 'in', not '5'", 1, 6);
	BAD("a in", "expected a list in [ ] after 'in'", 1, 5);
	BAD("a not in 5", "expected a list in [ ] after 'not in', not '5'", 1, 10);
	BAD("a not in (1, 2)", "expected a list in [ ] after 'not in', not '('", 1, 10);
	BAD("a[", "expected a quoted key or an index after '['", 1, 3);
	BAD("a[b] == 1", "expected a quoted key or an index after '[', not 'b'", 1, 3);
	BAD("a[-1] == 1", "expected a quoted key or an index after '[', not '-'", 1, 3);
	BAD("a[1.5] == 1", "expected a quoted key or an index after '[', not '1.5'", 1, 3);
	BAD("a[\"b\"", "this '[' has no closing ']'", 1, 2);
	BAD("a[\"b\" \"c\"] == 1", "this '[' has no closing ']'", 1, 2);
	BAD("a. == 1", "expected a field name after '.', not '=='", 1, 4);
	BAD("a.", "expected a field name after '.'", 1, 3);
	BAD("a.'b' == 1", "expected a field name after '.', not ''b''", 1, 3);
	BAD("foo(1)", "unknown function 'foo'", 1, 1);
	BAD("x and ARRAY_LEN(a) == 1", "unknown function 'ARRAY_LEN'", 1, 7);
	BAD("array_length(a, b) == 1", "array_length takes 1 argument, not 2", 1, 1);
	BAD("x and array_contains(a)", "array_contains takes 2 arguments, not 1", 1, 7);
	BAD("array_length() == 0", "array_length takes 1 argument, not 0", 1, 1);
	BAD("array_contains(a, 1", "this '(' has no closing ')'", 1, 15);
	BAD("array_contains(a 1)", "expected ',' or ')', not '1'", 1, 18);
	BAD("array_contains(a,)", "expected an argument after '(', not ')'", 1, 18);
	BAD("array_length(", "expected an argument after '('", 1, 14);
	BAD("array_contains(a, b == 1)", "expected ',' or ')', not '=='", 1, 21);
	BAD("a like b", "expected a quoted pattern after 'like', not 'b'", 1, 8);
	BAD("a like", "expected a quoted pattern after 'like'", 1, 7);
	BAD("a =~ 1", "expected a quoted pattern after '=~', not '1'", 1, 6);
	BAD("a !~ x", "expected a quoted pattern after '!~', not 'x'", 1, 6);
	BAD("a =~ \"a(\"",
	    "bad regular expression: missing closing parenthesis (at offset 2 of the pattern)", 1, 6);
	BAD("x or a !~ '['",
	    "bad regular expression: missing terminating ] for character class (at offset 1 of the "
	    "pattern)",
	    1, 11);
	BAD("a is", "expected null after 'is'", 1, 5);
	BAD("a is 1", "expected null after 'is', not '1'", 1, 6);
	BAD("a is not 1", "expected null after 'is not', not '1'", 1, 10);
	BAD("a is not", "expected null after 'is not'", 1, 9);
	BAD("not", "expected a condition after 'not'", 1, 4);
	BAD("not )", "expected a condition after 'not', not ')'", 1, 5);
	BAD("not in [1]", "expected a condition after 'not', not 'in'", 1, 5);
	BAD("!", "expected a condition after '!'", 1, 2);
	BAD("a == 1 and", "expected a condition after 'and'", 1, 11);
	BAD("a == 1 || )", "expected a condition after '||', not ')'", 1, 11);
	BAD("a == 1 or or b", "expected a condition after 'or', not 'or'", 1, 11);
	BAD("a && && b", "expected a condition after '&&', not '&&'", 1, 6);
	BAD("and a", "expected a condition, not 'and'", 1, 1);
	BAD(")", "expected a condition, not ')'", 1, 1);
	BAD("in == 1", "expected a condition, not 'in'", 1, 1);
	BAD("== 1", "expected a condition, not '=='", 1, 1);
	BAD("exists", "expected a field after 'exists'", 1, 7);
	BAD("exists 1", "expected a field after 'exists', not '1'", 1, 8);
	BAD("exists (a)", "expected a field after 'exists', not '('", 1, 8);
	BAD("exists true", "expected a field after 'exists', not 'true'", 1, 8);
	BAD("1 +", "expected a value after '+'", 1, 4);
	BAD("1 + * 2", "expected a value after '+', not '*'", 1, 5);
	BAD("2 **", "expected a value after '**'", 1, 5);
	BAD("2 * / 3", "expected a value after '*', not '/'", 1, 5);
	BAD("a == -", "expected a value after '-'", 1, 7);
	BAD("a == - not", "expected a value after '-', not 'not'", 1, 8);
	BAD("a == ()", "expected a condition, not ')'", 1, 7);
	BAD("{", "expected a parameter name and '}' after '{'", 1, 1);
	BAD("a == {}", "expected a parameter name and '}' after '{'", 1, 6);
	BAD("a == {x y}", "expected a parameter name and '}' after '{'", 1, 6);
	BAD("a == {x", "expected a parameter name and '}' after '{'", 1, 6);
	BAD("a == {x}", "no value given for the parameter {x}", 1, 6);
	BADP("a == {one} and b == {two}", ps, "no value given for the parameter {two}", 1, 21);
	BADP("a in [1, {zz}]", ps, "no value given for the parameter {zz}", 1, 10);
	BADP("a in {zz}", ps, "no value given for the parameter {zz}", 1, 6);
	BADP("a like {zz}", ps, "no value given for the parameter {zz}", 1, 8);
	BADP("a[{zz}] == 1", ps, "no value given for the parameter {zz}", 1, 3);
	BADP("a like {one}", ps, "the parameter {one} must be a string after 'like'", 1, 8);
	BADP("a =~ {t}", ps, "the parameter {t} must be a string after '=~'", 1, 6);
	BADP("a in {one}", ps, "the parameter {one} must be a list after 'in'", 1, 6);
	BADP("a in {str}", ps, "the parameter {str} must be a list after 'in'", 1, 6);
	BADP("a[{neg}] == 1", ps, "an array index cannot be negative", 1, 3);
	BADP("a[{t}] == 1", ps, "expected a quoted key or an index after '[', not '{t}'", 1, 3);
	BADP("a[{r}] == 1", ps, "expected a quoted key or an index after '[', not '{r}'", 1, 3);
	BAD("\"abc", "this string has no closing \"", 1, 1);
	BAD("a == 'abc", "this string has no closing '", 1, 6);
	BAD("a == 'abc\"", "this string has no closing '", 1, 6);
	BAD("a =~ r\"abc", "this string has no closing \"", 1, 6);
	BAD("a == \"x\\", "this string has no closing \"", 1, 6);
	BAD("a == \"x\\\"", "this string has no closing \"", 1, 6);
	BAD("a == \"\\u12g4\"", "\\u needs four hex digits", 1, 7);
	BAD("a == \"\\u12\"", "\\u needs four hex digits", 1, 7);
	BAD("a == \"\\u", "\\u needs four hex digits", 1, 7);
	BAD("a == \"\\ud800\"", "a lone surrogate in \\u escapes", 1, 7);
	BAD("a == \"\\udc00\"", "a lone surrogate in \\u escapes", 1, 7);
	BAD("a == \"\\uDFFF\"", "a lone surrogate in \\u escapes", 1, 7);
	BAD("a == \"x\\ud83dx\"", "a lone surrogate in \\u escapes", 1, 8);
	BAD("a == \"\\ud83d\\u0041\"", "a lone surrogate in \\u escapes", 1, 7);
	BAD("a == \"\\ud83d\\ud83d\"", "a lone surrogate in \\u escapes", 1, 7);
	BAD("a == \"\\ud83d", "a lone surrogate in \\u escapes", 1, 7);
	BAD("a == 1e999", "this number is out of range", 1, 6);
	BAD("a == 12abc", "a number cannot run into letters", 1, 6);
	BAD("a == 1e", "a number cannot run into letters", 1, 6);
	BAD("a == 0x10", "a number cannot run into letters", 1, 6);
	BAD("a == 1_000", "a number cannot run into letters", 1, 6);
	BAD("a == 1and b", "a number cannot run into letters", 1, 6);
	BAD("a == 0000000000000000000000000000000000000000000000000000000000000001",
	    "this number is too long", 1, 6);
	BAD("a == \"\xff\"", "the expression is not valid UTF-8", 1, 7);
	BAD("a == 'é\xc3'", "the expression is not valid UTF-8", 1, 9);

	/* the token in a message: at most 40 bytes, then "..." */
	e = repeat("a == 1 \"", "x", 50, "\"", "", 0, "");
	BAD(e,
	    "unexpected '\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...': expected 'and', 'or' or the "
	    "end",
	    1, 8);
	free(e);
	/*
	 * A long token is cut in the message at a character boundary, so the
	 * message stays valid UTF-8: here '"' and 30 'é'.
	 */
	{
		rag_error err;
		rag_filter *f;
		e = repeat("a == 1 \"", "é", 30, "\"", "", 0, "");
		f = rag_filter_compile(e, NULL, 0, &err);
		CHECK(f == NULL);
		if (!f)
			CHECK_EQ(rag_utf8_valid_prefix(err.text, strlen(err.text)), strlen(err.text));
		rag_filter_free(f);
		free(e);
	}

	/* NULL err: still a clean failure */
	CHECK(rag_filter_compile("a ==", NULL, 0, NULL) == NULL);
	CHECK(rag_filter_compile("a == {x}", NULL, 0, NULL) == NULL);
	rag_filter_free(NULL);

	json_decref(one);
	json_decref(neg);
	json_decref(t);
	json_decref(r);
	json_decref(str);
}

/* Lines and columns: 1-based, columns in bytes, counted from each newline. */
static void error_places(void)
{
	BAD("a == 1 and\n  b = 2", "'=' is not an operator here: compare with '=='", 2, 5);
	BAD("a == 1\r\nor b = 2", "'=' is not an operator here: compare with '=='", 2, 6);
	BAD("a == 1\n\n\nor b = 2", "'=' is not an operator here: compare with '=='", 4, 6);
	BAD("a == 1 or\n\tb = 2", "'=' is not an operator here: compare with '=='", 2, 4);
	BAD("a ==\n", "expected a value after '=='", 2, 1);
	BAD("(a == 1\nor b == 2", "this '(' has no closing ')'", 1, 1);
	BAD("a == 1 and\n\"x", "this string has no closing \"", 2, 1);
	BAD("a == 1 and\nb in [1,\n2", "this '[' has no closing ']'", 2, 6);
	/* multi-byte characters before the fault count their bytes */
	BAD("\"日本\" == 1 and b = 2", "'=' is not an operator here: compare with '=='", 1, 21);
	BAD("a == 'é'\nor 'ü' == b = 2", "'=' is not an operator here: compare with '=='", 2, 14);
	BAD("a == '😀' x", "unexpected 'x': expected 'and', 'or' or the end", 1, 13);
	/* the '(' by its own line and column */
	BAD("a == 1\nor (b == 2 c", "expected ')' to close the '(' at 2:4, not 'c'", 2, 12);
	BAD("(a == 1\nor b == 2 c", "expected ')' to close the '(' at 1:1, not 'c'", 2, 11);
	BAD("x or\n  'é' == 1 or (b == 2 c", "expected ')' to close the '(' at 2:16, not 'c'", 2,
	    24);
}

static void caret(void)
{
	char buf[256];
	rag_error err;
	rag_filter *f;
	const char *e;

	e = "a == 1 and b = 2";
	f = rag_filter_compile(e, NULL, 0, &err);
	CHECK(f == NULL);
	CHECK_STR(rag_filter_caret(e, &err, buf, sizeof buf),
		  "  a == 1 and b = 2\n"
		  "               ^\n");
	rag_filter_free(f);

	/* one space per character before the column */
	e = "\"日本\" == 1 and b = 2";
	f = rag_filter_compile(e, NULL, 0, &err);
	CHECK(f == NULL);
	CHECK_STR(rag_filter_caret(e, &err, buf, sizeof buf),
		  "  \"日本\" == 1 and b = 2\n"
		  "                  ^\n");
	rag_filter_free(f);

	/* the line at fault; tabs kept so that the caret lines up */
	e = "a == 1 and\n\tb = 2\nor c";
	f = rag_filter_compile(e, NULL, 0, &err);
	CHECK(f == NULL);
	CHECK_EQ(err.line, 2);
	CHECK_EQ(err.column, 4);
	CHECK_STR(rag_filter_caret(e, &err, buf, sizeof buf),
		  "  \tb = 2\n"
		  "  \t  ^\n");
	rag_filter_free(f);

	/* at the end of the expression: past its last character */
	e = "a ==";
	f = rag_filter_compile(e, NULL, 0, &err);
	CHECK(f == NULL);
	CHECK_STR(rag_filter_caret(e, &err, buf, sizeof buf),
		  "  a ==\n"
		  "      ^\n");
	rag_filter_free(f);

	/* no column, no caret */
	rag_error_clear(&err);
	CHECK_STR(rag_filter_caret("a", &err, buf, sizeof buf), "");
	CHECK_STR(rag_filter_caret("a", NULL, buf, sizeof buf), "");
	/* a small buffer: cut short, never overrun */
	{
		char *small = malloc(10);
		e = "a == 1 and b = 2";
		f = rag_filter_compile(e, NULL, 0, &err);
		if (small) {
			rag_filter_caret(e, &err, small, 10);
			CHECK(strlen(small) < 10);
			CHECK_EQ(strncmp(small, "  a == 1 and", strlen(small)), 0);
			rag_filter_caret(e, &err, small, 1);
			CHECK_STR(small, "");
		}
		free(small);
		rag_filter_free(f);
	}
}

/* ---- the nesting limit ---- */

/* Child: the expression must fail with "nests too deeply" (exit 0). */
static int child_too_deep(const char *expr)
{
	rag_error err;
	rag_filter *f = rag_filter_compile(expr, NULL, 0, &err);
	int ok = !f && err.code == RAG_EUSAGE &&
		 strcmp(err.text, "the expression nests too deeply") == 0 && err.line == 1 &&
		 err.column > 0;

	if (!ok)
		fprintf(stderr, "  %.40s...: %s\n", expr, f ? "compiled" : err.text);
	rag_filter_free(f);
	return ok ? 0 : 1;
}

/*
 * Child: the expression must either fail cleanly as a bad expression or
 * compile and match {"a":0} (exit 0); a crash is a signal.
 */
static int child_clean(const char *expr)
{
	rag_error err;
	rag_filter *f = rag_filter_compile(expr, NULL, 0, &err);
	json_t *rec = record("{\"a\":0}");
	int ok;

	if (!f) {
		ok = err.code == RAG_EUSAGE;
	} else {
		ok = rag_filter_match(f, rec, &err) == 1;
	}
	rag_filter_free(f);
	json_decref(rec);
	return ok ? 0 : 1;
}

static void nesting(void)
{
	char *e;

	/* well within the limit */
	e = repeat("", "(", 150, "a == 0", ")", 150, "");
	YES(e, "{\"a\":0}");
	free(e);
	e = repeat("", "not ", 150, "a == 0", "", 0, "");
	YES(e, "{\"a\":0}");
	free(e);
	e = repeat("a == ", "-", 150, "0", "", 0, "");
	YES(e, "{\"a\":0}");
	free(e);
	e = repeat("a == 1 ", "** 1 ", 150, "- 1", "", 0, "");
	YES(e, "{\"a\":0}");
	free(e);

	/* rag-filter(1): more than 200 levels nest too deeply, 200 do not */
	e = repeat("", "(", 200, "a == 0", ")", 200, "");
	YES(e, "{\"a\":0}");
	free(e);
	e = repeat("", "not ", 200, "a == 0", "", 0, "");
	YES(e, "{\"a\":0}");
	free(e);
	e = repeat("a == ", "-", 200, "0", "", 0, "");
	YES(e, "{\"a\":0}");
	free(e);
	e = repeat("", "not (", 100, "a == 0", ")", 100, ""); /* an even number of nots */
	YES(e, "{\"a\":0}");
	free(e);
	/* past it: a clean error, however deep */
	e = repeat("", "(", 201, "a == 0", ")", 201, "");
	CHECK_EQ(in_child(child_too_deep, e), CHILD_OK);
	free(e);
	e = repeat("", "not ", 201, "a == 0", "", 0, "");
	CHECK_EQ(in_child(child_too_deep, e), CHILD_OK);
	free(e);
	e = repeat("", "(", 10000, "a == 0", ")", 10000, "");
	CHECK_EQ(in_child(child_too_deep, e), CHILD_OK);
	free(e);
	e = repeat("", "(", 50000, "", "", 0, "");
	CHECK_EQ(in_child(child_too_deep, e), CHILD_OK);
	free(e);
	e = repeat("", "not ", 10000, "a", "", 0, "");
	CHECK_EQ(in_child(child_too_deep, e), CHILD_OK);
	free(e);
	e = repeat("", "!", 50000, "a", "", 0, "");
	CHECK_EQ(in_child(child_too_deep, e), CHILD_OK);
	free(e);
	e = repeat("a == ", "-", 50000, "1", "", 0, "");
	CHECK_EQ(in_child(child_too_deep, e), CHILD_OK);
	free(e);
	e = repeat("a == ", "+", 50000, "1", "", 0, "");
	CHECK_EQ(in_child(child_too_deep, e), CHILD_OK);
	free(e);
	e = repeat("a == 2", " ** 2", 50000, "", "", 0, "");
	CHECK_EQ(in_child(child_too_deep, e), CHILD_OK);
	free(e);
	e = repeat("a == ", "2 ** -", 50000, "2", "", 0, "");
	CHECK_EQ(in_child(child_too_deep, e), CHILD_OK);
	free(e);
	e = repeat("a in ", "[(", 10000, "1", ")]", 10000, "");
	CHECK_EQ(in_child(child_too_deep, e), CHILD_OK);
	free(e);

	/*
	 * Nested list literals and nested function calls count as nesting:
	 * a deep one fails cleanly, on a 1 MiB stack too.
	 */
	e = repeat("not (a in ", "[", 50000, "0", "]", 50000, ")");
	CHECK_EQ(in_child(child_clean, e), CHILD_OK);
	free(e);
	e = repeat("", "array_length(", 50000, "a", ")", 50000, " is null");
	CHECK_EQ(in_child(child_clean, e), CHILD_OK);
	free(e);
	/*
	 * A long left-associative chain (a + 0 + 0 + ...) is a tree as deep
	 * as the chain is long, and counts as nesting: it fails cleanly or
	 * gives the right answer.
	 */
	e = repeat("a", " + 0", 50000, " == 0", "", 0, "");
	CHECK_EQ(in_child(child_clean, e), CHILD_OK);
	free(e);
	e = repeat("a", " * 1", 50000, " == 0", "", 0, "");
	CHECK_EQ(in_child(child_clean, e), CHILD_OK);
	free(e);
	/* long flat chains are no nesting */
	e = repeat("a == 0", " and a == 0", 10000, "", "", 0, "");
	CHECK_EQ(in_child(child_clean, e), CHILD_OK);
	free(e);
	e = repeat("a == 1", " or a == 1", 10000, " or a == 0", "", 0, "");
	CHECK_EQ(in_child(child_clean, e), CHILD_OK);
	free(e);
	e = repeat("a", " <= 0", 10000, "", "", 0, "");
	CHECK_EQ(in_child(child_clean, e), CHILD_OK);
	free(e);
	e = repeat("a in [", "0, ", 10000, "0]", "", 0, "");
	CHECK_EQ(in_child(child_clean, e), CHILD_OK);
	free(e);
}

/* ---- fields read ---- */

/* The fields of expr joined by ',', and whole, as "a,b|0". */
static const char *fields_of(const char *expr, const rag_filter_param *ps, size_t n)
{
	static char out[512];
	rag_error err;
	rag_filter *f = rag_filter_compile(expr, ps, n, &err);
	const char *const *v;
	int whole = -1;
	size_t o = 0;

	if (!f) {
		snprintf(out, sizeof out, "error: %.400s", err.text);
		return out;
	}
	v = rag_filter_fields(f, &whole);
	out[0] = '\0';
	for (size_t i = 0; v && v[i]; i++)
		o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", i ? "," : "", v[i]);
	snprintf(out + o, sizeof out - o, "|%d", whole);
	rag_filter_free(f);
	return out;
}

static void fields_read(void)
{
	json_t *k = json_string("z");
	rag_filter_param ps[] = {{"k", k}};

	CHECK_STR(fields_of("a == 1", NULL, 0), "a|0");
	CHECK_STR(fields_of("b == 1 or a == 1 and b == 2", NULL, 0), "b,a|0");
	CHECK_STR(fields_of("a.x == 1 and a['y'] == 2 and a[0] == 3 and a.b.c == 4", NULL, 0),
		  "a|0");
	CHECK_STR(fields_of("c < b < a", NULL, 0), "c,b,a|0");
	CHECK_STR(fields_of("a * b + c == d", NULL, 0), "a,b,c,d|0");
	CHECK_STR(fields_of("a + b * c ** d == -e", NULL, 0), "a,b,c,d,e|0");
	CHECK_STR(fields_of("1 == 1", NULL, 0), "|0");
	CHECK_STR(fields_of("true", NULL, 0), "|0");
	CHECK_STR(fields_of("$meta == 1", NULL, 0), "|1");
	CHECK_STR(fields_of("exists $meta", NULL, 0), "|1");
	CHECK_STR(fields_of("$meta[0] == 1 and x == 1", NULL, 0), "x|1");
	CHECK_STR(fields_of("x == 1 and array_length($meta) == 1", NULL, 0), "x|1");
	CHECK_STR(fields_of("$meta['odd key'] == 1 and $meta.p == 2", NULL, 0), "odd key,p|0");
	CHECK_STR(fields_of("$meta[{k}] == 1", ps, 1), "z|0");
	CHECK_STR(fields_of("q[{k}] == 1", ps, 1), "q|0");
	CHECK_STR(fields_of("a == 1 and b.c > 2 or a < 3 and $meta[\"d\"] == 1 and e[0] == 1 "
			    "and exists f and array_contains(g, h) and i in [1] and j like 'x' "
			    "and k =~ 'y' and l is null and -m == 1 and n + o == 1 and "
			    "not $meta.p and q[{k}] == 1 and r !~ 'x' and s not in [1] and "
			    "t is not null and (u) and !v and w && x2 || y2",
			    ps, 1),
		  "a,b,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x2,y2|0");
	/* names are case-sensitive; keywords and functions are no fields */
	CHECK_STR(fields_of("A == 1 and a == 1 and A == 2", NULL, 0), "A,a|0");
	CHECK_STR(fields_of("ARRAY_LENGTH(x) == 1 and TRUE and y IS NOT NULL", NULL, 0), "x,y|0");
	/* whole may be NULL */
	{
		rag_error err;
		rag_filter *f = rag_filter_compile("a == 1", NULL, 0, &err);
		const char *const *v = f ? rag_filter_fields(f, NULL) : NULL;
		CHECK(v && v[0] && strcmp(v[0], "a") == 0 && !v[1]);
		rag_filter_free(f);
	}
	json_decref(k);
}

/* ---- matching ---- */

static void match_errors_and_reuse(void)
{
	rag_error err;
	rag_filter *f;
	json_t *r1 = record("{\"a\":1}"), *r2 = record("{\"a\":2}"), *r3, *bomb;
	char *s;

	/* one filter over many records */
	f = rag_filter_compile("a == 1", NULL, 0, &err);
	CHECK(f != NULL);
	if (f && r1 && r2) {
		CHECK_EQ(rag_filter_match(f, r1, &err), 1);
		CHECK_EQ(rag_filter_match(f, r2, &err), 0);
		CHECK_EQ(rag_filter_match(f, r1, &err), 1);
		CHECK_EQ(rag_filter_match(f, r1, NULL), 1);
	}
	rag_filter_free(f);

	/* a regex that hits PCRE2's match limit: -1 with err, then the filter works on */
	s = repeat("{\"s\":\"", "a", 40, "!\"}", "", 0, "");
	bomb = record(s);
	free(s);
	r3 = record("{\"s\":\"aaa\"}");
	f = rag_filter_compile("s =~ '^(a|a?)+$' or true", NULL, 0, &err);
	CHECK(f != NULL);
	if (f && bomb && r3) {
		rag_error_clear(&err);
		CHECK_EQ(rag_filter_match(f, bomb, &err), -1);
		CHECK_EQ(err.code, RAG_EDATA);
		CHECK_EQ(strncmp(err.text, "regular expression: ", 20), 0);
		CHECK_EQ(rag_filter_match(f, bomb, NULL), -1);
		CHECK_EQ(rag_filter_match(f, r3, &err), 1);
		CHECK_EQ(rag_filter_match(f, r1, &err), 1);
	}
	rag_filter_free(f);
	/* and / or stop as soon as the answer is known: no error then */
	f = rag_filter_compile("true or s =~ '^(a|a?)+$'", NULL, 0, &err);
	CHECK(f && bomb && rag_filter_match(f, bomb, &err) == 1);
	rag_filter_free(f);
	f = rag_filter_compile("false and s =~ '^(a|a?)+$'", NULL, 0, &err);
	CHECK(f && bomb && rag_filter_match(f, bomb, &err) == 0);
	rag_filter_free(f);
	f = rag_filter_compile("s =~ '^(a|a?)+$' and false", NULL, 0, &err);
	CHECK(f && bomb && rag_filter_match(f, bomb, &err) == -1);
	rag_filter_free(f);
	f = rag_filter_compile("not (s !~ '^(a|a?)+$')", NULL, 0, &err);
	CHECK(f && bomb && rag_filter_match(f, bomb, &err) == -1);
	rag_filter_free(f);
	json_decref(r1);
	json_decref(r2);
	json_decref(r3);
	json_decref(bomb);
}

/* ---- indexed fields: rag_filter_path and rag_filter_select ---- */

static void field_paths(void)
{
	static const char *const good[] = {"year", "meta.lang", "a[\"b\"]", "tags[0]",
					   "$meta[\"odd key\"]", "a.b[2].c"};
	static const char *const bad[] = {"year +", "$meta", "", "1", "true", "not", "a == 1",
					  "a..b", "{p}", "f(x)"};
	json_t *r = record("{\"year\":2001,\"meta\":{\"lang\":\"en\"},\"a\":{\"b\":[1]},"
			   "\"tags\":[\"x\",\"y\"],\"odd key\":null}");
	rag_error err;
	rag_filter *p;
	const json_t *v;

	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		p = rag_filter_path(good[i], &err);
		CHECK(p != NULL);
		rag_filter_free(p);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char want[200];
		memset(&err, 0, sizeof err);
		p = rag_filter_path(bad[i], &err);
		CHECK(p == NULL);
		CHECK_EQ(err.code, RAG_EUSAGE);
		snprintf(want, sizeof want, "\"%s\" is not a field path (a name, a.b, a[\"b\"] or a[0])",
			 bad[i]);
		CHECK_STR(err.text, want);
		rag_filter_free(p);
	}
	if (!r)
		return;
	p = rag_filter_path("year", &err);
	v = p ? rag_filter_path_get(p, r) : NULL;
	CHECK(v && json_is_integer(v) && json_integer_value(v) == 2001);
	rag_filter_free(p);
	p = rag_filter_path("meta[\"lang\"]", &err);
	v = p ? rag_filter_path_get(p, r) : NULL;
	CHECK(v && json_is_string(v) && strcmp(json_string_value(v), "en") == 0);
	rag_filter_free(p);
	p = rag_filter_path("tags[1]", &err);
	v = p ? rag_filter_path_get(p, r) : NULL;
	CHECK(v && json_is_string(v) && strcmp(json_string_value(v), "y") == 0);
	rag_filter_free(p);
	p = rag_filter_path("$meta[\"odd key\"]", &err);
	v = p ? rag_filter_path_get(p, r) : NULL;
	CHECK(v && json_is_null(v));
	rag_filter_free(p);
	/* missing: NULL, however deep */
	static const char *const none[] = {"nope", "tags[2]", "meta.x", "year.x", "a.b.c",
					   "tags[0].x"};
	for (size_t i = 0; i < sizeof none / sizeof *none; i++) {
		p = rag_filter_path(none[i], &err);
		CHECK(p && rag_filter_path_get(p, r) == NULL);
		rag_filter_free(p);
	}
	json_decref(r);
}

/*
 * A fake segment for rag_filter_select: n records and their indexed
 * fields, each value listed once (by its compact text, as a segment
 * keeps it) with the records that hold it.
 */
typedef struct fcol {
	rag_filter *path;
	size_t nv;
	char **text;     /* compact JSON of each value */
	json_t **value;  /* the text read back */
	uint32_t **docs; /* the records of each value, increasing */
	size_t *ndocs;
} fcol;

typedef struct fseg {
	json_t **rec;
	uint32_t n;
	fcol col[8];
	size_t ncols;
	int fail_value, fail_mark; /* make value() / mark() fail */
	size_t calls;
} fseg;

static const rag_filter *fs_path(void *arg, size_t i)
{
	return ((fseg *)arg)->col[i].path;
}

static size_t fs_nvalues(void *arg, size_t i)
{
	return ((fseg *)arg)->col[i].nv;
}

static const json_t *fs_value(void *arg, size_t i, size_t j, rag_error *err)
{
	fseg *s = arg;

	s->calls++;
	CHECK(i < s->ncols && j < s->col[i].nv);
	if (s->fail_value) {
		rag_error_set(err, RAG_EDATA, "fake", 0, "value %zu of field %zu is damaged", j, i);
		return NULL;
	}
	return s->col[i].value[j];
}

static int fs_mark(void *arg, size_t i, size_t j, unsigned char *bits, int set, rag_error *err)
{
	fseg *s = arg;
	const fcol *c = &s->col[i];

	CHECK(i < s->ncols && j < c->nv);
	if (s->fail_mark)
		return rag_error_set(err, RAG_EDATA, "fake", 0, "records of value %zu damaged", j);
	for (size_t k = 0; k < c->ndocs[j]; k++) {
		uint32_t d = c->docs[j][k];
		if (set)
			bits[d / 8] |= (unsigned char)(1u << (d % 8));
		else
			bits[d / 8] &= (unsigned char)~(1u << (d % 8));
	}
	return 0;
}

static int text_cmp(const char *a, const char *b)
{
	return strcmp(a, b); /* compact JSON text has no NUL: \u0000 is escaped */
}

/* Adds a column for path to s, its values taken from the records. */
static void fseg_add(fseg *s, const char *path)
{
	rag_error err;
	fcol *c = &s->col[s->ncols];
	rag_buf b;

	memset(c, 0, sizeof *c);
	if (!(c->path = rag_filter_path(path, &err))) {
		CHECK(!"a test path compiles");
		return;
	}
	s->ncols++;
	rag_buf_init(&b, 0);
	c->text = calloc(s->n + 1, sizeof *c->text);
	c->value = calloc(s->n + 1, sizeof *c->value);
	c->docs = calloc(s->n + 1, sizeof *c->docs);
	c->ndocs = calloc(s->n + 1, sizeof *c->ndocs);
	for (uint32_t d = 0; d < s->n; d++) {
		const json_t *v = rag_filter_path_get(c->path, s->rec[d]);
		size_t j;
		if (!v)
			continue;
		rag_buf_truncate(&b, 0);
		CHECK(rag_json_dump(&b, v, 0) == 0);
		rag_buf_addc(&b, '\0');
		for (j = 0; j < c->nv; j++)
			if (text_cmp(c->text[j], b.data) == 0)
				break;
		if (j == c->nv) {
			c->text[j] = strdup(b.data);
			c->docs[j] = calloc(s->n + 1, sizeof **c->docs);
			c->nv++;
		}
		c->docs[j][c->ndocs[j]++] = d;
	}
	rag_buf_free(&b);
	/* in the order of their bytes, as in a segment (insertion sort: few values) */
	for (size_t j = 1; j < c->nv; j++)
		for (size_t k = j; k > 0 && text_cmp(c->text[k - 1], c->text[k]) > 0; k--) {
			char *t = c->text[k];
			uint32_t *dl = c->docs[k];
			size_t nd = c->ndocs[k];
			c->text[k] = c->text[k - 1];
			c->docs[k] = c->docs[k - 1];
			c->ndocs[k] = c->ndocs[k - 1];
			c->text[k - 1] = t;
			c->docs[k - 1] = dl;
			c->ndocs[k - 1] = nd;
		}
	for (size_t j = 0; j < c->nv; j++) {
		c->value[j] = rag_json_parse(c->text[j], strlen(c->text[j]), &err);
		CHECK(c->value[j] != NULL);
	}
}

static void fseg_free(fseg *s)
{
	for (size_t i = 0; i < s->ncols; i++) {
		fcol *c = &s->col[i];
		for (size_t j = 0; j < c->nv; j++) {
			free(c->text[j]);
			json_decref(c->value[j]);
			free(c->docs[j]);
		}
		free(c->text);
		free(c->value);
		free(c->docs);
		free(c->ndocs);
		rag_filter_free(c->path);
	}
	for (uint32_t d = 0; d < s->n; d++)
		json_decref(s->rec[d]);
	free(s->rec);
	memset(s, 0, sizeof *s);
}

static rag_filter_columns fseg_columns(fseg *s)
{
	rag_filter_columns c = {s->ncols, fs_path, fs_nvalues, fs_value, fs_mark, s};

	return c;
}

static unsigned rnd(unsigned *seed, unsigned n)
{
	return (unsigned)rand_r(seed) % n;
}

static const char *const SEL_STRS[] = {"arxiv", "acl", "blog", "Blog", "wiki", "",
				       "\xc3\xa9t\xc3\xa9", "a%b", "x_y", "3"};
#define NSTRS (sizeof SEL_STRS / sizeof *SEL_STRS)

/* A random record with fields i, r, s, a, o (o.k, o.m) and u, each may be missing. */
static json_t *sel_record(unsigned *seed)
{
	json_t *r = json_object();
	unsigned c;

	c = rnd(seed, 100);
	if (c < 55)
		json_object_set_new(r, "i", json_integer((json_int_t)rnd(seed, 16) - 3));
	else if (c < 63)
		json_object_set_new(r, "i", json_real((double)rnd(seed, 12) / 2 - 1));
	else if (c < 70)
		json_object_set_new(r, "i", json_string(SEL_STRS[rnd(seed, NSTRS)]));
	else if (c < 76)
		json_object_set_new(r, "i", json_null());
	else if (c < 80)
		json_object_set_new(r, "i", json_boolean(rnd(seed, 2)));
	else if (c < 84)
		json_object_set_new(r, "i", json_pack("[i]", (int)rnd(seed, 5)));
	c = rnd(seed, 100);
	if (c < 60)
		json_object_set_new(r, "r", json_real((double)rnd(seed, 11) / 2));
	else if (c < 70)
		json_object_set_new(r, "r", json_integer((json_int_t)rnd(seed, 6)));
	else if (c < 75)
		json_object_set_new(r, "r", json_null());
	else if (c < 78)
		json_object_set_new(r, "r", json_real(-0.0));
	c = rnd(seed, 100);
	if (c < 75)
		json_object_set_new(r, "s", json_string(SEL_STRS[rnd(seed, NSTRS)]));
	else if (c < 80)
		json_object_set_new(r, "s", json_null());
	else if (c < 85)
		json_object_set_new(r, "s", json_integer(3));
	else if (c < 88)
		json_object_set_new(r, "s", json_pack("[s]", "acl"));
	c = rnd(seed, 100);
	if (c < 60) {
		static const char *const el[] = {"\"p\"", "\"q\"", "\"r\"", "1", "2", "null", "[1]"};
		json_t *a = json_array();
		for (unsigned k = rnd(seed, 4); k > 0; k--) {
			const char *t = el[rnd(seed, sizeof el / sizeof *el)];
			rag_error err;
			json_array_append_new(a, rag_json_parse(t, strlen(t), &err));
		}
		json_object_set_new(r, "a", a);
	} else if (c < 70) {
		json_object_set_new(r, "a", json_string("p"));
	} else if (c < 75) {
		json_object_set_new(r, "a", json_null());
	}
	c = rnd(seed, 100);
	if (c < 50) {
		json_t *o = json_object();
		static const char *const ks[] = {"en", "fr", "de"};
		unsigned k = rnd(seed, 10);
		if (k < 7)
			json_object_set_new(o, "k", json_string(ks[k % 3]));
		else if (k < 8)
			json_object_set_new(o, "k", json_null());
		else if (k < 9)
			json_object_set_new(o, "k", json_integer(1));
		if (rnd(seed, 2))
			json_object_set_new(o, "m", json_integer((json_int_t)rnd(seed, 5)));
		json_object_set_new(r, "o", o);
	} else if (c < 55) {
		json_object_set_new(r, "o", json_string("en"));
	} else if (c < 60) {
		json_object_set_new(r, "o", json_null());
	}
	if (rnd(seed, 100) < 80)
		json_object_set_new(r, "u", json_integer((json_int_t)rnd(seed, 6)));
	return r;
}

static void add_num(rag_buf *b, unsigned *seed)
{
	switch (rnd(seed, 4)) {
	case 0: rag_buf_addf(b, "%d", (int)rnd(seed, 16) - 3); break;
	case 1: rag_buf_addf(b, "%.1f", (double)rnd(seed, 12) / 2 - 1); break;
	case 2: rag_buf_addf(b, "\"%d\"", (int)rnd(seed, 5)); break;
	default: rag_buf_addf(b, "%d", (int)rnd(seed, 6)); break;
	}
}

static void add_str(rag_buf *b, unsigned *seed)
{
	rag_buf_addf(b, "\"%s\"", SEL_STRS[rnd(seed, NSTRS)]);
}

static const char *sel_op(unsigned *seed)
{
	static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
	return ops[rnd(seed, 6)];
}

/* One condition: on one indexed field, on others, on none, or on several. */
static void sel_atom(rag_buf *b, unsigned *seed)
{
	static const char *const any[] = {"i", "r", "s", "a", "o", "o.k", "o[\"k\"]", "u", "z",
					  "a[0]", "o.m"};
	static const char *const likes[] = {"a%", "%log", "_cl", "%", "a\\%b", "x\\_y", ""};
	static const char *const res[] = {"(?i)^b", "x", "v$", "^$", "^a", "[0-9]"};

	switch (rnd(seed, 20)) {
	case 0: rag_buf_addf(b, "i %s ", sel_op(seed)); add_num(b, seed); break;
	case 1: rag_buf_addf(b, "r %s ", sel_op(seed)); add_num(b, seed); break;
	case 2: rag_buf_addf(b, "s %s ", sel_op(seed)); add_str(b, seed); break;
	case 3: rag_buf_addf(b, "%d <= i < %d", (int)rnd(seed, 8) - 2, (int)rnd(seed, 10)); break;
	case 4:
		rag_buf_addf(b, "%s %sin [", rnd(seed, 2) ? "s" : "i", rnd(seed, 2) ? "" : "not ");
		add_str(b, seed);
		rag_buf_adds(b, ", ");
		add_num(b, seed);
		rag_buf_adds(b, ", ");
		add_str(b, seed);
		rag_buf_adds(b, "]");
		break;
	case 5:
		rag_buf_addf(b, "%s %s \"%s\"", rnd(seed, 2) ? "o.k" : "o[\"k\"]",
			     rnd(seed, 2) ? "==" : "!=", rnd(seed, 2) ? "en" : "fr");
		break;
	case 6: rag_buf_addf(b, "u %s %d", sel_op(seed), (int)rnd(seed, 6)); break;
	case 7:
		switch (rnd(seed, 4)) {
		case 0: rag_buf_addf(b, "array_contains(a, \"%c\")", "pqrs"[rnd(seed, 4)]); break;
		case 1: rag_buf_addf(b, "array_contains_any(a, [%d, \"q\"])", (int)rnd(seed, 3)); break;
		case 2: rag_buf_addf(b, "array_length(a) %s %d", sel_op(seed), (int)rnd(seed, 4)); break;
		default: rag_buf_adds(b, "array_contains_all(a, [\"p\", 1])"); break;
		}
		break;
	case 8:
		rag_buf_addf(b, "%s like \"%s\"", rnd(seed, 3) ? "s" : "o.k",
			     likes[rnd(seed, sizeof likes / sizeof *likes)]);
		break;
	case 9:
		rag_buf_addf(b, "%s %s \"%s\"", rnd(seed, 3) ? "s" : "i", rnd(seed, 2) ? "=~" : "!~",
			     res[rnd(seed, sizeof res / sizeof *res)]);
		break;
	case 10: {
		const char *x = any[rnd(seed, sizeof any / sizeof *any)];
		switch (rnd(seed, 3)) {
		case 0: rag_buf_addf(b, "exists %s", x); break;
		case 1: rag_buf_addf(b, "%s is null", x); break;
		default: rag_buf_addf(b, "%s is not null", x); break;
		}
		break;
	}
	case 11: {
		static const char *const k[] = {"1 == 1", "1 == 2", "true", "false", "2 > 1",
						"\"a\" like \"a%\""};
		rag_buf_adds(b, k[rnd(seed, sizeof k / sizeof *k)]);
		break;
	}
	case 12:
		switch (rnd(seed, 4)) {
		case 0: rag_buf_addf(b, "i * 2 + 1 > %d", (int)rnd(seed, 20) - 3); break;
		case 1: rag_buf_addf(b, "i %% 3 == %d", (int)rnd(seed, 3)); break;
		case 2: rag_buf_addf(b, "-r < %d", -(int)rnd(seed, 5)); break;
		default: rag_buf_addf(b, "i ** 2 >= %d", (int)rnd(seed, 30)); break;
		}
		break;
	case 13: {
		static const char *const k[] = {"i == r", "i + u > 4", "u < i", "s == o.k", "i < r",
						"array_contains(a, i)"};
		rag_buf_adds(b, k[rnd(seed, sizeof k / sizeof *k)]);
		break;
	}
	case 14:
		if (rnd(seed, 2)) {
			rag_buf_addf(b, "$meta[\"i\"] %s ", sel_op(seed));
			add_num(b, seed);
		} else {
			rag_buf_adds(b, "$meta.s == ");
			add_str(b, seed);
		}
		break;
	case 15:
		switch (rnd(seed, 3)) {
		case 0: rag_buf_addf(b, "a[0] == \"%c\"", "pq"[rnd(seed, 2)]); break;
		case 1: rag_buf_addf(b, "o.m > %d", (int)rnd(seed, 4)); break;
		default: rag_buf_adds(b, "o.k in [\"en\", \"de\"] and o.m == 1"); break;
		}
		break;
	case 16: {
		static const char *const k[] = {"i", "o.k", "s", "not i", "a"};
		rag_buf_adds(b, k[rnd(seed, sizeof k / sizeof *k)]);
		break;
	}
	case 17: rag_buf_adds(b, rnd(seed, 2) ? "z == 1" : "z is null"); break;
	case 18: rag_buf_addf(b, "s in [\"acl\", \"blog\"] and i > %d", (int)rnd(seed, 8)); break;
	default:
		rag_buf_addf(b, "%s == ", rnd(seed, 2) ? "i" : "r");
		add_num(b, seed);
		break;
	}
}

static void sel_expr(rag_buf *b, unsigned *seed, int depth)
{
	if (depth > 3 || rnd(seed, 10) < 4) {
		sel_atom(b, seed);
		return;
	}
	switch (rnd(seed, 5)) {
	case 0:
		rag_buf_adds(b, "(");
		sel_expr(b, seed, depth + 1);
		rag_buf_adds(b, rnd(seed, 2) ? ") and (" : ") && (");
		sel_expr(b, seed, depth + 1);
		rag_buf_adds(b, ")");
		break;
	case 1:
		rag_buf_adds(b, "(");
		sel_expr(b, seed, depth + 1);
		rag_buf_adds(b, rnd(seed, 2) ? ") or (" : ") || (");
		sel_expr(b, seed, depth + 1);
		rag_buf_adds(b, ")");
		break;
	case 2:
		/* three at one level: and binds tighter than or */
		sel_atom(b, seed);
		rag_buf_adds(b, rnd(seed, 2) ? " and " : " or ");
		sel_atom(b, seed);
		rag_buf_adds(b, rnd(seed, 2) ? " and " : " or ");
		sel_atom(b, seed);
		break;
	case 3:
		rag_buf_adds(b, rnd(seed, 2) ? "not (" : "!(");
		sel_expr(b, seed, depth + 1);
		rag_buf_adds(b, ")");
		break;
	default:
		rag_buf_adds(b, "not not (");
		sel_expr(b, seed, depth + 1);
		rag_buf_adds(b, ")");
		break;
	}
}

static int bit(const unsigned char *bits, uint32_t d)
{
	return !bits || (bits[d / 8] >> (d % 8)) & 1;
}

/* What rag_filter_select gave over the cases, to see they were varied. */
typedef struct sel_tally {
	size_t cases, exact, inexact, nobits, narrowed;
} sel_tally;

/*
 * Checks rag_filter_select(expr) on s against rag_filter_match on each
 * record: exact means the same records, inexact at least those; no bit
 * set past n.  Returns what select returned.
 */
static int sel_check(int line, fseg *s, const char *expr, sel_tally *t)
{
	rag_filter_columns cols = fseg_columns(s);
	unsigned char *bits = (unsigned char *)"x";
	rag_error err;
	rag_filter *f;
	int r, bad = 0;
	uint32_t nset = 0;

	if (!(f = rag_filter_compile(expr, NULL, 0, &err))) {
		test_checks++;
		test_failures++;
		fprintf(stderr, "%s:%d: %s: [%s] does not compile: %s\n", __FILE__, line,
			test_current, expr, err.text);
		return -2;
	}
	rag_error_clear(&err);
	r = rag_filter_select(f, &cols, s->n, &bits, &err);
	test_checks++;
	if (r != 0 && r != 1) {
		test_failures++;
		fprintf(stderr, "%s:%d: %s: [%s] on %u records: select returned %d (%s)\n",
			__FILE__, line, test_current, expr, s->n, r, err.text);
		rag_filter_free(f);
		return r;
	}
	for (uint32_t d = 0; d < s->n; d++) {
		int m = rag_filter_match(f, s->rec[d], &err), b = bit(bits, d);
		nset += b;
		if (m < 0 || (r == 1 && b != m) || (m == 1 && !b)) {
			if (!bad++) {
				char *txt = json_dumps(s->rec[d], JSON_COMPACT);
				fprintf(stderr,
					"%s:%d: %s: [%s] %s: record %u %s: match %d, bit %d\n",
					__FILE__, line, test_current, expr,
					r ? "exact" : "inexact", d, txt ? txt : "?", m, b);
				free(txt);
			}
		}
	}
	test_checks++;
	if (bad)
		test_failures++;
	/* the bits past n are clear */
	test_checks++;
	if (bits && s->n % 8 && (bits[s->n / 8] >> (s->n % 8)) != 0) {
		test_failures++;
		fprintf(stderr, "%s:%d: %s: [%s] on %u records: bits past n set: 0x%02x\n",
			__FILE__, line, test_current, expr, s->n, bits[s->n / 8]);
	}
	if (t) {
		t->cases++;
		if (!bits)
			t->nobits++;
		if (r == 1)
			t->exact++;
		else
			t->inexact++;
		if (bits && nset < s->n)
			t->narrowed++;
	}
	free(bits);
	rag_filter_free(f);
	return r;
}

/* n random records, with columns for some of paths[] (all when all is set). */
static void fseg_random(fseg *s, unsigned *seed, uint32_t n, int all)
{
	static const char *const paths[] = {"i", "r", "s", "a", "o.k", "z", "o", "a[0]"};

	memset(s, 0, sizeof *s);
	s->rec = calloc(n + 1, sizeof *s->rec);
	s->n = n;
	for (uint32_t d = 0; d < n; d++)
		s->rec[d] = sel_record(seed);
	/* a random subset in a random order; i, s and o.k mostly in */
	unsigned order[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	for (unsigned k = 7; k > 0; k--) {
		unsigned j = rnd(seed, k + 1), x = order[k];
		order[k] = order[j];
		order[j] = x;
	}
	for (unsigned k = 0; k < 8; k++) {
		unsigned p = order[k], keep = p == 0 || p == 2 || p == 4 ? 85 : p >= 6 ? 25 : 60;
		if (all || rnd(seed, 100) < keep)
			fseg_add(s, paths[p]);
	}
}

/*
 * rag_filter_select of expr on cols (n records): what it returns, -9 when
 * expr does not compile; *bits the bitmap (set to a non-NULL pointer
 * first, so that a NULL comes from the call).
 */
static int select_bits(const rag_filter_columns *cols, uint32_t n, const char *expr,
		       unsigned char **bits)
{
	rag_error err;
	rag_filter *f = rag_filter_compile(expr, NULL, 0, &err);
	int r;

	if (!f) {
		*bits = NULL;
		return -9;
	}
	*bits = (unsigned char *)"x";
	r = rag_filter_select(f, cols, n, bits, &err);
	rag_filter_free(f);
	return r;
}

static void select_fixed(void)
{
	static const char *const recs[] = {
		"{\"i\":3,\"s\":\"acl\",\"u\":1}", "{\"i\":3.0,\"s\":\"blog\",\"u\":2}",
		"{\"i\":\"3\",\"s\":null}", "{\"i\":null,\"u\":1}", "{\"s\":\"acl\"}",
		"{\"i\":4,\"s\":\"Blog\",\"a\":[\"p\"],\"u\":1}", "{\"i\":[3],\"a\":[]}",
		"{\"i\":-1,\"s\":\"\",\"o\":{\"k\":\"en\"}}", "{\"i\":5,\"s\":\"wiki\",\"o\":\"en\"}",
		"{}", "{\"i\":7,\"a\":\"p\"}"};
	fseg s;
	unsigned char *bits;
	rag_error err;
	rag_filter *f;
	int r;

	memset(&s, 0, sizeof s);
	s.n = sizeof recs / sizeof *recs;
	s.rec = calloc(s.n + 1, sizeof *s.rec);
	for (uint32_t d = 0; d < s.n; d++)
		s.rec[d] = record(recs[d]);
	fseg_add(&s, "s");
	fseg_add(&s, "i");
	fseg_add(&s, "a");
	fseg_add(&s, "o.k");
	/* 1 and 3.0 are two values; "3" and [3] others again */
	CHECK_EQ(s.col[1].nv, 9);

	/* reading one indexed field: exact, narrowed */
	CHECK_EQ(sel_check(__LINE__, &s, "i == 3", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "not (i == 3)", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "i > 3 and s != \"wiki\"", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "i > 3 or s like \"%log\"", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "s =~ \"(?i)^b\"", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "s !~ \"^a\"", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "s like \"\"", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "exists i", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "not exists s", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "i is null", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "s is not null", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "o.k == \"en\" or o[\"k\"] is null", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "array_contains(a, \"p\")", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "$meta[\"i\"] == 3", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "i * 2 > 7", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "1 == 1", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "1 == 2", NULL), 1);
	CHECK_EQ(sel_check(__LINE__, &s, "not (1 == 2) and i == 3", NULL), 1);
	/* another field (u, o, a[0]) or two fields at once: not exact */
	CHECK_EQ(sel_check(__LINE__, &s, "u == 1", NULL), 0);
	CHECK_EQ(sel_check(__LINE__, &s, "i == 3 and u == 1", NULL), 0);
	CHECK_EQ(sel_check(__LINE__, &s, "i == 3 or u == 1", NULL), 0);
	CHECK_EQ(sel_check(__LINE__, &s, "not (i == 3 and u == 1)", NULL), 0);
	CHECK_EQ(sel_check(__LINE__, &s, "i == u", NULL), 0);
	CHECK_EQ(sel_check(__LINE__, &s, "o is null", NULL), 0);
	CHECK_EQ(sel_check(__LINE__, &s, "a[0] == \"p\"", NULL), 0);
	CHECK_EQ(sel_check(__LINE__, &s, "s == o.k", NULL), 0);

	/* the bitmaps themselves: none when nothing narrows, else the records */
	rag_filter_columns cols = fseg_columns(&s);
	CHECK_EQ(select_bits(&cols, s.n, "u == 1", &bits), 0);
	CHECK(bits == NULL);
	CHECK_EQ(select_bits(&cols, s.n, "not (u == 1 or i == 3)", &bits), 0);
	CHECK(bits == NULL);
	CHECK_EQ(select_bits(&cols, s.n, "s == \"acl\" and u == 1", &bits), 0);
	/* records 0 and 4 (s == "acl"), 11 records in 2 bytes */
	CHECK(bits && bits[0] == 0x11 && bits[1] == 0);
	free(bits);
	CHECK_EQ(select_bits(&cols, s.n, "i == 3", &bits), 1);
	/* records 0 and 1: 3 and 3.0 */
	CHECK(bits && bits[0] == 0x03 && bits[1] == 0);
	free(bits);
	f = rag_filter_compile("not (i == 3)", NULL, 0, &err);
	bits = NULL;
	r = f ? rag_filter_select(f, &cols, s.n, &bits, &err) : -9;
	CHECK_EQ(r, 1);
	CHECK(bits && bits[0] == 0xfc && bits[1] == 0x07);
	free(bits);

	/* a column that fails: -1, err set, no bitmap; the filter works on */
	s.fail_value = 1;
	rag_error_clear(&err);
	bits = (unsigned char *)"x";
	r = f ? rag_filter_select(f, &cols, s.n, &bits, &err) : -9;
	CHECK_EQ(r, -1);
	CHECK(bits == NULL);
	CHECK_EQ(err.code, RAG_EDATA);
	CHECK_STR(err.text, "value 0 of field 1 is damaged");
	CHECK(f && rag_filter_match(f, s.rec[0], &err) == 0 && rag_filter_match(f, s.rec[4], &err) == 1);
	s.fail_value = 0;
	s.fail_mark = 1;
	rag_error_clear(&err);
	bits = (unsigned char *)"x";
	r = f ? rag_filter_select(f, &cols, s.n, &bits, &err) : -9;
	CHECK_EQ(r, -1);
	CHECK(bits == NULL);
	CHECK_EQ(err.code, RAG_EDATA);
	rag_filter_free(f);
	/* in and/or/not, the failure comes out too */
	f = rag_filter_compile("u == 1 or not (s == \"acl\" and i > 0)", NULL, 0, &err);
	bits = (unsigned char *)"x";
	r = f ? rag_filter_select(f, &cols, s.n, &bits, &err) : -9;
	CHECK_EQ(r, -1);
	CHECK(bits == NULL);
	rag_filter_free(f);
	/* a filter on no indexed field asks no value */
	s.fail_mark = 0;
	s.fail_value = 1;
	s.calls = 0;
	f = rag_filter_compile("u == 1 and exists o", NULL, 0, &err);
	bits = (unsigned char *)"x";
	r = f ? rag_filter_select(f, &cols, s.n, &bits, &err) : -9;
	CHECK(r == 0 && bits == NULL && s.calls == 0);
	rag_filter_free(f);
	s.fail_value = 0;

	/* no records, and no columns */
	{
		fseg e;
		memset(&e, 0, sizeof e);
		fseg_add(&e, "i");
		CHECK_EQ(e.col[0].nv, 0);
		CHECK_EQ(sel_check(__LINE__, &e, "i == 3", NULL), 1);
		CHECK_EQ(sel_check(__LINE__, &e, "not (i == 3) and u == 1", NULL), 0);
		fseg_free(&e);
		e.n = 3;
		e.rec = calloc(4, sizeof *e.rec);
		for (uint32_t d = 0; d < 3; d++)
			e.rec[d] = record(recs[d]);
		CHECK_EQ(sel_check(__LINE__, &e, "i == 3 and s == \"acl\"", NULL), 0);
		fseg_free(&e);
	}
	fseg_free(&s);
}

static void select_random(void)
{
	static const uint32_t sizes[] = {0, 1, 5, 7, 8, 9, 31, 63, 64, 65, 130, 200};
	int small = getenv("RAG_VALGRIND") && strcmp(getenv("RAG_VALGRIND"), "1") == 0;
	unsigned seed = 20261127, segs = small ? 12 : 80, exprs = small ? 15 : 50;
	sel_tally t = {0};
	rag_buf b;

	rag_buf_init(&b, 0);
	for (unsigned k = 0; k < segs; k++) {
		fseg s;
		fseg_random(&s, &seed, sizes[rnd(&seed, sizeof sizes / sizeof *sizes)], k % 4 == 0);
		for (unsigned e = 0; e < exprs; e++) {
			rag_buf_truncate(&b, 0);
			sel_expr(&b, &seed, 0);
			rag_buf_addc(&b, '\0');
			sel_check(__LINE__, &s, b.data, &t);
		}
		fseg_free(&s);
	}
	rag_buf_free(&b);
	/* the cases were of every kind */
	CHECK(t.cases == (size_t)segs * exprs);
	CHECK(t.exact * 5 > t.cases);
	CHECK(t.inexact * 5 > t.cases);
	CHECK(t.nobits * 10 > t.cases);
	CHECK(t.narrowed * 5 > t.cases);
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "   %zu cases: %zu exact, %zu not, %zu without bits, %zu narrowed\n",
			t.cases, t.exact, t.inexact, t.nobits, t.narrowed);
}

/* RUN, naming each test first when TEST_VERBOSE is set. */
#define RUN_V(fn)                                                             \
	do {                                                                  \
		if (getenv("TEST_VERBOSE"))                                   \
			fprintf(stderr, "-- %s\n", #fn);                      \
		RUN(fn);                                                      \
	} while (0)

/*
 * A regular expression that fails on some value of an indexed field
 * leaves that part to rag_filter_match: no error, no narrowing from it.
 */
static void select_regex_failure(void)
{
	char bomb[64];
	fseg s;
	rag_filter_columns cols;
	unsigned char *bits = NULL;
	rag_error err;
	rag_filter *f;
	json_t *rec;

	memset(bomb, 'a', 40);
	strcpy(bomb + 40, "!");
	memset(&s, 0, sizeof s);
	s.n = 3;
	s.rec = calloc(s.n + 1, sizeof *s.rec);
	s.rec[0] = json_pack("{s:s, s:i}", "s", bomb, "u", 0);
	s.rec[1] = json_pack("{s:s, s:i}", "s", "aaa", "u", 1);
	s.rec[2] = json_pack("{s:s, s:i}", "s", "b", "u", 1);
	fseg_add(&s, "s");
	fseg_add(&s, "u");
	cols = fseg_columns(&s);
	f = rag_filter_compile("s =~ \"^(a|a?)+$\"", NULL, 0, &err);
	CHECK(f != NULL);
	if (f) {
		CHECK_EQ(rag_filter_select(f, &cols, s.n, &bits, &err), 0);
		CHECK(bits == NULL);
		free(bits);
		bits = NULL;
		rag_filter_free(f);
	}
	/* the other part still narrows */
	f = rag_filter_compile("u == 1 and s =~ \"^(a|a?)+$\"", NULL, 0, &err);
	CHECK(f != NULL);
	if (f) {
		CHECK_EQ(rag_filter_select(f, &cols, s.n, &bits, &err), 0);
		CHECK(bits != NULL && bits[0] == 6);
		/* the records it lets through match or not without an error */
		rec = s.rec[1];
		CHECK_EQ(rag_filter_match(f, rec, &err), 1);
		CHECK_EQ(rag_filter_match(f, s.rec[2], &err), 0);
		free(bits);
		rag_filter_free(f);
	}
	fseg_free(&s);
}

/* Paths written one way; serial numbers that are never reused. */
static void path_text_and_serial(void)
{
	static const char *const cases[][2] = {
		{"year", "year"},	     {" year ", "year"},
		{"meta[\"lang\"]", "meta.lang"}, {"$meta[\"meta\"].lang", "meta.lang"},
		{"a[\"b c\"]", "a[\"b c\"]"},  {"tags[0]", "tags[0]"},
		{"$meta[\"in\"]", "$meta[\"in\"]"}, {"x[\"y\"][2][\"z\"]", "x.y[2].z"},
		{"$meta[\"$meta\"]", "$meta[\"$meta\"]"}, {"a[\"not\"].b", "a[\"not\"].b"},
	};
	rag_buf b;
	rag_error err;
	uint64_t last = 0;

	rag_buf_init(&b, 0);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		rag_filter *f = rag_filter_path(cases[i][0], &err), *g;
		CHECK(f != NULL);
		if (!f)
			continue;
		CHECK(rag_filter_path_text(f, &b) == 0);
		CHECK_STR(b.data, cases[i][1]);
		/* the text names the same path */
		g = rag_filter_path(b.data, &err);
		CHECK(g != NULL);
		if (g) {
			json_t *rec = record("{\"year\":1,\"meta\":{\"lang\":2},\"a\":{\"b c\":3,"
					     "\"not\":{\"b\":4}},\"tags\":[5],\"in\":6,"
					     "\"x\":{\"y\":[0,0,{\"z\":7}]},\"$meta\":8}");
			CHECK(rag_filter_path_get(f, rec) != NULL);
			CHECK(rag_filter_path_get(f, rec) == rag_filter_path_get(g, rec));
			json_decref(rec);
			CHECK(rag_filter_serial(g) != rag_filter_serial(f));
			rag_filter_free(g);
		}
		CHECK(rag_filter_serial(f) > last);
		last = rag_filter_serial(f);
		rag_filter_free(f);
	}
	rag_buf_free(&b);
}

int main(void)
{
	RUN_V(fields_and_paths);
	RUN_V(numbers);
	RUN_V(strings);
	RUN_V(keywords_and_literals);
	RUN_V(lists);
	RUN_V(precedence);
	RUN_V(chains);
	RUN_V(forms);
	RUN_V(missing_null_mismatch);
	RUN_V(number_comparisons);
	RUN_V(string_comparisons);
	RUN_V(deep_equality);
	RUN_V(in_semantics);
	RUN_V(like_semantics);
	RUN_V(regex_semantics);
	RUN_V(null_semantics);
	RUN_V(arithmetic);
	RUN_V(functions);
	RUN_V(bare_conditions);
	RUN_V(parameters);
	RUN_V(parameter_minus);
	RUN_V(param_values);
	RUN_V(params_add);
	RUN_V(errors);
	RUN_V(error_places);
	RUN_V(caret);
	RUN_V(nesting);
	RUN_V(fields_read);
	RUN_V(match_errors_and_reuse);
	RUN_V(field_paths);
	RUN_V(select_fixed);
	RUN_V(select_random);
	RUN_V(select_regex_failure);
	RUN_V(path_text_and_serial);
	return test_summary();
}
