#include "tinyz.h"

int tinyz_pack(const struct tinyz_options *opts, const unsigned char *in, size_t len,
               unsigned char *out, size_t outlen, size_t *written)
{
    size_t i = 0, n = 0;
    if (opts == NULL || opts->max_run < 1 || opts->max_run > 255)
        return TINYZ_ERROR;
    while (i < len) {
        unsigned char byte = in[i];
        size_t run = 1;
        while (i + run < len && in[i + run] == byte && run < opts->max_run)
            run++;
        if (n + 2 > outlen)
            return TINYZ_ERROR;
        out[n++] = (unsigned char) run;
        out[n++] = byte;
        i += run;
    }
    *written = n;
    return TINYZ_OK;
}

int tinyz_unpack(const unsigned char *in, size_t len, unsigned char *out, size_t outlen,
                 size_t *written)
{
    size_t i, n = 0;
    if (len % 2)
        return TINYZ_ERROR;
    for (i = 0; i < len; i += 2) {
        size_t run = in[i];
        if (run == 0 || n + run > outlen)
            return TINYZ_ERROR;
        while (run--)
            out[n++] = in[i + 1];
    }
    *written = n;
    return TINYZ_OK;
}

const char *tinyz_version(void)
{
    return TINYZ_VERSION;
}
