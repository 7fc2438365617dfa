/* tinypython 3.12.4: the ABI that extension packages build against. */
#ifndef TINYPYTHON_H
#define TINYPYTHON_H

#define TINYPY_VERSION "3.12.4"
#define TINYPY_ABI "3.12"

#endif
