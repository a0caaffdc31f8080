/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowbench_run.h - run the cowbench binary from a host test and keep its
 * exit status, stdout and stderr in R (cowbench_e2e_test, cowbench_fork_test).
 */
#ifndef COWBENCH_RUN_H
#define COWBENCH_RUN_H

#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef COWBENCH_BIN
#define COWBENCH_BIN "build/cowbench"
#endif

struct run {
	int status; /* exit code, or 128+signal */
	char out[1 << 20];
	size_t outlen;
	char err[1 << 16];
	size_t errlen;
};

static struct run R;

static void slurp_fd(int fd, char *buf, size_t cap, size_t *len)
{
	ssize_t n;

	*len = 0;
	while ((n = read(fd, buf + *len, cap - 1 - *len)) > 0)
		*len += (size_t)n;
	buf[*len] = 0;
}

/* run cowbench with NULL-terminated args; env_kv "K=V" or NULL */
static void run_bench(const char *env_kv, ...)
{
	const char *bin = getenv("COWBENCH") ? getenv("COWBENCH") :
					       COWBENCH_BIN;
	char *argv[64], tmpl_o[] = "/tmp/cb-run-o.XXXXXX",
			tmpl_e[] = "/tmp/cb-run-e.XXXXXX";
	int fo = mkstemp(tmpl_o), fe = mkstemp(tmpl_e), st, n = 0;
	va_list ap;
	pid_t pid;

	unlink(tmpl_o);
	unlink(tmpl_e);
	argv[n++] = (char *)bin;
	va_start(ap, env_kv);
	while (n < 63 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	if (!pid) {
		dup2(fo, 1);
		dup2(fe, 2);
		if (env_kv)
			putenv((char *)env_kv);
		execv(bin, argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	R.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	lseek(fo, 0, SEEK_SET);
	lseek(fe, 0, SEEK_SET);
	slurp_fd(fo, R.out, sizeof(R.out), &R.outlen);
	slurp_fd(fe, R.err, sizeof(R.err), &R.errlen);
	close(fo);
	close(fe);
}

#endif /* COWBENCH_RUN_H */
