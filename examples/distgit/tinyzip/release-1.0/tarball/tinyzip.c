/* tinyzip: compress standard input with tinyz (-d: decompress), and say what it was built against. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tinyz.h>
#include "tinyzip-config.h" /* written at build time by python3 with tinyconf */

static unsigned char *read_all(size_t *len)
{
    size_t size = 4096, n = 0, got;
    unsigned char *data = malloc(size);
    while (data && (got = fread(data + n, 1, size - n, stdin)) > 0) {
        n += got;
        if (n == size)
            data = realloc(data, size *= 2);
    }
    *len = n;
    return data;
}

static int transform(int decompress)
{
    size_t len, outlen, written;
    unsigned char *in = read_all(&len), *out;
    int ok;
    if (in == NULL)
        return 1;
    outlen = decompress ? len * 128 + 1 : 2 * len + 2;
    out = malloc(outlen);
    if (out == NULL)
        return 1;
#if TINYZ_SERIES >= 2
    {
        struct tinyz_options opts = { TINYZIP_MAX_RUN };
        ok = (decompress ? tinyz_unpack(in, len, out, outlen, &written)
                         : tinyz_pack(&opts, in, len, out, outlen, &written)) == TINYZ_OK;
    }
#else
    written = decompress ? tinyz_unpack(in, len, out, outlen) : tinyz_pack(in, len, out);
    ok = written != (size_t) -1;
#endif
    if (!ok) {
        fprintf(stderr, "tinyzip: %s failed\n", decompress ? "decompression" : "compression");
        return 1;
    }
    fwrite(out, 1, written, stdout);
    free(in);
    free(out);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("tinyzip %s, built against tinyz %s (series %d, libtinyz.so.%d), running with libtinyz %s\n",
               TINYZIP_VERSION, TINYZ_VERSION, TINYZ_SERIES, TINYZ_SERIES, tinyz_version());
        printf("configured at build time by %s\n", TINYZIP_CONFIGURED_BY);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "-d") != 0) {
        fprintf(stderr, "usage: tinyzip [-d|--version] < input > output\n");
        return 2;
    }
    return transform(argc > 1);
}
