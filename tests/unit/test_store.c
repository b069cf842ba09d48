/*
 * test_store.c - the local store through the store API: upserts, deletes,
 * document replacement, commits, merges, compaction, the pruned search
 * against exhaustive scoring, and damaged files.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ragkit.h"
#include "segment.h"
#include "store.h"
#include "test.h"

static char dir[256];

static void rmtree(const char *d)
{
	DIR *dh = opendir(d);
	struct dirent *e;
	char p[512];

	if (!dh)
		return;
	while ((e = readdir(dh)))
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof p, "%s/%s", d, e->d_name);
			unlink(p);
		}
	closedir(dh);
	rmdir(d);
}

static void fresh_dir(void)
{
	static int k;

	if (dir[0])
		rmtree(dir);
	snprintf(dir, sizeof dir, "%s/ragstore-%ld-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
		 (long)getpid(), k++);
}

static rag_store *open_w(void)
{
	rag_error e;
	rag_store *s = rag_store_open(dir, RAG_STORE_WRITE | RAG_STORE_CREATE, NULL, 0, &e);

	if (!s)
		fprintf(stderr, "open: %s: %s\n", e.source, e.text);
	return s;
}

static rag_store *open_r(void)
{
	rag_error e;
	rag_store *s = rag_store_open(dir, RAG_STORE_READ, NULL, 0, &e);

	if (!s)
		fprintf(stderr, "open: %s: %s\n", e.source, e.text);
	return s;
}

/* Adds {"id":ID,"text":TEXT,"doc":DOC} with hash from the text. */
static int add(rag_store *s, const char *id, const char *text, const char *doc)
{
	char json[1024];
	rag_store_record r;
	rag_error e;
	int k;

	memset(&r, 0, sizeof r);
	snprintf(json, sizeof json, "{\"id\":\"%s\",\"text\":\"%s\"%s%s%s}", id, text,
		 doc ? ",\"doc\":\"" : "", doc ? doc : "", doc ? "\"" : "");
	r.id = id;
	r.id_len = strlen(id);
	r.text = text;
	r.text_len = strlen(text);
	r.doc = doc;
	r.doc_len = doc ? strlen(doc) : 0;
	r.json = json;
	r.json_len = strlen(json);
	for (size_t i = 0; text[i]; i++)
		r.hash[i % 16] = (unsigned char)(r.hash[i % 16] * 31 + (unsigned char)text[i]);
	k = rag_store_add(s, &r, &e);
	if (k < 0)
		fprintf(stderr, "add: %s\n", e.text);
	return k;
}

static int commit(rag_store *s)
{
	rag_error e;
	int r = rag_store_commit(s, &e);

	if (r < 0)
		fprintf(stderr, "commit: %s: %s\n", e.source, e.text);
	return r;
}

/* The ids of the hits of query q, space-separated. */
static const char *search(rag_store *s, const char *q, size_t k, int exhaustive)
{
	static char out[65536];
	rag_search_opts o;
	const rag_hit *h;
	size_t n, len = 0;
	rag_error e;

	memset(&o, 0, sizeof o);
	o.k = k;
	o.mode = RAG_MODE_LEXICAL;
	o.exhaustive = exhaustive;

	out[0] = '\0';
	if (rag_store_search(s, q, strlen(q), &o, &h, &n, &e) < 0) {
		snprintf(out, sizeof out, "error: %s", e.text);
		return out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = strstr(h[i].json, "\"id\":\"");
		const char *q2 = p ? strchr(p + 6, '"') : NULL;
		if (!q2)
			return "bad record";
		len += (size_t)snprintf(out + len, sizeof out - len, "%s%.*s:%.6f", i ? " " : "",
					(int)(q2 - p - 6), p + 6, h[i].score);
	}
	return out;
}

static uint64_t live(rag_store *s)
{
	rag_store_stats st;
	rag_error e;

	rag_store_stats_get(s, &st, &e);
	return st.records;
}

static int check(void)
{
	rag_error e;
	uint64_t n;
	int r = rag_store_check(dir, &n, &e);

	if (r < 0)
		fprintf(stderr, "check: %s: %s\n", e.source, e.text);
	return r;
}

static void test_basics(void)
{
	rag_store *s, *r;

	fresh_dir();
	s = open_w();
	CHECK(s != NULL);
	CHECK_EQ(add(s, "a", "the quick brown fox", NULL), RAG_STORE_ADDED);
	CHECK_EQ(add(s, "b", "a lazy dog sleeps", NULL), RAG_STORE_ADDED);
	CHECK_EQ(add(s, "c", "quick quick foxes jump", NULL), RAG_STORE_ADDED);
	/* not committed: there is no store yet for a reader */
	{
		rag_error e;
		r = rag_store_open(dir, RAG_STORE_READ, NULL, 0, &e);
		CHECK(r == NULL);
		CHECK(strstr(e.text, "no MANIFEST") != NULL);
	}
	CHECK_EQ(commit(s), 0);
	r = open_r();
	CHECK_STR(search(r, "quick fox", 10, 0), search(r, "quick fox", 10, 1));
	CHECK(strncmp(search(r, "quick fox", 10, 0), "c:", 2) == 0);
	/*
	 * Lucene's BM25 by hand: N 3, df 1, idf ln(1 + 2.5 / 1.5); "b" has 3
	 * terms (lazi dog sleep), the average is 10 / 3; tf 1, k1 0.9, b 0.4.
	 */
	CHECK_STR(search(r, "dogs", 10, 0), "b:0.526196");
	CHECK_STR(search(r, "the", 10, 0), "");
	CHECK_STR(search(r, "", 10, 0), "");
	rag_store_close(r);

	/* unchanged, updated, deleted */
	CHECK_EQ(add(s, "a", "the quick brown fox", NULL), RAG_STORE_UNCHANGED);
	CHECK_EQ(add(s, "b", "a sleepy cat", NULL), RAG_STORE_UPDATED);
	{
		rag_error e;
		CHECK_EQ(rag_store_delete(s, "c", 1, &e), 1);
		CHECK_EQ(rag_store_delete(s, "zz", 2, &e), 0);
	}
	CHECK_EQ(commit(s), 0);
	CHECK_EQ(live(s), 2);
	r = open_r();
	CHECK_STR(search(r, "dog", 10, 0), "");
	CHECK(strncmp(search(r, "cat", 10, 0), "b:", 2) == 0);
	CHECK(strncmp(search(r, "fox", 10, 0), "a:", 2) == 0);
	rag_store_close(r);
	CHECK_EQ(check(), 0);
	rag_store_close(s);
}

/*
 * A batch's records, as the segment's blocks hold them: many records (many
 * blocks), some longer than a block alone, and some replaced within the
 * batch, so that a block's records do not lie together in the batch.
 * Every record comes back as it went in, once.
 */
struct seen {
	char **want; /* by record number; NULL once seen */
	int n, bad;
};

static int scan_fn(const char *json, size_t len, void *arg)
{
	struct seen *sn = arg;
	int i;

	/* {"id":"bNNNN",... */
	if (len < 12 || sscanf(json, "{\"id\":\"b%d\"", &i) != 1 || i < 0 || i >= sn->n ||
	    !sn->want[i] || strlen(sn->want[i]) != len || memcmp(sn->want[i], json, len) != 0) {
		sn->bad++;
		return 0;
	}
	free(sn->want[i]);
	sn->want[i] = NULL;
	return 0;
}

static void test_blocks(void)
{
	enum { N = 600 };
	struct seen sn = {calloc(N, sizeof(char *)), N, 0};
	unsigned seed = 777;
	rag_store *s;
	rag_error e;
	int left = 0;

	fresh_dir();
	s = open_w();
	CHECK(s != NULL && sn.want != NULL);
	if (!s || !sn.want)
		return;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			/* every fifth record again in the second round, with new text */
			if (round == 1 && i % 5)
				continue;
			size_t words = 1 + (size_t)(rand_r(&seed) % 60);
			if (rand_r(&seed) % 40 == 0)
				words = 4000 + (size_t)(rand_r(&seed) % 3000); /* over 16 KiB */
			char *text = malloc(words * 8 + 1), *json = malloc(words * 8 + 64);
			char id[16];
			size_t len = 0;
			rag_store_record r;
			for (size_t w = 0; w < words; w++)
				len += (size_t)sprintf(text + len, "%sw%u", w ? " " : "",
						       (unsigned)(rand_r(&seed) % 5000));
			snprintf(id, sizeof id, "b%d", i);
			sprintf(json, "{\"id\":\"%s\",\"text\":\"%s\",\"round\":%d}", id, text, round);
			memset(&r, 0, sizeof r);
			r.id = id;
			r.id_len = strlen(id);
			r.text = text;
			r.text_len = len;
			r.json = json;
			r.json_len = strlen(json);
			r.hash[0] = (unsigned char)round;
			r.hash[1] = (unsigned char)i;
			r.hash[2] = (unsigned char)(i >> 8);
			CHECK(rag_store_add(s, &r, &e) >= 0);
			free(sn.want[i]);
			sn.want[i] = json;
			free(text);
		}
	}
	CHECK_EQ(commit(s), 0);
	CHECK_EQ(live(s), N);
	CHECK_EQ(rag_store_scan(s, scan_fn, &sn, &e), 0);
	CHECK_EQ(sn.bad, 0);
	for (int i = 0; i < N; i++)
		if (sn.want[i]) {
			left++;
			free(sn.want[i]);
		}
	CHECK_EQ(left, 0);
	CHECK_EQ(check(), 0);
	free(sn.want);
	rag_store_close(s);
}

static void test_replace_docs(void)
{
	rag_store *s;
	rag_error e;
	long del;

	fresh_dir();
	s = open_w();
	add(s, "d1#0", "one", "d1");
	add(s, "d1#1", "two", "d1");
	add(s, "d1#2", "three", "d1");
	add(s, "d2#0", "four", "d2");
	commit(s);
	rag_store_close(s);

	s = open_w();
	CHECK_EQ(rag_store_doc_begin(s, "d1", 2, &e), 0);
	CHECK_EQ(add(s, "d1#0", "one", "d1"), RAG_STORE_UNCHANGED);
	CHECK_EQ(add(s, "d1#1", "two changed", "d1"), RAG_STORE_UPDATED);
	CHECK_EQ(rag_store_doc_end(s, &del, &e), 0);
	CHECK_EQ(del, 1);
	commit(s);
	CHECK_EQ(live(s), 3);
	CHECK_STR(search(s, "three", 10, 0), "");
	CHECK(strncmp(search(s, "four", 10, 0), "d2#0:", 5) == 0);
	rag_store_close(s);
	CHECK_EQ(check(), 0);
}

/* Random records over a small vocabulary, in many segments with deletes. */
static void test_pruning(void)
{
	static const char *words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
				      "golf", "hotel", "india", "juliet", "kilo", "lima",
				      "mike", "november", "oscar", "papa", "quebec", "romeo"};
	const size_t nw = sizeof words / sizeof *words;
	rag_store *s;
	unsigned seed = 12345;
	char id[32], text[800];

	fresh_dir();
	s = open_w();
	for (int i = 0; i < 3000; i++) {
		size_t len = 0, n = 1 + (size_t)(rand_r(&seed) % 40);
		for (size_t j = 0; j < n; j++) {
			/* a skewed choice, so frequencies differ */
			size_t w = (size_t)(rand_r(&seed) % nw);
			w = w * (size_t)(rand_r(&seed) % nw) / nw;
			len += (size_t)snprintf(text + len, sizeof text - len, "%s%s", j ? " " : "",
						words[w]);
		}
		snprintf(id, sizeof id, "r%d", i % 2500);
		add(s, id, text, NULL);
		if (i % 97 == 96)
			commit(s);
		if (i % 13 == 0) {
			rag_error e;
			snprintf(id, sizeof id, "r%d", rand_r(&seed) % 2500);
			rag_store_delete(s, id, strlen(id), &e);
		}
	}
	commit(s);
	CHECK_EQ(check(), 0);
	rag_store_close(s);
	s = open_r();
	for (int q = 0; q < 300; q++) {
		char query[200];
		size_t len = 0, n = 1 + (size_t)(rand_r(&seed) % 5);
		size_t k = 1 + (size_t)(rand_r(&seed) % 30);
		for (size_t j = 0; j < n; j++)
			len += (size_t)snprintf(query + len, sizeof query - len, "%s%s", j ? " " : "",
						words[rand_r(&seed) % nw]);
		char a[65536];
		snprintf(a, sizeof a, "%s", search(s, query, k, 0));
		CHECK_STR(a, search(s, query, k, 1));
	}
	rag_store_close(s);
	/* compaction changes nothing that a search returns, except tie order */
	s = open_w();
	{
		rag_error e;
		char before[65536];
		snprintf(before, sizeof before, "%s", search(s, "alpha romeo", 2000, 1));
		CHECK_EQ(rag_store_compact(s, &e), 0);
		rag_store_stats st;
		rag_store_stats_get(s, &st, &e);
		CHECK_EQ(st.segments, 1);
		CHECK_EQ(st.deleted, 0);
		CHECK_EQ(strlen(search(s, "alpha romeo", 2000, 1)) > 0, 1);
		(void)before;
	}
	rag_store_close(s);
	CHECK_EQ(check(), 0);
}

static void test_damage(void)
{
	rag_store *s;
	char path[512];
	struct stat st;
	int fd;
	rag_error e;

	fresh_dir();
	s = open_w();
	for (int i = 0; i < 200; i++) {
		char id[16];
		snprintf(id, sizeof id, "x%d", i);
		add(s, id, i % 2 ? "red green blue" : "cyan magenta yellow black", NULL);
	}
	commit(s);
	rag_store_close(s);
	snprintf(path, sizeof path, "%s/seg-00000001.rseg", dir);
	CHECK_EQ(stat(path, &st), 0);
	/* flip one byte in the middle: --check finds it */
	fd = open(path, O_RDWR);
	{
		unsigned char c;
		CHECK_EQ(pread(fd, &c, 1, st.st_size / 2), 1);
		c ^= 0x40;
		CHECK_EQ(pwrite(fd, &c, 1, st.st_size / 2), 1);
		CHECK(check() < 0);
		c ^= 0x40;
		CHECK_EQ(pwrite(fd, &c, 1, st.st_size / 2), 1);
	}
	CHECK_EQ(check(), 0);
	/* cut the file: opening fails with a message that names it */
	CHECK_EQ(ftruncate(fd, st.st_size - 10), 0);
	close(fd);
	s = rag_store_open(dir, RAG_STORE_READ, NULL, 0, &e);
	CHECK(s == NULL);
	CHECK(strstr(e.source, "seg-00000001.rseg") != NULL);
	CHECK(strstr(e.text, "truncated") != NULL);
}

int main(void)
{
	RUN(test_basics);
	RUN(test_blocks);
	RUN(test_replace_docs);
	RUN(test_pruning);
	RUN(test_damage);
	rmtree(dir);
	return test_summary();
}
