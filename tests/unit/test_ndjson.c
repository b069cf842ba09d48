/* Tests for lib/ndjson.c: the record reader and writer. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ndjson.h"
#include "test.h"

static int reader_fd = -1;

/* A reader over the bytes s, through a pipe fed by a child process. */
static rag_reader *reader_over(const char *s, size_t n, int flags)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds) < 0)
		return NULL;
	pid = fork();
	if (pid == 0) {
		size_t done = 0;
		close(fds[0]);
		while (done < n) {
			ssize_t k = write(fds[1], s + done, n - done);
			if (k <= 0)
				_exit(1);
			done += (size_t)k;
		}
		_exit(0);
	}
	close(fds[1]);
	reader_fd = fds[0];
	return rag_reader_new(fds[0], "test.ndjson", flags);
}

static void finish(rag_reader *r)
{
	int st;

	rag_reader_free(r);
	close(reader_fd);
	while (wait(&st) > 0)
		;
}

static void records_and_lines(void)
{
	const char in[] = "{\"a\":1}\n\n  \n{\"b\":2}\r\n[1]\n{\"c\":\n{\"d\":\"\xff\"}\n{\"e\":5}";
	rag_reader *r = reader_over(in, sizeof in - 1, 0);
	rag_error err;
	json_t *rec;
	size_t len;

	CHECK_EQ(rag_reader_next(r, &rec, &err), 1);
	CHECK_EQ(json_integer_value(json_object_get(rec, "a")), 1);
	CHECK_EQ(rag_reader_lineno(r), 1);
	json_decref(rec);
	/* Blank lines are skipped but counted; CR LF endings are fine. */
	CHECK_EQ(rag_reader_next(r, &rec, &err), 1);
	CHECK_EQ(rag_reader_lineno(r), 4);
	CHECK_MEM(rag_reader_line(r, &len), len, "{\"b\":2}\r");
	json_decref(rec);
	/* Not an object: an error with the place; the reader goes on. */
	CHECK_EQ(rag_reader_next(r, &rec, &err), -1);
	CHECK_STR(err.text, "expected a JSON object");
	CHECK_STR(err.source, "test.ndjson");
	CHECK_EQ(err.line, 5);
	CHECK_EQ(err.code, RAG_EDATA);
	CHECK_EQ(rag_reader_next(r, &rec, &err), -1);
	CHECK_EQ(err.line, 6);
	CHECK_EQ(err.column, 6);
	CHECK_EQ(rag_reader_next(r, &rec, &err), -1);
	CHECK_EQ(err.line, 7);
	CHECK_STR(err.text, "invalid UTF-8");
	/* A last line without a newline is a record. */
	CHECK_EQ(rag_reader_next(r, &rec, &err), 1);
	CHECK_EQ(json_integer_value(json_object_get(rec, "e")), 5);
	CHECK_EQ(rag_reader_lineno(r), 8);
	json_decref(rec);
	CHECK_EQ(rag_reader_next(r, &rec, &err), 0);
	CHECK_EQ(rag_reader_next(r, &rec, &err), 0);
	finish(r);
}

static void long_lines(void)
{
	/* Lines far longer than the read buffer, through a pipe. */
	size_t big = 3 * 1024 * 1024, i;
	char *in = malloc(2 * big + 64);
	size_t n = 0;
	rag_reader *r;
	rag_error err;
	json_t *rec;

	for (int k = 0; k < 2; k++) {
		n += (size_t)sprintf(in + n, "{\"t\":\"");
		for (i = 0; i < big; i++)
			in[n++] = (char)('a' + (i + (size_t)k) % 26);
		n += (size_t)sprintf(in + n, "\"}\n");
	}
	r = reader_over(in, n, 0);
	for (int k = 0; k < 2; k++) {
		CHECK_EQ(rag_reader_next(r, &rec, &err), 1);
		CHECK_EQ(json_string_length(json_object_get(rec, "t")), big);
		CHECK_EQ(json_string_value(json_object_get(rec, "t"))[big - 1], 'a' + (big - 1 + (size_t)k) % 26);
		json_decref(rec);
	}
	CHECK_EQ(rag_reader_next(r, &rec, &err), 0);
	finish(r);
	free(in);
}

static void lossy(void)
{
	const char in[] = "{\"t\":\"a\xffz\"}\n";
	rag_reader *r = reader_over(in, sizeof in - 1, RAG_READ_LOSSY);
	rag_error err;
	json_t *rec;

	CHECK_EQ(rag_reader_next(r, &rec, &err), 1);
	CHECK_STR(json_string_value(json_object_get(rec, "t")), "a\xef\xbf\xbdz");
	CHECK_EQ(rag_reader_repairs(r), 1);
	json_decref(rec);
	finish(r);
}

static void writer_basics(void)
{
	int fds[2];
	rag_writer *w;
	rag_error err;
	json_t *rec = json_pack("{s:s,s:f}", "id", "x", "v", 0.25);
	char got[256];
	ssize_t k;
	rag_buf *b;

	CHECK(pipe(fds) == 0);
	w = rag_writer_new(fds[1]);
	CHECK_EQ(rag_writer_put(w, rec, 0, &err), 0);
	/* A cancelled record leaves nothing behind. */
	b = rag_writer_begin(w);
	rag_buf_adds(b, "{\"half\":");
	rag_writer_cancel(w);
	CHECK_EQ(rag_writer_put_raw(w, "{\"raw\":true}", 12, &err), 0);
	CHECK_EQ(rag_writer_close(w, &err), 0);
	close(fds[1]);
	k = read(fds[0], got, sizeof got - 1);
	got[k > 0 ? k : 0] = '\0';
	CHECK_STR(got, "{\"id\":\"x\",\"v\":0.25}\n{\"raw\":true}\n");
	close(fds[0]);
	json_decref(rec);
}

static void writer_errors(void)
{
	int fds[2], fd;
	rag_writer *w;
	rag_error err;
	int i, rc = 0;

	/* A closed pipe is RAG_EPIPE, so that the program can end quietly. */
	CHECK(pipe(fds) == 0);
	close(fds[0]);
	w = rag_writer_new(fds[1]);
	for (i = 0; i < 10000 && rc == 0; i++)
		rc = rag_writer_put_raw(w, "{\"a\":1}", 7, &err);
	if (rc == 0)
		rc = rag_writer_flush(w, &err);
	CHECK_EQ(rc, -1);
	CHECK_EQ(err.code, RAG_EPIPE);
	/* Later calls fail the same way. */
	CHECK_EQ(rag_writer_put_raw(w, "{}", 2, &err), -1);
	CHECK_EQ(err.code, RAG_EPIPE);
	rag_writer_close(w, NULL);
	close(fds[1]);

	/* A full disk is an I/O error with the system's words. */
	fd = open("/dev/full", O_WRONLY);
	if (fd >= 0) {
		w = rag_writer_new(fd);
		rag_writer_put_raw(w, "{}", 2, &err);
		CHECK_EQ(rag_writer_close(w, &err), -1);
		CHECK_EQ(err.code, RAG_EIO);
		CHECK_STR(err.text, "error writing output: No space left on device");
		close(fd);
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(records_and_lines);
	RUN(long_lines);
	RUN(lossy);
	RUN(writer_basics);
	RUN(writer_errors);
	return test_summary();
}
