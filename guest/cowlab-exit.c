// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab-exit - end the QEMU guest with an exit status.
 *
 * Writes CODE to QEMU's isa-debug-exit device (I/O port 0xf4); QEMU then
 * exits with status (CODE << 1) | 1. Without that device (a guest booted by
 * hand) it falls back to reboot(2), which ends QEMU when run with -no-reboot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/io.h>
#include <sys/reboot.h>

#define DEBUG_EXIT_PORT 0xf4

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
	if (ioperm(DEBUG_EXIT_PORT, 4, 1) == 0)
		outl((unsigned int)code, DEBUG_EXIT_PORT);
	/* Still here: no debug-exit device. */
	perror("cowlab-exit: isa-debug-exit");
	reboot(RB_AUTOBOOT);
	return 1;
}
