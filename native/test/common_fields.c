/* Tests of the config line format (src/common/fields.h). */
#include "fields.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static int unescape_err(const char *s)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%s", s);
	errno = 0;
	return fields_unescape(buf) < 0 ? errno : 0;
}

int main(void)
{
	/* Round trip of every byte 1..255 (NUL cannot be in a C string). */
	char all[256];
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	char *esc = fields_escape(all);
	CHECK(esc && !strchr(esc, '\t') && !strchr(esc, '\n') && !strchr(esc, '\r'), "escaped text has no raw TAB, LF or CR");
	bool printable = true;
	for (const unsigned char *p = (const unsigned char *)esc; *p; p++)
		printable &= *p >= 0x20 && *p != 0x7f;
	CHECK(printable, "escaped text has no control bytes");
	CHECK(fields_unescape(esc) == 0 && strcmp(esc, all) == 0, "every byte 1..255 survives escape+unescape");
	free(esc);

	esc = fields_escape("a\\b\tc\nd\re\x01");
	CHECK(strcmp(esc, "a\\\\b\\tc\\nd\\re\\x01") == 0, "escapes: %s", esc);
	free(esc);

	CHECK(unescape_err("\\q") == EINVAL, "unknown escape is rejected");
	CHECK(unescape_err("abc\\") == EINVAL, "trailing backslash is rejected");
	CHECK(unescape_err("\\x4") == EINVAL, "short \\x is rejected");
	CHECK(unescape_err("\\xzz") == EINVAL, "non-hex \\x is rejected");
	CHECK(unescape_err("\\x00") == EINVAL, "\\x00 (NUL) is rejected");
	CHECK(unescape_err("\\x41\\X") == EINVAL, "escapes are case-sensitive letters");
	char hx[] = "\\x41\\x7F\\xfF";
	CHECK(fields_unescape(hx) == 0 && strcmp(hx, "A\x7f\xff") == 0, "\\xHH takes either case");

	char line[] = "mount\t/a b\t\ttmpfs\\tx\tmode=755";
	char *f[8];
	int n = fields_split(line, f, 8);
	CHECK(n == 5 && strcmp(f[0], "mount") == 0 && strcmp(f[1], "/a b") == 0 && strcmp(f[2], "") == 0 &&
		      strcmp(f[3], "tmpfs\tx") == 0 && strcmp(f[4], "mode=755") == 0,
	      "split keeps spaces and empty fields and unescapes each");
	char line2[] = "a\tb\tc";
	errno = 0;
	CHECK(fields_split(line2, f, 2) < 0 && errno == E2BIG, "more fields than allowed is E2BIG");
	char line3[] = "x";
	CHECK(fields_split(line3, f, 1) == 1 && strcmp(f[0], "x") == 0, "one field");

	char text[] = "# comment\nfirst\ta\n\nsecond\n";
	size_t pos = 0;
	int lineno = 0;
	char *l1 = fields_next_line(text, sizeof text - 1, &pos, &lineno);
	CHECK(l1 && strcmp(l1, "first\ta") == 0 && lineno == 2, "comments are skipped, line numbers count them");
	char *l2 = fields_next_line(text, sizeof text - 1, &pos, &lineno);
	CHECK(l2 && strcmp(l2, "second") == 0 && lineno == 4, "empty lines are skipped");
	CHECK(fields_next_line(text, sizeof text - 1, &pos, &lineno) == NULL && errno == 0, "clean end");

	char trunc[] = "first\nsecond";
	pos = 0;
	lineno = 0;
	fields_next_line(trunc, sizeof trunc - 1, &pos, &lineno);
	CHECK(fields_next_line(trunc, sizeof trunc - 1, &pos, &lineno) == NULL && errno == EINVAL, "a last line without newline is truncation");

	char withnul[] = "a\0b\n";
	pos = 0;
	lineno = 0;
	CHECK(fields_next_line(withnul, sizeof withnul - 1, &pos, &lineno) == NULL && errno == EINVAL, "a raw NUL byte is rejected");

	return tap_done();
}
