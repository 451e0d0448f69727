/*
 * The check of critest's nonewprivs image: installed setuid root, it prints the effective uid it
 * runs with. Started as uid 1000 it prints 0 unless no_new_privs kept the setuid bit from working.
 */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("Effective uid: %d\n", (int)geteuid());
  return 0;
}
