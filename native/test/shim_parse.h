/*
 * shim_parse.h - what the shim config tests share: one parsed config, a
 * parse() over a copy of the text (config_parse edits its buffer in place),
 * and the header and smallest valid container config to build cases on.
 * Include after src/shim/config.c.
 */
#ifndef BERTH_TEST_SHIM_PARSE_H
#define BERTH_TEST_SHIM_PARSE_H

#include <stdlib.h>
#include <string.h>

static struct shim_config cfg;

/* Parses text as a config of `kind` into cfg; 0, or < 0 with shim_err set. */
static int parse(enum config_kind kind, const char *text) {
  char *buf = strdup(text);
  shim_err[0] = '\0';
  return config_parse(buf, strlen(buf), kind, "cfg", &cfg);
}

#define HDR "berth-shim-config\t1\n"
#define MIN HDR "arg\tsh\nnamespace\tmount\nroot\t/r\n"

#endif
