/* Tests for lib/hash.c (SHA-256) and lib/cpu.c. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "hash.h"
#include "test.h"

static void hex_of(rag_hasher *h, const void *p, size_t n, char out[65])
{
	rag_hasher_start(h);
	rag_hasher_add(h, p, n);
	rag_hasher_hex(h, out, 64);
}

/* The FIPS 180-4 examples and the padding's edge lengths, on the path the CPU picks. */
static void known_answers(void)
{
	static const struct {
		const char *text;
		size_t repeat;
		const char *hex;
	} v[] = {
	    {"", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	    {"abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
	     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	    {"a", 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
	    {"a", 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
	    {"a", 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
	    {"a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
	};
	rag_error e;
	rag_hasher *h = rag_hasher_new(&e);
	char out[65];

	CHECK(h != NULL);
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		size_t n = strlen(v[i].text) * v[i].repeat;
		char *m = malloc(n + 1);
		for (size_t j = 0; j < v[i].repeat; j++)
			memcpy(m + j * strlen(v[i].text), v[i].text, strlen(v[i].text));
		hex_of(h, m, n, out);
		CHECK_STR(out, v[i].hex);
		/* a shorter hex is the same digits cut */
		rag_hasher_start(h);
		rag_hasher_add(h, m, n);
		rag_hasher_hex(h, out, RAG_HASH_HEX);
		CHECK_EQ(strlen(out), RAG_HASH_HEX);
		CHECK(strncmp(out, v[i].hex, RAG_HASH_HEX) == 0);
		free(m);
	}
	rag_hasher_free(h);
}

/*
 * Random texts added in random pieces give the same digest as in one
 * piece, with the processor's instructions and without them.
 */
static void pieces_and_paths(void)
{
	rag_error e;
	rag_hasher *h = rag_hasher_new(&e);
	unsigned char buf[1000];
	char whole[65], cut[65], plain[65];
	unsigned seed = 12345;
	unsigned all = rag_cpu_features();

	for (int round = 0; round < 400; round++) {
		size_t n = (size_t)(rand_r(&seed) % (round < 200 ? 200 : 1000));
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)rand_r(&seed);
		hex_of(h, buf, n, whole);
		rag_hasher_start(h);
		for (size_t at = 0; at < n;) {
			size_t k = (size_t)(rand_r(&seed) % 130);
			if (k > n - at)
				k = n - at;
			rag_hasher_add(h, buf + at, k);
			at += k;
		}
		rag_hasher_hex(h, cut, 64);
		rag_cpu_limit(0);
		hex_of(h, buf, n, plain);
		rag_cpu_limit(all);
		CHECK_STR(cut, whole);
		CHECK_STR(plain, whole);
	}
	rag_hasher_free(h);
}

static void cpu_limit(void)
{
	unsigned all = rag_cpu_features();

	rag_cpu_limit(0);
	CHECK_EQ(rag_cpu_features(), 0);
	CHECK(!rag_cpu_has(RAG_CPU_SHA));
	rag_cpu_limit(RAG_CPU_SSE41);
	CHECK_EQ(rag_cpu_features(), all & RAG_CPU_SSE41);
	rag_cpu_limit(~0u);
	CHECK_EQ(rag_cpu_features(), all);
	/* AVX-512 is only claimed with AVX2 beside it */
	CHECK(!(all & RAG_CPU_AVX512) || (all & RAG_CPU_AVX2));
}

int main(void)
{
	RUN(known_answers);
	RUN(pieces_and_paths);
	RUN(cpu_limit);
	return test_summary();
}
