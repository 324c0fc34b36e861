/*
 * cwtimed.c - main: options, config, loop, signals, sd_notify, shutdown.
 * Placeholder until the foundation lands.
 */
#include <stdio.h>

int
main(int argc, char **argv)
{
	(void) argc;
	(void) argv;
	printf("cwtimed %s\n", CWT_VERSION);
	return 0;
}
