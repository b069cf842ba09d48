/*
 * Tests for lib/extract.c: the offline answerer picks the sentences that
 * match the question, quotes them whole in reading order with their
 * citations, says it is extractive, drops repeats, and says so when
 * nothing matches.
 */
#include "config.h"

#include <string.h>

#include "extract.h"
#include "test.h"

static const char *lead = RAG_EXTRACT_LEAD "\n";

/* The answer after the lead line (checked), as a C string in a static buffer. */
static const char *answer(const char *q, const rag_extract_source *src, size_t n, size_t want,
                          long *count, rag_extract_quote *quotes)
{
	static char text[4096];
	rag_extract_opts o = {NULL, want};
	rag_buf out;
	rag_error err;

	rag_buf_init(&out, 0);
	*count = rag_extract_answer(q, strlen(q), src, n, &o, &out, quotes, &err);
	CHECK(*count >= 0);
	CHECK(out.len >= strlen(lead) && memcmp(out.data, lead, strlen(lead)) == 0);
	snprintf(text, sizeof text, "%.*s", (int)(out.len - strlen(lead)), out.data + strlen(lead));
	rag_buf_free(&out);
	return text;
}

static void picks_matching_sentences(void)
{
	const char *a = "The store keeps segments on disk. Deleted records are marked in a "
	                "bitmap until compaction reclaims their space. Readers never wait.";
	const char *b = "Compaction merges small segments.\n\nIt runs when segments pile   up.";
	rag_extract_source src[] = {{1, a, strlen(a)}, {2, b, strlen(b)}};
	rag_extract_quote qs[3];
	long n;

	const char *t = answer("how is the space of deleted records reclaimed?", src, 2, 1, &n, qs);
	CHECK_EQ(n, 1);
	CHECK_STR(t, "Deleted records are marked in a bitmap until compaction reclaims their "
	             "space. [1]");
	CHECK_EQ(qs[0].n, 1);
	CHECK(memcmp(a + qs[0].start, "Deleted", 7) == 0);
	CHECK_EQ(qs[0].end, (size_t)(strstr(a, " Readers") - a));

	/* two sentences: quoted in reading order, not score order; white space made single */
	t = answer("when does compaction run and merge segments", src, 2, 2, &n, qs);
	CHECK_EQ(n, 2);
	CHECK_STR(t, "Compaction merges small segments. [2] It runs when segments pile up. [2]");
	CHECK(qs[0].start < qs[1].start);
	CHECK(qs[0].score > 0 && qs[1].score > 0);
}

static void repeats_and_nothing(void)
{
	const char *a = "Vectors are float32. The graph is HNSW.";
	const char *b = "The graph is   HNSW.";
	rag_extract_source src[] = {{3, a, strlen(a)}, {5, b, strlen(b)}};
	long n;

	/* the same sentence in two sources is quoted once, from the first */
	const char *t = answer("what graph", src, 2, 3, &n, NULL);
	CHECK_EQ(n, 1);
	CHECK_STR(t, "The graph is HNSW. [3]");

	/* stop words alone match nothing */
	t = answer("what is the", src, 2, 3, &n, NULL);
	CHECK_EQ(n, 0);
	CHECK_STR(t, RAG_EXTRACT_NONE);
	t = answer("bananas", src, 2, 3, &n, NULL);
	CHECK_EQ(n, 0);
	CHECK_STR(t, RAG_EXTRACT_NONE);
	/* no sources at all */
	t = answer("graph", src, 0, 3, &n, NULL);
	CHECK_EQ(n, 0);
	CHECK_STR(t, RAG_EXTRACT_NONE);
}

static void rare_terms_weigh_more(void)
{
	/* "index" is in every sentence, "tombstones" in one: that one wins */
	const char *a = "The index is fast. The index is small. The index keeps tombstones.";
	rag_extract_source src[] = {{1, a, strlen(a)}};
	long n;

	const char *t = answer("index tombstones", src, 1, 1, &n, NULL);
	CHECK_EQ(n, 1);
	CHECK_STR(t, "The index keeps tombstones. [1]");
	/* ties go to the earlier sentence */
	t = answer("index", src, 1, 1, &n, NULL);
	CHECK_STR(t, "The index is fast. [1]");
}

/* A blank line ends a sentence; a sentence far below the best one is left out. */
static void paragraphs_and_weak_matches(void)
{
	const char *a = "# Hybrid search\n\nHybrid search fuses two lists of hits with "
	                "reciprocal rank fusion. Lexical search scores records with BM25.";
	rag_extract_source src[] = {{1, a, strlen(a)}};
	rag_extract_quote qs[3];
	long n;

	/* "search" alone matches every sentence; "fuses" and "lists" only one */
	const char *t = answer("what does search do with the lists of hits", src, 1, 3, &n, qs);
	CHECK_STR(t, "Hybrid search fuses two lists of hits with reciprocal rank fusion. [1]");
	CHECK_EQ(n, 1);
	/* the heading is a sentence of its own, not the start of the next one */
	t = answer("hybrid", src, 1, 3, &n, qs);
	CHECK_EQ(n, 2);
	CHECK_STR(t, "# Hybrid search [1] Hybrid search fuses two lists of hits with reciprocal "
	             "rank fusion. [1]");

	/* a "sentence" longer than RAG_EXTRACT_SENTENCE_MAX is not quoted */
	{
		static char big[RAG_EXTRACT_SENTENCE_MAX + 100];
		size_t k = 0;
		const char *tail = ". Hybrid is fine.";
		while (k + 12 < RAG_EXTRACT_SENTENCE_MAX + 20)
			k += (size_t)snprintf(big + k, sizeof big - k, "hybrid %04zu ", k);
		snprintf(big + k, sizeof big - k, "%s", tail);
		rag_extract_source b[] = {{3, big, strlen(big)}};
		t = answer("hybrid", b, 1, 3, &n, qs);
		CHECK_STR(t, "Hybrid is fine. [3]");
		/* the long one, best by score, sets no bar for the others */
		{
			static char zebras[800], foos[600];
			size_t z = 0, f = 0;
			for (int i = 0; i < 120; i++)
				z += (size_t)snprintf(zebras + z, sizeof zebras - z, "zebra ");
			f = (size_t)snprintf(foos, sizeof foos, "The cat sat on the mat. A zebra");
			for (int i = 0; i < 80; i++)
				f += (size_t)snprintf(foos + f, sizeof foos - f, " foo");
			snprintf(foos + f, sizeof foos - f, ".");
			rag_extract_source c[] = {{1, zebras, strlen(zebras)}, {2, foos, strlen(foos)}};
			t = answer("zebra", c, 2, 3, &n, qs);
			CHECK_EQ(n, 1);
			CHECK(strncmp(t, "A zebra foo foo", 15) == 0);
		}
	}
}

static void errors(void)
{
	rag_extract_opts o = {"klingon", 0};
	rag_buf out;
	rag_error err;

	rag_buf_init(&out, 0);
	CHECK_EQ(rag_extract_answer("q", 1, NULL, 0, &o, &out, NULL, &err), -1);
	CHECK_EQ(err.code, RAG_EUSAGE);
	CHECK_EQ(out.len, 0);
	rag_buf_free(&out);
}

int main(void)
{
	RUN(picks_matching_sentences);
	RUN(repeats_and_nothing);
	RUN(rare_terms_weigh_more);
	RUN(paragraphs_and_weak_matches);
	RUN(errors);
	return test_summary();
}
