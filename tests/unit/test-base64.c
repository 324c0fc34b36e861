/*
 * test-base64.c - RFC 4648 section 10 vectors, the Basic credential
 * shape, buffer limits and strict decoding.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/base64.h"

static void
test_vectors(void **state)
{
	static const char *const v[][2] = {
	    {"", ""},
	    {"f", "Zg=="},
	    {"fo", "Zm8="},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="},
	    {"fooba", "Zm9vYmE="},
	    {"foobar", "Zm9vYmFy"},
	    /* the Authorization user:password of connectwise-api.md 2 */
	    {"examplemsp+PubKey123:Priv/Key+456",
		"ZXhhbXBsZW1zcCtQdWJLZXkxMjM6UHJpdi9LZXkrNDU2"},
	};
	char buf[128];
	unsigned char out[128];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i][0]);

		assert_int_equal(base64_encode(v[i][0], n, buf, sizeof(buf)),
		    strlen(v[i][1]));
		assert_string_equal(buf, v[i][1]);
		assert_int_equal(base64_encoded_len(n), strlen(v[i][1]));
		assert_int_equal(
		    base64_decode(v[i][1], strlen(v[i][1]), out, sizeof(out)),
		    n);
		assert_memory_equal(out, v[i][0], n);
	}
}

static void
test_all_bytes(void **state)
{
	unsigned char in[256], out[256];
	char buf[400];

	for (int i = 0; i < 256; i++) {
		in[i] = (unsigned char) (255 - i);
	}
	for (size_t n = 0; n <= 256; n++) {
		ssize_t len = base64_encode(in, n, buf, sizeof(buf));

		assert_int_equal(len, base64_encoded_len(n));
		assert_int_equal(base64_decode(buf, (size_t) len, out, n), n);
		assert_memory_equal(in, out, n);
	}
	/* '+' and '/' both appear for these bytes */
	assert_int_equal(base64_encode("\xfb\xff", 2, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "+/8=");
}

static void
test_limits(void **state)
{
	char buf[5];
	unsigned char out[2];

	/* exactly enough room, then one byte short */
	assert_int_equal(base64_encode("foo", 3, buf, 5), 4);
	assert_int_equal(base64_encode("foo", 3, buf, 4), -ENOBUFS);
	assert_string_equal(buf, "");
	assert_int_equal(base64_encode("foo", 3, NULL, 0), -ENOBUFS);
	assert_int_equal(base64_decode("Zm9v", 4, out, 2), -ENOBUFS);
	/* strict decoding */
	assert_int_equal(base64_decode("Zm9", 3, out, 2), -EINVAL);
	assert_int_equal(base64_decode("Zm=v", 4, out, 2), -EINVAL);
	assert_int_equal(base64_decode("Z===", 4, out, 2), -EINVAL);
	assert_int_equal(base64_decode("Zm9!", 4, out, 2), -EINVAL);
	assert_int_equal(base64_decode("Zh==", 4, out, 2), -EINVAL);
	assert_int_equal(base64_decode("Zg==Zg==", 8, out, 2), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_all_bytes),
	    cmocka_unit_test(test_limits),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
