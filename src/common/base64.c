/*
 * base64.c - RFC 4648 section 4 base64.
 *
 * Invariants: never writes past dstsize; decode rejects anything that
 * encode would not produce (bad characters, missing or misplaced padding,
 * non-zero pad bits), so a round trip is the identity.
 */
#include "common/base64.h"

#include <errno.h>
#include <stdint.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

ssize_t
base64_encode(const void *src, size_t n, char *dst, size_t dstsize)
{
	const unsigned char *s = src;
	size_t need = base64_encoded_len(n), o = 0, i = 0;

	if (n > (SIZE_MAX - 3) / 4 * 3 || need >= dstsize) {
		if (dstsize > 0) {
			dst[0] = '\0';
		}
		return -ENOBUFS;
	}
	for (; i + 3 <= n; i += 3) {
		uint32_t v =
		    (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];

		dst[o++] = alphabet[v >> 18 & 63];
		dst[o++] = alphabet[v >> 12 & 63];
		dst[o++] = alphabet[v >> 6 & 63];
		dst[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t) s[i] << 16;

		dst[o++] = alphabet[v >> 18 & 63];
		dst[o++] = alphabet[v >> 12 & 63];
		dst[o++] = '=';
		dst[o++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8;

		dst[o++] = alphabet[v >> 18 & 63];
		dst[o++] = alphabet[v >> 12 & 63];
		dst[o++] = alphabet[v >> 6 & 63];
		dst[o++] = '=';
	}
	dst[o] = '\0';
	return (ssize_t) o;
}

static int
value_of(char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	if (c == '+') {
		return 62;
	}
	if (c == '/') {
		return 63;
	}
	return -1;
}

ssize_t
base64_decode(const char *src, size_t len, void *dst, size_t dstsize)
{
	unsigned char *d = dst;
	size_t o = 0;

	if (len % 4 != 0) {
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;
		uint32_t w;

		for (int k = 0; k < 4; k++) {
			char c = src[i + k];

			if (c == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0) {
				return -EINVAL; /* data after padding */
			}
			v[k] = value_of(c);
			if (v[k] < 0) {
				return -EINVAL;
			}
		}
		w = (uint32_t) v[0] << 18 | (uint32_t) v[1] << 12 |
		    (uint32_t) v[2] << 6 | (uint32_t) v[3];
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff))) {
			return -EINVAL; /* non-canonical pad bits */
		}
		if (o + 3 - (size_t) pad > dstsize) {
			return -ENOBUFS;
		}
		d[o++] = (unsigned char) (w >> 16);
		if (pad < 2) {
			d[o++] = (unsigned char) (w >> 8);
		}
		if (pad < 1) {
			d[o++] = (unsigned char) w;
		}
	}
	return (ssize_t) o;
}
