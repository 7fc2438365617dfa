/* tinyz's own test: a round trip through the freshly built library. */
#include <stdio.h>
#include <string.h>
#include "tinyz.h"

int main(void)
{
    const char *text = "aaaaaaaabbbbbbbbbbbbcdddd";
    struct tinyz_options opts = { 255 };
    unsigned char packed[64], back[64];
    size_t n, m;
    if (tinyz_pack(&opts, (const unsigned char *) text, strlen(text), packed, sizeof packed, &n) != TINYZ_OK
        || tinyz_unpack(packed, n, back, sizeof back, &m) != TINYZ_OK
        || m != strlen(text) || memcmp(back, text, m) != 0) {
        fprintf(stderr, "round trip failed\n");
        return 1;
    }
    opts.max_run = 0;
    if (tinyz_pack(&opts, (const unsigned char *) text, 1, packed, sizeof packed, &n) != TINYZ_ERROR) {
        fprintf(stderr, "invalid options accepted\n");
        return 1;
    }
    printf("tinyz %s: %zu bytes -> %zu -> %zu: ok\n", tinyz_version(), strlen(text), n, m);
    return 0;
}
