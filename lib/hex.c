/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "hex.h"

char *dw_hex_encode(const uint8_t *data, size_t len, char *out)
{
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < len; i++) {
                out[2 * i] = digits[data[i] >> 4];
                out[2 * i + 1] = digits[data[i] & 0xf];
        }
        out[2 * len] = '\0';
        return out;
}

static int unhex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

int dw_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t out_size)
{
        if (hexlen % 2)
                return -EINVAL;
        if (hexlen / 2 > out_size)
                return -ENOBUFS;
        for (size_t i = 0; i < hexlen / 2; i++) {
                int hi = unhex_digit(hex[2 * i]), lo = unhex_digit(hex[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        return (int)(hexlen / 2);
}
