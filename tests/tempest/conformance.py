#!/usr/bin/python3
"""tests/tempest/conformance.py: turn a Tempest subunit stream into docs/conformance.md.

    conformance.py --subunit FILE --conf TEMPEST_CONF --command CMD [--out FILE]
                   [--failures FILE] [--features FEATURES_JSON] [--log TEMPEST_LOG]

Counts per module (tempest.api.<module>): passed, skipped (with Tempest's reason,
which names the feature flag or service that is off), failed (with the one-line
reason from the traceback); the feature flags that are off in the tempest.conf the
run used; the date and the command. With --log (Tempest's own log) a failure's reason
ends with the last request of that test that Nubo answered with 4xx/5xx. --failures also writes the failed tests with
their reasons as a plain list grouped by module (for the team's notes).

Only /usr/bin/python3's standard library and python3-subunit (with testtools).
"""
import argparse
import collections
import configparser
import datetime
import json
import re
import sys

import subunit
import testtools

MODULES = ["identity", "compute", "image", "network", "volume", "object_storage"]
FLAG_SECTIONS = ["service_available", "identity-feature-enabled",
                 "compute-feature-enabled", "image-feature-enabled", "network-feature-enabled"]
# the lines of a traceback that name the exception (unindented "pkg.Class: text")
EXC_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failure|Forbidden|NotFound|"
                      r"BadRequest|Conflict|Unauthorized|ServerFault|Mismatch|"
                      r"exceptions\.\w+)\b.*")


def read_stream(path):
    """[test dict] from testtools.StreamToDict, in the order they finished."""
    tests = []
    with open(path, "rb") as f:
        case = subunit.ByteStreamToStreamResult(f, non_subunit_name="stdout")
        result = testtools.StreamToDict(tests.append)
        result.startTestRun()
        try:
            case.run(result)
        finally:
            result.stopTestRun()
    return tests


def module_of(test_id):
    """'identity' for tempest.api.identity.… and for 'setUpClass (tempest.api.identity…)'."""
    m = re.search(r"tempest\.api\.(\w+)\.", test_id)
    return m.group(1) if m else "other"


def short_id(test_id):
    """The test id without the [id-…,smoke] attribute suffix."""
    return re.sub(r"\[[^\]]*\]$", "", test_id)


def detail_text(test, name):
    c = test["details"].get(name)
    if c is None:
        return ""
    try:
        return c.as_text()
    except Exception:  # a detail in a binary content type
        return ""


REQUEST_LINE = re.compile(r"Request \((\w+):(\w+)\): ([45]\d\d) ([A-Z]+) https?://[^/\s]+(\S*)")


def error_requests(log_path):
    """{(class, test or setUpClass): 'status METHOD /path'} of the last 4xx/5xx answer."""
    last = {}
    if not log_path:
        return last
    try:
        with open(log_path, errors="replace") as f:
            for line in f:
                m = REQUEST_LINE.search(line)
                if m:
                    path = m.group(5) if len(m.group(5)) <= 120 else m.group(5)[:117] + "..."
                    last[(m.group(1), m.group(2))] = "%s %s %s" % (m.group(3), m.group(4), path)
    except OSError:
        pass
    return last


def log_key(test_id):
    """(class, test) as Tempest's log names them."""
    m = re.match(r"(setUpClass|tearDownClass) \((.*)\)", test_id)
    if m:
        return m.group(2).rsplit(".", 1)[-1], m.group(1)
    parts = short_id(test_id).split(".")
    return (parts[-2], parts[-1]) if len(parts) >= 2 else (None, None)


def one_line(traceback):
    """The exception line(s) of a traceback, squeezed to one line."""
    lines = traceback.splitlines()
    idx = None
    for i, line in enumerate(lines):
        if EXC_LINE.match(line):
            idx = i
    if idx is None:
        rest = [ln.strip() for ln in lines if ln.strip()]
        text = rest[-1] if rest else "(no traceback)"
    else:
        text = lines[idx]
        for nxt in lines[idx + 1:idx + 4]:
            if nxt.startswith("Details:") or (nxt and not nxt.startswith(" ")
                                              and not nxt.startswith("Traceback")):
                text += " " + nxt.strip()
            else:
                break
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= 400 else text[:397] + "..."


def summarise(tests, requests=None):
    mods = collections.OrderedDict((m, {"passed": 0, "skipped": 0, "failed": 0,
                                        "seconds": 0.0, "skips": collections.Counter(),
                                        "failures": []}) for m in MODULES)
    spans = {}
    for t in tests:
        status = t["status"]
        if status in ("exists", "inprogress", None):
            continue
        m = mods.setdefault(module_of(t["id"]), {"passed": 0, "skipped": 0, "failed": 0,
                                                 "seconds": 0.0,
                                                 "skips": collections.Counter(),
                                                 "failures": []})
        start, end = t["timestamps"]
        if start and end:
            lo, hi = spans.get(module_of(t["id"]), (start, end))
            spans[module_of(t["id"])] = (min(lo, start), max(hi, end))
            m["seconds"] += (end - start).total_seconds()
        if status in ("success", "xfail"):
            m["passed"] += 1
        elif status == "skip":
            m["skipped"] += 1
            reason = detail_text(t, "reason").strip() or "(no reason given)"
            m["skips"][re.sub(r"\s+", " ", reason)[:200]] += 1
        else:
            m["failed"] += 1
            reason = one_line(detail_text(t, "traceback"))
            req = (requests or {}).get(log_key(t["id"]))
            if req:
                reason += " [last error answer: %s]" % req
            m["failures"].append((short_id(t["id"]), reason))
    if spans:
        lo = min(a for a, _ in spans.values())
        hi = max(b for _, b in spans.values())
        mods["_wall"] = (hi - lo).total_seconds()
    return mods


def flags_off(conf_path, features_path):
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(conf_path)
    why = {}
    if features_path:
        try:
            with open(features_path) as f:
                for e in json.load(f):
                    why[(e["section"], e["option"])] = e["why"]
        except OSError:
            pass
    off = []
    for s in FLAG_SECTIONS:
        if not cp.has_section(s):
            continue
        for o, v in cp.items(s, raw=True):
            if o in cp.defaults():
                continue
            if v.strip().lower() in ("false", ""):
                off.append((s, o, v.strip() or "(empty)", why.get((s, o), "")))
    micro = (cp.get("compute", "min_microversion", fallback="?"),
             cp.get("compute", "max_microversion", fallback="?"))
    return off, micro


def render(mods, off, micro, command, when):
    wall = mods.pop("_wall", 0.0)
    out = ["# Tempest conformance", "",
           "Generated by `tests/tempest/conformance.py` from the subunit stream of the last",
           "Tempest run (`make tempest`, or the part of it `make check` runs); do not edit by",
           "hand. The harness and its configuration are described in `tests/tempest/README.md`.",
           "",
           "- run: %s" % when,
           "- command: `%s`" % command,
           "- compute microversions advertised by the stack: %s to %s" % micro,
           "- Tempest: Debian 12's python3-tempest, pre-provisioned accounts, concurrency 2",
           "- wall time of the tests: %.0f s (modules run interleaved; per module below the sum"
           % wall,
           "  of its tests' own times, class setup and teardown not included)",
           "",
           "| module | passed | skipped | failed | total | test time (s) |",
           "| --- | ---: | ---: | ---: | ---: | ---: |"]
    tot = [0, 0, 0]
    for name, m in mods.items():
        n = m["passed"] + m["skipped"] + m["failed"]
        if n == 0:
            out.append("| %s | – | – | – | not run | |" % name)
            continue
        tot = [tot[0] + m["passed"], tot[1] + m["skipped"], tot[2] + m["failed"]]
        out.append("| %s | %d | %d | %d | %d | %.0f |" % (name, m["passed"], m["skipped"],
                                                         m["failed"], n, m["seconds"]))
    out.append("| **all** | **%d** | **%d** | **%d** | **%d** | |" % (tot[0], tot[1], tot[2],
                                                                     sum(tot)))
    out += ["", "A test counts as skipped when Tempest skipped it itself, because a service or",
            "feature flag below is off or the advertised microversion range excludes it; no",
            "test is excluded by name. A failed setUpClass counts once for its whole class.", "", "## Feature flags that are off", "",
            "| section | option | value | why |", "| --- | --- | --- | --- |"]
    for s, o, v, why in off:
        out.append("| %s | %s | %s | %s |" % (s, o, v, why.replace("|", "\\|")))
    for name, m in mods.items():
        if not (m["failures"] or m["skips"]):
            continue
        out += ["", "## %s" % name]
        if m["failures"]:
            out += ["", "Failed (%d):" % len(m["failures"]), ""]
            for tid, reason in sorted(m["failures"]):
                out.append("- `%s`: %s" % (tid, reason.replace("`", "'")))
        if m["skips"]:
            out += ["", "Skip reasons (count):", ""]
            for reason, n in m["skips"].most_common():
                out.append("- %d × %s" % (n, reason.replace("`", "'")))
    return "\n".join(out) + "\n"


def render_failures(mods):
    out = []
    for name, m in mods.items():
        if not m["failures"]:
            continue
        out += ["## %s (%d failed)" % (name, len(m["failures"])), ""]
        for tid, reason in sorted(m["failures"]):
            out.append("- %s\n  %s" % (tid, reason))
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--subunit", required=True)
    ap.add_argument("--conf", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--out", default="-")
    ap.add_argument("--failures")
    ap.add_argument("--features")
    ap.add_argument("--log")
    args = ap.parse_args()

    tests = read_stream(args.subunit)
    if not tests:
        sys.exit("conformance.py: no tests in %s" % args.subunit)
    mods = summarise(tests, error_requests(args.log))
    off, micro = flags_off(args.conf, args.features)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = render(mods, off, micro, args.command, when)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)
    if args.failures:
        with open(args.failures, "w") as f:
            f.write(render_failures(mods))
    failed = sum(m["failed"] for m in mods.values())
    mods.pop("_wall", None)
    print("conformance.py: %s" % ", ".join(
        "%s %d/%d/%d" % (n, m["passed"], m["skipped"], m["failed"])
        for n, m in mods.items() if m["passed"] + m["skipped"] + m["failed"]),
        file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
