/*
 * Names of the close reasons. See close_reason.h.
 */
#include "session/close_reason.h"

static const char *const names[] = {
#define CLOSE_REASON_NAME(name, help) [CLOSE_REASON_##name] = #name,
	CLOSE_REASONS(CLOSE_REASON_NAME)
#undef CLOSE_REASON_NAME
};

const char *close_reason_str(enum close_reason reason)
{
	return (unsigned)reason < CLOSE_REASON_COUNT ? names[reason] : "?";
}
