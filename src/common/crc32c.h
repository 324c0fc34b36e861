/*
 * crc32c.h - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of every journal header and record (doc/journal-format.md).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Initial value for crc32c_update(). */
#define CRC32C_INIT 0u

/* Extends crc (CRC32C_INIT for a fresh one, or a previous result) over
 * len bytes and returns the new value; chaining calls over consecutive
 * pieces gives the CRC of their concatenation. Pure, does not log. */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len);

/* The two implementations behind crc32c_update(), for the tests (both
 * give the same values). _sw: the portable tables (slicing by 8). _hw:
 * the SSE4.2 crc32 instruction; where crc32c_hw_available() is false (no
 * such CPU, or not x86-64) it runs the tables. crc32c_update() uses _hw,
 * which is the instruction whenever the CPU has it. Pure, do not log. */
uint32_t crc32c_update_sw(uint32_t crc, const void *data, size_t len);
uint32_t crc32c_update_hw(uint32_t crc, const void *data, size_t len);
bool crc32c_hw_available(void);

/* CRC-32C of one buffer: crc32c("123456789", 9) == 0xE3069283. */
uint32_t crc32c(const void *data, size_t len);
