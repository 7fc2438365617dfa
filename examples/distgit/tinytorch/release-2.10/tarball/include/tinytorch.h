/* tinytorch 2.10.2: the API that packages built on tinytorch compile against. */
#ifndef TINYTORCH_H
#define TINYTORCH_H

#include <tinypython.h>

#define TINYTORCH_VERSION "2.10.2"

#endif
