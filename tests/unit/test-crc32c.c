/*
 * test-crc32c.c - CRC-32C against published check values (RFC 3720
 * appendix B.4, the iSCSI test vectors) and the incremental API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/crc32c.h"

static void
test_vectors(void **state)
{
	uint8_t buf[48];

	(void) state;
	assert_int_equal(crc32c("123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c("", 0), 0u);
	assert_int_equal(crc32c("a", 1), 0xC1D04330u);
	/* RFC 3720 B.4: 32 bytes of zeros, of 0xff, ascending, descending. */
	memset(buf, 0, 32);
	assert_int_equal(crc32c(buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, 32);
	assert_int_equal(crc32c(buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++) {
		buf[i] = (uint8_t) i;
	}
	assert_int_equal(crc32c(buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++) {
		buf[i] = (uint8_t) (31 - i);
	}
	assert_int_equal(crc32c(buf, 32), 0x113FDB5Cu);
	/* RFC 3720 B.4: an iSCSI read command PDU. */
	static const uint8_t pdu[48] = { 0x01, 0xc0, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
		0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00 };
	assert_int_equal(crc32c(pdu, sizeof(pdu)), 0xD9963A56u);
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
	whole = crc32c(data, sizeof(data));
	/* Every split point, including unaligned ones across the 8-byte
	 * fast path, gives the same result. */
	for (size_t cut = 0; cut <= sizeof(data); cut++) {
		uint32_t c = crc32c_update(CRC32C_INIT, data, cut);

		c = crc32c_update(c, data + cut, sizeof(data) - cut);
		assert_int_equal(c, whole);
	}
	assert_int_equal(crc32c_update(crc32c("1234", 4), "56789", 5),
	    0xE3069283u);
	/* A single flipped bit changes the value. */
	data[500] ^= 0x10;
	assert_int_not_equal(crc32c(data, sizeof(data)), whole);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_incremental),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
