/*
 * cwtimectl.c - placeholder until the client lands.
 */
#include <stdio.h>

int
main(int argc, char **argv)
{
	(void) argc;
	(void) argv;
	printf("cwtimectl %s\n", CWT_VERSION);
	return 0;
}
