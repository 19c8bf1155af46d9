/* KVM-or-TCG decision by measurement. */
#include "accel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "qemu_argv.h"
#include "util.h"
#include "xalloc.h"

#define PROBE_ITERATIONS 5000000u
#define PROBE_TIMEOUT_MS 3000
#define PROBE_TCG_TIMEOUT_MS 10000
#define PROBE_EXIT_STATUS 1 /* isa-debug-exit: (0 << 1) | 1 */
#define PROBE_RUNS 3

void accel_probe_sector(unsigned char out[ACCEL_PROBE_SECTOR], uint32_t iterations)
{
	/* 16-bit real mode at 0x7c00:
	 *   66 b9 imm32   mov ecx, iterations
	 *   66 49         dec ecx          <- loop
	 *   75 fc         jnz loop
	 *   b0 00         mov al, 0
	 *   e6 f4         out 0xf4, al     (isa-debug-exit: QEMU exits with status 1)
	 *   f4            hlt
	 *   eb fd         jmp hlt */
	static const unsigned char tail[] = {0x66, 0x49, 0x75, 0xfc, 0xb0, 0x00,
	                                     0xe6, 0xf4, 0xf4, 0xeb, 0xfd};
	memset(out, 0, ACCEL_PROBE_SECTOR);
	out[0] = 0x66;
	out[1] = 0xb9;
	for (int i = 0; i < 4; i++)
		out[2 + i] = (unsigned char)(iterations >> (8 * i));
	memcpy(out + 6, tail, sizeof(tail));
	out[510] = 0x55;
	out[511] = 0xaa;
}

const char *accel_decide(const struct accel_probe *kvm, const struct accel_probe *tcg)
{
	if (!kvm->ok)
		return "tcg";
	if (!tcg->ok || kvm->ms <= tcg->ms)
		return "kvm";
	return "tcg";
}

void accel_probe_run(const char *qemu, const char *accel, const char *image, int timeout_ms,
                     struct accel_probe *out)
{
	char drive[4200], buf[512];
	snprintf(drive, sizeof(drive), "file=%s,format=raw,if=ide,readonly=on", image);
	const char *cpu = qemu_argv_cpu(accel);
	/* under prlimit: a QEMU that aborts on a broken KVM leaves no core file behind */
	const char *argv[] = {"prlimit",     "--core=0",
	                      "--",          qemu,
	                      "-machine",    "pc",
	                      "-accel",      accel,
	                      "-cpu",        cpu ? cpu : "max",
	                      "-nodefaults", "-no-user-config",
	                      "-display",    "none",
	                      "-m",          "16",
	                      "-drive",      drive,
	                      "-device",     "isa-debug-exit,iobase=0xf4,iosize=0x04",
	                      NULL};
	memset(out, 0, sizeof(*out));
	int64_t t0 = time_mono_ms();
	int st = proc_run(argv, timeout_ms, buf, sizeof(buf));
	out->ms = time_mono_ms() - t0;
	if (st == PROBE_EXIT_STATUS) {
		out->ok = 1;
		return;
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (st == -ETIMEDOUT)
		snprintf(out->why, sizeof(out->why), "no exit within %d ms", timeout_ms);
	else if (st < 0)
		snprintf(out->why, sizeof(out->why), "%s", strerror(-st));
	else
		snprintf(out->why, sizeof(out->why), "exit status %d: %.90s", st, buf);
}

void accel_probe_best(struct accel_probe *best, const struct accel_probe *run)
{
	if (!best->ok && !best->why[0] && !best->ms)
		*best = *run; /* the first run */
	else if (run->ok && (!best->ok || run->ms < best->ms))
		*best = *run;
}

static int kvm_opens(char *why, size_t whylen)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "/dev/kvm: %s", strerror(errno));
		return 0;
	}
	close(fd);
	return 1;
}

const char *accel_choose(enum accel_mode mode, const char *qemu, const char *tmp_dir)
{
	struct accel_probe kvm = {0}, tcg = {0};
	unsigned char sector[ACCEL_PROBE_SECTOR];
	char *image = NULL;
	const char *choice = "tcg";

	if (mode == ACCEL_KVM || mode == ACCEL_TCG) {
		choice = mode == ACCEL_KVM ? "kvm" : "tcg";
		log_info("accelerator %s (configured)", choice);
		return choice;
	}
	if (!kvm_opens(kvm.why, sizeof(kvm.why))) {
		log_info("accelerator tcg (auto: %s)", kvm.why);
		return "tcg";
	}
	image = xasprintf("%s/accel-probe.XXXXXX", tmp_dir);
	int fd = mkostemp(image, O_CLOEXEC);
	accel_probe_sector(sector, PROBE_ITERATIONS);
	if (fd < 0 || write(fd, sector, sizeof(sector)) != (ssize_t)sizeof(sector)) {
		log_warn("accelerator tcg (auto: cannot write the probe image: %s)",
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	/* alternate the two so a burst of load on the host hits both alike */
	for (int i = 0; i < PROBE_RUNS; i++) {
		struct accel_probe run;
		accel_probe_run(qemu, "kvm", image, PROBE_TIMEOUT_MS, &run);
		accel_probe_best(&kvm, &run);
		if (!kvm.ok)
			break; /* KVM cannot run it: no need to measure further */
		accel_probe_run(qemu, "tcg", image, PROBE_TCG_TIMEOUT_MS, &run);
		accel_probe_best(&tcg, &run);
	}
	choice = accel_decide(&kvm, &tcg);
	if (!kvm.ok)
		log_info("accelerator %s (auto: KVM probe failed after %lld ms: %s)", choice,
		         (long long)kvm.ms, kvm.why);
	else
		log_info("accelerator %s (auto: best of %d probes of %u iterations: kvm %lld ms, "
		         "tcg %s %lld ms%s%s)",
		         choice, PROBE_RUNS, PROBE_ITERATIONS, (long long)kvm.ms,
		         tcg.ok ? "ok" : "failed", (long long)tcg.ms, tcg.ok ? "" : ": ", tcg.why);
out:
	if (image)
		unlink(image);
	free(image);
	return choice;
}
