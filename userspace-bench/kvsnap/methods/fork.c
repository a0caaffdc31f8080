// SPDX-License-Identifier: GPL-2.0
/*
 * fork: Redis BGSAVE. The writers wait while the process forks; the child
 * writes the store from its copy-on-write view and exits; the writers'
 * first write to each shared page after the fork is a COW fault.
 */
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kvsnap.h"

struct fork_priv {
	pid_t pid;
};

static struct fork_priv fork_state;

static int fork_setup(struct kv_store *kv, void **priv)
{
	*priv = &fork_state;
	return 0;
}

static int fork_begin(struct kv_store *kv, void *priv, int fd)
{
	struct fork_priv *p = priv;

	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (!p->pid)
		_exit(write_full(fd, kv->slots, kv->size, 0) ? 1 : 0);
	return 0;
}

static int fork_finish(struct kv_store *kv, void *priv, int fd)
{
	struct fork_priv *p = priv;
	int status;

	if (waitpid(p->pid, &status, 0) != p->pid)
		return -errno;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
}

const struct snap_method snap_fork = {
	.name = "fork",
	.help = "fork(): the child writes the file (Redis BGSAVE)",
	.setup = fork_setup,
	.begin = fork_begin,
	.finish = fork_finish,
};
