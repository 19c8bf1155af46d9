/* Choosing the accelerator: KVM only where it really works. /dev/kvm can open and
 * still be useless (nested hosts where every exit takes milliseconds), so "auto"
 * boots a tiny real-mode probe under KVM and under TCG and keeps KVM only when it
 * finishes and is not slower. */
#ifndef NUBO_ACCEL_H
#define NUBO_ACCEL_H
#include <stddef.h>
#include <stdint.h>

#include "compute_conf.h"

#define ACCEL_PROBE_SECTOR 512

/* Result of a probe (the best of a few runs, to smooth out a busy host). */
struct accel_probe {
	int ok;        /* the guest reached the exit port */
	int64_t ms;    /* wall time of the whole QEMU run */
	char why[128]; /* why not ok */
};

/* Writes a 512-byte boot sector that counts `iterations` down in a loop and then
 * writes 0 to the isa-debug-exit port 0xf4 (QEMU exits with status 1). Pure. */
void accel_probe_sector(unsigned char out[ACCEL_PROBE_SECTOR], uint32_t iterations);
/* Pure decision: "kvm" when KVM finished and took no longer than TCG (or TCG failed
 * too), else "tcg". */
const char *accel_decide(const struct accel_probe *kvm, const struct accel_probe *tcg);
/* Keeps in best the faster of best and run (a failed run never replaces a good one). */
void accel_probe_best(struct accel_probe *best, const struct accel_probe *run);
/* Boots the probe image under accel, with the CPU model instances get there
 * (qemu_argv_cpu: under KVM "host" passthrough fails on some nested hosts, and
 * then KVM must not be chosen), within timeout_ms. */
void accel_probe_run(const char *qemu, const char *accel, const char *image, int timeout_ms,
                     struct accel_probe *out);
/* The accelerator to use ("kvm" or "tcg") for mode; for ACCEL_AUTO it runs the
 * probes, using tmp_dir for the image, and logs the decision and the timings once. */
const char *accel_choose(enum accel_mode mode, const char *qemu, const char *tmp_dir);

#endif
