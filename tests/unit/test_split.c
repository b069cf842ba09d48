/* Tests for lib/split.c: units, strategies, atoms and their invariants. */
#include "config.h"

#include <stdlib.h>

#include "split.h"
#include "test.h"
#include "utf8.h"

static rag_splitter *make(rag_strategy st, rag_unit u, size_t size, size_t overlap)
{
	rag_split_opts o = {st, u, size, overlap};
	rag_error err;
	rag_splitter *sp = rag_splitter_new(&o, &err);

	if (!sp)
		fprintf(stderr, "splitter: %s\n", err.text);
	return sp;
}

/* Splits text and returns the chunks joined by '|' in a static buffer. */
static const char *chunks(rag_splitter *sp, const char *text)
{
	static char out[4096];
	rag_spans s = {NULL, 0, 0};
	rag_error err;
	size_t i, n = 0;

	out[0] = '\0';
	if (rag_splitter_run(sp, text, 0, strlen(text), NULL, 0, &s, &err) < 0)
		return "(error)";
	for (i = 0; i < s.n; i++)
		n += (size_t)snprintf(out + n, sizeof out - n, "%s%.*s", i ? "|" : "",
				      (int)(s.v[i].end - s.v[i].start), text + s.v[i].start);
	rag_spans_free(&s);
	return out;
}

static void measures(void)
{
	CHECK_EQ(rag_measure(RAG_UNIT_CHARS, "caf\xc3\xa9 au lait", 13), 12);
	CHECK_EQ(rag_measure(RAG_UNIT_WORDS, "  two\twords\n", 12), 2);
	CHECK_EQ(rag_measure(RAG_UNIT_WORDS, "", 0), 0);
	/* Tokens: a run of letters counts one per started four; punctuation one each. */
	CHECK_EQ(rag_measure(RAG_UNIT_TOKENS, "the", 3), 1);
	CHECK_EQ(rag_measure(RAG_UNIT_TOKENS, "government", 10), 3);
	CHECK_EQ(rag_measure(RAG_UNIT_TOKENS, "Hello, world!", 13), 6);
	CHECK_EQ(rag_measure(RAG_UNIT_TOKENS, "\xe6\x97\xa5\xe6\x9c\xac", 6), 2); /* two CJK */
	CHECK_EQ(rag_measure(RAG_UNIT_TOKENS, "caf\xc3\xa9", 5), 1);
	CHECK_EQ(rag_unit_parse("tokens"), RAG_UNIT_TOKENS);
	CHECK_EQ(rag_unit_parse("bytes"), -1);
	CHECK_EQ(rag_strategy_parse("sentence"), RAG_SPLIT_SENTENCE);
}

static void options(void)
{
	rag_split_opts o = {RAG_SPLIT_RECURSIVE, RAG_UNIT_CHARS, 10, 10};
	rag_error err;

	CHECK(rag_splitter_new(&o, &err) == NULL);
	CHECK_STR(err.text, "the overlap (10) must be smaller than the size (10)");
	CHECK_EQ(err.code, RAG_EUSAGE);
	o.size = 0;
	o.overlap = 0;
	CHECK(rag_splitter_new(&o, &err) == NULL);
}

static void recursive(void)
{
	rag_splitter *sp = make(RAG_SPLIT_RECURSIVE, RAG_UNIT_CHARS, 7, 0);

	/* Pieces keep their separator at the front; chunks are trimmed. */
	CHECK_STR(chunks(sp, "abc def ghi jkl"), "abc def|ghi|jkl");
	rag_splitter_free(sp);

	sp = make(RAG_SPLIT_RECURSIVE, RAG_UNIT_CHARS, 10, 5);
	CHECK_STR(chunks(sp, "one two three four five six"), "one two|two three|four five|five six");
	rag_splitter_free(sp);

	/* Paragraphs first; a paragraph that fits stays whole. */
	sp = make(RAG_SPLIT_RECURSIVE, RAG_UNIT_CHARS, 20, 0);
	CHECK_STR(chunks(sp, "First para here.\n\nSecond one.\n\n\n  Third."),
		  "First para here.|Second one.|Third.");
	/* Lines when paragraphs are too long. */
	CHECK_STR(chunks(sp, "line one is here\nline two is here\nthree"),
		  "line one is here|line two is here|three");
	/* Characters when a word is too long. */
	CHECK_STR(chunks(sp, "abcdefghijklmnopqrstuvwxyz"), "abcdefghijklmnopqrst|uvwxyz");
	/* Never an empty chunk. */
	CHECK_STR(chunks(sp, " \n\n \n "), "");
	rag_splitter_free(sp);

	/* Sentences before words. */
	sp = make(RAG_SPLIT_RECURSIVE, RAG_UNIT_CHARS, 30, 0);
	CHECK_STR(chunks(sp, "The cat sat down. Then it slept on the mat."),
		  "The cat sat down.|Then it slept on the mat.");
	rag_splitter_free(sp);

	/* Words as the unit. */
	sp = make(RAG_SPLIT_RECURSIVE, RAG_UNIT_WORDS, 3, 1);
	CHECK_STR(chunks(sp, "a b c d e f g"), "a b c|c d e|e f g");
	rag_splitter_free(sp);
}

static void sentences(void)
{
	rag_splitter *sp = make(RAG_SPLIT_SENTENCE, RAG_UNIT_CHARS, 1000, 0);
	const char *t = "Mr. Smith met Dr. Jones at 3.15 p.m. Tuesday. J. F. Kennedy spoke! "
			"\"Was it true?\" She asked. e.g. This is not a break. It cost $3.50. 2020 was odd.";
	rag_spans b = {NULL, 0, 0};
	rag_error err;
	char got[512];
	size_t i, n = 0;

	CHECK_EQ(rag_splitter_sentences(sp, t, 0, strlen(t), &b, &err), 0);
	for (i = 0; i < b.n; i++)
		n += (size_t)snprintf(got + n, sizeof got - n, "%s%.10s", i ? "|" : "", t + b.v[i].start + 1);
	CHECK_STR(got, "J. F. Kenn|\"Was it tr|She asked.|It cost $3|2020 was o");
	rag_spans_free(&b);
	rag_splitter_free(sp);

	/* Whole sentences are packed, and carried as overlap. */
	sp = make(RAG_SPLIT_SENTENCE, RAG_UNIT_CHARS, 40, 15);
	CHECK_STR(chunks(sp, "One is here. Two is here. Three is longer here. Four."),
		  "One is here. Two is here.|Two is here. Three is longer here.|Four.");
	rag_splitter_free(sp);
}

static void fixed(void)
{
	rag_splitter *sp = make(RAG_SPLIT_FIXED, RAG_UNIT_CHARS, 4, 1);

	CHECK_STR(chunks(sp, "abcdefghij"), "abcd|defg|ghij");
	rag_splitter_free(sp);
	sp = make(RAG_SPLIT_FIXED, RAG_UNIT_CHARS, 3, 0);
	/* Multi-byte characters are never cut. */
	CHECK_STR(chunks(sp, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), "\xc3\xa9\xc3\xa9\xc3\xa9|\xc3\xa9");
	rag_splitter_free(sp);
	sp = make(RAG_SPLIT_FIXED, RAG_UNIT_WORDS, 2, 1);
	CHECK_STR(chunks(sp, "w1 w2 w3 w4"), "w1 w2|w2 w3|w3 w4");
	rag_splitter_free(sp);
}

static void atoms(void)
{
	const char *t = "intro text\n\n```\ncode one\n\ncode two\n```\n\noutro";
	size_t as = 12, ae = 38;
	rag_span atom = {as, ae};
	rag_splitter *sp = make(RAG_SPLIT_RECURSIVE, RAG_UNIT_CHARS, 12, 0);
	rag_spans s = {NULL, 0, 0};
	rag_error err;
	size_t i;

	CHECK(memcmp(t + as, "```", 3) == 0 && memcmp(t + ae - 3, "```", 3) == 0);
	CHECK_EQ(rag_splitter_run(sp, t, 0, strlen(t), &atom, 1, &s, &err), 0);
	/* No boundary inside the block; the block, larger than the size, is one chunk. */
	for (i = 0; i < s.n; i++) {
		CHECK(!(s.v[i].start > as && s.v[i].start < ae));
		CHECK(!(s.v[i].end > as && s.v[i].end < ae));
	}
	CHECK_EQ(s.n, 3);
	CHECK_EQ(s.v[1].start, as);
	CHECK_EQ(s.v[1].end, ae);
	rag_spans_free(&s);
	rag_splitter_free(sp);
}

/* ---- properties on random text ---- */

static size_t gen_text(unsigned *seed, char *buf, size_t cap)
{
	static const char *const pieces[] = {
		"the", "cat", "Government", "sat", "on", "mat", "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",
		"supercalifragilisticexpialidocious", "Mr.", "3.14", "end.", "Why?", "Yes!", "(aside)",
		"\xf0\x9f\x98\x80", "x"};
	static const char *const seps[] = {" ", " ", " ", " ", "  ", "\n", "\n\n", " \n \n", "\t", ". "};
	size_t n = 0;

	while (n + 64 < cap && rand_r(seed) % 400) {
		const char *p = pieces[rand_r(seed) % (sizeof pieces / sizeof pieces[0])];
		const char *s = seps[rand_r(seed) % (sizeof seps / sizeof seps[0])];
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", p, s);
	}
	return n;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void properties(void)
{
	unsigned seed = 7;
	char text[16384];
	int iter, bad = 0;

	for (iter = 0; iter < 600 && !bad; iter++) {
		rag_strategy st = (rag_strategy)(iter % 3);
		rag_unit u = (rag_unit)((iter / 3) % 3);
		size_t size = 1 + (size_t)(rand_r(&seed) % (u == RAG_UNIT_CHARS ? 200 : 40));
		size_t overlap = (size_t)(rand_r(&seed) % size) / 2;
		size_t n = gen_text(&seed, text, sizeof text), i, j;
		rag_splitter *sp = make(st, u, size, overlap);
		rag_spans s = {NULL, 0, 0};
		rag_error err;
		char *covered = calloc(n + 1, 1);

		CHECK_EQ(rag_splitter_run(sp, text, 0, n, NULL, 0, &s, &err), 0);
		for (i = 0; i < s.n; i++) {
			size_t a = s.v[i].start, b = s.v[i].end;
			int ok = a < b && b <= n && !is_ws(text[a]) && !is_ws(text[b - 1]) &&
				 rag_measure(u, text + a, b - a) <= size &&
				 rag_utf8_valid_prefix(text + a, b - a) == b - a;
			if (i > 0) {
				size_t pa = s.v[i - 1].start, pb = s.v[i - 1].end;
				/* In order, advancing, and sharing at most the overlap. */
				ok = ok && a >= pa && b > pb;
				if (a < pb)
					ok = ok && rag_measure(u, text + a, pb - a) <= overlap;
			}
			if (!ok) {
				fprintf(stderr, "strategy %d unit %d size %zu overlap %zu: bad chunk %zu [%zu,%zu)\n",
					st, u, size, overlap, i, a, b);
				bad = 1;
				break;
			}
			for (j = a; j < b; j++)
				covered[j] = 1;
		}
		/* Every byte that is not white space is in some chunk. */
		for (j = 0; j < n && !bad; j++)
			if (!is_ws(text[j]) && !covered[j]) {
				fprintf(stderr, "strategy %d unit %d size %zu: byte %zu not covered\n", st, u, size, j);
				bad = 1;
			}
		CHECK(!bad);
		free(covered);
		rag_spans_free(&s);
		rag_splitter_free(sp);
	}
}

int main(void)
{
	RUN(measures);
	RUN(options);
	RUN(recursive);
	RUN(sentences);
	RUN(fixed);
	RUN(atoms);
	RUN(properties);
	return test_summary();
}
