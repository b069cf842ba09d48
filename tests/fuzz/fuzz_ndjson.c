/*
 * fuzz_ndjson - the record reader over any bytes: every line is a record
 * or an error with its line number, line numbers only grow, and the
 * reader always reaches the end.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ndjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", 0);
	rag_reader *r;
	rag_error err;
	json_t *rec;
	long last = 0, guard = 0;
	int k;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	r = rag_reader_new(fd, "fuzz", size && data[0] & 1 ? RAG_READ_LOSSY : 0);
	while ((k = rag_reader_next(r, &rec, &err)) != 0) {
		if (k > 0) {
			if (!json_is_object(rec))
				abort();
			json_decref(rec);
		} else if (err.code != RAG_EDATA || err.line < 1) {
			abort();
		}
		if (rag_reader_lineno(r) <= last || ++guard > (long)size + 1)
			abort();
		last = rag_reader_lineno(r);
	}
	rag_reader_free(r);
	close(fd);
	return 0;
}
