// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab-exit - end the QEMU guest with an exit status.
 *
 * Writes CODE to QEMU's isa-debug-exit device (I/O port 0xf4); QEMU then
 * exits with status (CODE << 1) | 1. Without that device (a guest booted by
 * hand) it falls back to reboot(2), which ends QEMU when run with -no-reboot.
 * First it waits (5 s at most) until the serial ports have sent every byte:
 * QEMU ends at the port write, and a tail still in the UART driver's buffer
 * (the end of the KTAP stream, the verdict line) would be lost.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/io.h>
#include <sys/reboot.h>
#include <termios.h>

#define DEBUG_EXIT_PORT 0xf4

static void no_op(int sig __attribute__((unused)))
{
}

/* wait until @tty's output has left the UART (tcdrain), 5 s at most */
static void drain(const char *tty)
{
	struct sigaction sa = { .sa_handler = no_op };
	int fd = open(tty, O_WRONLY | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return;
	sigaction(SIGALRM, &sa, NULL);
	alarm(5);
	tcdrain(fd);
	alarm(0);
	close(fd);
}

int main(int argc, char **argv)
{
	char *end;
	long code;

	if (argc != 2 || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: cowlab-exit CODE   (0 = pass, 1..127 = fail)\n");
		return argc == 2 ? 0 : 2;
	}
	code = strtol(argv[1], &end, 0);
	if (*end || code < 0 || code > 127) {
		fprintf(stderr, "cowlab-exit: bad code '%s'\n", argv[1]);
		return 2;
	}
	sync();
	drain("/dev/ttyS1");
	drain("/dev/ttyS0");
	if (ioperm(DEBUG_EXIT_PORT, 4, 1) == 0)
		outl((unsigned int)code, DEBUG_EXIT_PORT);
	/* Still here: no debug-exit device. */
	perror("cowlab-exit: isa-debug-exit");
	reboot(RB_AUTOBOOT);
	return 1;
}
