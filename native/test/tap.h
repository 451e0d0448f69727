/*
 * tap.h - the one assertion the C tests share: CHECK(cond, fmt, ...) prints a
 * TAP line ("ok N - ..." or "not ok N - ...") and counts failures; a test's
 * main() ends with `return tap_done();`, which prints the plan and returns
 * the exit status (1 when anything failed). `make -C native test` runs them.
 */
#ifndef BERTH_TEST_TAP_H
#define BERTH_TEST_TAP_H

#include <stdio.h>

static int failures, count;

#define CHECK(cond, ...)                                                                                               \
  do {                                                                                                                 \
    count++;                                                                                                           \
    if (cond)                                                                                                          \
      printf("ok %d - ", count);                                                                                       \
    else                                                                                                               \
      printf("not ok %d - ", count), failures++;                                                                       \
    printf(__VA_ARGS__);                                                                                               \
    printf("\n");                                                                                                      \
  } while (0)

/* Prints the TAP plan; the exit status for main(). */
static inline int tap_done(void) {
  printf("1..%d\n", count);
  return failures ? 1 : 0;
}

#endif
