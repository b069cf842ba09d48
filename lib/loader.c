/* loader.c - external converters that turn a file into text; see loader.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loader.h"

int rag_loader_set(rag_loader *l, const char *ext, const char *cmd, rag_error *err)
{
	size_t i;

	if (*ext == '.')
		ext++;
	if (!*ext || strchr(ext, '/'))
		return rag_error_set(err, RAG_EUSAGE, NULL, 0, "bad loader extension %s", rag_quote(0, ext));
	if (!*cmd)
		return rag_error_set(err, RAG_EUSAGE, NULL, 0, "empty loader command for %s", rag_quote(0, ext));
	l->ext = strdup(ext);
	l->cmd = strdup(cmd);
	if (!l->ext || !l->cmd) {
		rag_loader_clear(l);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	}
	for (i = 0; l->ext[i]; i++)
		l->ext[i] = (char)tolower((unsigned char)l->ext[i]);
	return 0;
}

int rag_loader_parse(rag_loader *l, const char *spec, rag_error *err)
{
	const char *eq = strchr(spec, '=');
	char ext[64];
	size_t n;

	if (!eq)
		return rag_error_set(err, RAG_EUSAGE, NULL, 0,
				     "expected EXT=COMMAND in loader %s", rag_quote(0, spec));
	n = (size_t)(eq - spec);
	if (n >= sizeof ext)
		return rag_error_set(err, RAG_EUSAGE, NULL, 0, "loader extension too long in %s", rag_quote(0, spec));
	memcpy(ext, spec, n);
	ext[n] = '\0';
	return rag_loader_set(l, ext, eq + 1, err);
}

void rag_loader_clear(rag_loader *l)
{
	free(l->ext);
	free(l->cmd);
	l->ext = l->cmd = NULL;
}

const char *rag_path_ext(const char *path)
{
	const char *base = strrchr(path, '/'), *dot;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	return dot && dot != base ? dot + 1 : "";
}

const rag_loader *rag_loader_find(const rag_loader *v, size_t n, const char *path)
{
	const char *ext = rag_path_ext(path);
	size_t i;

	if (!*ext)
		return NULL;
	for (i = n; i-- > 0;)
		if (strcasecmp(v[i].ext, ext) == 0)
			return &v[i];
	return NULL;
}

/* The shell script: "{}" becomes "$1"; without "{}", "$1" is appended. */
static char *script_for(const char *cmd)
{
	size_t n = strlen(cmd), k = 0, i;
	char *s = malloc(n * 2 + 8), *o;

	if (!s)
		return NULL;
	o = s;
	for (i = 0; i < n; i++) {
		if (cmd[i] == '{' && cmd[i + 1] == '}') {
			memcpy(o, "\"$1\"", 4);
			o += 4;
			i++;
			k++;
		} else {
			*o++ = cmd[i];
		}
	}
	if (!k) {
		memcpy(o, " \"$1\"", 5);
		o += 5;
	}
	*o = '\0';
	return s;
}

int rag_loader_run(const rag_loader *l, const char *path, rag_buf *out, rag_error *err)
{
	int fds[2], status, rc = 0, saved = 0;
	char *script = script_for(l->cmd);
	pid_t pid;

	if (!script)
		return rag_error_set(err, RAG_ENOMEM, path, 0, "out of memory");
	if (pipe2(fds, O_CLOEXEC) < 0) {
		free(script);
		return rag_error_sys(err, errno, path, "cannot run loader %s", rag_quote(0, l->cmd));
	}
	pid = fork();
	if (pid < 0) {
		saved = errno;
		close(fds[0]);
		close(fds[1]);
		free(script);
		return rag_error_sys(err, saved, path, "cannot run loader %s", rag_quote(0, l->cmd));
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		signal(SIGPIPE, SIG_DFL);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(fds[1], 1);
		execl("/bin/sh", "sh", "-c", script, "rag-loader", path, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	free(script);
	for (;;) {
		ssize_t k;
		if (rag_buf_grow(out, 65536) < 0) {
			saved = errno;
			kill(pid, SIGTERM);
			break;
		}
		k = read(fds[0], out->data + out->len, out->cap - out->len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			saved = errno;
			break;
		}
		if (k == 0)
			break;
		out->len += (size_t)k;
		out->data[out->len] = '\0';
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = 0;
			break;
		}
	}
	if (saved == EFBIG)
		rc = rag_error_set(err, RAG_ENOMEM, path, 0, "loader %s wrote more than %zu bytes",
				   rag_quote(0, l->cmd), out->max);
	else if (saved)
		rc = rag_error_sys(err, saved, path, "reading from loader %s", rag_quote(0, l->cmd));
	else if (WIFSIGNALED(status))
		rc = rag_error_set(err, RAG_EIO, path, 0, "loader %s was killed by signal %d",
				   rag_quote(0, l->cmd), WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		rc = rag_error_set(err, RAG_EIO, path, 0, "loader %s exited with status %d",
				   rag_quote(0, l->cmd), WEXITSTATUS(status));
	return rc;
}
