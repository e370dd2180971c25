/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>

#include "dw-error.h"

int dw_error_set(struct dw_error *err, int errnum, uint64_t index, size_t offset, const char *fmt, ...)
{
        if (err) {
                va_list ap;

                err->index = index;
                err->offset = offset;
                va_start(ap, fmt);
                vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
                va_end(ap);
        }
        return errnum > 0 ? -errnum : errnum;
}
