/*
 * test_prompt.c - unit tests of lib/prompt.c: grouping, merging by
 * offsets, duplicates, numbering, the token budget and the sentence cut,
 * templates and their errors.
 */
#include "config.h"

#include <stdlib.h>

#include "prompt.h"
#include "test.h"

/* A prompt builder with a budget, a system message and a template (NULLs for defaults). */
static rag_prompt *new_prompt(size_t max, const char *sys, const rag_template *t, int format)
{
	rag_prompt_opts o;
	rag_error err;
	rag_prompt *p;

	memset(&o, 0, sizeof o);
	o.max_tokens = max;
	o.system = sys;
	o.tmpl = t;
	o.format = format;
	p = rag_prompt_new(&o, &err);
	CHECK(p != NULL);
	return p;
}

/* Adds the hit written in line: what rag_prompt_add returns, err filled. */
static int add_err(rag_prompt *p, const char *line, rag_error *err)
{
	rag_json_members m = {NULL, 0, 0};
	json_t *rec = rag_json_parse_members(line, strlen(line), &m, err);
	int k;

	CHECK(rec != NULL);
	if (!rec)
		return -1;
	k = rag_prompt_add(p, rec, line, strlen(line), &m, "hits", 7, err);
	json_decref(rec);
	rag_json_members_free(&m);
	return k;
}

static void add(rag_prompt *p, const char *line)
{
	rag_error err;
	int k = add_err(p, line, &err);

	CHECK_EQ(k, 1);
	if (k < 0)
		fprintf(stderr, "  add: %s\n", err.text);
}

/* Builds the prompt: a new string (free it), or NULL with err set; warn filled. */
static char *build(rag_prompt *p, rag_error *warn, rag_error *err)
{
	rag_buf b;
	char *s;

	rag_buf_init(&b, 0);
	if (rag_prompt_build(p, &b, warn, err) < 0) {
		rag_buf_free(&b);
		return NULL;
	}
	s = rag_buf_release(&b);
	return s;
}

/* Builds, parses the JSON prompt and empties the group; NULL on failure. */
static json_t *build_json(rag_prompt *p, rag_error *warn)
{
	rag_error err;
	char *s = build(p, warn, &err);
	json_t *j;

	CHECK(s != NULL);
	if (!s) {
		fprintf(stderr, "  build: %s\n", err.text);
		return NULL;
	}
	j = rag_json_parse(s, strlen(s), &err);
	CHECK(j != NULL);
	free(s);
	rag_prompt_reset(p);
	return j;
}

static const char *user_of(const json_t *j)
{
	return json_string_value(
	    json_object_get(json_array_get(json_object_get(j, "messages"), 1), "content"));
}

static const json_t *source(const json_t *j, size_t i)
{
	return json_array_get(json_object_get(j, "sources"), i);
}

static long long num(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (long long)json_integer_value(v) : -999;
}

static const char *str(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "(none)";
}

/* The document the hits below come from. */
#define DOC "The cat sat. The dog ran. The end."

static void test_tokens(void)
{
	CHECK_EQ(rag_prompt_tokens(0), 0);
	CHECK_EQ(rag_prompt_tokens(1), 1);
	CHECK_EQ(rag_prompt_tokens(4), 1);
	CHECK_EQ(rag_prompt_tokens(5), 2);
	CHECK_EQ(rag_prompt_tokens(4000), 1000);
}

static void test_merge_overlap(void)
{
	rag_prompt *p = new_prompt(0, NULL, NULL, 0);
	rag_error warn;
	json_t *j;
	const json_t *s;

	/* [0,12) and [4,25) share "cat sat.": it appears once */
	add(p, "{\"id\":\"a\",\"doc\":\"d\",\"source\":\"d.txt\",\"start\":0,\"end\":12,\"line_"
	       "start\":1,"
	       "\"line_end\":1,\"text\":\"The cat sat.\",\"rank\":2,\"query\":\"q\"}");
	add(p, "{\"id\":\"b\",\"doc\":\"d\",\"source\":\"d.txt\",\"start\":4,\"end\":25,\"line_"
	       "start\":1,"
	       "\"line_end\":2,\"text\":\"cat sat. The dog ran.\",\"rank\":1,\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_EQ(warn.code, RAG_OK);
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 1);
	s = source(j, 0);
	CHECK_EQ(num(s, "n"), 1);
	CHECK_STR(str(s, "id"), "b"); /* the best-ranked part */
	CHECK_EQ(num(s, "start"), 0);
	CHECK_EQ(num(s, "end"), 25);
	CHECK_EQ(num(s, "line_start"), 1);
	CHECK_EQ(num(s, "line_end"), 2);
	CHECK_EQ(json_array_size(json_object_get(s, "ids")), 2);
	CHECK_STR(json_string_value(json_array_get(json_object_get(s, "ids"), 0)), "a");
	CHECK_HAS(user_of(j), "[1] d.txt:1-2\nThe cat sat. The dog ran.\n");
	json_decref(j);

	/* a part inside another adds nothing; a chain of three merges */
	add(p, "{\"id\":\"a\",\"doc\":\"d\",\"start\":0,\"end\":25,\"text\":\"The cat sat. The dog "
	       "ran.\",\"query\":\"q\"}");
	add(p,
	    "{\"id\":\"b\",\"doc\":\"d\",\"start\":4,\"end\":7,\"text\":\"cat\",\"query\":\"q\"}");
	add(p, "{\"id\":\"c\",\"doc\":\"d\",\"start\":17,\"end\":34,\"text\":\"dog ran. The "
	       "end.\",\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 1);
	CHECK_HAS(user_of(j), "\n" DOC "\n");
	CHECK_EQ(num(source(j, 0), "end"), 34);
	CHECK_EQ(json_array_size(json_object_get(source(j, 0), "ids")), 3);
	json_decref(j);
	rag_prompt_free(p);
}

static void test_merge_touch_gap(void)
{
	rag_prompt *p = new_prompt(0, NULL, NULL, 0);
	rag_error warn;
	json_t *j;

	/* touching: [0,12) and [12,25) */
	add(p, "{\"id\":\"a\",\"doc\":\"d\",\"start\":0,\"end\":12,\"text\":\"The cat "
	       "sat.\",\"query\":\"q\"}");
	add(p, "{\"id\":\"b\",\"doc\":\"d\",\"start\":12,\"end\":25,\"text\":\" The dog "
	       "ran.\",\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 1);
	CHECK_HAS(user_of(j), "The cat sat. The dog ran.");
	json_decref(j);

	/* a gap of one byte: [0,12) and [13,25), two passages numbered by rank */
	add(p, "{\"id\":\"a\",\"doc\":\"d\",\"start\":0,\"end\":12,\"text\":\"The cat "
	       "sat.\",\"rank\":2,\"query\":\"q\"}");
	add(p, "{\"id\":\"b\",\"doc\":\"d\",\"start\":13,\"end\":25,\"text\":\"The dog "
	       "ran.\",\"rank\":1,\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 2);
	CHECK_STR(str(source(j, 0), "id"), "b");
	CHECK_STR(str(source(j, 1), "id"), "a");
	CHECK_EQ(num(source(j, 1), "n"), 2);
	CHECK(json_object_get(source(j, 0), "ids") == NULL);
	CHECK_HAS(user_of(j), "[1] d\nThe dog ran.\n\n[2] d\nThe cat sat.");
	json_decref(j);

	/* the same offsets in two documents stay apart */
	add(p,
	    "{\"id\":\"a\",\"doc\":\"d\",\"start\":0,\"end\":3,\"text\":\"The\",\"query\":\"q\"}");
	add(p,
	    "{\"id\":\"b\",\"doc\":\"e\",\"start\":0,\"end\":3,\"text\":\"The\",\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 2);
	json_decref(j);

	/* "source" stands for a missing "doc" */
	add(p, "{\"id\":\"a\",\"source\":\"s\",\"start\":0,\"end\":3,\"text\":\"The\",\"query\":"
	       "\"q\"}");
	add(p, "{\"id\":\"b\",\"source\":\"s\",\"start\":2,\"end\":7,\"text\":\"e "
	       "cat\",\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 1);
	CHECK_HAS(user_of(j), "[1] s\nThe cat\n");
	json_decref(j);

	/* shared bytes that differ: the offsets are not to be trusted, no merge */
	add(p, "{\"id\":\"a\",\"doc\":\"d\",\"start\":0,\"end\":7,\"text\":\"The "
	       "cat\",\"query\":\"q\"}");
	add(p, "{\"id\":\"b\",\"doc\":\"d\",\"start\":4,\"end\":12,\"text\":\"dog "
	       "sat.\",\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 2);
	json_decref(j);

	/* texts that are not end - start bytes long (HTML) are not merged */
	add(p, "{\"id\":\"a\",\"doc\":\"h\",\"start\":0,\"end\":20,\"text\":\"The "
	       "cat\",\"query\":\"q\"}");
	add(p, "{\"id\":\"b\",\"doc\":\"h\",\"start\":10,\"end\":30,\"text\":\"cat "
	       "sat\",\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 2);
	json_decref(j);
	rag_prompt_free(p);
}

static void test_duplicates(void)
{
	rag_prompt *p = new_prompt(0, NULL, NULL, 0);
	rag_error warn;
	json_t *j;

	/* the same id: the best-ranked stays */
	add(p, "{\"id\":\"a\",\"text\":\"first\",\"rank\":3,\"query\":\"q\"}");
	add(p, "{\"id\":\"x\",\"text\":\"other\",\"rank\":2,\"query\":\"q\"}");
	add(p, "{\"id\":\"a\",\"text\":\"second\",\"rank\":1,\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 2);
	CHECK_HAS(user_of(j), "[1] a\nsecond\n\n[2] x\nother");
	CHECK(strstr(user_of(j), "first") == NULL);
	json_decref(j);

	/* the same span of the same document, not mergeable (HTML): one stays */
	add(p,
	    "{\"id\":\"a\",\"doc\":\"h\",\"start\":0,\"end\":20,\"text\":\"One\",\"query\":\"q\"}");
	add(p,
	    "{\"id\":\"b\",\"doc\":\"h\",\"start\":0,\"end\":20,\"text\":\"Two\",\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 1);
	CHECK_STR(str(source(j, 0), "id"), "a");
	json_decref(j);

	/* integer ids are ids too; hits without ranks keep their order */
	add(p, "{\"id\":4,\"text\":\"four\",\"query\":\"q\"}");
	add(p, "{\"id\":\"4\",\"text\":\"again\",\"query\":\"q\"}");
	add(p, "{\"text\":\"no id\",\"query\":\"q\"}");
	add(p, "{\"text\":\"no id either\",\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 3);
	CHECK_HAS(user_of(j), "[1] 4\nfour\n\n[2]\nno id\n\n[3]\nno id either");
	json_decref(j);
	rag_prompt_free(p);
}

static void test_groups(void)
{
	rag_prompt *p = new_prompt(0, NULL, NULL, 0);
	rag_error err, warn;
	json_t *j;

	add(p, "{\"text\":\"x\",\"query\":\"q\"}");
	CHECK_EQ(add_err(p, "{\"text\":\"y\",\"query\":\"r\"}", &err), 0);
	CHECK_EQ(add_err(p, "{\"text\":\"y\",\"query\":\"q\",\"qid\":\"1\"}", &err), 0);
	CHECK_EQ(rag_prompt_count(p), 1);
	rag_prompt_reset(p);
	/* by qid when there is one: the query may differ, and an integer matches its text */
	add(p, "{\"text\":\"x\",\"query\":\"q\",\"qid\":\"7\"}");
	add(p, "{\"text\":\"y\",\"query\":\"other\",\"qid\":7}");
	CHECK_EQ(add_err(p, "{\"text\":\"z\",\"query\":\"q\",\"qid\":\"8\"}", &err), 0);
	CHECK_EQ(add_err(p, "{\"text\":\"z\",\"query\":\"q\"}", &err), 0);
	CHECK_EQ(rag_prompt_count(p), 2);
	j = build_json(p, &warn);
	CHECK_STR(str(j, "query"), "q");
	CHECK_STR(str(j, "qid"), "7");
	json_decref(j);
	/* no qid in the output when the hits have none */
	add(p, "{\"text\":\"x\",\"query\":\"q\",\"qid\":null}");
	j = build_json(p, &warn);
	CHECK(json_object_get(j, "qid") == NULL);
	json_decref(j);
	rag_prompt_free(p);
}

static void test_bad_hits(void)
{
	rag_prompt *p = new_prompt(0, NULL, NULL, 0);
	rag_error err;

	CHECK_EQ(add_err(p, "{\"text\":\"x\"}", &err), -1);
	CHECK_EQ(err.code, RAG_EDATA);
	CHECK_STR(err.text, "hit has no \"query\"");
	CHECK_STR(err.source, "hits");
	CHECK_EQ(err.line, 7);
	CHECK_EQ(add_err(p, "{\"query\":\"q\"}", &err), -1);
	CHECK_STR(err.text, "hit has no \"text\"");
	CHECK_EQ(add_err(p, "{\"query\":1,\"text\":\"x\"}", &err), -1);
	CHECK_STR(err.text, "\"query\" is not a string");
	CHECK_EQ(add_err(p, "{\"query\":\"q\",\"text\":\"x\",\"start\":\"0\"}", &err), -1);
	CHECK_STR(err.text, "\"start\" is not a whole number");
	CHECK_EQ(add_err(p, "{\"query\":\"q\",\"text\":\"x\",\"start\":-1}", &err), -1);
	CHECK_STR(err.text, "\"start\" is not a whole number");
	CHECK_EQ(add_err(p, "{\"query\":\"q\",\"text\":\"x\",\"start\":5,\"end\":4}", &err), -1);
	CHECK_STR(err.text, "\"end\" (4) is before \"start\" (5)");
	CHECK_EQ(add_err(p, "{\"query\":\"q\",\"text\":\"x\",\"rank\":1.5}", &err), -1);
	CHECK_STR(err.text, "\"rank\" is not a whole number");
	CHECK_EQ(add_err(p, "{\"query\":\"q\",\"text\":\"x\",\"qid\":[1]}", &err), -1);
	CHECK_STR(err.text, "\"qid\" is not a string or an integer");
	CHECK_EQ(add_err(p, "{\"query\":\"q\",\"text\":\"x\",\"source\":3}", &err), -1);
	CHECK_STR(err.text, "\"source\" is not a string");
	CHECK_EQ(rag_prompt_count(p), 0);
	rag_prompt_free(p);
}

/* The tokens of a JSON prompt: system and user messages together. */
static size_t tokens_of(const json_t *j)
{
	const json_t *m = json_object_get(j, "messages");
	size_t n = json_string_length(json_object_get(json_array_get(m, 0), "content")) +
	           json_string_length(json_object_get(json_array_get(m, 1), "content"));

	return rag_prompt_tokens(n);
}

static void test_budget(void)
{
	rag_prompt *p;
	rag_error warn;
	json_t *j;
	size_t full;

	/* with no limit: all three; the size of the whole */
	p = new_prompt(0, "S", NULL, 0);
	add(p, "{\"id\":\"a\",\"text\":\"Alpha alpha alpha alpha.\",\"rank\":1,\"query\":\"q\"}");
	add(p, "{\"id\":\"c\",\"text\":\"Gamma gamma gamma gamma.\",\"rank\":3,\"query\":\"q\"}");
	add(p, "{\"id\":\"b\",\"text\":\"Beta beta beta beta.\",\"rank\":2,\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 3);
	full = tokens_of(j);
	json_decref(j);
	rag_prompt_free(p);

	/* one token short: the lowest-ranked goes, whole */
	p = new_prompt(full - 1, "S", NULL, 0);
	add(p, "{\"id\":\"a\",\"text\":\"Alpha alpha alpha alpha.\",\"rank\":1,\"query\":\"q\"}");
	add(p, "{\"id\":\"c\",\"text\":\"Gamma gamma gamma gamma.\",\"rank\":3,\"query\":\"q\"}");
	add(p, "{\"id\":\"b\",\"text\":\"Beta beta beta beta.\",\"rank\":2,\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_EQ(warn.code, RAG_OK);
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 2);
	CHECK_STR(str(source(j, 0), "id"), "a");
	CHECK_STR(str(source(j, 1), "id"), "b");
	CHECK(strstr(user_of(j), "Gamma") == NULL);
	CHECK(tokens_of(j) <= full - 1);
	json_decref(j);
	rag_prompt_free(p);

	/* exactly the budget: nothing goes */
	p = new_prompt(full, "S", NULL, 0);
	add(p, "{\"id\":\"a\",\"text\":\"Alpha alpha alpha alpha.\",\"rank\":1,\"query\":\"q\"}");
	add(p, "{\"id\":\"c\",\"text\":\"Gamma gamma gamma gamma.\",\"rank\":3,\"query\":\"q\"}");
	add(p, "{\"id\":\"b\",\"text\":\"Beta beta beta beta.\",\"rank\":2,\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 3);
	CHECK_EQ(tokens_of(j), full);
	json_decref(j);
	rag_prompt_free(p);
}

static void test_cut(void)
{
	rag_prompt *p;
	rag_template *t;
	rag_error warn, err;
	json_t *j;
	char *s;
	static const char hit[] =
	    "{\"id\":\"long\",\"doc\":\"d\",\"start\":100,\"end\":151,\"line_start\":3,"
	    "\"line_end\":5,\"text\":\"One two three.\\nFour five six. Seven eight nine ten.\","
	    "\"query\":\"q\"}";

	/* a template of the text alone: the budget counts the passage's bytes */
	t = rag_template_parse("{{#sources}}{{text}}{{/sources}}", 32, "t", &err);
	CHECK(t != NULL);
	/* 29 bytes fit (8 tokens, 1 of them the system message's "S"): two sentences */
	p = new_prompt(8, "S", t, 0);
	add(p, hit);
	j = build_json(p, &warn);
	CHECK_STR(user_of(j), "One two three.\nFour five six.");
	CHECK_EQ(warn.code, RAG_EDATA);
	CHECK_HAS(warn.text, "query \"q\": source [1] \"d:3-5\" cut at a sentence boundary");
	CHECK_HAS(warn.text, "(29 of 51 bytes kept)");
	CHECK_STR(warn.source, "hits");
	CHECK(json_is_true(json_object_get(source(j, 0), "truncated")));
	CHECK_EQ(num(source(j, 0), "end"), 129);
	CHECK_EQ(num(source(j, 0), "line_end"), 4);
	json_decref(j);
	rag_prompt_free(p);

	/* fewer: one sentence */
	p = new_prompt(6, "S", t, 0);
	add(p, hit);
	j = build_json(p, &warn);
	CHECK_STR(user_of(j), "One two three.");
	CHECK_EQ(num(source(j, 0), "line_end"), 3);
	json_decref(j);
	rag_prompt_free(p);

	/* no sentence fits: words */
	p = new_prompt(3, "S", t, 0);
	add(p, hit);
	j = build_json(p, &warn);
	CHECK_STR(user_of(j), "One two");
	CHECK_HAS(warn.text, "cut at a word boundary");
	json_decref(j);
	rag_prompt_free(p);

	/* no word fits: no source, and a warning */
	p = new_prompt(1, "SS", t, 0);
	add(p, hit);
	j = build_json(p, &warn);
	CHECK_STR(user_of(j), "");
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 0);
	CHECK_HAS(warn.text, "left out: not a word of it fits in 1 tokens");
	json_decref(j);
	rag_prompt_free(p);

	/* only the best passage is ever cut: the others go first */
	p = new_prompt(6, "S", t, 0);
	add(p, "{\"id\":\"b\",\"text\":\"Short.\",\"rank\":2,\"query\":\"q\"}");
	add(p,
	    "{\"id\":\"a\",\"text\":\"One two three. Four five six.\",\"rank\":1,\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_STR(user_of(j), "One two three.");
	CHECK_EQ(json_array_size(json_object_get(j, "sources")), 1);
	json_decref(j);
	rag_prompt_free(p);
	rag_template_free(t);

	/* over the budget without any source: an error, naming the query */
	p = new_prompt(10, NULL, NULL, 0);
	add(p, "{\"text\":\"x\",\"query\":\"why?\"}");
	s = build(p, &warn, &err);
	CHECK(s == NULL);
	CHECK_EQ(err.code, RAG_EDATA);
	CHECK_HAS(err.text, "query \"why?\": the prompt takes");
	CHECK_HAS(err.text, "more than the budget of 10");
	CHECK_EQ(err.line, 7);
	free(s);
	rag_prompt_free(p);
}

static void test_sentences(void)
{
	rag_prompt *p;
	rag_template *t;
	rag_error warn, err;
	json_t *j;

	t = rag_template_parse("{{#sources}}{{text}}{{/sources}}", 32, "t", &err);
	/* closing quotes belong to the sentence; a paragraph ends one; 3.14 does not */
	p = new_prompt(9, "", t, 0);
	add(p, "{\"text\":\"He said \\\"Stop.\\\" Then pi is 3.14 and more words here.\",\"query\":"
	       "\"q\"}");
	j = build_json(p, &warn);
	CHECK_STR(user_of(j), "He said \"Stop.\"");
	json_decref(j);
	rag_prompt_free(p);
	p = new_prompt(4, "", t, 0);
	add(p, "{\"text\":\"# Heading\\n\\nA long paragraph that goes on.\",\"query\":\"q\"}");
	j = build_json(p, &warn);
	CHECK_STR(user_of(j), "# Heading");
	json_decref(j);
	rag_prompt_free(p);
	rag_template_free(t);
}

static void test_default_template(void)
{
	rag_prompt *p = new_prompt(0, NULL, NULL, 0);
	rag_error warn;
	json_t *j;
	const json_t *m;

	add(p,
	    "{\"id\":\"a\",\"source\":\"a.md\",\"line_start\":2,\"line_end\":4,\"text\":\"Alpha.\","
	    "\"query\":\"what?\"}");
	j = build_json(p, &warn);
	m = json_object_get(j, "messages");
	CHECK_STR(str(json_array_get(m, 0), "role"), "system");
	CHECK_STR(str(json_array_get(m, 0), "content"), rag_prompt_default_system);
	CHECK_HAS(rag_prompt_default_system, "only");
	CHECK_HAS(rag_prompt_default_system, "[n]");
	CHECK_STR(str(json_array_get(m, 1), "role"), "user");
	CHECK_STR(user_of(j), "Sources:\n\n[1] a.md:2-4\nAlpha.\n\nQuestion: what?");
	json_decref(j);
	rag_prompt_free(p);
}

static void test_sources_fields(void)
{
	rag_prompt *p = new_prompt(0, NULL, NULL, 0);
	rag_error warn;
	char *s, *want;
	rag_error err;

	add(p,
	    "{\"title\":\"T\", "
	    "\"id\":\"a\",\"text\":\"x\",\"score\":1.5,\"rank\":1,\"query\":\"q\","
	    "\"qid\":\"9\",\"vector\":[1,2],\"ranks\":{\"lexical\":1},\"meta\":{\"k\":[1, 2.50]},"
	    "\"n\":77,\"year\":2020,\"year\":2021}");
	s = build(p, &warn, &err);
	CHECK(s != NULL);
	/* reserved fields first, then metadata as written, the last of a repeated key */
	want = strstr(s ? s : "", "\"sources\":[");
	CHECK_STR(want,
	          "\"sources\":[{\"n\":1,\"id\":\"a\",\"title\":\"T\",\"meta\":{\"k\":[1,2.50]},"
	          "\"year\":2021,\"text\":\"x\"}]}");
	CHECK_HAS(s, "{\"query\":\"q\",\"qid\":\"9\",\"messages\":[");
	free(s);
	rag_prompt_free(p);
}

static void test_text_format(void)
{
	rag_prompt *p = new_prompt(0, "Be brief.", NULL, RAG_PROMPT_TEXT);
	rag_error warn, err;
	char *s;

	add(p, "{\"text\":\"Alpha.\",\"source\":\"a\",\"query\":\"what?\"}");
	s = build(p, &warn, &err);
	CHECK_STR(s, "System:\nBe brief.\n\nUser:\nSources:\n\n[1] a\nAlpha.\n\nQuestion: what?");
	free(s);
	rag_prompt_free(p);
}

/* Renders hits through a template given as text; a new string. */
static char *render(const char *tmpl, const char *const *hits)
{
	rag_error err, warn;
	rag_template *t = rag_template_parse(tmpl, strlen(tmpl), "t", &err);
	rag_prompt *p;
	json_t *j;
	char *s;

	CHECK(t != NULL);
	if (!t) {
		fprintf(stderr, "  template: %s\n", err.text);
		return NULL;
	}
	p = new_prompt(0, NULL, t, 0);
	for (; *hits; hits++)
		add(p, *hits);
	j = build_json(p, &warn);
	s = j ? strdup(user_of(j)) : NULL;
	json_decref(j);
	rag_prompt_free(p);
	rag_template_free(t);
	return s;
}

static void test_template_render(void)
{
	static const char *const hits[] = {
	    "{\"id\":\"a\",\"source\":\"a.md\",\"doc\":\"A\",\"start\":5,\"end\":11,\"line_start\":"
	    "2,"
	    "\"line_end\":3,\"text\":\"Alpha.\",\"year\":2020,\"tags\":[\"x\"],\"query\":\"what?\","
	    "\"qid\":\"q1\",\"rank\":1}",
	    "{\"id\":\"b\",\"text\":\"Beta.\",\"query\":\"what?\",\"qid\":\"q1\",\"rank\":2}",
	    NULL,
	};
	char *s;

	s = render(
	    "Q: {{question}} ({{ qid }})\n"
	    "{{#sources}}\n"
	    "[{{n}}] {{id}} {{doc}} {{source}} {{start}}-{{end}} {{line_start}}-{{line_end}} "
	    "{{year}} {{tags}} {{nothing}}|{{location}}\n"
	    "{{text}}\n"
	    "  {{/sources}}  \n"
	    "end \\{{question}}\n",
	    hits);
	CHECK_STR(s, "Q: what? (q1)\n"
	             "[1] a A a.md 5-11 2-3 2020 [\"x\"] |a.md:2-3\n"
	             "Alpha.\n"
	             "[2] b   - -   |b\n"
	             "Beta.\n"
	             "end {{question}}");
	free(s);
	/* block tags inline stay inline; {{context}} */
	s = render("{{#sources}}<{{n}}>{{/sources}}\n{{context}}\n\n", hits);
	CHECK_STR(s, "<1><2>\n[1] a.md:2-3\nAlpha.\n\n[2] b\nBeta.\n");
	free(s);
}

/* The error of parsing tmpl: its text, line in *line. */
static const char *parse_error(const char *tmpl, long *line)
{
	static rag_error err;
	rag_template *t = rag_template_parse(tmpl, strlen(tmpl), "my.tmpl", &err);

	CHECK(t == NULL);
	rag_template_free(t);
	if (t)
		return "(parsed)";
	CHECK_EQ(err.code, RAG_EUSAGE);
	CHECK_STR(err.source, "my.tmpl");
	*line = err.line;
	return err.text;
}

static void test_template_errors(void)
{
	long line = 0;

	CHECK_STR(parse_error("a\nb\nc {{questoin}}\n", &line),
	          "unknown placeholder \"{{questoin}}\" (the fields of a source go inside "
	          "{{#sources}}...{{/sources}})");
	CHECK_EQ(line, 3);
	CHECK_STR(parse_error("x\n{{#sources}}\n{{text}}\n", &line),
	          "{{#sources}} is not closed (no {{/sources}})");
	CHECK_EQ(line, 2);
	CHECK_STR(parse_error("x\n\n{{/sources}}", &line), "\"{{/sources}}\" without {{#sources}}");
	CHECK_EQ(line, 3);
	CHECK_STR(parse_error("one\n{{question\n}}", &line), "unclosed placeholder \"{{question\"");
	CHECK_EQ(line, 2);
	CHECK_STR(parse_error("{{#sources}}\n{{#sources}}{{/sources}}{{/sources}}", &line),
	          "\"{{#sources}}\" inside {{#sources}} of line 1");
	CHECK_EQ(line, 2);
	CHECK_STR(parse_error("{{#sources}}\n\n{{context}}{{/sources}}", &line),
	          "\"{{context}}\" inside {{#sources}} of line 1");
	CHECK_EQ(line, 3);
	CHECK_STR(parse_error("{{#hits}}{{/hits}}", &line),
	          "unknown block \"{{#hits}}\" (the only block is {{#sources}})");
	CHECK_EQ(line, 1);
	CHECK_STR(parse_error("\n{{a b}}", &line), "bad placeholder \"{{a b}}\"");
	CHECK_EQ(line, 2);
	CHECK_STR(parse_error("{{}}", &line), "bad placeholder \"{{}}\"");
	CHECK_STR(parse_error("ok\nok\n\xff", &line), "invalid UTF-8");
	CHECK_EQ(line, 3);
	/* after standalone block lines, lines still count */
	CHECK_STR(parse_error("{{#sources}}\n{{text}}\n{{/sources}}\n{{bad}}", &line),
	          "unknown placeholder \"{{bad}}\" (the fields of a source go inside "
	          "{{#sources}}...{{/sources}})");
	CHECK_EQ(line, 4);
}

int main(void)
{
	RUN(test_tokens);
	RUN(test_merge_overlap);
	RUN(test_merge_touch_gap);
	RUN(test_duplicates);
	RUN(test_groups);
	RUN(test_bad_hits);
	RUN(test_budget);
	RUN(test_cut);
	RUN(test_sentences);
	RUN(test_default_template);
	RUN(test_sources_fields);
	RUN(test_text_format);
	RUN(test_template_render);
	RUN(test_template_errors);
	return test_summary();
}
