/*
 * The service manager's readiness protocol (sd_notify(3)), in the few lines it takes:
 * datagrams of "KEY=VALUE" lines to the unix socket named by $NOTIFY_SOCKET (a path, or
 * "@name" for the abstract namespace). Without $NOTIFY_SOCKET every call does nothing, so
 * sluice runs the same under systemd (Type=notify) and anywhere else.
 */
#ifndef SLUICE_NOTIFY_H
#define SLUICE_NOTIFY_H

#include "log.h"

/* Send one message, such as "READY=1\nSTATUS=...". Failures are logged once at debug:
 * a manager that does not listen must not stop the daemon. */
void notify_send(const char *fmt, ...) SLUICE_PRINTF(1, 2);

#endif
