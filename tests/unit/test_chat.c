/*
 * Tests for lib/chat.c: request bodies for both providers, server-sent
 * events cut at every byte, OpenAI chunks and Ollama lines accumulated
 * into an answer with its finish reason and token counts, errors inside a
 * stream, whole answers, and error bodies.
 */
#include "config.h"

#include <string.h>

#include "chat.h"
#include "json.h"
#include "test.h"

static json_t *messages(void)
{
	json_t *m = json_array();

	json_array_append_new(m, json_pack("{s:s,s:s}", "role", "system", "content", "Be brief."));
	json_array_append_new(m, json_pack("{s:s,s:s}", "role", "user", "content", "Why \"x\"?"));
	return m;
}

static json_t *body_of(int p, const rag_chat_opts *o)
{
	json_t *m = messages(), *v;
	rag_buf b;
	rag_error err;

	rag_buf_init(&b, 0);
	CHECK_EQ(rag_chat_request(p, m, o, &b, &err), 0);
	v = rag_json_parse(b.data, b.len, &err);
	CHECK(v != NULL);
	rag_buf_free(&b);
	json_decref(m);
	return v;
}

static void requests(void)
{
	rag_chat_opts o = {"gpt-x", 1, 1, 0.25, 50, 1, 7, 1};
	json_t *v = body_of(RAG_CHAT_OPENAI, &o);

	CHECK_STR(json_string_value(json_object_get(v, "model")), "gpt-x");
	CHECK(json_is_true(json_object_get(v, "stream")));
	CHECK(json_is_true(json_object_get(json_object_get(v, "stream_options"), "include_usage")));
	CHECK_NEAR(json_real_value(json_object_get(v, "temperature")), 0.25, 1e-12);
	CHECK_EQ(json_integer_value(json_object_get(v, "max_tokens")), 50);
	CHECK_EQ(json_integer_value(json_object_get(v, "seed")), 7);
	CHECK_STR(json_string_value(json_object_get(json_object_get(v, "response_format"), "type")),
	          "json_object");
	CHECK_STR(json_string_value(json_object_get(
	              json_array_get(json_object_get(v, "messages"), 1), "content")),
	          "Why \"x\"?");
	json_decref(v);

	v = body_of(RAG_CHAT_OLLAMA, &o);
	json_t *opt = json_object_get(v, "options");
	CHECK_NEAR(json_real_value(json_object_get(opt, "temperature")), 0.25, 1e-12);
	CHECK_EQ(json_integer_value(json_object_get(opt, "num_predict")), 50);
	CHECK_EQ(json_integer_value(json_object_get(opt, "seed")), 7);
	CHECK_STR(json_string_value(json_object_get(v, "format")), "json");
	CHECK(json_object_get(v, "stream_options") == NULL);
	json_decref(v);

	/* nothing asked: nothing sent */
	rag_chat_opts plain = {"m", 0, 0, 0, 0, 0, 0, 0};
	v = body_of(RAG_CHAT_OPENAI, &plain);
	CHECK(json_is_false(json_object_get(v, "stream")));
	CHECK_EQ(json_object_size(v), 3);
	json_decref(v);
	v = body_of(RAG_CHAT_OLLAMA, &plain);
	CHECK_EQ(json_object_size(v), 3);
	json_decref(v);
}

/* Events as "name|data;" */
static int collect(const char *event, const char *data, size_t n, void *arg)
{
	rag_buf *b = arg;

	rag_buf_adds(b, event);
	rag_buf_addc(b, '|');
	rag_buf_add(b, data, n);
	rag_buf_addc(b, ';');
	return 0;
}

static void sse(void)
{
	static const char stream[] = ": a comment\r\n"
	                             "data: {\"a\":1}\r\n\r\n"
	                             "event: error\n"
	                             "data: first\n"
	                             "data:second\n"
	                             "id: 4\n"
	                             "\n"
	                             "data: [DONE]\r\r"
	                             "\n\n"; /* blank lines without data make no event */
	const char *want = "|{\"a\":1};error|first\nsecond;|[DONE];";
	size_t n = sizeof stream - 1;

	/* whole, and cut in two at every byte */
	for (size_t cut = 0; cut <= n; cut++) {
		rag_sse s;
		rag_buf got;
		rag_error err;
		rag_sse_init(&s);
		rag_buf_init(&got, 0);
		CHECK_EQ(rag_sse_feed(&s, stream, cut, collect, &got, &err), 0);
		CHECK_EQ(rag_sse_feed(&s, stream + cut, n - cut, collect, &got, &err), 0);
		rag_buf_addc(&got, '\0');
		CHECK_STR(got.data, want);
		CHECK(!rag_sse_pending(&s));
		rag_buf_free(&got);
		rag_sse_free(&s);
	}
	/* a stream cut inside an event leaves it pending, unsent */
	rag_sse s;
	rag_buf got;
	rag_error err;
	rag_sse_init(&s);
	rag_buf_init(&got, 0);
	CHECK_EQ(rag_sse_feed(&s, "data: {\"a\"", 10, collect, &got, &err), 0);
	CHECK(rag_sse_pending(&s));
	CHECK_EQ(rag_sse_feed(&s, ":2}\n", 4, collect, &got, &err), 0);
	CHECK(rag_sse_pending(&s));
	CHECK_EQ(got.len, 0);
	rag_buf_free(&got);
	rag_sse_free(&s);
}

static int pieces(const char *t, size_t n, void *arg)
{
	rag_buf_add(arg, t, n);
	rag_buf_addc(arg, '/');
	return 0;
}

static void openai_stream(void)
{
	static const char *const ev[] = {
	    "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
	    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Deletes \"}}]}",
	    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"are marked [1].\"},"
	    "\"finish_reason\":null}]}",
	    "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}",
	    "{\"choices\":[],\"usage\":{\"prompt_tokens\":31,\"completion_tokens\":5}}",
	    "[DONE]"};
	rag_chat_answer a;
	rag_buf seen;
	rag_error err;

	rag_chat_answer_init(&a);
	rag_buf_init(&seen, 0);
	for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++) {
		CHECK(!a.done);
		CHECK_EQ(rag_chat_openai_event(&a, ev[i], strlen(ev[i]), pieces, &seen, &err), 0);
	}
	CHECK(a.done);
	CHECK_MEM(a.text.data, a.text.len, "Deletes are marked [1].");
	CHECK_MEM(seen.data, seen.len, "Deletes /are marked [1]./");
	CHECK_STR(a.finish_reason, "length");
	CHECK_EQ(a.prompt_tokens, 31);
	CHECK_EQ(a.completion_tokens, 5);
	rag_buf_free(&seen);

	/* an error inside the stream */
	const char *e = "{\"error\":{\"message\":\"model overloaded\",\"type\":\"server_error\"}}";
	CHECK_EQ(rag_chat_openai_event(&a, e, strlen(e), NULL, NULL, &err), -1);
	CHECK_EQ(err.code, RAG_EIO);
	CHECK_HAS(err.text, "model overloaded");
	CHECK_EQ(rag_chat_openai_event(&a, "{\"choices\":[", 12, NULL, NULL, &err), -1);
	CHECK_EQ(err.code, RAG_EDATA);
	CHECK_EQ(rag_chat_openai_event(&a, "{\"choices\":[{\"delta\":{\"content\":3}}]}", 37, NULL,
	                               NULL, &err),
	         -1);
	CHECK_EQ(err.code, RAG_EDATA);
	rag_chat_answer_free(&a);

	/* a whole answer */
	const char *whole =
	    "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"Yes [2].\"},"
	    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,"
	    "\"completion_tokens\":3}}";
	rag_chat_answer_init(&a);
	CHECK_EQ(rag_chat_openai_body(&a, whole, strlen(whole), &err), 0);
	CHECK_MEM(a.text.data, a.text.len, "Yes [2].");
	CHECK_STR(a.finish_reason, "stop");
	CHECK_EQ(a.completion_tokens, 3);
	CHECK(a.done);
	rag_chat_answer_free(&a);
	rag_chat_answer_init(&a);
	CHECK_EQ(rag_chat_openai_body(&a, "{\"id\":1}", 8, &err), -1);
	CHECK_HAS(err.text, "no choices");
	rag_chat_answer_free(&a);
}

static void ollama_stream(void)
{
	static const char *const lines[] = {
	    "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"It "
	    "\"},\"done\":false}\n",
	    "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"is "
	    "[1].\"},\"done\":false}",
	    "\n",
	    "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
	    "\"done_reason\":\"length\",\"prompt_eval_count\":12,\"eval_count\":4}\r\n"};
	rag_chat_answer a;
	rag_buf seen;
	rag_error err;

	rag_chat_answer_init(&a);
	rag_buf_init(&seen, 0);
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		CHECK_EQ(rag_chat_ollama_line(&a, lines[i], strlen(lines[i]), pieces, &seen, &err),
		         0);
	CHECK(a.done);
	CHECK_MEM(a.text.data, a.text.len, "It is [1].");
	CHECK_MEM(seen.data, seen.len, "It /is [1]./");
	CHECK_STR(a.finish_reason, "length");
	CHECK_EQ(a.prompt_tokens, 12);
	CHECK_EQ(a.completion_tokens, 4);
	rag_buf_free(&seen);
	CHECK_EQ(rag_chat_ollama_line(&a, "{\"error\":\"out of memory\"}", 25, NULL, NULL, &err),
	         -1);
	CHECK_EQ(err.code, RAG_EIO);
	CHECK_HAS(err.text, "out of memory");
	rag_chat_answer_free(&a);

	/* whole: done without a reason is a stop; not done is an error */
	const char *whole = "{\"message\":{\"content\":\"Fine.\"},\"done\":true}";
	rag_chat_answer_init(&a);
	CHECK_EQ(rag_chat_ollama_body(&a, whole, strlen(whole), &err), 0);
	CHECK_STR(a.finish_reason, "stop");
	CHECK_EQ(a.prompt_tokens, -1);
	rag_chat_answer_free(&a);
	rag_chat_answer_init(&a);
	CHECK_EQ(rag_chat_ollama_body(&a, "{\"message\":{\"content\":\"x\"}}", 27, &err), -1);
	CHECK_HAS(err.text, "not marked done");
	rag_chat_answer_free(&a);
}

static void error_bodies(void)
{
	char out[64];
	const char *a = "{\"error\":{\"message\":\"Incorrect API key\"}}";
	const char *b = "{\"error\":\"model \\\"x\\\" not found\"}";

	CHECK_STR(rag_chat_error_message(a, strlen(a), out, sizeof out), "Incorrect API key");
	CHECK_STR(rag_chat_error_message(b, strlen(b), out, sizeof out), "model \"x\" not found");
	CHECK_STR(rag_chat_error_message("Bad\ngateway", 11, out, sizeof out), "Bad gateway");
}

/* The numbers of the [n] markers of an answer, each once, in order of first appearance. */
static void citations(void)
{
	long v[8];
	const char *t = "A [2] b [1][2] c [3, 1] d [4,5] [x] [6 [] [12a] [0010] [1234567890] [7";
	size_t n = rag_chat_citations(t, strlen(t), v, 8);

	CHECK_EQ(n, 6);
	CHECK_EQ(v[0], 2);
	CHECK_EQ(v[1], 1);
	CHECK_EQ(v[2], 3);
	CHECK_EQ(v[3], 4);
	CHECK_EQ(v[4], 5);
	CHECK_EQ(v[5], 10); /* leading zeros: the same number */
	/* a marker that does not close adds nothing, even its first number */
	CHECK_EQ(rag_chat_citations("[9, 8", 5, v, 8), 0);
	/* the room given is not passed */
	CHECK_EQ(rag_chat_citations("[1][2][3]", 9, v, 2), 2);
	CHECK_EQ(v[1], 2);
	CHECK_EQ(rag_chat_citations("", 0, v, 8), 0);
}

int main(void)
{
	RUN(requests);
	RUN(sse);
	RUN(openai_stream);
	RUN(ollama_stream);
	RUN(error_bodies);
	RUN(citations);
	return test_summary();
}
