/* tinypython 3.11.9: the ABI that extension packages build against. */
#ifndef TINYPYTHON_H
#define TINYPYTHON_H

#define TINYPY_VERSION "3.11.9"
#define TINYPY_ABI "3.11"

#endif
