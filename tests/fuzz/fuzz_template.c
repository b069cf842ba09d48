/*
 * fuzz_template - the prompt template parser, and the prompts a template
 * renders, over any bytes.
 *
 * The input is parsed as a template named "fuzz.tmpl".  A bad template
 * must be a usage error (or out of memory) with a message, naming
 * "fuzz.tmpl", on a line the input has: 1 to its newlines + 1.  A good
 * one renders the prompt of a few fixed hits of one query (two that
 * overlap in a document and merge, a duplicate of one of them, and a long
 * one of another document that a budget has to cut), with no budget, with
 * 50 tokens and a short system message, and with 90 tokens and the
 * default one, each in both forms.  For every build:
 *   - it succeeds, or fails with RAG_EDATA (over the budget without any
 *     source) or RAG_ENOMEM and a message; without a budget it succeeds
 *     without a warning, and a warning is RAG_EDATA with a message;
 *   - building again gives the same result, byte for byte;
 *   - the JSON form is an object with the system and user messages and
 *     an array of sources numbered from 1 (two of them, the merged one
 *     and the long one, without a budget), and the text form is
 *     "System:\n" SYSTEM "\n\nUser:\n" USER with the same messages;
 *   - the system and user messages together fit the budget, as
 *     rag_prompt_tokens counts them.
 *
 * The seeds in tests/fuzz/corpus/template: 1, the default template; 2, a
 * {{#sources}} block on lines of its own with most fields, and an
 * escape; 3, block tags with text on their line, white space inside the
 * braces, {{qid}}, a field that is an object and one no hit has; 4, a
 * template with an error on its fourth line.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prompt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The hits.  d1#0 and d1#1 overlap in d1 with the same shared bytes and
 * merge; the second d1#0 is a duplicate with a worse rank and goes; d2#0
 * (123 bytes, 0..123) is the best and too long for the small budgets.
 */
static const char *const hit_text[] = {
    "{\"query\": \"what does the cat do?\", \"qid\": \"q1\", \"text\": \"The cat sat. The dog "
    "ran.\", \"id\": \"d1#0\", \"doc\": \"d1\", \"start\": 0, \"end\": 25, \"line_start\": 1, "
    "\"line_end\": 1, \"source\": \"a.txt\", \"score\": 0.9, \"rank\": 2, \"lang\": \"en\"}",
    "{\"query\": \"what does the cat do?\", \"qid\": \"q1\", \"text\": \"The dog ran. The "
    "end.\", \"id\": \"d1#1\", \"doc\": \"d1\", \"start\": 13, \"end\": 34, \"line_start\": 1, "
    "\"line_end\": 2, \"source\": \"a.txt\", \"score\": 0.5, \"rank\": 3}",
    "{\"query\": \"what does the cat do?\", \"qid\": \"q1\", \"text\": \"The cat sat. The dog "
    "ran.\", \"id\": \"d1#0\", \"doc\": \"d1\", \"start\": 0, \"end\": 25, \"line_start\": 1, "
    "\"line_end\": 1, \"source\": \"a.txt\", \"score\": 0.4, \"rank\": 4}",
    "{\"query\": \"what does the cat do?\", \"qid\": \"q1\", \"text\": \"Caf\\u00e9 notes.\\nThe "
    "cat likes milk. It sleeps all day long in the sun, and wakes at night!\\n\\n\\\"Why?\\\" "
    "nobody asks. The \\u201cend\\u201d.\", \"id\": \"d2#0\", \"doc\": \"d2\", \"start\": 0, "
    "\"end\": 123, \"line_start\": 10, \"line_end\": 13, \"source\": \"b.md\", \"score\": 0.95, "
    "\"rank\": 1, \"meta\": {\"k\": [1, 2, null]}, \"lang\": \"fr\"}",
};

#define NHITS (sizeof hit_text / sizeof *hit_text)

/* The passages the hits make without a budget. */
#define NPASSAGES 2

static const char short_system[] = "Use the sources.";

static const char *output(const rag_buf *b)
{
	return b->data ? b->data : "";
}

/* A prompt of the hits through t, or NULL when out of memory. */
static rag_prompt *new_prompt(const rag_template *t, size_t max_tokens, const char *system,
                              int format)
{
	rag_prompt_opts o;
	rag_error err;
	rag_prompt *p;

	memset(&o, 0, sizeof o);
	o.max_tokens = max_tokens;
	o.system = system;
	o.tmpl = t;
	o.format = format;
	if (!(p = rag_prompt_new(&o, &err))) {
		if (err.code != RAG_ENOMEM)
			abort(); /* the template is given: nothing else can go wrong */
		return NULL;
	}
	for (size_t i = 0; i < NHITS; i++) {
		const char *line = hit_text[i];
		rag_json_members m = {NULL, 0, 0};
		json_t *rec = rag_json_parse_members(line, strlen(line), &m, &err);
		int k;
		if (!rec && err.code == RAG_ENOMEM) {
			rag_json_members_free(&m);
			rag_prompt_free(p);
			return NULL;
		}
		if (!rec)
			abort(); /* the fixed hits are JSON */
		k = rag_prompt_add(p, rec, line, strlen(line), &m, "hits", (long)i + 1, &err);
		json_decref(rec);
		rag_json_members_free(&m);
		if (k < 0 && err.code == RAG_ENOMEM) {
			rag_prompt_free(p);
			return NULL;
		}
		if (k != 1)
			abort(); /* good hits of the same query */
	}
	return p;
}

/* One build into out: RAG_OK, or the code of its error, checked. */
static int build(rag_prompt *p, size_t max_tokens, rag_buf *out, rag_error *warn)
{
	rag_error err;
	int rc = rag_prompt_build(p, out, warn, &err);

	if (rc != 0 && rc != -1)
		abort();
	if (rc < 0) {
		if (err.code == RAG_ENOMEM)
			return RAG_ENOMEM;
		if (err.code != RAG_EDATA || !err.text[0] || !max_tokens)
			abort(); /* only a budget makes a prompt of good hits fail */
		return RAG_EDATA;
	}
	if (warn->code != RAG_OK && (warn->code != RAG_EDATA || !warn->text[0] || !max_tokens))
		abort();
	return RAG_OK;
}

/*
 * Builds the prompt of the hits through t twice in format, which must
 * agree.  Returns RAG_OK with *s the output (free it) and *len its
 * length, or the code of the error.
 */
static int build_twice(const rag_template *t, size_t max_tokens, const char *system, int format,
                       char **s, size_t *len)
{
	rag_prompt *p = new_prompt(t, max_tokens, system, format);
	rag_buf a, b;
	rag_error wa, wb;
	int ra, rb;

	*s = NULL;
	if (!p)
		return RAG_ENOMEM;
	rag_buf_init(&a, 0);
	rag_buf_init(&b, 0);
	ra = build(p, max_tokens, &a, &wa);
	rb = build(p, max_tokens, &b, &wb);
	if (ra != rb && ra != RAG_ENOMEM && rb != RAG_ENOMEM)
		abort(); /* the same group, built again, failed or came through */
	if (ra == RAG_OK && rb == RAG_OK) {
		if (a.len != b.len || memcmp(output(&a), output(&b), a.len) != 0)
			abort(); /* the second build of the same group differs */
		if (wa.code != wb.code || strcmp(wa.text, wb.text) != 0)
			abort();
		*len = a.len;
		if (!(*s = rag_buf_release(&a)) && !(*s = calloc(1, 1)))
			ra = RAG_ENOMEM;
	} else if (ra == RAG_OK) {
		ra = rb;
	}
	rag_buf_free(&a);
	rag_buf_free(&b);
	rag_prompt_free(p);
	return ra;
}

/* The prompt of t under one budget in both forms, checked against each other. */
static void try_budget(const rag_template *t, size_t max_tokens, const char *system)
{
	const char *sys = system ? system : rag_prompt_default_system;
	size_t jn = 0, tn = 0, un, sn = strlen(sys);
	char *js, *ts;
	int rj = build_twice(t, max_tokens, system, RAG_PROMPT_NDJSON, &js, &jn);
	int rt = build_twice(t, max_tokens, system, RAG_PROMPT_TEXT, &ts, &tn);
	const json_t *msgs, *srcs, *m0, *m1, *user;
	rag_error err;
	json_t *j;

	if (rj != RAG_OK || rt != RAG_OK) {
		/* the budget is met, or not, whatever the form */
		if (rj != rt && rj != RAG_ENOMEM && rt != RAG_ENOMEM)
			abort();
		goto out;
	}
	if (!(j = rag_json_parse(js, jn, &err))) {
		if (err.code == RAG_ENOMEM)
			goto out;
		abort(); /* the JSON form is not JSON */
	}
	msgs = json_object_get(j, "messages");
	srcs = json_object_get(j, "sources");
	if (!json_is_object(j) || !json_is_array(msgs) || json_array_size(msgs) != 2 ||
	    !json_is_array(srcs))
		abort();
	if (!max_tokens && json_array_size(srcs) != NPASSAGES)
		abort(); /* no budget keeps every passage */
	for (size_t i = 0; i < json_array_size(srcs); i++) {
		const json_t *s = json_array_get(srcs, i), *n = json_object_get(s, "n");
		if (!json_is_integer(n) || json_integer_value(n) != (json_int_t)i + 1 ||
		    !json_is_string(json_object_get(s, "text")))
			abort();
	}
	m0 = json_array_get(msgs, 0);
	m1 = json_array_get(msgs, 1);
	user = json_object_get(m1, "content");
	if (!json_is_string(json_object_get(m0, "content")) || !json_is_string(user) ||
	    strcmp(json_string_value(json_object_get(m0, "content")), sys) != 0)
		abort();
	un = json_string_length(user);
	/* the text form holds the same two messages */
	if (tn != 8 + sn + 8 + un || memcmp(ts, "System:\n", 8) != 0 ||
	    memcmp(ts + 8, sys, sn) != 0 || memcmp(ts + 8 + sn, "\n\nUser:\n", 8) != 0 ||
	    memcmp(ts + 16 + sn, json_string_value(user), un) != 0)
		abort();
	if (max_tokens && rag_prompt_tokens(sn + un) > max_tokens)
		abort(); /* over the budget */
	json_decref(j);
out:
	free(js);
	free(ts);
}

/* A parse error: a usage error about fuzz.tmpl on a line the template has. */
static void check_error(const uint8_t *data, size_t size, const rag_error *err)
{
	long lines = 1;

	if (err->code == RAG_ENOMEM)
		return;
	if (err->code != RAG_EUSAGE || !err->text[0] || strcmp(err->source, "fuzz.tmpl") != 0)
		abort();
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (size > RAG_TEMPLATE_MAX && err->line == 0)
		return; /* too large: about no line */
	if (err->line < 1 || err->line > lines)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rag_error err;
	rag_template *t = rag_template_parse((const char *)data, size, "fuzz.tmpl", &err);

	if (!t) {
		check_error(data, size, &err);
		return 0;
	}
	try_budget(t, 0, NULL);
	try_budget(t, 50, short_system);
	try_budget(t, 90, NULL);
	rag_template_free(t);
	return 0;
}
