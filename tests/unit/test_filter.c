/* Tests for lib/filter.c (placeholder, being written). */
#include "config.h"

#include "filter.h"
#include "test.h"

static void compiles(void)
{
	rag_error err;
	rag_filter *f = rag_filter_compile("a == 1", NULL, 0, &err);

	CHECK(f != NULL);
	rag_filter_free(f);
}

int main(void)
{
	RUN(compiles);
	return test_summary();
}
