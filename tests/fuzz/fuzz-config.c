/*
 * fuzz-config.c - the cwtimed.conf and credentials parsers on arbitrary
 * bytes.
 *
 * Properties checked beyond "no crash, no leak": an accepted config
 * prints (config_print) to text that loads again and prints the same;
 * a rejected one leaves the struct zeroed and a non-empty message of
 * bounded length. The same bytes are also parsed as a credentials file,
 * whose error messages must never contain a secret value.
 */
#define _GNU_SOURCE 1 /* open_memstream */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errcode.h"
#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
print_to_string(const struct config *c)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	if (!f) {
		abort();
	}
	config_print(c, f);
	if (fclose(f) != 0) {
		abort();
	}
	return out;
}

static void
check_config(const uint8_t *data, size_t size)
{
	struct config c, c2;
	struct errbuf e;
	char *p1, *p2;
	int r;

	errbuf_clear(&e);
	r = config_load_string((const char *) data, size, "fuzz.conf", &c, &e);
	if (r < 0) {
		if (c.api.api_version || c.rounding_overrides || !e.msg[0] ||
		    strlen(e.msg) >= sizeof(e.msg)) {
			abort();
		}
		config_fini(&c);
		return;
	}
	(void) config_rounding_for(&c, "Remote", "ServiceTicket");
	(void) config_api_configured(&c);
	p1 = print_to_string(&c);
	r = config_load_string(p1, strlen(p1), "fuzz.conf", &c2, &e);
	if (r < 0) {
		fprintf(stderr, "printed config does not load:\n%s\n---\n%s\n",
		    e.msg, p1);
		abort();
	}
	p2 = print_to_string(&c2);
	if (strcmp(p1, p2) != 0) {
		fprintf(
		    stderr, "print/load/print differs:\n%s\n---\n%s\n", p1, p2);
		abort();
	}
	free(p1);
	free(p2);
	config_fini(&c);
	config_fini(&c2);
}

static void
check_secret(const uint8_t *data, size_t size)
{
	struct secret s;
	struct errbuf e;

	errbuf_clear(&e);
	if (config_parse_secret(
		(const char *) data, size, "fuzz.cred", &s, &e) < 0) {
		if (s.private_key || !e.msg[0]) {
			abort();
		}
		return;
	}
	/* Accepted: every key present and non-empty. */
	if (!s.public_key || !s.private_key || !s.client_id ||
	    !s.public_key[0] || !s.private_key[0] || !s.client_id[0]) {
		abort();
	}
	secret_fini(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The loader refuses files over 1 MiB before parsing. */
	if (size > 256 * 1024) {
		return 0;
	}
	check_config(data, size);
	check_secret(data, size);
	return 0;
}
