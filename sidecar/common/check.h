// TETHER_DCHECK: a check of an invariant the code relies on but cannot express in types (a call
// made on the right strand, a state reached only one way), on in test and sanitizer builds.
//
// Why not assert(): CMake's release build types define NDEBUG, and tether's tests run a
// RelWithDebInfo build; the checks must be on exactly where tests run and cost nothing in the
// image.
#pragma once

#include <cstdio>
#include <cstdlib>

#if defined(TETHER_DCHECKS)
#define TETHER_DCHECK(condition)                                                         \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)
#else
#define TETHER_DCHECK(condition) \
  do {                           \
  } while (false && (condition))
#endif
