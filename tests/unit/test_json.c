/* Tests for lib/json.c: the reader against jansson's, the writer's forms. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "test.h"

static json_t *parse(const char *s, rag_error *err)
{
	return rag_json_parse(s, strlen(s), err);
}

/* Dumps v compactly into a static buffer. */
static const char *dump(const json_t *v)
{
	static rag_buf b;

	if (!b.max)
		rag_buf_init(&b, 0);
	b.len = 0;
	rag_json_dump(&b, v, 0);
	rag_buf_addc(&b, '\0');
	return b.data;
}

static void values(void)
{
	rag_error err;
	json_t *v;

	v = parse(" {\"a\": [1, -2, 3.5, true, false, null, \"x\"], \"b\": {}} ", &err);
	CHECK(v != NULL);
	CHECK_STR(dump(v), "{\"a\":[1,-2,3.5,true,false,null,\"x\"],\"b\":{}}");
	json_decref(v);

	/* Key order is kept; a repeated key keeps its last value. */
	v = parse("{\"z\":1,\"a\":2,\"z\":3}", &err);
	CHECK_STR(dump(v), "{\"z\":3,\"a\":2}");
	json_decref(v);

	/* Escapes, surrogate pairs, NUL. */
	v = parse("\"q\\\"b\\\\s\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\u0000end\"", &err);
	CHECK(v != NULL);
	CHECK_EQ(json_string_length(v), 21);
	CHECK(memcmp(json_string_value(v), "q\"b\\s/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80\0end", 21) == 0);
	CHECK_STR(dump(v), "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\xc3\xa9\xf0\x9f\x98\x80\\u0000end\"");
	json_decref(v);

	/* Integer limits. */
	v = parse("[9223372036854775807,-9223372036854775808]", &err);
	CHECK(v != NULL);
	CHECK_STR(dump(v), "[9223372036854775807,-9223372036854775808]");
	json_decref(v);
	/* Beyond 64 bits: the nearest real. */
	v = parse("[9223372036854775808,-18446744073709551616]", &err);
	CHECK(v != NULL);
	CHECK(json_is_real(json_array_get(v, 0)));
	CHECK(json_real_value(json_array_get(v, 0)) == 9223372036854775808.0);
	CHECK(json_real_value(json_array_get(v, 1)) == -18446744073709551616.0);
	json_decref(v);
}

static void members(void)
{
	const char *t = " {\"a\" : [1, 2] ,\"b\":{\"c\":1},\"a\":\"x y\"} ";
	rag_json_members m = {NULL, 0, 0};
	rag_error err;
	rag_buf b;
	json_t *v = rag_json_parse_members(t, strlen(t), &m, &err);

	CHECK(v != NULL);
	CHECK_EQ(m.n, 3); /* a repeated key is there twice, in order */
	CHECK_MEM(t + m.v[0].key, m.v[0].key_len, "\"a\"");
	CHECK_MEM(t + m.v[0].val, m.v[0].val_len, "[1, 2]");
	CHECK_MEM(t + m.v[1].val, m.v[1].val_len, "{\"c\":1}");
	CHECK_MEM(t + m.v[2].val, m.v[2].val_len, "\"x y\"");
	/* Raw text made compact, strings untouched. */
	rag_buf_init(&b, 0);
	{
		const char *raw = "{ \"k\" :\t[1 , \"a \\\" b\"]\n}";
		rag_json_add_raw(&b, raw, strlen(raw));
	}
	CHECK_MEM(b.data, b.len, "{\"k\":[1,\"a \\\" b\"]}");
	rag_buf_free(&b);
	rag_json_members_free(&m);
	json_decref(v);
}

static void reals(void)
{
	struct {
		const char *in, *out;
	} cases[] = {
		{"0.1", "0.1"},
		{"1.0", "1.0"},
		{"-0.5e3", "-500.0"},
		{"1e300", "1e+300"},
		{"3.141592653589793", "3.141592653589793"},
		{"2.5e-8", "2.5e-08"},
		{"123456789012.5", "123456789012.5"},
	};
	rag_error err;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *v = parse(cases[i].in, &err);
		CHECK(v != NULL);
		if (v) {
			CHECK_STR(dump(v), cases[i].out);
			json_decref(v);
		}
	}
	/* float32 form: the shortest text that reads back to the same float. */
	{
		rag_buf b;
		rag_buf_init(&b, 0);
		rag_json_add_real(&b, (double)0.1f, RAG_JSON_FLOAT32);
		CHECK_MEM(b.data, b.len, "0.1");
		rag_buf_free(&b);
	}
	/*
	 * The same on floats from every binade, both signs and zeros: the
	 * text reads back to the float and is what the shortest of "%.6g"
	 * to "%.9g" that reads back gives (the fast path for 1e-4 <= |f| < 1
	 * must agree with it).
	 */
	{
		rag_buf b;
		unsigned long bad = 0;
		uint32_t w = 0x12345u;
		rag_buf_init(&b, 0);
		for (long t = 0; t < 400000; t++) {
			float f;
			char want[48];
			int n = 0;
			w = w * 1664525u + 1013904223u;
			memcpy(&f, &w, sizeof f);
			if (t < 4)
				f = t == 0 ? 0.0f : t == 1 ? -0.0f : t == 2 ? 1e-4f : 0.99999994f;
			if (!isfinite(f))
				continue;
			for (int p = 6; p <= 9; p++) {
				n = snprintf(want, sizeof want, "%.*g", p, (double)f);
				if (strtof(want, NULL) == f)
					break;
			}
			if (!strpbrk(want, ".eE"))
				memcpy(want + n, ".0", 3);
			b.len = 0;
			rag_json_add_real(&b, (double)f, RAG_JSON_FLOAT32);
			if (strcmp(b.data, want) || strtof(b.data, NULL) != f)
				bad++;
		}
		CHECK_EQ(bad, 0);
		rag_buf_free(&b);
	}
	CHECK(parse("1e400", &err) == NULL);
	CHECK_STR(err.text, "real number out of range");
}

static void errors(void)
{
	struct {
		const char *in, *msg;
		long col;
	} cases[] = {
		{"", "invalid JSON: expected a value, found the end of the line", 1},
		{"{\"a\":1,}", "invalid JSON: expected a string key, found '}'", 8},
		{"{\"a\" 1}", "invalid JSON: expected ':' after a key, found '1'", 6},
		{"[1 2]", "invalid JSON: expected ',' or ']' in an array, found '2'", 4},
		{"{\"a\":1", "invalid JSON: expected ',' or '}' in an object, found the end of the line", 7},
		{"\"abc", "invalid JSON: unterminated string", 1},
		{"\"a\tb\"", "invalid JSON: control character 0x09 in a string", 3},
		{"\"\\x\"", "invalid JSON: invalid escape '\\x'", 2},
		{"\"\\u12g4\"", "invalid JSON: \\u must be followed by four hex digits", 2},
		{"\"\\udc00\"", "invalid JSON: lone low surrogate \\uDC00", 2},
		{"\"\\ud800x\"", "invalid JSON: high surrogate \\uD800 without a low surrogate", 2},
		{"01", "invalid JSON: a number cannot have a leading zero", 1},
		{"1.", "invalid JSON: expected a digit after '.'", 3},
		{"1e+", "invalid JSON: expected a digit in the exponent", 4},
		{"-", "invalid JSON: expected a digit after '-'", 1},
		{"tru", "invalid JSON: unexpected 't'", 1},
		{"{} x", "invalid JSON: unexpected 'x' after the value", 4},
		{"\"caf\xc3\"", "invalid UTF-8", 5},
		{"\xff", "invalid UTF-8", 1},
		{"{\"a\":1} \xe9", "invalid UTF-8", 9},
	};
	rag_error err;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *v = parse(cases[i].in, &err);
		CHECK(v == NULL);
		json_decref(v);
		CHECK_STR(err.text, cases[i].msg);
		CHECK_EQ(err.column, cases[i].col);
		CHECK_EQ(err.code, RAG_EDATA);
	}
}

static void depth(void)
{
	char buf[2 * RAG_JSON_MAX_DEPTH + 8];
	rag_error err;
	json_t *v;
	int i;

	for (i = 0; i < RAG_JSON_MAX_DEPTH; i++) {
		buf[i] = '[';
		buf[2 * RAG_JSON_MAX_DEPTH - 1 - i] = ']';
	}
	v = rag_json_parse(buf, 2 * RAG_JSON_MAX_DEPTH, &err);
	CHECK(v != NULL);
	json_decref(v);
	memmove(buf + 1, buf, 2 * RAG_JSON_MAX_DEPTH);
	buf[0] = '[';
	buf[2 * RAG_JSON_MAX_DEPTH + 1] = ']';
	v = rag_json_parse(buf, 2 * RAG_JSON_MAX_DEPTH + 2, &err);
	CHECK(v == NULL);
}

/* A random JSON value built of awkward pieces. */
static json_t *random_value(unsigned *seed, int depth)
{
	static const char *const strs[] = {"", "a", "\"", "\\", "\n\t", "caf\xc3\xa9",
					   "\xf0\x9f\x98\x80", "line\x01", "0123456789abcdefghij"};
	int k = (int)(rand_r(seed) % (depth > 3 ? 5 : 7));
	json_t *v;
	int i, n;

	switch (k) {
	case 0: return json_integer((json_int_t)rand_r(seed) * (rand_r(seed) % 2 ? -1 : 1) * 1000003LL);
	case 1: return json_real(ldexp((double)rand_r(seed) / 7.0, (int)(rand_r(seed) % 200) - 100));
	case 2: {
		const char *s = strs[rand_r(seed) % (sizeof strs / sizeof strs[0])];
		return json_stringn(s, strlen(s));
	}
	case 3: return rand_r(seed) % 2 ? json_true() : json_null();
	case 4: return json_false();
	case 5:
		v = json_array();
		n = (int)(rand_r(seed) % 4);
		for (i = 0; i < n; i++)
			json_array_append_new(v, random_value(seed, depth + 1));
		return v;
	default:
		v = json_object();
		n = (int)(rand_r(seed) % 4);
		for (i = 0; i < n; i++) {
			char key[8];
			snprintf(key, sizeof key, "k%d", (int)(rand_r(seed) % 10));
			json_object_set_new(v, key, random_value(seed, depth + 1));
		}
		return v;
	}
}

/* What we write, jansson reads back equal; what jansson writes, we read back equal. */
static void round_trip(void)
{
	unsigned seed = 12345;
	int i, ok = 1;

	for (i = 0; i < 3000 && ok; i++) {
		json_t *v = random_value(&seed, 0), *w, *x;
		json_error_t jerr;
		rag_error err;
		const char *ours = dump(v);
		char *theirs;
		w = json_loads(ours, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
		theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		x = rag_json_parse(theirs, strlen(theirs), &err);
		if (!w || !json_equal(v, w) || !x || !json_equal(v, x)) {
			ok = 0;
			fprintf(stderr, "round trip failed for %s\n", ours);
		}
		CHECK(ok);
		free(theirs);
		json_decref(v);
		json_decref(w);
		json_decref(x);
	}
}

/*
 * rag_json_parse_keys: on random objects and on every error case, it
 * fails exactly where rag_json_parse fails, lists the same members, and
 * builds exactly the kept members.
 */
static void keys(void)
{
	static const char *const keep[] = {"k1", "k7", NULL};
	static const char *const bad[] = {
		"{\"k1\": 1, \"k2\": \"bad \\q\"}", "{\"k2\": [1, 2e999], \"k1\": 2}",
		"{\"k2\": {\"a\": tru}, \"k1\": 1}", "{\"k2\": \"\xff\", \"k1\": 1}",
		"{\"k2\": 01}", "{\"k2\": [1,]}", "{\"k2\": {\"a\" 1}}", "{\"k1\": 1, \"k2\": }",
		"{\"k2\": -}", "{\"k2\": \"x\\u12\"}", "{\"k2\": 1.}", "{\"k2\": [\"\t\"]}"};
	unsigned seed = 777;
	rag_json_members m1 = {NULL, 0, 0}, m2 = {NULL, 0, 0};
	rag_error e1, e2;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *a = rag_json_parse(bad[i], strlen(bad[i]), &e1);
		json_t *b = rag_json_parse_keys(bad[i], strlen(bad[i]), NULL, keep, &e2);
		CHECK(a == NULL && b == NULL);
		CHECK_STR(e1.text, e2.text);
		CHECK_EQ(e1.column, e2.column);
		json_decref(a);
		json_decref(b);
	}
	for (int i = 0; i < 2000; i++) {
		json_t *v = json_object(), *a, *b, *want;
		const char *text;
		int n = (int)(rand_r(&seed) % 6), ok = 1;
		for (int j = 0; j < n; j++) {
			char key[8];
			snprintf(key, sizeof key, "k%d", (int)(rand_r(&seed) % 10));
			json_object_set_new(v, key, random_value(&seed, 0));
		}
		text = dump(v);
		a = rag_json_parse_members(text, strlen(text), &m1, &e1);
		b = rag_json_parse_keys(text, strlen(text), &m2, keep, &e2);
		want = json_object();
		for (const char *const *k = keep; *k; k++)
			if (json_object_get(v, *k))
				json_object_set(want, *k, json_object_get(v, *k));
		ok = a && b && json_equal(a, v) && json_equal(b, want) && m1.n == m2.n &&
		     (m1.n == 0 || memcmp(m1.v, m2.v, m1.n * sizeof *m1.v) == 0);
		if (!ok)
			fprintf(stderr, "keys: wrong for %s\n", text);
		CHECK(ok);
		json_decref(v);
		json_decref(a);
		json_decref(b);
		json_decref(want);
		if (!ok)
			break;
	}
	rag_json_members_free(&m1);
	rag_json_members_free(&m2);
}

int main(void)
{
	RUN(values);
	RUN(reals);
	RUN(members);
	RUN(errors);
	RUN(depth);
	RUN(round_trip);
	RUN(keys);
	return test_summary();
}
