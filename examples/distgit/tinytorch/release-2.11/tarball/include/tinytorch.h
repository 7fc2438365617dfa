/* tinytorch 2.11.0: the API that packages built on tinytorch compile against. */
#ifndef TINYTORCH_H
#define TINYTORCH_H

#include <tinypython.h>

#define TINYTORCH_VERSION "2.11.0"

#endif
