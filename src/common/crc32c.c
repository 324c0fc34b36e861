/*
 * crc32c.c - table-driven CRC-32C (slicing by 8).
 *
 * The standard reflected CRC with polynomial 0x1EDC6F41 (0x82F63B78
 * reversed), initial value and final xor 0xFFFFFFFF. The incremental API
 * hides the pre/post inversion, so crc32c_update(crc32c(a), b) equals
 * crc32c(a || b). Tables are built once, lazily; the build is idempotent,
 * so a race between two first callers only computes the same bytes twice.
 */
#include "common/crc32c.h"

#include <stdbool.h>

#define CRC32C_POLY 0x82F63B78u

static uint32_t table[8][256];
static volatile bool table_ready;

static void
table_build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++) {
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		}
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++) {
		for (int t = 1; t < 8; t++) {
			table[t][i] = (table[t - 1][i] >> 8) ^
			    table[0][table[t - 1][i] & 0xff];
		}
	}
	table_ready = true;
}

uint32_t
crc32c_update(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t c = ~crc;

	if (!table_ready) {
		table_build();
	}
	/* Byte-wise: avoids unaligned loads and endianness questions. */
	while (len >= 8) {
		uint32_t lo = c ^ ((uint32_t) p[0] | (uint32_t) p[1] << 8 |
		    (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24);

		c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
		    table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
		    table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^
		    table[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len-- > 0) {
		c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
	}
	return ~c;
}

uint32_t
crc32c(const void *data, size_t len)
{
	return crc32c_update(CRC32C_INIT, data, len);
}
