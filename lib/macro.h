/* SPDX-License-Identifier: MIT */
#pragma once

/* Small helpers in the style of systemd's src/basic/macro.h: scoped cleanup and array sizes. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x)    __builtin_expect(!!(x), 1)
#define _unlikely_(x)  __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b)     ((a) < (b) ? (a) : (b))
#define MAX(a, b)     ((a) > (b) ? (a) : (b))

/* Defines a cleanup function "<func>p" that calls func(*p) when *p is not NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                                        \
        static inline void func##p(type *p)                                                                            \
        {                                                                                                              \
                if (*p)                                                                                                \
                        func(*p);                                                                                      \
        }

static inline void freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Takes ownership of a file descriptor out of a _cleanup_close_ variable. */
#define TAKE_FD(fd)                                                                                                    \
        ({                                                                                                             \
                int _tfd = (fd);                                                                                       \
                (fd) = -EBADF;                                                                                         \
                _tfd;                                                                                                  \
        })

/* Takes ownership of a pointer out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                                                                                    \
        ({                                                                                                             \
                __typeof__(p) _tp = (p);                                                                               \
                (p) = NULL;                                                                                            \
                _tp;                                                                                                   \
        })
