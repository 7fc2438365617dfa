/* tinyz 2: run-length compression.  Series 2 (libtinyz.so.2).

   The API changed from series 1: packing takes options and reports errors instead of
   assuming a large enough output buffer. */
#ifndef TINYZ_H
#define TINYZ_H

#include <stddef.h>

#define TINYZ_SERIES 2
#define TINYZ_VERSION "2.1.0"

#define TINYZ_OK 0
#define TINYZ_ERROR (-1)

struct tinyz_options {
    unsigned max_run; /* the longest run one pair encodes, 1 to 255 */
};

/* Encode LEN bytes of IN into OUT (OUTLEN bytes); store the number of bytes written in
   *WRITTEN. Return TINYZ_OK, or TINYZ_ERROR when OUT is too small or OPTS is invalid. */
int tinyz_pack(const struct tinyz_options *opts, const unsigned char *in, size_t len,
               unsigned char *out, size_t outlen, size_t *written);

/* Decode IN into OUT (OUTLEN bytes); store the number of bytes written in *WRITTEN.
   Return TINYZ_OK, or TINYZ_ERROR when IN is not tinyz data or does not fit. */
int tinyz_unpack(const unsigned char *in, size_t len, unsigned char *out, size_t outlen,
                 size_t *written);

/* The version of the library the program runs with. */
const char *tinyz_version(void);

#endif
