/* Scheduler settings: defaults, parsing, bounds and the error text of -n. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/settings.h"
#include "conf.h"

static int load(const char *text, struct settings *s, char *err, size_t errlen)
{
	char perr[256];
	struct conf *c = conf_parse(text, perr, sizeof(perr));
	assert_non_null(c);
	int rc = settings_load(c, s, err, errlen);
	/* strings are borrowed from c: check them before it goes */
	if (rc == 0)
		assert_non_null(s->conninfo);
	conf_free(c);
	return rc;
}

static void defaults(void **state)
{
	struct settings s;
	char err[256];
	assert_int_equal(load("", &s, err, sizeof(err)), 0);
	assert_true(s.cpu_ratio == 16.0);
	assert_true(s.ram_ratio == 1.5);
	assert_true(s.disk_ratio == 1.0);
	assert_int_equal(s.agent_timeout, 30);
	assert_int_equal(s.task_retry, 60);
	assert_int_equal(s.heartbeat_interval, 2);
	assert_int_equal(settings_placement_hold_ms(&s), 6000);
	assert_int_equal(settings_reconcile_settle_s(&s), 5);
	assert_int_equal(s.spawn_deadline, 900);
	assert_int_equal(s.task_deadline, 600);
	/* review s6 2: a snapshot or upload may copy for 30 min, then upload */
	assert_int_equal(s.image_task_deadline, 3600);
	assert_true(s.image_task_deadline > 30 * 60 + 15 * 60);
	assert_int_equal(s.host_down_after, 300);
	assert_string_equal(s.wake_bind, "tcp://127.0.0.1:5571");
}

/* The wake PULL accepts anyone who can reach it: only loopback or ipc://. */
static void wake_bind_is_local(void **state)
{
	static const char *const ok[] = {"tcp://127.0.0.1:5571", "tcp://127.3.2.1:1",
	                                 "tcp://[::1]:5571",     "tcp://localhost:5571",
	                                 "ipc:///run/nubo/wake", "inproc://w"};
	static const char *const bad[] = {"tcp://0.0.0.0:5571",  "tcp://*:5571",
	                                  "tcp://10.0.0.1:5571", "tcp://127.0.0.1.evil.com:1",
	                                  "tcp://eth0:5571",     "tcp://127.0.0.1",
	                                  "tcp://1270.0.0.1:5"};
	char text[256], err[256];
	struct settings s;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "[bus]\nwake_bind = %s\n", ok[i]);
		assert_int_equal(load(text, &s, err, sizeof(err)), 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[bus]\nwake_bind = %s\n", bad[i]);
		assert_int_equal(load(text, &s, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "bus.wake_bind"));
	}
}

static void values(void **state)
{
	struct conf *c;
	struct settings s;
	char err[256];
	c = conf_parse("[database]\nconninfo = host=/tmp dbname=x\n"
	               "[bus]\nscheduler_bind = tcp://127.0.0.1:7000\nwake_bind = ipc:///tmp/w\n"
	               "[api]\ninternal_url = https://api.example:8080/\n"
	               "[scheduler]\ncpu_allocation_ratio = 4\nram_allocation_ratio = 1.0\n"
	               "agent_timeout = 5\ntask_retry = 3\n[compute]\nheartbeat_interval = 10\n",
	               err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(settings_load(c, &s, err, sizeof(err)), 0);
	assert_string_equal(s.conninfo, "host=/tmp dbname=x");
	assert_string_equal(s.scheduler_bind, "tcp://127.0.0.1:7000");
	assert_string_equal(s.wake_bind, "ipc:///tmp/w");
	assert_string_equal(s.internal_url, "https://api.example:8080/");
	assert_true(s.cpu_ratio == 4.0);
	assert_int_equal(s.agent_timeout, 5);
	assert_int_equal(s.task_retry, 3);
	/* the hold never outlasts the agent timeout */
	assert_int_equal(settings_placement_hold_ms(&s), 5000);
	assert_int_equal(settings_reconcile_settle_s(&s), 21);
	conf_free(c);
}

/* A controller with hosts binds its bus on loopback and on its management address. */
static void bind_list(void **state)
{
	struct settings s;
	char err[256] = "";
	struct conf *c =
	    conf_parse("[bus]\nscheduler_bind = tcp://127.0.0.1:5570,tcp://10.253.0.1:5570\n", err,
	               sizeof(err));
	assert_non_null(c);
	assert_int_equal(settings_load(c, &s, err, sizeof(err)), 0);
	assert_string_equal(s.scheduler_bind, "tcp://127.0.0.1:5570,tcp://10.253.0.1:5570");
	conf_free(c);
}

static void refused(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
	    {"[scheduler]\nagent_timeout = soon\n",
	     "scheduler.agent_timeout: value is not an integer (1..86400)"},
	    {"[scheduler]\nagent_timeout = 0\n",
	     "scheduler.agent_timeout: value is out of range (1..86400)"},
	    {"[scheduler]\ntask_retry = 10x\n",
	     "scheduler.task_retry: value is not an integer (1..86400)"},
	    {"[scheduler]\ncpu_allocation_ratio = 0\n",
	     "scheduler.cpu_allocation_ratio: value is out of range (0..1000)"},
	    {"[scheduler]\nram_allocation_ratio = -1\n",
	     "scheduler.ram_allocation_ratio: value is out of range (0..1000)"},
	    {"[scheduler]\ndisk_allocation_ratio = lots\n",
	     "scheduler.disk_allocation_ratio: value is not a number (0..1000)"},
	    {"[database]\nconninfo =\n", "database.conninfo: value must not be empty"},
	    {"[bus]\nscheduler_bind = 127.0.0.1:5570\n",
	     "bus.scheduler_bind: value must be tcp://, ipc:// or inproc:// endpoints, "
	     "comma-separated"},
	    {"[bus]\nscheduler_bind = tcp://127.0.0.1:5570,10.253.0.1:5570\n",
	     "bus.scheduler_bind: value must be tcp://, ipc:// or inproc:// endpoints, "
	     "comma-separated"},
	    {"[bus]\nscheduler_bind = tcp://127.0.0.1:5570,\n",
	     "bus.scheduler_bind: value must be tcp://, ipc:// or inproc:// endpoints, "
	     "comma-separated"},
	    {"[bus]\nscheduler_bind = tcp://a:1,tcp://b:1,tcp://c:1,tcp://d:1,tcp://e:1\n",
	     "bus.scheduler_bind: value must be at most 4 endpoints, comma-separated"},
	    {"[bus]\nwake_bind = tcp://\n",
	     "bus.wake_bind: value must be a tcp://, ipc:// or inproc:// endpoint"},
	    {"[api]\ninternal_url = ftp://x\n",
	     "api.internal_url: value must be an http:// or https:// URL"},
	    {"[compute]\nheartbeat_interval = 3601\n",
	     "compute.heartbeat_interval: value is out of range (1..3600)"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct settings s;
		char err[256] = "";
		assert_int_equal(load(bad[i].text, &s, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, bad[i].err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults), cmocka_unit_test(wake_bind_is_local),
	    cmocka_unit_test(values),   cmocka_unit_test(bind_list),
	    cmocka_unit_test(refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
