#!/usr/bin/env python3
"""Benchmark of `statestore migrate` (run through bench/migrate_bench.sh; python3 stdlib only).

For each backend pair and each N, seeds N states at the source once, then migrates them into
a fresh destination at each concurrency and records ids/s, client CPU and peak RSS (from the
child's rusage). In the same run it measures, for comparison:
  - the ceiling: bare writes at the same concurrency against the same destination, through
    the same client (bench_migrate_ceiling);
  - the loop users have today: one `statestore state get` and one `statestore state set
    --force` process per id (Meltano's documented loop), on a sample of ids, as ids/s;
  - `rclone copy --transfers 64` of a file-backend tree to S3 beside `statestore migrate
    --no-lock` of the same tree (when the S3 server and rclone are available).
Writes OUT/results.json, OUT/results.md and OUT/throughput.png (gnuplot); prints the markdown.
Nothing is asserted: these are figures.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LOCAL = ("systemdb", "file")
CLOUD = ("s3", "azure", "gs")
# systemdb on PostgreSQL (Debian's server, tests/servers/postgres.sh): each side a schema.
POSTGRES = ("postgres",)
# Pairs of these also run the big sizes (100,000 states).
BIG = LOCAL + POSTGRES
DEFAULT_PAIRS = "systemdb:file,file:systemdb,file:file,file:s3,s3:file,s3:systemdb,file:azure,azure:file,file:gs,gs:file"
S3_BUCKET = "statestore-bench"


def log(*parts):
    print("migrate_bench:", *parts, file=sys.stderr, flush=True)


def clean_env():
    """The caller's environment without anything that would point statestore, AWS tools or
    rclone elsewhere (the machine exports CA bundles for other purposes)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MELTANO_", "AWS_", "RCLONE_", "STATESTORE_"))
           and k not in ("SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE")}
    env["MELTANO_DATABASE_URI"] = "sqlite://"
    # The S3 precondition probe is a one-time check per process: left on, it would add five
    # requests to every process of the per-id loop and flatter the comparison.
    env["STATESTORE_S3_PROBE_PRECONDITIONS"] = "0"
    return env


def run(cmd, env, check=True, stdin=None, stdout=subprocess.PIPE):
    """Runs cmd; returns dict(rc, out, err, seconds)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
    out, err = p.communicate()
    seconds = time.monotonic() - t0
    result = {"rc": p.returncode, "out": out.decode(errors="replace") if out else "",
              "err": err.decode(errors="replace"), "seconds": seconds}
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s" % (" ".join(cmd[:4]), p.returncode,
                                                        result["err"][-2000:]))
    return result


def vm_hwm_kib(pid):
    """The process's peak RSS so far (VmHWM), or None when it has gone or has not yet
    exec'ed (a child between fork and exec still has this harness's memory and name)."""
    fields = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
    except OSError:
        return None
    if fields.get("Name") == HARNESS_NAME or "VmHWM" not in fields:
        return None
    return int(fields["VmHWM"].split()[0])


with open("/proc/self/comm") as _comm:
    HARNESS_NAME = _comm.read().strip()


def run_measured(cmd, env, check=True, timeout=None):
    """run() with the child's CPU seconds (its rusage) and peak RSS.

    The peak RSS is sampled from /proc/PID/status (VmHWM, a high-water mark, so a sample
    holds every peak before it) every 20 ms until the child exits, not taken from rusage:
    Linux keeps a process's ru_maxrss across execve, and a child forked from this harness
    starts with the harness's own RSS (100+ MiB after seeding 100,000 states), so wait4
    would report max(harness, command). Growth in the last 20 ms before exit is missed.
    """
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunks = {"out": [], "err": []}

    def drain(stream, key):
        chunks[key].append(stream.read())

    readers = [threading.Thread(target=drain, args=(p.stdout, "out")),
               threading.Thread(target=drain, args=(p.stderr, "err"))]
    for r in readers:
        r.start()
    peak_kib = 0
    interrupted_at = None
    killed = False
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            break
        peak_kib = max(peak_kib, vm_hwm_kib(p.pid) or 0)
        elapsed = time.monotonic() - t0
        if timeout and interrupted_at is None and elapsed > timeout:
            # SIGINT: `statestore migrate` stops taking ids, lets those in flight finish and
            # still writes its report, so a stalled server costs a bounded time, not the run.
            log("%s: still running after %.0f s; interrupting it" % (" ".join(cmd[:2]), elapsed))
            p.send_signal(signal.SIGINT)
            interrupted_at = elapsed
        elif interrupted_at is not None and not killed and elapsed > interrupted_at + 60:
            p.kill()
            killed = True
        time.sleep(0.02)
    p.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - t0
    for r in readers:
        r.join()
    result = {"rc": p.returncode, "out": b"".join(chunks["out"]).decode(errors="replace"),
              "err": b"".join(chunks["err"]).decode(errors="replace"), "seconds": seconds,
              "cpu": usage.ru_utime + usage.ru_stime, "maxrss_mib": peak_kib / 1024.0,
              "timed_out": interrupted_at is not None}
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s" % (" ".join(cmd[:4]), p.returncode,
                                                        result["err"][-2000:]))
    return result


# --- documents ---------------------------------------------------------------------------

def state_id(i):
    return "bench:tap-%06d-to-target-jsonl" % i


def document(i):
    """Meltano's raw document: completed and/or partial halves (a third have both)."""
    bookmark = {"singer_state": {"bookmarks": {"orders": {
        "replication_key": "updated_at",
        "replication_key_value": "2024-11-25T11:53:42.%06dZ" % i}}}}
    if i % 3 == 0:
        return {"completed": bookmark, "partial": {}}
    if i % 3 == 1:
        return {"completed": {}, "partial": bookmark}
    return {"completed": bookmark, "partial": {"singer_state": {"partial_seq": i}}}


# --- sides -------------------------------------------------------------------------------

class Side:
    """A backend location: its URI, the CLI arguments that name it and its environment."""

    def __init__(self, kind, uri, env_extra=None, db_path=None, directory=None, pg=None):
        self.kind, self.uri = kind, uri
        self.env_extra = env_extra or {}
        self.db_path, self.directory = db_path, directory
        self.pg = pg  # postgres: {"uri": database URI selecting the schema, "schema", "psql", "base"}

    def database_uri(self):
        return self.pg["uri"] if self.kind == "postgres" else "sqlite:///" + self.db_path

    def cli(self, role):
        args = ["--" + role, self.uri]
        if self.kind in ("systemdb", "postgres"):
            args += ["--%s-database-uri" % role, self.database_uri()]
        return args

    def global_args(self):
        """`statestore` global options selecting this side for `state ...` commands."""
        args = ["--uri", self.uri]
        if self.kind in ("systemdb", "postgres"):
            args += ["--database-uri", self.database_uri()]
        return args

    def remove(self, bin_path=None, env=None):
        if self.kind == "postgres":
            run([self.pg["psql"], "-X", "-q", self.pg["base"], "-c",
                 "DROP SCHEMA IF EXISTS %s CASCADE" % self.pg["schema"]], env, check=False)
        elif self.kind == "systemdb":
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(self.db_path + suffix):
                    os.remove(self.db_path + suffix)
        elif self.kind == "file":
            shutil.rmtree(self.directory, ignore_errors=True)
        elif bin_path:
            # A cloud prefix: cleared (the harness's own server is wiped at the end anyway;
            # a server someone else runs is left as found).
            run([bin_path] + self.global_args() + ["state", "clear", "--all", "--force"],
                env, check=False)


def describe_fs(path):
    """The file system the local backends run on, and whether it journals: ext4 without a
    journal scans past recently freed inodes on every allocation (fs/ext4/ialloc.c,
    recently_deleted), which makes inode-heavy work (a lock file per id) pay more there than
    the ceiling's bare writes do."""
    try:
        fstype, source = subprocess.run(["findmnt", "-no", "FSTYPE,SOURCE", "-T", path],
                                        capture_output=True, text=True,
                                        check=True).stdout.split()[:2]
    except (OSError, subprocess.CalledProcessError, ValueError):
        return "unknown"
    text = "%s on %s" % (fstype, source)
    if fstype == "ext4" and source.startswith("/dev/"):
        device = os.path.basename(source)
        journaled = any(e.startswith(device + "-") for e in os.listdir("/proc/fs/jbd2")) \
            if os.path.isdir("/proc/fs/jbd2") else False
        text += ", with a journal" if journaled else ", without a journal"
    return text


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.abspath(args.statestore)
        self.ceiling_bin = os.path.abspath(args.ceiling)
        self.work = tempfile.mkdtemp(prefix="statestore-migrate-bench-", dir=args.work_dir)
        # File trees and SQLite files (the local backends, and the file ceiling) live here;
        # the servers' data and scratch files stay in the work directory.
        self.local = (tempfile.mkdtemp(prefix="statestore-migrate-bench-", dir=args.local_dir)
                      if args.local_dir else self.work)
        self.env = clean_env()
        self.cloud = {}         # kind -> env dict, for the cloud stores that answer
        self.postgres = None    # {"uri", "psql"} once a PostgreSQL server answers
        self.unavailable = {}   # kind -> reason
        self.servers = []       # (script, dir) we started
        self.seeds = {}         # (kind, n) -> Side
        self.results = {"command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
                        "host": os.uname().nodename, "cpus": os.cpu_count(),
                        "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "migrate": [],
                        "ceiling": [], "per_id_loop": [], "rclone": [], "skipped": [],
                        "local_fs": describe_fs(self.local)}

    # -- environment per side --

    def side_env(self, *sides):
        env = dict(self.env)
        for s in sides:
            env.update(s.env_extra)
        return env

    def new_side(self, kind, label):
        name = "%s-%s" % (label, uuid.uuid4().hex[:8])
        if kind == "systemdb":
            path = os.path.join(self.local, name + ".db")
            return Side(kind, "systemdb", db_path=path)
        if kind == "file":
            d = os.path.join(self.local, name)
            return Side(kind, "file://" + d, directory=d)
        if kind == "postgres":
            pg = self.postgres
            schema = "bench_" + name.replace("-", "_")
            run([pg["psql"], "-X", "-q", pg["uri"], "-c", "CREATE SCHEMA " + schema], self.env)
            sep = "&" if "?" in pg["uri"] else "?"
            return Side(kind, "systemdb", pg={
                "uri": pg["uri"] + sep + "options=-csearch_path%3D" + schema, "schema": schema,
                "psql": pg["psql"], "base": pg["uri"]})
        base = self.cloud[kind]["uri"].rstrip("/")
        return Side(kind, base + "/" + name, env_extra=self.cloud[kind]["env"])

    def drop(self, side):
        # File trees stay until the work directory goes at the end. ext4 without a journal
        # (this machine's root file system) skips inodes freed in the last 60-300 s when it
        # allocates new ones (fs/ext4/ialloc.c, recently_deleted), so deleting a 10,000-id
        # tree here would make every inode the next measurement creates cost a scan past
        # 30,000 freed ones: a tax of the harness, not of the migration being measured.
        if side.kind != "file":
            side.remove(self.bin, self.side_env(side))

    # -- cloud servers --

    def start_s3(self):
        """S3 on Ceph RGW: started with tests/servers/rgw.sh, or one already running named by
        STATESTORE_BENCH_S3_ENDPOINT (keys RGW_ACCESS_KEY / RGW_SECRET_KEY, default the
        test-only AKTEST / SKTEST). States go to bucket statestore-bench."""
        endpoint = os.environ.get("STATESTORE_BENCH_S3_ENDPOINT")
        key = os.environ.get("RGW_ACCESS_KEY", "AKTEST")
        secret = os.environ.get("RGW_SECRET_KEY", "SKTEST")
        if not endpoint:
            script = os.path.join(ROOT, "tests", "servers", "rgw.sh")
            if not os.path.exists(script):
                return "tests/servers/rgw.sh is missing"
            d = os.path.join(self.work, "rgw")
            log("starting Ceph RGW (tests/servers/rgw.sh start)...")
            r = run(["bash", script, "start", d], self.env, check=False)
            if r["rc"] != 0:
                last = r["err"].strip().splitlines()[-1:] or ["exit %d" % r["rc"]]
                return ("rgw.sh start failed (or set STATESTORE_BENCH_S3_ENDPOINT to use a "
                        "running server): " + last[0])
            self.servers.append((script, d))
            # RGW listens on free ports picked at its start, recorded in DIR/env.
            values = self.read_env_file(os.path.join(d, "env"))
            endpoint = values["RGW_ENDPOINT"]
            key, secret = values["RGW_ACCESS_KEY"], values["RGW_SECRET_KEY"]
        # The bucket, signed by curl (SigV4, path style; RGW wants the payload hash header).
        r = run(["curl", "-s", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}",
                 "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "%s:%s" % (key, secret),
                 "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                 "-X", "PUT", "%s/%s" % (endpoint, S3_BUCKET)], self.env, check=False)
        if r["out"].strip() not in ("200", "409"):
            return "could not create bucket %s at %s (HTTP %s)" % (S3_BUCKET, endpoint,
                                                                    r["out"].strip())
        env = {"MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID": key,
               "MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY": secret,
               "MELTANO_STATE_BACKEND_S3_ENDPOINT_URL": endpoint}
        self.cloud["s3"] = {"uri": "s3://%s/bench-%s" % (S3_BUCKET, uuid.uuid4().hex[:6]),
                            "env": env, "endpoint": endpoint}
        return None

    def start_script_server(self, kind, script_name, extra=()):
        """Starts tests/servers/SCRIPT (azurite.sh, gcs.sh, postgres.sh) in a work directory;
        returns (variables of its DIR/env file, None) or (None, reason)."""
        script = os.path.join(ROOT, "tests", "servers", script_name)
        if not os.path.exists(script):
            return None, "tests/servers/%s is missing" % script_name
        d = os.path.join(self.work, kind + "-server")
        log("starting the %s server (tests/servers/%s start)..." % (kind, script_name))
        r = run(["bash", script, "start", d] + list(extra), self.env, check=False)
        if r["rc"] != 0:
            lines = r["err"].strip().splitlines()
            errors = [l for l in lines if "error:" in l]
            last = (errors or lines)[-1:] or ["exit %d" % r["rc"]]
            return None, ("%s start failed (or point STATESTORE_BENCH_%s_URI at a running "
                          "server): %s" % (script_name, kind.upper(), last[0]))
        self.servers.append((script, d))
        # The server's endpoints (on free ports picked at its start) are in DIR/env.
        return self.read_env_file(os.path.join(d, "env")), None

    @staticmethod
    def read_env_file(path):
        """The variables of a DIR/env file: shell assignments (printf %q), so the shell reads them."""
        dump = run(["bash", "-c", 'set -a; . "$1"; env -0', "_", path],
                   {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        return dict(item.split("=", 1) for item in dump["out"].split("\0") if "=" in item)

    def start_azure(self):
        """Azurite (tests/servers/azurite.sh: HTTP, container statestore-ci)."""
        values, reason = self.start_script_server("azure", "azurite.sh")
        if reason:
            return reason
        self.cloud["azure"] = {
            "uri": "azure://%s/bench-%s" % (values["AZURITE_CONTAINER"], uuid.uuid4().hex[:6]),
            "env": {"MELTANO_STATE_BACKEND_AZURE_CONNECTION_STRING":
                    values["AZURITE_CONNECTION_STRING"]}}
        return None

    def start_gcs(self):
        """The firebase storage emulator behind the precondition proxy (tests/servers/gcs.sh:
        GCS_PROXY, TEST SUPPORT that enforces ifGenerationMatch as GCS does)."""
        values, reason = self.start_script_server("gs", "gcs.sh")
        if reason:
            return reason
        self.cloud["gs"] = {"uri": "gs://statestore-ci/bench-%s" % uuid.uuid4().hex[:6],
                            "env": {"STORAGE_EMULATOR_HOST": values["GCS_PROXY"]}}
        return None

    def start_postgres(self):
        """Debian's PostgreSQL 15 (tests/servers/postgres.sh, max_connections 600 for the
        ceiling's 256 connections), or a server already running named by STATESTORE_BENCH_POSTGRES_URI
        (a database the URI's user may create schemas in; psql from PATH or PG_BIN)."""
        uri = os.environ.get("STATESTORE_BENCH_POSTGRES_URI")
        psql = os.path.join(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"), "psql")
        if not uri:
            # The server runs as the `postgres` user, which must reach its data directory.
            os.chmod(self.work, 0o755)
            values, reason = self.start_script_server("postgres", "postgres.sh",
                                                      ["--max-connections", "600"])
            if reason:
                return reason
            uri, psql = values["PG_URI"], os.path.join(values["PG_BIN"], "psql")
        if not os.access(psql, os.X_OK):
            psql = shutil.which("psql") or psql
        self.postgres = {"uri": uri, "psql": psql}
        return None

    def probe(self, kind):
        """The store is usable when `statestore state list` works against it."""
        side = self.new_side(kind, "probe")
        r = run([self.bin] + side.global_args() + ["state", "list"], self.side_env(side),
                check=False)
        if r["rc"] != 0:
            lines = r["err"].strip().splitlines()
            return "`statestore state list` against %s fails: %s" % (
                side.uri, lines[-1] if lines else "exit %d" % r["rc"])
        return None

    def ensure(self, kind):
        if kind in LOCAL or kind in self.cloud or (kind == "postgres" and self.postgres):
            return True
        if kind in self.unavailable:
            return False
        reason = None
        var = "STATESTORE_BENCH_%s_URI" % kind.upper()
        if kind == "postgres":
            reason = self.start_postgres()
            if reason is None:
                reason = self.probe(kind)
            if reason:
                self.postgres = None
                self.unavailable[kind] = reason
                log("skipping %s: %s" % (kind, reason))
                self.results["skipped"].append({"backend": kind, "reason": reason})
                return False
            return True
        if kind == "s3":
            reason = self.start_s3()
        elif os.environ.get(var):
            # A server someone else runs: its URI, and its settings from this environment.
            env = {k: v for k, v in os.environ.items()
                   if k.startswith(("MELTANO_STATE_BACKEND_", "AZURE_", "GOOGLE_",
                                    "STORAGE_EMULATOR_HOST"))}
            self.cloud[kind] = {"uri": os.environ[var], "env": env}
        elif kind == "azure":
            reason = self.start_azure()
        else:
            reason = self.start_gcs()
        if reason is None:
            reason = self.probe(kind)
        if reason:
            self.cloud.pop(kind, None)
            self.unavailable[kind] = reason
            log("skipping %s: %s" % (kind, reason))
            self.results["skipped"].append({"backend": kind, "reason": reason})
            return False
        return True

    def stop_servers(self):
        for script, d in reversed(self.servers):
            run(["bash", script, "stop", d], self.env, check=False)
        self.servers = []

    # -- seeding --

    def seed_file_tree(self, directory, n):
        for i in range(n):
            d = os.path.join(directory, state_id(i))
            os.makedirs(d, exist_ok=True)
            # json.dumps defaults: Meltano's exact bytes.
            with open(os.path.join(d, "state.json"), "w") as f:
                f.write(json.dumps(document(i)))
        os.sync()

    def seeded(self, kind, n):
        key = (kind, n)
        if key in self.seeds:
            return self.seeds[key]
        side = self.new_side(kind, "seed-%d" % n)
        t0 = time.monotonic()
        if kind == "file":
            self.seed_file_tree(side.directory, n)
        elif kind in ("systemdb", "postgres"):
            export = os.path.join(self.work, "seed-%d.json" % n)
            with open(export, "w") as f:
                json.dump({state_id(i): document(i) for i in range(n)}, f)
            run([self.bin] + side.global_args() + ["state", "import", export], self.env)
            os.remove(export)
        else:
            tree = self.seeded("file", n)
            run([self.bin, "migrate"] + tree.cli("from") + side.cli("to") +
                ["--no-lock", "--no-verify", "--concurrency", "64", "--progress-seconds", "0"],
                self.side_env(side))
        log("seeded %d states in %s (%.1f s)" % (n, side.uri, time.monotonic() - t0))
        self.seeds[key] = side
        return side

    # -- measurements --

    def migrate_once(self, src, dst, concurrency, extra=()):
        report = os.path.join(self.work, "report-%s.json" % uuid.uuid4().hex[:8])
        cmd = [self.bin, "migrate"] + src.cli("from") + dst.cli("to") + [
            "--concurrency", str(concurrency), "--progress-seconds", "0", "--report", report]
        cmd += list(extra)
        r = run_measured(cmd, self.side_env(src, dst), check=False,
                         timeout=self.args.migrate_timeout)
        if not os.path.exists(report):  # killed after its grace period: nothing was reported
            rep = {"done": 0, "copied": 0, "failed": 0, "verified": 0, "ids_per_second": 0.0,
                   "elapsed_seconds": r["seconds"]}
        else:
            with open(report) as f:
                rep = json.load(f)
            os.remove(report)
        if r["rc"] != 0:
            log("migrate exit %d: %s" % (r["rc"], r["err"].strip().splitlines()[-1:]))
        return r, rep

    def measure_pair(self, a, b, n, concurrencies, unlocked=False):
        """Default mode: locked writes, verified (what a migration beside running pipelines
        does). unlocked: --no-lock --no-verify, one write per id like the ceiling (plus the
        source read and the destination pre-read), for a like-for-like efficiency."""
        src = self.seeded(a, n)
        mode = "unlocked" if unlocked else "locked"
        for c in concurrencies:
            dst = self.new_side(b, "dst")
            r, rep = self.migrate_once(src, dst, c, ["--no-lock", "--no-verify"] if unlocked else [])
            done = max(rep["done"], 1)
            # Efficiency is measured against the destination, as the issue defines the ceiling
            # ("a bare PUT load ... against the same destination server"); a cloud source is
            # reported beside it (source_load in ratios()), since it can bound the pair. Pairs
            # with PostgreSQL on either side are measured against PostgreSQL's ceiling (one-row
            # transactions at the same concurrency), as issue 16 defines it; a postgres -> file
            # pair also gets the file destination's figure (destination_efficiency).
            server = "postgres" if "postgres" in (a, b) else b
            server_requests = rep.get("destination_requests", 0)
            elapsed = max(rep["elapsed_seconds"], 1e-9)
            row = {"pair": "%s->%s" % (a, b), "mode": mode, "from": a, "to": b, "n": n,
                   "concurrency": c,
                   "ids_per_second": round(rep["ids_per_second"], 1),
                   "elapsed_seconds": round(rep["elapsed_seconds"], 3),
                   "process_seconds": round(r["seconds"], 3),
                   "cpu_seconds": round(r["cpu"], 3),
                   "cpu_seconds_per_1000_ids": round(r["cpu"] * 1000.0 / done, 3),
                   "peak_rss_mib": round(r["maxrss_mib"], 1),
                   "source_requests": rep.get("source_requests", 0),
                   "destination_requests": rep.get("destination_requests", 0),
                   "server": server, "server_requests": server_requests,
                   "server_requests_per_second": round(server_requests / elapsed, 1),
                   "source_requests_per_second": round(rep.get("source_requests", 0) / elapsed, 1),
                   "copied": rep["copied"], "failed": rep["failed"], "verified": rep["verified"],
                   "exit": r["rc"], "timed_out": r["timed_out"]}
            self.results["migrate"].append(row)
            log("%s %s N=%d c=%d: %.0f ids/s, %.2f CPU s, %.0f MiB peak RSS%s" % (
                row["pair"], mode, n, c, row["ids_per_second"], row["cpu_seconds"],
                row["peak_rss_mib"], "" if r["rc"] == 0 else " (FAILED ids: %d)" % rep["failed"]))
            self.drop(dst)

    def measure_ceiling(self, kind, concurrencies, count):
        for c in concurrencies:
            side = self.new_side(kind, "ceiling")
            env = self.side_env(side)
            if kind in ("systemdb", "postgres"):
                env["MELTANO_DATABASE_URI"] = side.database_uri()
            r = run([self.ceiling_bin, side.uri, str(count), str(c)], env, check=False)
            if r["rc"] != 0:
                log("ceiling %s c=%d failed: %s" % (kind, c, r["err"].strip()))
                continue
            figures = json.loads(r["out"])
            self.results["ceiling"].append({
                "to": kind, "concurrency": c, "ops": count,
                "ops_per_second": figures["ops_per_second"],
                "requests_per_second": figures.get("requests_per_second", figures["ops_per_second"]),
                "cpu_seconds": figures["cpu_seconds"]})
            log("ceiling %s c=%d: %.0f writes/s, %.0f requests/s" % (
                kind, c, figures["ops_per_second"], self.results["ceiling"][-1]["requests_per_second"]))
            self.drop(side)

    def measure_loop(self, a, b, sample):
        """Meltano's documented loop, one `get` and one `set --force` process per id."""
        src = self.seeded(a, max(sample, min(self.args.sizes)))
        dst = self.new_side(b, "loop")
        env = self.side_env(src, dst)
        scratch = os.path.join(self.work, "loop-state.json")
        t0 = time.monotonic()
        for i in range(sample):
            sid = state_id(i)
            got = run([self.bin] + src.global_args() + ["state", "get", sid], env, check=False)
            if got["rc"] == 0:
                with open(scratch, "w") as f:
                    f.write(got["out"])
                got = run([self.bin] + dst.global_args() + ["state", "set", "--force", sid,
                                                            "--input-file", scratch], env,
                          check=False)
            if got["rc"] != 0:
                # Recorded, not fatal: the rest of the run's figures still get written.
                error = (got["err"].strip().splitlines() or ["exit %d" % got["rc"]])[-1]
                self.results["skipped"].append({"backend": "per-id loop %s->%s" % (a, b),
                                                "reason": "id %d: %s" % (i, error)})
                log("per-id loop %s->%s failed at id %d: %s" % (a, b, i, error))
                self.drop(dst)
                return
        seconds = time.monotonic() - t0
        row = {"pair": "%s->%s" % (a, b), "sample": sample, "seconds": round(seconds, 3),
               "ids_per_second": round(sample / seconds, 2)}
        self.results["per_id_loop"].append(row)
        log("per-id loop %s: %d ids in %.1f s = %.1f ids/s" % (row["pair"], sample, seconds,
                                                               row["ids_per_second"]))
        self.drop(dst)

    def measure_rclone(self, n):
        if not shutil.which("rclone") and os.geteuid() == 0 and shutil.which("apt-get"):
            log("installing Debian's rclone for the comparison")
            run(["apt-get", "install", "-y", "-q", "rclone"],
                dict(os.environ, DEBIAN_FRONTEND="noninteractive"), check=False)
        if not shutil.which("rclone"):
            self.results["skipped"].append({"backend": "rclone", "reason": "rclone not installed"})
            log("skipping rclone: not installed (apt-get install rclone)")
            return
        if not self.ensure("s3"):
            return
        s3 = self.cloud["s3"]
        tree = self.seeded("file", n)
        env = dict(self.env)  # AWS_CA_BUNDLE & co. are already out (clean_env)
        env.update({"RCLONE_CONFIG_BENCHS3_TYPE": "s3", "RCLONE_CONFIG_BENCHS3_PROVIDER": "Ceph",
                    "RCLONE_CONFIG_BENCHS3_ACCESS_KEY_ID": s3["env"]["MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID"],
                    "RCLONE_CONFIG_BENCHS3_SECRET_ACCESS_KEY": s3["env"]["MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY"],
                    "RCLONE_CONFIG_BENCHS3_ENDPOINT": s3["endpoint"],
                    "RCLONE_CONFIG_BENCHS3_REGION": "us-east-1"})
        target = self.new_side("s3", "rclone")  # the same layout: <prefix>/<id>/state.json
        bucket_path = target.uri[len("s3://"):]
        r = run_measured(["rclone", "copy", "--transfers", "64", "--s3-no-check-bucket",
                          tree.directory, "benchs3:" + bucket_path], env, check=False)
        self.drop(target)
        if r["rc"] != 0:
            log("rclone failed: " + r["err"].strip()[-500:])
            self.results["skipped"].append({"backend": "rclone", "reason": r["err"].strip()[-300:]})
            return
        self.results["rclone"].append({
            "tool": "rclone copy --transfers 64", "n": n, "seconds": round(r["seconds"], 3),
            "ids_per_second": round(n / r["seconds"], 1), "cpu_seconds": round(r["cpu"], 3),
            "cpu_seconds_per_1000_ids": round(r["cpu"] * 1000.0 / n, 3)})
        dst = self.new_side("s3", "nolock")
        m, rep = self.migrate_once(tree, dst, 64, ["--no-lock"])
        self.results["rclone"].append({
            "tool": "statestore migrate --no-lock --concurrency 64", "n": n,
            "seconds": round(m["seconds"], 3), "ids_per_second": round(n / m["seconds"], 1),
            "cpu_seconds": round(m["cpu"], 3),
            "cpu_seconds_per_1000_ids": round(m["cpu"] * 1000.0 / n, 3), "failed": rep["failed"]})
        self.drop(dst)
        for row in self.results["rclone"][-2:]:
            log("%s: %.0f ids/s, %.3f CPU s per 1000 ids" % (row["tool"], row["ids_per_second"],
                                                             row["cpu_seconds_per_1000_ids"]))

    # -- the run --

    def run_all(self):
        a = self.args
        pairs = [tuple(p.split(":")) for p in a.pairs.split(",") if p]
        usable = []
        for src, dst in pairs:
            bad = [k for k in (src, dst) if k not in LOCAL + CLOUD + POSTGRES]
            if bad:
                raise SystemExit("unknown backend %s in --pairs" % bad[0])
            if self.ensure(src) and self.ensure(dst):
                usable.append((src, dst))
            else:
                log("skipping pair %s->%s" % (src, dst))
        for src, dst in usable:
            for n in a.sizes:
                self.measure_pair(src, dst, n, a.concurrency)
            if a.unlocked_series:
                self.measure_pair(src, dst, max(a.sizes), a.concurrency, unlocked=True)
            if src in BIG and dst in BIG:
                for n in a.big_sizes:
                    self.measure_pair(src, dst, n, a.big_concurrency)
        # Every destination (efficiency), every cloud source (source load), PostgreSQL.
        servers = {dst for _, dst in usable} | {s for s, _ in usable if s in CLOUD + POSTGRES}
        for kind in sorted(servers):
            concs = set(a.concurrency) | (set(a.big_concurrency) if a.big_sizes else set())
            self.measure_ceiling(kind, sorted(concs), a.ceiling_writes)
        if a.loop_sample > 0:
            for src, dst in usable:
                self.measure_loop(src, dst, a.loop_sample)
        if a.rclone_n > 0:
            self.measure_rclone(a.rclone_n)
        self.results["ratios"] = ratios(self.results)

    def cleanup(self):
        if not self.servers:  # someone else's server: take our states out of it
            for side in self.seeds.values():
                if side.kind in CLOUD:
                    self.drop(side)
        self.stop_servers()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
            if self.local != self.work:
                shutil.rmtree(self.local, ignore_errors=True)


# --- summaries ---------------------------------------------------------------------------

TARGETS = {"efficiency": 0.8, "speedup": 50.0, "rclone_ids_ratio": 1.0,
           "rclone_cpu_ratio": 1.0 / 3.0, "peak_rss_mib": 200.0, "postgres_peak_rss_mib": 64.0}


def ceiling_at(results, kind, concurrency):
    for c in results["ceiling"]:
        if c["to"] == kind and c["concurrency"] == concurrency:
            return c
    return None


def efficiency(results, row):
    """(ratio, basis, server rate, ceiling rate) of a migration row against the ceiling of
    its server at the same concurrency, or None. A cloud server is compared in requests/s
    (what the migration made it serve against what it serves under a bare PUT load); a
    local one in writes/s (ids/s against bare durable writes/s: one write per id)."""
    ceiling = ceiling_at(results, row["server"], row["concurrency"])
    if not ceiling:
        return None
    if row["server"] in CLOUD:
        rate, top = row["server_requests_per_second"], ceiling["requests_per_second"]
        basis = "requests/s"
    else:
        rate, top = row["ids_per_second"], ceiling["ops_per_second"]
        basis = "writes/s"
    if top <= 0:
        return None
    return round(rate / top, 3), basis, rate, top


def ratios(results):
    """Per pair, at its largest N measured at every concurrency: the best concurrency, its
    ids/s, its efficiency against its server's ceiling there, the speed-up over the per-id
    loop; plus statestore vs rclone, the 100k file->systemdb peak RSS, and each target met
    or missed."""
    out = []
    pairs = sorted({r["pair"] for r in results["migrate"]})

    def best_of(pair, mode):
        rows = [r for r in results["migrate"]
                if r["pair"] == pair and r["mode"] == mode and r["exit"] == 0]
        if not rows:
            return None
        by_n = {}
        for r in rows:
            by_n.setdefault(r["n"], []).append(r)
        n = max(by_n, key=lambda k: (len(by_n[k]), k))
        return max(by_n[n], key=lambda r: r["ids_per_second"])

    for pair in pairs:
        best = best_of(pair, "locked")
        if not best:
            continue
        entry = {"pair": pair, "n": best["n"], "best_concurrency": best["concurrency"],
                 "ids_per_second": best["ids_per_second"], "server": best["server"],
                 "server_requests_per_id": round(best["server_requests"] / max(best["copied"], 1), 2)}
        eff = efficiency(results, best)
        if eff:
            entry.update({"efficiency": eff[0], "efficiency_basis": eff[1],
                          "server_rate": eff[2], "ceiling_rate": eff[3]})
        if best["server"] != best["to"]:  # postgres -> X: X's own ceiling too
            deff = efficiency(results, dict(best, server=best["to"]))
            if deff:
                entry["destination_efficiency"] = deff[0]
        src = best["from"]
        src_ceiling = ceiling_at(results, src, best["concurrency"]) if src in CLOUD else None
        if src_ceiling and src_ceiling["requests_per_second"] > 0:
            # What the migration made the source serve (reads, listing) against what that
            # server serves under the bare PUT load: near or above 1, the source bounds the pair.
            entry["source_rate"] = best["source_requests_per_second"]
            entry["source_load"] = round(best["source_requests_per_second"] /
                                         src_ceiling["requests_per_second"], 3)
        unlocked = best_of(pair, "unlocked")
        if unlocked:
            entry["unlocked_best_concurrency"] = unlocked["concurrency"]
            entry["unlocked_ids_per_second"] = unlocked["ids_per_second"]
            ueff = efficiency(results, unlocked)
            if ueff:
                entry["unlocked_efficiency"] = ueff[0]
        loop = [l for l in results["per_id_loop"] if l["pair"] == pair]
        if loop:
            entry["per_id_loop_ids_per_second"] = loop[0]["ids_per_second"]
            entry["speedup_vs_per_id_loop"] = round(best["ids_per_second"] / loop[0]["ids_per_second"], 1)
        out.append(entry)
    summary = {"pairs": out}
    rc = results["rclone"]
    if len(rc) == 2:
        summary["vs_rclone"] = {
            "ids_per_second_ratio": round(rc[1]["ids_per_second"] / rc[0]["ids_per_second"], 2),
            "cpu_per_id_ratio": round(rc[1]["cpu_seconds_per_1000_ids"] / rc[0]["cpu_seconds_per_1000_ids"], 3)
            if rc[0]["cpu_seconds_per_1000_ids"] > 0 else None}
    big = [r for r in results["migrate"] if r["pair"] == "file->systemdb" and r["mode"] == "locked"]
    if big:
        top = max(big, key=lambda r: (r["n"], r["peak_rss_mib"]))
        summary["file_to_systemdb_peak_rss"] = {"n": top["n"], "peak_rss_mib": top["peak_rss_mib"],
                                                "concurrency": top["concurrency"]}
    # Issue 16: peak RSS of the PostgreSQL pairs at their largest N (every concurrency).
    summary["postgres_peak_rss"] = []
    for pair in sorted({r["pair"] for r in results["migrate"] if "postgres" in r["pair"]}):
        rows = [r for r in results["migrate"] if r["pair"] == pair and r["mode"] == "locked"]
        n = max(r["n"] for r in rows)
        top = max((r for r in rows if r["n"] == n), key=lambda r: r["peak_rss_mib"])
        summary["postgres_peak_rss"].append({"pair": pair, "n": n, "peak_rss_mib": top["peak_rss_mib"],
                                             "concurrency": top["concurrency"]})
    summary["targets"] = targets(summary)
    return summary


def targets(summary):
    """Each target of the issue with the figures that decide it, met or not."""
    rows = []
    for e in summary["pairs"]:
        if "efficiency" in e:
            rows.append({"target": "efficiency >= %.1f of the ceiling (%s)" % (
                TARGETS["efficiency"], e["efficiency_basis"]), "pair": e["pair"],
                "value": e["efficiency"], "met": e["efficiency"] >= TARGETS["efficiency"]})
        if "speedup_vs_per_id_loop" in e:
            rows.append({"target": ">= %.0fx the one-process-per-id loop" % TARGETS["speedup"],
                         "pair": e["pair"], "value": e["speedup_vs_per_id_loop"],
                         "met": e["speedup_vs_per_id_loop"] >= TARGETS["speedup"]})
    if "vs_rclone" in summary:
        v = summary["vs_rclone"]
        rows.append({"target": "ids/s >= rclone's files/s", "pair": "file->s3",
                     "value": v["ids_per_second_ratio"],
                     "met": v["ids_per_second_ratio"] >= TARGETS["rclone_ids_ratio"]})
        if v["cpu_per_id_ratio"] is not None:
            rows.append({"target": "client CPU per id <= 1/3 of rclone's", "pair": "file->s3",
                         "value": v["cpu_per_id_ratio"],
                         "met": v["cpu_per_id_ratio"] <= TARGETS["rclone_cpu_ratio"]})
    if "file_to_systemdb_peak_rss" in summary:
        p = summary["file_to_systemdb_peak_rss"]
        rows.append({"target": "peak RSS < %.0f MiB, %d states file->systemdb" % (
            TARGETS["peak_rss_mib"], p["n"]), "pair": "file->systemdb",
            "value": p["peak_rss_mib"], "met": p["peak_rss_mib"] < TARGETS["peak_rss_mib"]})
    for p in summary.get("postgres_peak_rss", []):
        rows.append({"target": "peak RSS < %.0f MiB, %d states" % (
            TARGETS["postgres_peak_rss_mib"], p["n"]), "pair": p["pair"],
            "value": p["peak_rss_mib"], "met": p["peak_rss_mib"] < TARGETS["postgres_peak_rss_mib"]})
    return rows


def series_keys(results):
    """(pair, mode, n) in the order measured."""
    keys = []
    for r in results["migrate"]:
        k = (r["pair"], r["mode"], r["n"])
        if k not in keys:
            keys.append(k)
    return keys


def markdown(results):
    lines = ["# statestore migrate benchmark", "",
             ("**Interrupted run: only what was measured before the interruption.**\n\n"
              if results.get("interrupted") else "") +
             "Command: `%s` on %s (%s CPUs), %s. Figures from one run; on a shared machine "
             "they are noisy. Local backends (file, systemdb) on %s." %
             (results["command"], results["host"], results["cpus"], results["started"],
              results.get("local_fs", "unknown")), "",
             "## Migration throughput (ids/s)", "",
             "Locked writes, verified (the default) unless marked unlocked "
             "(`--no-lock --no-verify`). CPU and RSS: the `statestore` process (rusage).", ""]
    concs = sorted({r["concurrency"] for r in results["migrate"]})
    lines.append("| pair | N | " + " | ".join("c=%d" % c for c in concs) +
                 " | CPU s / 1000 ids (best c) | peak RSS MiB |")
    lines.append("|---|---|" + "---|" * len(concs) + "---|---|")
    for pair, mode, n in series_keys(results):
        rows = {r["concurrency"]: r for r in results["migrate"]
                if r["pair"] == pair and r["mode"] == mode and r["n"] == n}
        best = max(rows.values(), key=lambda r: r["ids_per_second"])
        cells = []
        for c in concs:
            r = rows.get(c)
            cells.append("" if r is None else ("%.0f" % r["ids_per_second"]) +
                         ("" if r["exit"] == 0 else " (%d failed%s)" % (
                             r["failed"], ", timed out at %d of %d ids" % (r["copied"], r["n"])
                             if r.get("timed_out") else "")))
        lines.append("| %s | %d | %s | %.3f | %.0f |" % (
            pair + (" unlocked" if mode == "unlocked" else ""), n, " | ".join(cells), best["cpu_seconds_per_1000_ids"],
            max(r["peak_rss_mib"] for r in rows.values())))
    if results["ceiling"]:
        lines += ["", "## Ceiling: bare writes at the same concurrency (writes/s)", ""]
        cconcs = sorted({c["concurrency"] for c in results["ceiling"]})
        lines.append("| destination | " + " | ".join("c=%d" % c for c in cconcs) + " |")
        lines.append("|---|" + "---|" * len(cconcs))
        for kind in sorted({c["to"] for c in results["ceiling"]}):
            rows = {c["concurrency"]: c for c in results["ceiling"] if c["to"] == kind}
            lines.append("| %s | %s |" % (kind, " | ".join(
                "%.0f" % rows[c]["ops_per_second"] if c in rows else "" for c in cconcs)))
    if results["per_id_loop"]:
        lines += ["", "## One process per id (`state get` + `state set --force`)", "",
                  "| pair | sample | ids/s |", "|---|---|---|"]
        for l in results["per_id_loop"]:
            lines.append("| %s | %d | %.1f |" % (l["pair"], l["sample"], l["ids_per_second"]))
    if results["rclone"]:
        lines += ["", "## file tree -> S3: rclone vs statestore", "",
                  "| tool | N | ids/s | CPU s / 1000 ids |", "|---|---|---|---|"]
        for r in results["rclone"]:
            lines.append("| %s | %d | %.0f | %.3f |" % (r["tool"], r["n"], r["ids_per_second"],
                                                       r["cpu_seconds_per_1000_ids"]))
    s = results.get("ratios", {})
    if s.get("pairs"):
        lines += ["", "## Ratios", "",
                  "Efficiency, at the pair's best concurrency, against the destination: for a "
                  "cloud destination, the requests/s the migration made it serve divided by the "
                  "requests/s it serves under the bare PUT load at the same concurrency; for a "
                  "local destination, ids/s divided by bare durable writes/s. Requests per id: "
                  "what one id cost the destination (locked and verified). Source load, for a "
                  "cloud source: the requests/s the migration made the source serve divided by "
                  "that server's bare PUT rate at the same concurrency (near 1 or above: the "
                  "source bounds the pair).", "",
                  "| pair | N | best c | ids/s | ceiling of | requests per id | destination rate | ceiling rate | efficiency | source load | unlocked: best c, ids/s, efficiency | per-id loop ids/s | speed-up |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for e in s["pairs"]:
            lines.append("| %s | %d | %d | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                e["pair"], e["n"], e["best_concurrency"], e["ids_per_second"],
                e["server"] + (" (file: %s)" % e["destination_efficiency"]
                               if "destination_efficiency" in e else ""),
                e["server_requests_per_id"] if e["server"] in CLOUD else "-",
                ("%.0f %s" % (e["server_rate"], e["efficiency_basis"])) if "server_rate" in e else "-",
                ("%.0f" % e["ceiling_rate"]) if "ceiling_rate" in e else "-",
                e.get("efficiency", "-"),
                ("%.0f requests/s, %s" % (e["source_rate"], e["source_load"]))
                if "source_load" in e else "-",
                "%d, %.0f, %s" % (e["unlocked_best_concurrency"], e["unlocked_ids_per_second"],
                                  e.get("unlocked_efficiency", "-"))
                if "unlocked_ids_per_second" in e else "-",
                e.get("per_id_loop_ids_per_second", "-"),
                "%sx" % e["speedup_vs_per_id_loop"] if "speedup_vs_per_id_loop" in e else "-"))
    if "vs_rclone" in s:
        lines += ["", "statestore vs rclone: %.2fx the ids/s, %.3fx the CPU per id." % (
            s["vs_rclone"]["ids_per_second_ratio"], s["vs_rclone"]["cpu_per_id_ratio"] or 0)]
    if "file_to_systemdb_peak_rss" in s:
        p = s["file_to_systemdb_peak_rss"]
        lines += ["", "file -> systemdb, %d states: peak RSS %.0f MiB (concurrency %d)." % (
            p["n"], p["peak_rss_mib"], p["concurrency"])]
    if s.get("targets"):
        lines += ["", "## Targets", "", "| target | pair | value | met |", "|---|---|---|---|"]
        for t in s["targets"]:
            lines.append("| %s | %s | %s | %s |" % (t["target"], t["pair"], t["value"],
                                                   "yes" if t["met"] else "**no**"))
    if results["skipped"]:
        lines += ["", "Skipped: " + "; ".join("%s (%s)" % (k["backend"], k["reason"])
                                              for k in results["skipped"])]
    return "\n".join(lines) + "\n"


def plot(results, out_dir):
    """throughput.png: ids/s against concurrency per pair and N, ceilings dashed."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        log("gnuplot not found: no plot (apt-get install gnuplot-nox)")
        return False
    series = []
    for pair, mode, n in series_keys(results):
        pts = sorted((r["concurrency"], r["ids_per_second"]) for r in results["migrate"]
                     if r["pair"] == pair and r["mode"] == mode and r["n"] == n)
        if len(pts) > 1:  # single points (the 100k runs) are in the table
            series.append(("%s%s N=%d" % (pair, " unlocked" if mode == "unlocked" else "", n),
                           pts, "lines"))
    for kind in sorted({c["to"] for c in results["ceiling"]}):
        pts = sorted((c["concurrency"], c["ops_per_second"]) for c in results["ceiling"]
                     if c["to"] == kind)
        series.append(("ceiling: bare writes to %s" % kind, pts, "dashed"))
    data = os.path.join(out_dir, "throughput.dat")
    with open(data, "w") as f:
        for title, pts, _ in series:
            f.write("# %s\n" % title)
            for x, y in pts:
                f.write("%d %f\n" % (x, y))
            f.write("\n\n")
    plots = []
    for i, (title, _, style) in enumerate(series):
        dash = " dt 2" if style == "dashed" else ""
        plots.append("'%s' index %d using 1:2 with linespoints lw 2%s title '%s'" % (
            data, i, dash, title.replace("'", "")))
    script = "\n".join([
        "set terminal png size 1100,700",
        "set output '%s'" % os.path.join(out_dir, "throughput.png"),
        "set title 'statestore migrate: throughput against concurrency'",
        "set xlabel 'concurrency (ids in flight)'", "set ylabel 'ids/s (ceiling: writes/s)'",
        "set logscale x 2", "set logscale y 10", "set grid", "set key outside right top",
        "plot " + ", \\\n     ".join(plots), ""])
    with open(os.path.join(out_dir, "throughput.gp"), "w") as f:
        f.write(script)
    r = subprocess.run([gnuplot, os.path.join(out_dir, "throughput.gp")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        log("gnuplot failed: " + r.stderr.decode(errors="replace"))
        return False
    return True


def int_list(text):
    return [int(x) for x in text.split(",") if x.strip()]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--statestore", default=os.path.join(ROOT, "build", "statestore"))
    p.add_argument("--ceiling", default=os.path.join(ROOT, "build", "bench", "bench_migrate_ceiling"))
    p.add_argument("--out", default=None, help="output directory (default: a new dir under /var/tmp)")
    p.add_argument("--work-dir", default=os.environ.get("BENCH_DIR", "/var/tmp"),
                   help="where states are written (a real disk, not tmpfs)")
    p.add_argument("--local-dir", default=None,
                   help="where the file and systemdb backends (and the file ceiling) write, "
                        "if not in --work-dir; bench/journaled_ext4.sh makes one on ext4 with "
                        "a journal")
    p.add_argument("--pairs", default=None, help="comma list of FROM:TO, e.g. systemdb:file,file:s3")
    p.add_argument("--sizes", type=int_list, default=None, help="N per pair (default 1000,10000)")
    p.add_argument("--big-sizes", type=int_list, default=None,
                   help="extra N for local pairs only (default 100000)")
    p.add_argument("--concurrency", type=int_list, default=None, help="default 1,8,64,256")
    p.add_argument("--big-concurrency", type=int_list, default=None,
                   help="concurrencies for --big-sizes (default 64)")
    p.add_argument("--ceiling-writes", type=int, default=None, help="writes per ceiling point")
    p.add_argument("--loop-sample", type=int, default=None, help="ids for the per-id loop (default 200)")
    p.add_argument("--rclone-n", type=int, default=None, help="states for rclone vs migrate (0: off)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: local pairs, N=100, concurrency 1,8, small samples")
    p.add_argument("--no-unlocked-series", dest="unlocked_series", action="store_false",
                   help="skip the --no-lock --no-verify series (largest N) used for efficiency")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--migrate-timeout", type=float, default=900.0,
                   help="seconds before one migration is interrupted (SIGINT; its partial "
                        "report is kept and the row marked timed_out)")
    a = p.parse_args()
    q = a.quick
    defaults = {"pairs": "systemdb:file,file:systemdb,file:file" if q else DEFAULT_PAIRS,
                "sizes": [100] if q else [1000, 10000], "big_sizes": [] if q else [100000],
                "concurrency": [1, 8] if q else [1, 8, 64, 256], "big_concurrency": [64],
                "ceiling_writes": 100 if q else 2000, "loop_sample": 10 if q else 200,
                "rclone_n": 0 if q else 1000}
    for k, v in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    out = a.out or tempfile.mkdtemp(prefix="statestore-migrate-bench-out-", dir="/var/tmp")
    os.makedirs(out, exist_ok=True)
    for path in (a.statestore, a.ceiling):
        if not os.access(path, os.X_OK):
            raise SystemExit("not built: %s (ninja statestore_cli bench_migrate_ceiling)" % path)

    bench = Bench(a)
    try:
        bench.run_all()
    except KeyboardInterrupt:
        # Keep what was measured: the rows so far are written, marked as an interrupted run.
        log("interrupted: writing the results measured so far")
        bench.results["interrupted"] = True
        bench.results["ratios"] = ratios(bench.results)
    finally:
        bench.cleanup()
    results = bench.results
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    md = markdown(results)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(md)
    plotted = plot(results, out)
    print(md)
    print("Written: %s/results.json, results.md%s" % (out, ", throughput.png" if plotted else ""))
    return 0 if plotted else 1


if __name__ == "__main__":
    sys.exit(main())
