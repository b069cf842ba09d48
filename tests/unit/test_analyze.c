/* Tests for lib/analyze.c: the analyzers, word rules, cutting and errors. */
#include "config.h"

#include <libstemmer.h>
#include <stdlib.h>

#include "analyze.h"
#include "test.h"
#include "utf8.h"

/* The terms of the last analysis, joined by '|'. */
static char got[16384];
static size_t got_len;
static size_t got_count;
static int bad_terms; /* empty, too long or invalid UTF-8 */

static int collect(const char *t, size_t n, void *arg)
{
	(void)arg;
	if (n == 0 || n > RAG_TERM_MAX || rag_utf8_valid_prefix(t, n) != n)
		bad_terms++;
	if (got_len + n + 2 < sizeof got) {
		if (got_count)
			got[got_len++] = '|';
		memcpy(got + got_len, t, n);
		got_len += n;
		got[got_len] = '\0';
	}
	got_count++;
	return 0;
}

static rag_analyzer *make(const char *name)
{
	rag_error err;
	rag_analyzer *a = rag_analyzer_new(name, &err);

	if (!a)
		fprintf(stderr, "analyzer %s: %s\n", name, err.text);
	return a;
}

static int collect_id(uint32_t id, void *arg);

/* The analyzer whose numbers collect_id takes. */
static rag_analyzer *numbering;

/*
 * Packs the words of text[0..n) with a, numbers them with two, and
 * collects the terms.  The pack is copied into a block of its exact size
 * plus the room promised past it, so that a read beyond shows.  0, or -1.
 */
static int two_steps(rag_analyzer *a, rag_analyzer *two, const char *text, size_t n)
{
	rag_buf pack;
	rag_error err;
	unsigned char *p;
	uint32_t *ids;
	long k;
	int rc = -1;

	rag_buf_init(&pack, 0);
	if (rag_analyze_pack(a, text, n, &pack, &err) < 0)
		return -1;
	/* what the pack promises: its words, and the room past them */
	CHECK(pack.cap - pack.len >= RAG_WORDS_SLACK);
	p = malloc(pack.len + RAG_WORDS_SLACK);
	ids = malloc((pack.len / 2 + 1) * sizeof *ids);
	if (p && ids) {
		memcpy(p, pack.data, pack.len);
		memset(p + pack.len, 0x5a, RAG_WORDS_SLACK);
		k = rag_analyzer_word_ids(two, p, pack.len, ids);
		rc = k < 0 ? -1 : 0;
		for (long i = 0; i < k && rc == 0; i++)
			rc = collect_id(ids[i], NULL);
	}
	free(p);
	free(ids);
	rag_buf_free(&pack);
	return rc;
}

/*
 * Analyzes text[0..n) with a copy of exactly n bytes in its own block, so
 * that ASan or valgrind catch any read past the end.  Returns the terms
 * joined by '|', or "(error)".  how: 0 rag_analyze; 1 rag_analyze_ids;
 * 2 rag_analyze_pack on a and rag_analyzer_word_ids on two (an analyzer of
 * the same kind, as the two threads of an index writer use them).
 */
static const char *analyzed(rag_analyzer *a, rag_analyzer *two, int how, const char *text,
			    size_t n)
{
	char *copy = malloc(n ? n : 1);
	rag_error err;
	int r;

	got[0] = '\0';
	got_len = 0;
	got_count = 0;
	if (!a || !copy) {
		free(copy);
		return "(error)";
	}
	memcpy(copy, text, n);
	numbering = how == 2 ? two : a;
	r = how == 0   ? rag_analyze(a, copy, n, collect, NULL, &err)
	    : how == 1 ? rag_analyze_ids(a, copy, n, collect_id, NULL, &err)
		       : two_steps(a, two, copy, n);
	free(copy);
	return r == 0 ? got : "(error)";
}

static const char *terms_n(rag_analyzer *a, const char *text, size_t n)
{
	return analyzed(a, NULL, 0, text, n);
}

static const char *terms(rag_analyzer *a, const char *text)
{
	return terms_n(a, text, strlen(text));
}

static int collect_id(uint32_t id, void *arg)
{
	size_t n;
	const char *t;

	if (id >= rag_analyzer_terms(numbering)) {
		bad_terms++;
		return 0;
	}
	t = rag_analyzer_term(numbering, id, &n);
	return collect(t, n, arg);
}

/* As terms_n, through the numbering: rag_analyze_ids, or with two, the two steps. */
static const char *numbered_n(rag_analyzer *a, rag_analyzer *two, const char *text, size_t n)
{
	return analyzed(a, two, two ? 2 : 1, text, n);
}

static void names(void)
{
	const char *const *v = rag_analyzer_names();
	rag_analyzer *a;
	size_t i;

	CHECK_STR(v[0], "english");
	CHECK_STR(v[1], "lucene");
	CHECK_STR(v[2], "simple");
	CHECK_STR(v[3], "none");
	CHECK(v[4] == NULL);
	for (i = 0; v[i]; i++) {
		a = make(v[i]);
		CHECK(a != NULL);
		if (a)
			CHECK_STR(rag_analyzer_name(a), v[i]);
		rag_analyzer_free(a);
	}
	/* No name is the default. */
	a = make(NULL);
	CHECK(a != NULL);
	if (a)
		CHECK_STR(rag_analyzer_name(a), "english");
	rag_analyzer_free(a);
	rag_analyzer_free(NULL);
}

static void unknown_name(void)
{
	rag_error err;
	rag_analyzer *a;

	rag_error_clear(&err);
	a = rag_analyzer_new("klingon", &err);
	CHECK(a == NULL);
	CHECK_EQ(err.code, RAG_EUSAGE);
	CHECK(strstr(err.text, "\"klingon\"") != NULL);
	CHECK(strstr(err.text, "english") != NULL);
	/* Names are matched exactly. */
	a = rag_analyzer_new("English", &err);
	CHECK(a == NULL);
	CHECK_EQ(err.code, RAG_EUSAGE);
	CHECK(strstr(err.text, "\"English\"") != NULL);
	/* A NULL err is allowed. */
	CHECK(rag_analyzer_new("", NULL) == NULL);
}

static void sentence(void)
{
	const char *s = "The Cats' owner's cars don't RUN";
	rag_analyzer *lu = make("lucene"), *en = make("english");
	rag_analyzer *si = make("simple"), *no = make("none");

	CHECK_STR(terms(lu, s), "cat|owner|car|don't|run");
	CHECK_STR(terms(en, s), "cat|owner|car|don't|run");
	CHECK_STR(terms(si, s), "the|cats|owner's|cars|don't|run");
	CHECK_STR(terms(no, s), "The|Cats'|owner's|cars|don't|RUN");

	s = "Running, the runner ran; connections CONNECTED.";
	CHECK_STR(terms(lu, s), "run|runner|ran|connect|connect");
	CHECK_STR(terms(en, s), "run|runner|ran|connect|connect");
	CHECK_STR(terms(si, s), "running|the|runner|ran|connections|connected");
	CHECK_STR(terms(no, s), "Running,|the|runner|ran;|connections|CONNECTED.");

	/* Nothing to find. */
	CHECK_STR(terms(lu, ""), "");
	CHECK_EQ(got_count, 0);
	CHECK_STR(terms(si, " \t\n-- ... ,,, '' _ "), "");
	CHECK_EQ(got_count, 0);
	CHECK_STR(terms(no, " \t\n\v\f\r "), "");
	CHECK_EQ(got_count, 0);
	CHECK_EQ(rag_analyze(lu, NULL, 0, collect, NULL, NULL), 0);

	rag_analyzer_free(lu);
	rag_analyzer_free(en);
	rag_analyzer_free(si);
	rag_analyzer_free(no);
}

static void stop_words(void)
{
	/* Lucene's English stop words, all 33 of them. */
	const char *all = "a an and are as at be but by for if in into is it no not of on "
			  "or such that the their then there these they this to was will "
			  "with";
	rag_analyzer *lu = make("lucene"), *en = make("english"), *si = make("simple");

	CHECK_STR(terms(lu, all), "");
	CHECK_EQ(got_count, 0);
	CHECK_STR(terms(en, all), "");
	CHECK_STR(terms(lu, "THE Then THERE Into WITH"), "");
	terms(si, all);
	CHECK_EQ(got_count, 33);
	/* Only those: near misses and other common words stay. */
	CHECK_STR(terms(lu, "I we he them those these' which would an' ax"),
		  "i|we|he|them|those|which|would|ax");
	/* english drops the function words of general English besides. */
	CHECK_STR(terms(en, "I we he them those which would an' ax"), "would|ax");
	CHECK_STR(terms(en, "What articles exist which deal with TSS?"), "articl|exist|deal|tss");
	CHECK_STR(terms(en, "yourselves themselves ourselves myself"), "");
	/* "it's" loses its possessive, and "it" is a stop word. */
	CHECK_STR(terms(lu, "it's IT'S it’s its"), "it");
	/* Stop words are matched before stemming: "thing" is not "the". */
	CHECK_STR(terms(lu, "things is"), "thing");

	rag_analyzer_free(lu);
	rag_analyzer_free(en);
	rag_analyzer_free(si);
}

static void stemmers(void)
{
	rag_analyzer *lu = make("lucene"), *en = make("english"), *si = make("simple");

	/* Porter and Snowball English disagree on these. */
	CHECK_STR(terms(lu, "generously fairly"), "gener|fairli");
	CHECK_STR(terms(en, "generously fairly"), "generous|fair");
	CHECK_STR(terms(si, "generously fairly"), "generously|fairly");
	/* And agree on these. */
	CHECK_STR(terms(lu, "ponies caresses relational"), "poni|caress|relat");
	CHECK_STR(terms(en, "ponies caresses relational"), "poni|caress|relat");
	/* Words of one or two letters are not stemmed (Porter would empty "s"). */
	CHECK_STR(terms(lu, "Us as is s x's"), "us|s|x");
	CHECK_STR(terms(en, "Us as is s x's"), "us|s|x");
	CHECK_STR(terms_n(lu, "owner\xe2\x33\x99s", 9), "owner|3|s");
	/* Numbers are not stemmed; words with digits are. */
	CHECK_STR(terms(lu, "1990s 3.14 1,000 catss"), "1990|3.14|1,000|catss");
	rag_analyzer_free(lu);
	rag_analyzer_free(en);
	rag_analyzer_free(si);
}

/*
 * Each word alone, against libstemmer called directly, twice over in
 * different orders: enough words to evict from and collide in the stem
 * cache, which must never change a result.
 */
static void stem_cache(void)
{
	static const char *const ends[] = {"ing", "ed", "s", "ness", "ational", "ly", "", "ies"};
	const char *algs[] = {"porter", "english"};
	const char *names_[] = {"lucene", "english"};
	char word[64];
	size_t wlen;
	int k, pass, i, bad = 0;

	for (k = 0; k < 2; k++) {
		rag_analyzer *a = make(names_[k]);
		struct sb_stemmer *st = sb_stemmer_new(algs[k], "UTF_8");
		CHECK(a != NULL && st != NULL);
		if (!a || !st) {
			rag_analyzer_free(a);
			sb_stemmer_delete(st);
			continue;
		}
		for (pass = 0; pass < 2; pass++) {
			for (i = 0; i < 12000; i++) {
				int j = pass ? 11999 - i : i, v = j / 8, len = 0;
				const sb_symbol *want;
				/* Letters from the number, then an ending. */
				word[len++] = 'q';
				do {
					word[len++] = (char)('a' + v % 26);
					v /= 26;
				} while (v);
				len += snprintf(word + len, sizeof word - (size_t)len, "%s",
						ends[j % 8]);
				want = sb_stemmer_stem(st, (const sb_symbol *)word, len);
				wlen = want ? (size_t)sb_stemmer_length(st) : 0;
				if (len <= 2) {
					/* Too short to stem. */
					want = (const sb_symbol *)word;
					wlen = (size_t)len;
				}
				terms_n(a, word, (size_t)len);
				if (got_count != 1 || !want || got_len != wlen ||
				    memcmp(got, want, got_len) != 0)
					bad++;
				/* the memo, which meets every word twice */
				numbered_n(a, NULL, word, (size_t)len);
				if (got_count != 1 || !want || got_len != wlen ||
				    memcmp(got, want, got_len) != 0)
					bad++;
			}
		}
		CHECK_EQ(bad, 0);
		rag_analyzer_free(a);
		sb_stemmer_delete(st);
	}
}

/*
 * The numbered terms (rag_analyze_ids, and rag_analyze_pack with
 * rag_analyzer_word_ids) are the terms rag_analyze gives, one number per
 * term, for every analyzer, before and after rag_analyzer_forget.
 */
static void numbered(void)
{
	static const char *const texts[] = {
		"The quick brown fox's jumps, and THE lazy dogs' naps.",
		"John's JOHN'S John\u2019s U.S.A. 3.14 1,000 don't",
		"\xce\x91\xce\xb8\xce\xae\xce\xbd\xce\xb1 \xe6\x9d\xb1\xe4\xba\xac\xe9\x83\xbd "
		"\xc4\xb0stanbul caf\xc3\xa9 na\xc3\xafve",
		"internationalizationalistically antidisestablishmentarianism "
		"pneumonoultramicroscopicsilicovolcanoconiosis x",
		"a an the of and or but is are was to in it this that with",
		"tab\there\nnewline  two  spaces\x01control",
	};
	const char *const kinds[] = {"english", "lucene", "simple", "none"};
	char big[2048], want[16384];
	int bad = 0;

	memset(big, 'k', sizeof big);
	for (int k = 0; k < 4; k++) {
		rag_analyzer *a = make(kinds[k]), *two = make(kinds[k]);
		CHECK(a != NULL && two != NULL);
		if (!a || !two) {
			rag_analyzer_free(a);
			rag_analyzer_free(two);
			continue;
		}
		for (int round = 0; round < 2; round++) {
			for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
				snprintf(want, sizeof want, "%s", terms(a, texts[i]));
				CHECK_STR(numbered_n(a, NULL, texts[i], strlen(texts[i])), want);
				CHECK_STR(numbered_n(a, two, texts[i], strlen(texts[i])), want);
			}
			/* a word longer than any term, cut the same way */
			snprintf(want, sizeof want, "%s", terms_n(a, big, sizeof big));
			CHECK_STR(numbered_n(a, NULL, big, sizeof big), want);
			CHECK_STR(numbered_n(a, two, big, sizeof big), want);
			/* enough distinct words to grow the tables several times */
			for (int i = 0; i < 40000 && !bad; i++) {
				char w[32];
				size_t n = (size_t)snprintf(w, sizeof w, "w%dx%s", i, i % 3 ? "ing" : "s");
				snprintf(want, sizeof want, "%s", terms_n(a, w, n));
				if (strcmp(numbered_n(a, NULL, w, n), want) != 0 ||
				    strcmp(numbered_n(a, two, w, n), want) != 0)
					bad++;
			}
			CHECK_EQ(bad, 0);
			CHECK(rag_analyzer_terms(a) >= 40000 / 3);
			/* the same term has the same number, seen again */
			{
				size_t n0 = rag_analyzer_terms(a);
				numbered_n(a, NULL, texts[0], strlen(texts[0]));
				CHECK_EQ(rag_analyzer_terms(a), n0);
			}
			rag_analyzer_forget(a);
			rag_analyzer_forget(two);
			CHECK_EQ(rag_analyzer_terms(a), 0);
		}
		CHECK_EQ(bad_terms, 0);
		rag_analyzer_free(a);
		rag_analyzer_free(two);
	}
}

static void possessive(void)
{
	rag_analyzer *lu = make("lucene"), *en = make("english"), *si = make("simple");

	CHECK_STR(terms(lu, "John's JOHN'S John’s Johns' James's"), "john|john|john|john|jame");
	CHECK_STR(terms(en, "John's JOHN'S John’s Johns' James's"), "john|john|john|john|jame");
	/* simple keeps it, with the curly apostrophe written straight. */
	CHECK_STR(terms(si, "John's JOHN'S John’s Johns'"), "john's|john's|john's|johns");
	/* Only at the end. */
	CHECK_STR(terms(si, "o's'x"), "o's'x");
	CHECK_STR(terms(lu, "o's'x"), "o's'x");
	rag_analyzer_free(lu);
	rag_analyzer_free(en);
	rag_analyzer_free(si);
}

static void joins(void)
{
	rag_analyzer *si = make("simple"), *lu = make("lucene");

	/* Apostrophes and periods join letters. */
	CHECK_STR(terms(si, "U.S.A. e.g. rock'n'roll don’t end.The"),
		  "u.s.a|e.g|rock'n'roll|don't|end.the");
	CHECK_STR(terms(lu, "U.S.A."), "u.s.a");
	/* Not at the ends, not doubled, not between a letter and a digit. */
	CHECK_STR(terms(si, "'quoted' ’curly’ a..b a''b x. .y a.1 1.a a'1"),
		  "quoted|curly|a|b|a|b|x|y|a|1|1|a|a|1");
	/* Periods and commas join digits. */
	CHECK_STR(terms(si, "3.14 1,000 1,000,000.5 v2.0 $5,000."),
		  "3.14|1,000|1,000,000.5|v2.0|5,000");
	CHECK_STR(terms(si, "1..2 1,,2 1, 2 3.x 4'5 6 ,7"), "1|2|1|2|1|2|3|x|4|5|6|7");
	CHECK_STR(terms(lu, "3.14 1,000"), "3.14|1,000");
	/* Other punctuation separates; the underscore is not a word character. */
	CHECK_STR(terms(si, "snake_case kebab-case a/b a:b a;b a@b #tag C++ x=1"),
		  "snake|case|kebab|case|a|b|a|b|a|b|a|b|tag|c|x|1");
	/* Letters and digits together are one word. */
	CHECK_STR(terms(si, "abc123def 42nd"), "abc123def|42nd");
	rag_analyzer_free(si);
	rag_analyzer_free(lu);
}

static void unicode(void)
{
	rag_analyzer *si = make("simple"), *lu = make("lucene"), *no = make("none");

	/* Lower case beyond ASCII. */
	CHECK_STR(terms(si, "ÉCOLE Straße ΣΟΦΊΑ ДОМ"), "école|straße|σοφία|дом");
	CHECK_STR(terms(lu, "ÉCOLE Straße ΣΟΦΊΑ"), "école|straße|σοφία");
	CHECK_STR(terms(no, "ÉCOLE Straße ΣΟΦΊΑ"), "ÉCOLE|Straße|ΣΟΦΊΑ");
	/* Punctuation beyond ASCII separates. */
	CHECK_STR(terms(si, "«Bonjour» “quoted”—dash…end ¿qué? 5€"),
		  "bonjour|quoted|dash|end|qué|5");
	/* Combining marks belong to the word, even those glibc does not call alphanumeric. */
	CHECK_STR(terms(si, "Cafe\xcc\x81s na\xc3\xafve"), "cafe\xcc\x81s|na\xc3\xafve");
	CHECK_STR(terms(si, "नमस्ते दुनिया"), "नमस्ते|दुनिया");
	CHECK_STR(terms(si, "น้ำใจ ภาษา"), "น้ำใจ|ภาษา");
	/* A soft hyphen or zero-width joiner inside a word is dropped. */
	CHECK_STR(terms(si, "hy\xc2\xadphen\xc2\xad x\xe2\x80\x8dy"), "hyphen|xy");
	/* Each ideograph is a word; kana runs are words. */
	CHECK_STR(terms(si, "中文字abcひらがなカタカナ"), "中|文|字|abc|ひらがなカタカナ");
	CHECK_STR(terms(lu, "東京タワーへ行く"), "東|京|タワーへ|行|く");
	CHECK_STR(terms(si, "ジョン・スミス 𠀀x"), "ジョン|スミス|𠀀|x");
	/* Non-ASCII digits and fullwidth letters are word characters. */
	CHECK_STR(terms(si, "٣٤ ＡＢＣ"), "٣٤|ａｂｃ");
	rag_analyzer_free(si);
	rag_analyzer_free(lu);
	rag_analyzer_free(no);
}

static void none(void)
{
	rag_analyzer *no = make("none");

	CHECK_STR(terms(no, "Hello, World!  foo\tBAR\n\nsnake_case\r\nx"),
		  "Hello,|World!|foo|BAR|snake_case|x");
	/* Only ASCII white space splits. */
	CHECK_STR(terms(no, "a\xc2\xa0" "b c\xe3\x80\x80" "d"), "a\xc2\xa0" "b|c\xe3\x80\x80" "d");
	/* A NUL is not white space. */
	CHECK_STR(terms_n(no, "a\0b c", 5), "a");
	CHECK_EQ(got_count, 2);
	CHECK_EQ(got_len, 5);
	rag_analyzer_free(no);
}

static void long_terms(void)
{
	rag_analyzer *si = make("simple"), *lu = make("lucene"), *no = make("none");
	char text[1024];
	size_t i;

	bad_terms = 0;
	/* 300 letters: cut to 255, and the rest makes no second term. */
	memset(text, 'A', 300);
	strcpy(text + 300, " next");
	terms(si, text);
	CHECK_EQ(got_count, 2);
	CHECK_EQ(strlen(got), RAG_TERM_MAX + 5);
	CHECK(got[0] == 'a' && got[RAG_TERM_MAX - 1] == 'a' && got[RAG_TERM_MAX] == '|');
	terms(no, text);
	CHECK_EQ(got_count, 2);
	CHECK_EQ(strlen(got), RAG_TERM_MAX + 5);
	CHECK(got[0] == 'A');
	terms(lu, text);
	CHECK_EQ(got_count, 2);
	CHECK_EQ(bad_terms, 0);

	/* Exactly 255 bytes stays whole. */
	memset(text, 'b', RAG_TERM_MAX);
	text[RAG_TERM_MAX] = '\0';
	terms(si, text);
	CHECK_EQ(got_len, RAG_TERM_MAX);

	/* 254 letters, then "é" (2 bytes): the cut falls before the "é". */
	memset(text, 'c', 254);
	strcpy(text + 254, "\xc3\xa9zzz");
	terms(si, text);
	CHECK_EQ(got_count, 1);
	CHECK_EQ(got_len, 254);
	terms(no, text);
	CHECK_EQ(got_count, 1);
	CHECK_EQ(got_len, 254);

	/* Upper case that grows when lowered: U+023A (2 bytes) -> U+2C65 (3 bytes). */
	for (i = 0; i < 120; i++)
		memcpy(text + 2 * i, "\xc8\xba", 2);
	text[240] = '\0';
	terms(si, text);
	CHECK_EQ(got_count, 1);
	CHECK_EQ(got_len, 255); /* 85 characters of 3 bytes */
	CHECK(memcmp(got, "\xe2\xb1\xa5", 3) == 0);
	CHECK_EQ(bad_terms, 0);

	/* A two-byte letter that ends exactly at 255 bytes, and one that would not. */
	memset(text, 'c', 253);
	strcpy(text + 253, "\xd0\xb4zz");
	terms(si, text);
	CHECK_EQ(got_len, 255);
	CHECK(memcmp(got + 253, "\xd0\xb4", 2) == 0);
	terms(no, text);
	CHECK_EQ(got_len, 255);
	memset(text, 'c', 254);
	strcpy(text + 254, "\xd0\xb4zz");
	terms(si, text);
	CHECK_EQ(got_len, 254);
	terms(no, text);
	CHECK_EQ(got_len, 254);
	/* A four-byte letter (U+1D400) from byte 252 on. */
	memset(text, 'c', 252);
	strcpy(text + 252, "\xf0\x9d\x90\x80zz");
	terms(si, text);
	CHECK_EQ(got_len, 252);
	terms(no, text);
	CHECK_EQ(got_len, 252);
	CHECK_EQ(bad_terms, 0);
	rag_analyzer_free(si);
	rag_analyzer_free(lu);
	rag_analyzer_free(no);
}

static int stop_at_third(const char *t, size_t n, void *arg)
{
	int *calls = arg;

	(void)t;
	(void)n;
	return ++*calls == 3 ? 7 : 0;
}

static void callback_stops(void)
{
	const char *const *v = rag_analyzer_names();
	rag_error err;
	size_t i;

	for (i = 0; v[i]; i++) {
		rag_analyzer *a = make(v[i]);
		int calls = 0;
		const char *s = "alpha beta gamma delta epsilon";
		CHECK(a != NULL);
		if (!a)
			continue;
		CHECK_EQ(rag_analyze(a, s, strlen(s), stop_at_third, &calls, &err), 7);
		CHECK_EQ(calls, 3);
		/* The analyzer works again afterwards. */
		CHECK_STR(terms(a, "one two"), strcmp(v[i], "lucene") == 0 ? "on|two" : "one|two");
		rag_analyzer_free(a);
	}
}

static void invalid_utf8(void)
{
	static const char bad[] = "ab\xff" "cd \xc3 \xe2\x82 caf\xc3\xa9\x80x \xed\xa0\x80 "
				  "\xf4\x90\x80\x80z \xc0\xaf w\xf8\x88\x80\x80\x80v";
	const char *const *v = rag_analyzer_names();
	size_t i, n;

	for (i = 0; v[i]; i++) {
		rag_analyzer *a = make(v[i]);
		if (!a)
			continue;
		bad_terms = 0;
		terms_n(a, bad, sizeof bad - 1);
		CHECK_EQ(bad_terms, 0);
		CHECK_STR(got, "ab|cd|café|x|z|w|v");
		/* Every prefix: sequences cut short at the end of the text. */
		for (n = 0; n <= sizeof bad - 1; n++)
			terms_n(a, bad, n);
		CHECK_EQ(bad_terms, 0);
		/* A truncated sequence as the very last bytes. */
		CHECK_STR(terms_n(a, "abc\xe2\x82", 5), "abc");
		CHECK_STR(terms_n(a, "\xf0\x9f\x98", 3), "");
		rag_analyzer_free(a);
	}
}

int main(void)
{
	RUN(names);
	RUN(unknown_name);
	RUN(sentence);
	RUN(stop_words);
	RUN(stemmers);
	RUN(stem_cache);
	RUN(numbered);
	RUN(possessive);
	RUN(joins);
	RUN(unicode);
	RUN(none);
	RUN(long_terms);
	RUN(callback_stops);
	RUN(invalid_utf8);
	return test_summary();
}
