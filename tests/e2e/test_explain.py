"""The hot list queries use their indexes (issue 6, migration 0004), checked on the plans
of the statements nubo-api really sends, not on copies of their text: the database is
seeded with enough rows that a scan or a sort would show (20,000 servers in 21
projects, 600 of them in the admin project; 20,000 finished tasks, 3,000 images, 1,000
flavors, 20,050 keypairs), and a second nubo-api runs with PostgreSQL's auto_explain
on its sessions, which logs the plan of every statement it executes (custom and
generic plans alike: each request is made more often than PostgreSQL's five custom
plans). Each list must walk an index in its own order: no Seq Scan of the listed
table, no Sort. (Where a page holds every row that matches, a bitmap scan and a sort
of those rows is as good, and PostgreSQL may choose it: the pages asked for here are
shorter than what matches.)"""
import json
import re
import subprocess

import pytest

from nubo_e2e import extra_api, http_request

P = "e2e-explain-"  # every seeded row's id or name starts with it
REPEAT = 7
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def conninfo(stack):
    """host and port of the stack's PostgreSQL (from nubo.conf)."""
    section, info = None, None
    for line in stack.conf.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "database" and line.startswith("conninfo"):
            info = line.split("=", 1)[1]
    kv = dict(w.split("=", 1) for w in info.split())
    return kv["host"], kv["port"]


def superuser_sql(stack, sql):
    """Runs sql as PostgreSQL's superuser (peer authentication on the stack's socket)."""
    host, port = conninfo(stack)
    subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-v",
                    "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", "postgres", "-d", "nubo"],
                   input=sql, text=True, check=True, capture_output=True, timeout=300, cwd="/")


SEED = """
INSERT INTO instances (id, name, project_id, user_id, flavor_id, image_id, vcpus, ram_mb,
                       disk_gb, status, vm_state, deleted, created_at, updated_at)
SELECT md5('{p}i' || g)::uuid::text, '{p}' || g,
       CASE WHEN g <= 600 THEN :'admin_project' ELSE '{p}p' || (g % 20) END,
       'u', '1', 'i', 1, 64, 1, 'SHUTOFF', 'stopped', g % 10 = 0,
       now() - g * interval '1 second', now()
FROM generate_series(1, 20000) g;
INSERT INTO tasks (id, resource_id, resource_kind, agent_kind, action, status)
SELECT '{p}t' || g, md5('{p}i' || g)::uuid::text, 'instance', 'compute', 'spawn', 'failed'
FROM generate_series(1, 20000) g;
INSERT INTO images (id, name, owner, visibility, status, created_at)
SELECT md5('{p}m' || g)::uuid::text, '{p}m' || g, '{p}p' || (g % 20), 'private', 'active',
       now() - g * interval '1 second'
FROM generate_series(1, 3000) g;
INSERT INTO flavors (id, name, vcpus, ram_mb, disk_gb)
SELECT '{p}f' || lpad(g::text, 4, '0'), '{p}f' || g, 1, 64, 1
FROM generate_series(1, 1000) g;
INSERT INTO users (id, name, password_hash)
SELECT '{p}u' || g, '{p}u' || g, '!' FROM generate_series(1, 200) g;
INSERT INTO keypairs (user_id, name, public_key, fingerprint)
SELECT '{p}u' || u, '{p}k' || g, 'ssh-ed25519 AAAA', 'f'
FROM generate_series(1, 200) u, generate_series(1, 100) g;
INSERT INTO keypairs (user_id, name, public_key, fingerprint)
SELECT :'admin_user', '{p}k' || lpad(g::text, 3, '0'), 'ssh-ed25519 AAAA', 'f'
FROM generate_series(1, 50) g;
VACUUM ANALYZE instances; VACUUM ANALYZE tasks; VACUUM ANALYZE images;
VACUUM ANALYZE flavors; VACUUM ANALYZE keypairs; VACUUM ANALYZE users;
""".format(p=P)

UNSEED = """
DELETE FROM tasks WHERE id LIKE '{p}%';
DELETE FROM instances WHERE name LIKE '{p}%';
DELETE FROM images WHERE name LIKE '{p}%';
DELETE FROM flavors WHERE id LIKE '{p}%';
DELETE FROM keypairs WHERE name LIKE '{p}%';
DELETE FROM users WHERE id LIKE '{p}%';
""".format(p=P)

# auto_explain for the sessions nubo opens from now on (the extra nubo-api's); the
# settings go again once it has its connections
EXPLAIN_ON = """
ALTER ROLE nubo IN DATABASE nubo SET session_preload_libraries = 'auto_explain';
ALTER ROLE nubo IN DATABASE nubo SET auto_explain.log_min_duration = 0;
ALTER ROLE nubo IN DATABASE nubo SET auto_explain.log_format = 'json';
"""
EXPLAIN_OFF = """
ALTER ROLE nubo IN DATABASE nubo RESET session_preload_libraries;
ALTER ROLE nubo IN DATABASE nubo RESET auto_explain.log_min_duration;
ALTER ROLE nubo IN DATABASE nubo RESET auto_explain.log_format;
"""


@pytest.fixture(scope="module")
def explained(stack, tmp_path_factory):
    """(base URL of a nubo-api whose statements' plans are logged, a function returning
    the plans logged since it was last called)."""
    admin_project = stack.os_cli("project", "show", "admin")["id"]
    admin_user = stack.os_cli("user", "show", "admin")["id"]
    superuser_sql(stack, UNSEED)
    superuser_sql(stack, "\\set admin_project '%s'\n\\set admin_user '%s'\n%s"
                  % (admin_project, admin_user, SEED))
    log = stack.logdir / "postgresql.log"
    try:
        superuser_sql(stack, EXPLAIN_ON)
        try:
            # its pool opens every connection at start, before the settings go; no
            # result cache, so every request reaches PostgreSQL
            cm = extra_api(stack, tmp_path_factory.mktemp("api-explain") / "nubo-api.log",
                           {"result_cache": 0})
            base = cm.__enter__()
        finally:
            superuser_sql(stack, EXPLAIN_OFF)
        offset = [log.stat().st_size]

        def plans():
            with open(log, "rb") as f:
                f.seek(offset[0])
                text = f.read().decode(errors="replace")
                offset[0] = f.tell()
            return parse_plans(text)
        yield base, plans
        cm.__exit__(None, None, None)
    finally:
        superuser_sql(stack, UNSEED)


def parse_plans(text):
    """The auto_explain JSON plans in a piece of PostgreSQL's log, in order."""
    out, entry = [], []
    for line in text.splitlines() + ["2000-01-01 00:00:00 end"]:
        if STAMP.match(line):
            joined = "\n".join(entry)
            if "plan:" in joined:
                out.append(json.loads(joined.split("plan:", 1)[1]))
            entry = [line]
        else:
            entry.append(line)
    return out


def nodes(plan):
    """Every node of a plan tree, init and sub plans included."""
    todo = [plan["Plan"]]
    while todo:
        n = todo.pop()
        yield n
        todo += n.get("Plans", [])


def check(plans, marker, table, index, scanned=(), sort_ok=False):
    """The plans of the statements whose text holds marker (or every one of a tuple of
    them): at least REPEAT, each uses
    index (or one of a tuple of them), sorts nothing (unless sort_ok) and scans neither table nor any of `scanned`
    sequentially."""
    markers = (marker,) if isinstance(marker, str) else marker
    mine = [p for p in plans if all(m in p["Query Text"] for m in markers)]
    assert len(mine) >= REPEAT, "expected %d plans of %r, got %d: %s" % (
        REPEAT, marker, len(mine), [p["Query Text"][:80] for p in plans])
    for p in mine:
        ns = list(nodes(p))
        text = json.dumps(p["Plan"], indent=1)
        indexes = (index,) if isinstance(index, str) else index
        assert any(n.get("Index Name") in indexes for n in ns), \
            "%s does not use %s:\n%s\n%s" % (table, " or ".join(indexes), p["Query Text"],
                                             text)
        for n in ns:
            assert sort_ok or n["Node Type"] not in ("Sort", "Incremental Sort"), \
                "%s sorts:\n%s\n%s" % (table, p["Query Text"], text)
            assert not (n["Node Type"] == "Seq Scan" and n["Relation Name"] in
                        (table, *scanned)), \
                "Seq Scan of %s:\n%s\n%s" % (n["Relation Name"], p["Query Text"], text)


def get(base, path, tok, status=200, headers=None):
    for _ in range(REPEAT):
        r = http_request(base + path, token=tok, headers=headers)
        assert r.status == status, r
    return r


SERVERS = "FROM instances i WHERE true"


def test_servers_of_a_project(stack, explained):
    base, plans = explained
    plans()
    get(base, "/compute/v2.1/servers/detail?limit=200", stack.token())
    check(plans(), SERVERS, "instances", "instances_project_created", ("tasks",))


def test_servers_page_after_a_marker(stack, explained):
    base, plans = explained
    tok = stack.token()
    first = get(base, "/compute/v2.1/servers?limit=3", tok).json["servers"]
    assert len(first) == 3
    plans()
    get(base, "/compute/v2.1/servers/detail?limit=5&marker=" + first[-1]["id"], tok)
    # the marker's row comparison is an index condition of either index (this project
    # holds a sixth of all servers, so walking all of them in order is as cheap)
    check(plans(), SERVERS, "instances", ("instances_project_created", "instances_created"),
          ("tasks",))


def test_servers_of_another_project(stack, explained):
    base, plans = explained
    plans()
    # Nova reads project_id only beside all_tenants (without it, the caller's own)
    r = get(base, "/compute/v2.1/servers?all_tenants=1&project_id=%sp7&limit=100" % P,
            stack.token())
    names = {s["name"] for s in r.json["servers"]}
    assert len(names) == 100 and names <= {"%s%d" % (P, g) for g in range(7, 20001, 20)}, r
    check(plans(), SERVERS, "instances", "instances_project_created", ("tasks",))


def test_servers_of_all_projects(stack, explained):
    base, plans = explained
    plans()
    get(base, "/compute/v2.1/servers/detail?all_tenants=1&limit=100", stack.token())
    check(plans(), SERVERS, "instances", "instances_created", ("tasks",))


def test_images(stack, explained):
    base, plans = explained
    tok = stack.token()
    plans()
    first = get(base, "/image/v2/images?limit=3", tok).json["images"]
    check(plans(), "FROM images WHERE", "images", "images_created")
    get(base, "/image/v2/images?limit=5&marker=" + first[-1]["id"], tok)
    check([p for p in plans() if "id) <" in p["Query Text"]], "FROM images WHERE", "images",
          "images_created")


def test_images_of_a_project(stack, explained):
    base, plans = explained
    plans()
    get(base, "/image/v2/images?limit=5", stack.token("demo"))
    # public or its own: a few rows of the 3,000, gathered through two indexes and
    # sorted (no index gives that OR in order)
    check(plans(), "FROM images WHERE", "images", ("images_owner", "images_shared"),
          sort_ok=True)


def test_flavor_page(stack, explained):
    base, plans = explained
    plans()
    get(base, "/compute/v2.1/flavors/detail?limit=5&marker=%sf0100" % P, stack.token())
    check(plans(), "FROM flavors WHERE ($1::boolean", "flavors", "flavors_pkey")


def test_keypairs(stack, explained):
    base, plans = explained
    plans()
    get(base, "/compute/v2.1/os-keypairs", stack.token())
    # at 2.1 no page is shorter than the user's keypairs: every row of the user is read
    # either way, and sorting 50 of them after a bitmap scan is as good as walking the
    # index
    check(plans(), ("FROM keypairs WHERE user_id = $1", "ORDER BY name"), "keypairs",
          "keypairs_user_id_name_key", sort_ok=True)


def test_keypair_pages(stack, explained):
    base, plans = explained
    tok, v235 = stack.token(), {"OpenStack-API-Version": "compute 2.35"}
    plans()
    first = get(base, "/compute/v2.1/os-keypairs?limit=5", tok, headers=v235)
    assert len(first.json["keypairs"]) == 5, first
    last = first.json["keypairs"][-1]["keypair"]["name"]
    get(base, "/compute/v2.1/os-keypairs?limit=5&marker=" + last, tok, headers=v235)
    # the statement nubo-api sends from 2.35 on (paged by name, a marker or none)
    mine = [p for p in plans() if "ORDER BY name LIMIT" in p["Query Text"]]
    check(mine, "FROM keypairs WHERE user_id = $1 AND", "keypairs",
          "keypairs_user_id_name_key")
    assert len(mine) >= 2 * REPEAT, [p["Query Text"] for p in mine]
