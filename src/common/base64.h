/*
 * base64.h - RFC 4648 base64 (standard alphabet, '=' padding), used for
 * the Basic Authorization header.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Characters base64_encode() writes for n input bytes, without the NUL. */
size_t base64_encoded_len(size_t n);

/* Encodes n bytes of src into dst (size dstsize, room for the NUL too).
 * Returns the length written (without the NUL), or -ENOBUFS when dst is
 * too small (dst is then an empty string if dstsize > 0). Does not
 * allocate, does not log. */
ssize_t base64_encode(const void *src, size_t n, char *dst, size_t dstsize);

/* Decodes len characters of src (padding required, no whitespace) into
 * dst. Returns the number of bytes, -EINVAL for malformed input, -ENOBUFS
 * when dst is too small. */
ssize_t base64_decode(const char *src, size_t len, void *dst, size_t dstsize);
