/* crc32c.h - CRC-32C (Castagnoli), the checksum of the spool's record framing.
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run time),
 * else a portable slicing-by-8 table. Both give identical results. */
#ifndef WEIR_CRC32C_H
#define WEIR_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) with len bytes at p and returns the new CRC-32C. The usual
 * pre/post inversion is done inside, so calls chain: wr_crc32c(wr_crc32c(0, a, n), b, m)
 * equals the CRC of a followed by b. wr_crc32c(0, "123456789", 9) == 0xE3069283.
 * p may be NULL when len is 0. Thread-safe. */
uint32_t wr_crc32c(uint32_t crc, const void *p, size_t len);

/* The same function computed by the portable table only (for tests and benchmarks). */
uint32_t wr_crc32c_portable(uint32_t crc, const void *p, size_t len);

/* 1 when wr_crc32c uses the CPU's crc32 instruction, else 0. */
int wr_crc32c_hw(void);

#endif
