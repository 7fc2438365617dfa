/* tinyz 1: run-length compression.  Series 1 (libtinyz.so.1). */
#ifndef TINYZ_H
#define TINYZ_H

#include <stddef.h>

#define TINYZ_SERIES 1
#define TINYZ_VERSION "1.4.2"

/* Encode LEN bytes of IN as (count, byte) pairs into OUT, which holds at least 2 * LEN
   bytes; return the number of bytes written. */
size_t tinyz_pack(const unsigned char *in, size_t len, unsigned char *out);

/* Decode IN into OUT (OUTLEN bytes); return the number of bytes written, or
   (size_t) -1 when IN is not tinyz data or does not fit. */
size_t tinyz_unpack(const unsigned char *in, size_t len, unsigned char *out, size_t outlen);

/* The version of the library the program runs with. */
const char *tinyz_version(void);

#endif
