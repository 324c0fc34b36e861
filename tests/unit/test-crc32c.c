/*
 * test-crc32c.c - CRC-32C against published check values (RFC 3720
 * appendix B.4, the iSCSI test vectors) and the incremental API; every
 * check runs three times: through crc32c()/crc32c_update(), the portable
 * tables (crc32c_update_sw) and the SSE4.2 instruction (crc32c_update_hw,
 * which is the tables again on a CPU without it: the report says which).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/crc32c.h"

typedef uint32_t crc_fn(uint32_t crc, const void *data, size_t len);

/* The implementation under test: the cmocka state of each test. */
static crc_fn *impl;

static uint32_t
one(const void *data, size_t len)
{
	return impl(CRC32C_INIT, data, len);
}

static int
use_default(void **state)
{
	(void) state;
	impl = crc32c_update;
	return 0;
}

static int
use_sw(void **state)
{
	(void) state;
	impl = crc32c_update_sw;
	return 0;
}

static int
use_hw(void **state)
{
	(void) state;
	impl = crc32c_update_hw;
	return 0;
}

static void
test_vectors(void **state)
{
	uint8_t buf[48];

	(void) state;
	assert_int_equal(crc32c("123456789", 9), 0xE3069283u);
	assert_int_equal(one("123456789", 9), 0xE3069283u);
	assert_int_equal(one("", 0), 0u);
	assert_int_equal(one("a", 1), 0xC1D04330u);
	/* RFC 3720 B.4: 32 bytes of zeros, of 0xff, ascending, descending. */
	memset(buf, 0, 32);
	assert_int_equal(one(buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, 32);
	assert_int_equal(one(buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++) {
		buf[i] = (uint8_t) i;
	}
	assert_int_equal(one(buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++) {
		buf[i] = (uint8_t) (31 - i);
	}
	assert_int_equal(one(buf, 32), 0x113FDB5Cu);
	/* RFC 3720 B.4: an iSCSI read command PDU. */
	static const uint8_t pdu[48] = { 0x01, 0xc0, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
		0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00 };
	assert_int_equal(one(pdu, sizeof(pdu)), 0xD9963A56u);
}

static void
test_incremental(void **state)
{
	uint8_t data[1000];
	uint32_t whole;

	(void) state;
	srand(7);
	for (size_t i = 0; i < sizeof(data); i++) {
		data[i] = (uint8_t) rand();
	}
	whole = one(data, sizeof(data));
	/* Every split point, including unaligned ones across the 8-byte
	 * fast path, gives the same result. */
	for (size_t cut = 0; cut <= sizeof(data); cut++) {
		uint32_t c = impl(CRC32C_INIT, data, cut);

		c = impl(c, data + cut, sizeof(data) - cut);
		assert_int_equal(c, whole);
	}
	assert_int_equal(impl(one("1234", 4), "56789", 5),
	    0xE3069283u);
	/* A single flipped bit changes the value. */
	data[500] ^= 0x10;
	assert_int_not_equal(one(data, sizeof(data)), whole);
}

/* Random lengths and offsets (all alignments of the 8-byte loops): the
 * instruction and the tables agree, also when chained. */
static void
test_random_agree(void **state)
{
	uint8_t data[4096 + 16];

	(void) state;
	srand(11);
	for (size_t i = 0; i < sizeof(data); i++) {
		data[i] = (uint8_t) rand();
	}
	for (int i = 0; i < 20000; i++) {
		size_t off = (size_t) rand() % 16;
		size_t len = (size_t) rand() % 4096;
		uint32_t seed = (uint32_t) rand();

		assert_int_equal(crc32c_update_hw(seed, data + off, len),
		    crc32c_update_sw(seed, data + off, len));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_vectors, use_default),
		cmocka_unit_test_setup(test_incremental, use_default),
		cmocka_unit_test_setup(test_vectors, use_sw),
		cmocka_unit_test_setup(test_incremental, use_sw),
		cmocka_unit_test_setup(test_vectors, use_hw),
		cmocka_unit_test_setup(test_incremental, use_hw),
		cmocka_unit_test_setup(test_random_agree, use_hw),
	};
	int failures;

	printf("crc32c: the SSE4.2 instruction is %s\n",
	    crc32c_hw_available() ? "used" :
				    "not available here (tables only)");
	failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
