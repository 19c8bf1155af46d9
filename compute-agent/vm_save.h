/* Saving a guest's memory and device state to a file and restoring it: QEMU's
 * migration to and from a file descriptor the agent opens and hands over QMP
 * (getfd), so no shell command ever runs ("exec:" URIs would need one). */
#ifndef NUBO_VM_SAVE_H
#define NUBO_VM_SAVE_H
#include <stddef.h>

/* Stops the vCPUs of the QEMU behind qmp_path and writes its state to state_path
 * (through state_path.tmp, fsynced, then renamed), within timeout_ms. QEMU keeps
 * running, paused; the caller ends it. On failure the guest is left paused and no
 * file remains. Returns 0 or a negative errno with err. */
int vm_save_to_file(const char *qmp_path, const char *state_path, int timeout_ms, char *err,
                    size_t errlen);
/* Feeds state_path to a QEMU started with -incoming defer, waits for the load to
 * complete and lets the guest run. Returns 0 or a negative errno with err. */
int vm_restore_from_file(const char *qmp_path, const char *state_path, int timeout_ms, char *err,
                         size_t errlen);

#endif
