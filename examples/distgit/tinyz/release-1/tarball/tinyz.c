#include "tinyz.h"

size_t tinyz_pack(const unsigned char *in, size_t len, unsigned char *out)
{
    size_t i = 0, n = 0;
    while (i < len) {
        unsigned char byte = in[i];
        size_t run = 1;
        while (i + run < len && in[i + run] == byte && run < 255)
            run++;
        out[n++] = (unsigned char) run;
        out[n++] = byte;
        i += run;
    }
    return n;
}

size_t tinyz_unpack(const unsigned char *in, size_t len, unsigned char *out, size_t outlen)
{
    size_t i, n = 0;
    if (len % 2)
        return (size_t) -1;
    for (i = 0; i < len; i += 2) {
        size_t run = in[i];
        if (run == 0 || n + run > outlen)
            return (size_t) -1;
        while (run--)
            out[n++] = in[i + 1];
    }
    return n;
}

const char *tinyz_version(void)
{
    return TINYZ_VERSION;
}
