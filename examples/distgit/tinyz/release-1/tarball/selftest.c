/* tinyz's own test: a round trip through the freshly built library. */
#include <stdio.h>
#include <string.h>
#include "tinyz.h"

int main(void)
{
    const char *text = "aaaaaaaabbbbbbbbbbbbcdddd";
    unsigned char packed[64], back[64];
    size_t n = tinyz_pack((const unsigned char *) text, strlen(text), packed);
    size_t m = tinyz_unpack(packed, n, back, sizeof back);
    if (m != strlen(text) || memcmp(back, text, m) != 0) {
        fprintf(stderr, "round trip failed\n");
        return 1;
    }
    printf("tinyz %s: %zu bytes -> %zu -> %zu: ok\n", tinyz_version(), strlen(text), n, m);
    return 0;
}
