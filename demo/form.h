/*
 * application/x-www-form-urlencoded bodies and URL query strings, decoded into
 * name/value pairs. Pure code (no I/O, no libevent), unit-tested in
 * demo/test_form.c. A NUL byte in a decoded name or value is refused, so every
 * value is a plain C string.
 */
#ifndef SLUICE_DEMO_FORM_H
#define SLUICE_DEMO_FORM_H

#include <stdbool.h>
#include <stddef.h>

#define FORM_MAX_FIELDS 32

struct form_field {
	char *name;  /* decoded, owned by the form */
	char *value; /* decoded, owned by the form */
};

struct form {
	struct form_field fields[FORM_MAX_FIELDS];
	size_t n;
};

void form_init(struct form *f);
/* Frees every name and value; the form is empty afterwards and can be reused. */
void form_deinit(struct form *f);

/* Decode `len` bytes of "a=1&b=x+y%21" into `f` (which must be empty: freshly
 * initialised or deinitialised). '+' is a space, %XX a byte; empty pairs are
 * skipped and a pair without '=' has the value "". On a malformed escape, a
 * NUL byte or more than FORM_MAX_FIELDS pairs, returns false with a sentence
 * for the user in `err` and leaves `f` empty. */
bool form_parse(struct form *f, const char *text, size_t len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The value of the first field called `name`, or NULL. Owned by the form. */
const char *form_get(const struct form *f, const char *name);

#endif
