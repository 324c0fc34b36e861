/*
 * crc32c.c - CRC-32C: a portable table-driven implementation (slicing by
 * 8), and the SSE4.2 crc32 instruction on x86-64 when the CPU has it.
 *
 * The standard reflected CRC with polynomial 0x1EDC6F41 (0x82F63B78
 * reversed), initial value and final xor 0xFFFFFFFF. The incremental API
 * hides the pre/post inversion, so crc32c_update(crc32c(a), b) equals
 * crc32c(a || b). Tables are built once, lazily; the build is idempotent,
 * so a race between two first callers only computes the same bytes twice.
 * The instruction computes the same CRC (same polynomial, reflected, on
 * the inverted register), so both paths give identical values; the
 * choice is made once, at the first call, from CPUID (why: replay checks
 * a CRC over every journal byte, and the instruction is several times
 * faster than the tables). tests/unit/test-crc32c.c runs both on the
 * same vectors.
 */
#include "common/crc32c.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_X86_HW 1
#include <nmmintrin.h>
#endif

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
crc32c_update_sw(uint32_t crc, const void *data, size_t len)
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

#ifdef CRC32C_X86_HW
__attribute__((target("sse4.2"))) static uint32_t
update_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = ~crc;

	/* Bytes up to an 8-byte boundary, then 8 at a time (memcpy: no
	 * aliasing or alignment assumptions), then the rest. */
	while (len > 0 && ((uintptr_t) p & 7) != 0) {
		c = _mm_crc32_u8((uint32_t) c, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	while (len-- > 0) {
		c = _mm_crc32_u8((uint32_t) c, *p++);
	}
	return ~(uint32_t) c;
}
#endif

bool
crc32c_hw_available(void)
{
#ifdef CRC32C_X86_HW
	/* 0: not asked yet, 1: no, 2: yes. A race only asks twice. */
	static atomic_int have;
	int h = atomic_load_explicit(&have, memory_order_relaxed);

	if (h == 0) {
		__builtin_cpu_init();
		h = __builtin_cpu_supports("sse4.2") ? 2 : 1;
		atomic_store_explicit(&have, h, memory_order_relaxed);
	}
	return h == 2;
#else
	return false;
#endif
}

uint32_t
crc32c_update_hw(uint32_t crc, const void *data, size_t len)
{
#ifdef CRC32C_X86_HW
	if (crc32c_hw_available()) {
		return update_sse42(crc, data, len);
	}
#endif
	return crc32c_update_sw(crc, data, len);
}

uint32_t
crc32c_update(uint32_t crc, const void *data, size_t len)
{
	return crc32c_update_hw(crc, data, len);
}

uint32_t
crc32c(const void *data, size_t len)
{
	return crc32c_update(CRC32C_INIT, data, len);
}
