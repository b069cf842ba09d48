/* hash.c - content hashes; see hash.h. */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "hash.h"

struct rag_hasher {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
};

rag_hasher *rag_hasher_new(rag_error *err)
{
	rag_hasher *h = calloc(1, sizeof *h);

	if (!h)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory"), NULL;
	/*
	 * The system's OpenSSL configuration is not read: it can only choose
	 * other providers, and reading it costs more start-up time than a
	 * small ingest takes.  The default provider's SHA-256 is what we want.
	 */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	/* Fetched once: an implicit fetch on every digest costs more than hashing a chunk. */
	h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	h->ctx = EVP_MD_CTX_new();
	if (!h->md || !h->ctx) {
		rag_hasher_free(h);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "cannot set up SHA-256"), NULL;
	}
	return h;
}

void rag_hasher_free(rag_hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h);
}

int rag_hasher_start(rag_hasher *h)
{
	return EVP_DigestInit_ex(h->ctx, h->md, NULL) == 1 ? 0 : -1;
}

int rag_hasher_add(rag_hasher *h, const void *p, size_t n)
{
	return EVP_DigestUpdate(h->ctx, p, n) == 1 ? 0 : -1;
}

int rag_hasher_hex(rag_hasher *h, char *out, size_t nhex)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1)
		return -1;
	if (nhex > 2 * (size_t)n)
		nhex = 2 * (size_t)n;
	for (i = 0; i < nhex; i++)
		out[i] = hex[(md[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[nhex] = '\0';
	return 0;
}
