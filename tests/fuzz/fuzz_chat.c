/*
 * fuzz_chat - the readers of chat answers, streamed and whole, over any
 * bytes.
 *
 * Server-sent events: the input is fed whole, in two and in three pieces
 * at points it picks, and byte by byte when it is short; the same events
 * (name and data) must come out in the same order whatever the cut, and
 * the same state be left pending.  A callback that stops at the k-th
 * event must stop the feed with its own value after exactly k events.
 *
 * The streamed pieces: each event's data (and the whole input) is read as
 * an OpenAI event, and each line of the input as an Ollama line, into an
 * answer, with a piece callback that asks to stop at a piece the input
 * picks.  Each call returns 0, 1 exactly when the callback asked to stop,
 * or -1 with RAG_EIO, RAG_EDATA or RAG_ENOMEM and a message.  The answer's
 * text is the pieces handed to the callback, in order, and each piece is
 * valid UTF-8: it is a string the JSON reader made, which json.h promises
 * is valid.  The finish reason ends inside its field, the token counts
 * are -1 or more, "done" once set stays set, and "[DONE]" sets it.
 *
 * The whole input is also read as an answer body of each provider (0 and
 * done, or -1 with an error as above) and as an error body, whose message
 * must end inside an output buffer of any size from 1 byte, on one line.
 * The citations of the input and of each answer: at most as many as
 * asked, each a number of up to 9 digits, none twice, and those of a
 * smaller limit the first of a larger one.
 *
 * The seeds in tests/fuzz/corpus/chat: 1, an OpenAI stream (a role
 * chunk, two content chunks, a finish chunk, a usage chunk and [DONE],
 * with CR LF, a comment and an id line); 2, an Ollama stream; 3, an error
 * event in a stream; 4, an error body.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- server-sent events ---- */

/* What a feed saw: its events, each as the length and bytes of its name, then of its data. */
typedef struct events {
	rag_buf log;
	size_t n;
	size_t stop_at; /* the event to stop at (1-based), 0 for none */
	int oom;        /* the log could not grow: the comparison is off */
} events;

#define STOP_VALUE 5

static void log_bytes(events *ev, const char *p, size_t n)
{
	if (rag_buf_add(&ev->log, (const char *)&n, sizeof n) < 0 ||
	    rag_buf_add(&ev->log, p, n) < 0)
		ev->oom = 1;
}

static int on_event(const char *event, const char *data, size_t n, void *arg)
{
	events *ev = arg;

	if (!event || !data)
		abort(); /* "" for no name, and the data always there */
	log_bytes(ev, event, strlen(event));
	log_bytes(ev, data, n);
	ev->n++;
	return ev->stop_at && ev->n == ev->stop_at ? STOP_VALUE : 0;
}

/*
 * Feeds data cut at the offsets cuts[0..ncuts) (increasing, each at most
 * size), or byte by byte when ncuts is SIZE_MAX, into ev.  Returns what
 * the last feed returned; *pending is rag_sse_pending after it.
 */
static int feed(const uint8_t *data, size_t size, const size_t *cuts, size_t ncuts, events *ev,
                int *pending)
{
	rag_sse s;
	rag_error err;
	size_t at = 0;
	int r = 0;

	rag_sse_init(&s);
	if (ncuts == SIZE_MAX) {
		for (at = 0; at < size && r == 0; at++)
			r = rag_sse_feed(&s, (const char *)data + at, 1, on_event, ev, &err);
	} else {
		for (size_t i = 0; i <= ncuts && r == 0; i++) {
			size_t to = i < ncuts ? cuts[i] : size;
			r = rag_sse_feed(&s, (const char *)data + at, to - at, on_event, ev, &err);
			at = to;
		}
	}
	if (r < 0 && ((err.code != RAG_EDATA && err.code != RAG_ENOMEM) || !err.text[0]))
		abort();
	*pending = rag_sse_pending(&s);
	rag_sse_free(&s);
	return r;
}

static void events_init(events *ev, size_t stop_at)
{
	rag_buf_init(&ev->log, 0);
	ev->n = 0;
	ev->stop_at = stop_at;
	ev->oom = 0;
}

/* Feeds data as cut, and checks it gives what the whole feed gave. */
static void feed_same(const uint8_t *data, size_t size, const size_t *cuts, size_t ncuts,
                      const events *whole, int whole_pending)
{
	events ev;
	int pending, r;

	events_init(&ev, 0);
	r = feed(data, size, cuts, ncuts, &ev, &pending);
	if (r == 0 && !ev.oom && !whole->oom &&
	    (ev.n != whole->n || ev.log.len != whole->log.len ||
	     (ev.log.len && memcmp(ev.log.data, whole->log.data, ev.log.len) != 0) ||
	     pending != whole_pending))
		abort(); /* the cut changed the events */
	rag_buf_free(&ev.log);
}

/* ---- citations ---- */

/*
 * The markers of text: at most max numbers of up to 9 digits, each once,
 * in the order they first appear (so fewer allowed are a prefix of more).
 */
static void citations(const char *text, size_t n)
{
	long all[64], few[2];
	size_t k = rag_chat_citations(text, n, all, sizeof all / sizeof *all);
	size_t f = rag_chat_citations(text, n, few, sizeof few / sizeof *few);

	if (k > sizeof all / sizeof *all || f > sizeof few / sizeof *few)
		abort();
	for (size_t i = 0; i < k; i++) {
		if (all[i] < 0 || all[i] > 999999999)
			abort();
		for (size_t j = 0; j < i; j++)
			if (all[i] == all[j])
				abort(); /* a source cited twice */
	}
	if (f != (k < 2 ? k : 2) || (f && memcmp(few, all, f * sizeof *few) != 0))
		abort();
	if (rag_chat_citations(text, n, all, 0) != 0)
		abort();
}

/* ---- streamed pieces ---- */

/* What the piece callback saw. */
typedef struct pieces {
	rag_buf text; /* the pieces, one after another */
	size_t n;
	size_t stop_at; /* the piece to ask to stop at (1-based), 0 for none */
	int stopped;    /* the callback asked to stop in this call */
	int oom;
} pieces;

static int on_piece(const char *text, size_t n, void *arg)
{
	pieces *pc = arg;

	if (rag_utf8_valid_prefix(text, n) != n)
		abort(); /* a piece that is not a string the JSON reader made */
	if (rag_buf_add(&pc->text, text, n) < 0)
		pc->oom = 1;
	pc->n++;
	pc->stopped = pc->stop_at && pc->n == pc->stop_at;
	return pc->stopped;
}

/* The answer after any call: its fields within their bounds. */
static void check_answer(const rag_chat_answer *a, int was_done)
{
	if (strnlen(a->finish_reason, sizeof a->finish_reason) >= sizeof a->finish_reason)
		abort();
	if (a->prompt_tokens < -1 || a->completion_tokens < -1)
		abort();
	if ((a->done != 0 && a->done != 1) || (was_done && !a->done))
		abort();
}

/* What a streamed reader returned, r, with the callback's record pc and the answer a. */
static void check_piece_call(int r, const rag_error *err, pieces *pc, const rag_chat_answer *a,
                             int was_done)
{
	if (r != 0 && r != 1 && r != -1)
		abort();
	if ((r == 1) != pc->stopped)
		abort(); /* 1 is for a callback that asked to stop, and only for it */
	if (r < 0 && ((err->code != RAG_EIO && err->code != RAG_EDATA && err->code != RAG_ENOMEM) ||
	              !err->text[0]))
		abort();
	pc->stopped = 0;
	check_answer(a, was_done);
	if (!pc->oom && (a->text.len != pc->text.len ||
	                 (a->text.len && memcmp(a->text.data, pc->text.data, a->text.len) != 0)))
		abort(); /* the answer is not the pieces handed on */
}

static void openai_event(rag_chat_answer *a, pieces *pc, const char *p, size_t n)
{
	rag_error err;
	int was_done = a->done;
	int r = rag_chat_openai_event(a, p, n, on_piece, pc, &err);

	check_piece_call(r, &err, pc, a, was_done);
	if (n == 6 && memcmp(p, "[DONE]", 6) == 0 && (r != 0 || !a->done))
		abort();
}

/* The data of each event logged in ev, as OpenAI events, into one answer. */
static void openai_stream(const events *ev, const uint8_t *data, size_t size, size_t stop_at)
{
	rag_chat_answer a;
	pieces pc = {{0}, 0, stop_at, 0, 0};
	const char *p = ev->log.data ? ev->log.data : "", *end = p + ev->log.len;

	rag_chat_answer_init(&a);
	rag_buf_init(&pc.text, 0);
	while (p < end) {
		size_t n;
		memcpy(&n, p, sizeof n); /* the name */
		p += sizeof n + n;
		memcpy(&n, p, sizeof n); /* the data */
		p += sizeof n;
		openai_event(&a, &pc, p, n);
		p += n;
	}
	/* and the whole input as the data of one event */
	openai_event(&a, &pc, (const char *)data, size);
	citations(a.text.data ? a.text.data : "", a.text.len);
	rag_buf_free(&pc.text);
	rag_chat_answer_free(&a);
}

/* Each line of the input, with its line end, as an Ollama line, into one answer. */
static void ollama_stream(const uint8_t *data, size_t size, size_t stop_at)
{
	rag_chat_answer a;
	pieces pc = {{0}, 0, stop_at, 0, 0};
	const char *p = (const char *)data, *end = p + size;

	rag_chat_answer_init(&a);
	rag_buf_init(&pc.text, 0);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		rag_error err;
		int was_done = a.done;
		int r = rag_chat_ollama_line(&a, p, n, on_piece, &pc, &err);
		check_piece_call(r, &err, &pc, &a, was_done);
		p += n;
	}
	citations(a.text.data ? a.text.data : "", a.text.len);
	rag_buf_free(&pc.text);
	rag_chat_answer_free(&a);
}

/* ---- whole answers ---- */

static void body(int provider, const uint8_t *data, size_t size)
{
	rag_chat_answer a;
	rag_error err;
	int r;

	rag_chat_answer_init(&a);
	r = provider == RAG_CHAT_OPENAI ? rag_chat_openai_body(&a, (const char *)data, size, &err)
	                                : rag_chat_ollama_body(&a, (const char *)data, size, &err);
	if (r != 0 && r != -1)
		abort();
	if (r == 0 && !a.done)
		abort(); /* a whole answer read is done */
	if (r < 0 && ((err.code != RAG_EIO && err.code != RAG_EDATA && err.code != RAG_ENOMEM) ||
	              !err.text[0]))
		abort();
	check_answer(&a, 0);
	rag_chat_answer_free(&a);
}

/* The message of an error body in a buffer of exactly size bytes: inside it, one line. */
static void error_message(const uint8_t *data, size_t size, size_t bufsize)
{
	char *out = malloc(bufsize);
	size_t n;

	if (!out)
		return;
	memset(out, 'x', bufsize);
	if (rag_chat_error_message((const char *)data, size, out, bufsize) != out)
		abort();
	if ((n = strnlen(out, bufsize)) >= bufsize)
		abort(); /* not terminated inside the buffer */
	if (memchr(out, '\n', n) || memchr(out, '\r', n))
		abort(); /* more than one line */
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t bufsizes[] = {1, 2, 3, 8, 64, 199, 200, 201, 300, 1024};
	events whole, stop;
	int pending, r;
	/* the piece to stop at, and the event: from the last byte, so the first stays free */
	size_t pick = size ? data[size - 1] : 0;
	size_t stop_piece = pick % 4, stop_event = pick / 4 % 4 + 1;

	/* the events of the whole input, the reference for every cut */
	events_init(&whole, 0);
	if ((r = feed(data, size, NULL, 0, &whole, &pending)) != 0)
		abort(); /* no line can be too long here, and the callback never stops */
	{
		size_t one = size ? (size_t)data[0] * 31 % (size + 1) : 0;
		size_t two[2] = {size / 3, 2 * size / 3};
		size_t edges[2] = {1, size - 1}; /* the first and the last byte alone */
		feed_same(data, size, &one, 1, &whole, pending);
		feed_same(data, size, two, 2, &whole, pending);
		if (size >= 2)
			feed_same(data, size, edges, 2, &whole, pending);
		if (size <= 512)
			feed_same(data, size, NULL, SIZE_MAX, &whole, pending);
	}
	/* a callback that stops the feed */
	events_init(&stop, stop_event);
	r = feed(data, size, NULL, 0, &stop, &pending);
	if (whole.n >= stop_event ? r != STOP_VALUE || stop.n != stop_event
	                          : r != 0 || stop.n != whole.n)
		abort();
	rag_buf_free(&stop.log);

	if (!whole.oom)
		openai_stream(&whole, data, size, stop_piece);
	rag_buf_free(&whole.log);
	ollama_stream(data, size, stop_piece);
	ollama_stream(data, size, 0);

	citations((const char *)data, size);
	body(RAG_CHAT_OPENAI, data, size);
	body(RAG_CHAT_OLLAMA, data, size);
	for (size_t i = 0; i < sizeof bufsizes / sizeof *bufsizes; i++)
		error_message(data, size, bufsizes[i]);
	return 0;
}
