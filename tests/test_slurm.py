"""The workflow on a real SLURM scheduler, and the per-rule resources it submits with.

The SLURM tests need a running cluster: CI starts a single-node one on 127.0.0.1 with `.ci/slurm/start.sh`
(see docs/slurm.md) plus the `snakemake-executor-plugin-slurm` package. Without them they are skipped with the
reason; with TWASFLOW_REQUIRE_SLURM=1 (set by .ci/run once the cluster is up) they fail instead of skipping.
The resource tests at the top need no scheduler (Snakemake dry runs).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, copy_workflow

SLURM_DIR = Path(os.environ.get("TWASFLOW_SLURM_DIR", "/tmp/twasflow-slurm"))
PROFILE = REPO / "profiles" / "slurm"
# Plugin settings for the CI cluster, on top of the profile: it has no slurmdbd, so job states come from
# squeue (its MinJobAge is 300 s); a short first status check keeps tiny jobs from idling; no account exists.
CI_SLURM_ARGS = ("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
                 "--slurm-no-account")


def _load_compare():
    spec = importlib.util.spec_from_file_location("compare_runs", REPO / ".ci" / "slurm" / "compare_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _slurm_conf() -> str | None:
    if os.environ.get("SLURM_CONF"):
        return os.environ["SLURM_CONF"]
    if (SLURM_DIR / "slurm.conf").is_file():
        return str(SLURM_DIR / "slurm.conf")
    return None


def _why_no_slurm() -> str | None:
    """None when a SLURM cluster answers and the executor plugin is installed, else the reason."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install snakemake-executor-plugin-slurm)"
    if shutil.which("sinfo") is None:
        return "SLURM client tools are not installed (apt-get install slurm-wlm munge)"
    env = dict(os.environ)
    if _slurm_conf():
        env["SLURM_CONF"] = _slurm_conf()
    try:
        r = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=15, env=env)
    except subprocess.TimeoutExpired:
        return "sinfo timed out: no SLURM controller answering"
    states = set(r.stdout.split())
    if r.returncode != 0 or not states & {"idle", "mixed", "allocated"}:
        return (f"no usable SLURM cluster (sinfo exit {r.returncode}, node states {sorted(states)}, "
                f"{r.stderr.strip()[:200]!r}); start the CI one with `sudo .ci/slurm/start.sh`")
    return None


@pytest.fixture(scope="session")
def slurm_env() -> dict[str, str]:
    """(Session scope and listed first, so a missing cluster skips before `example_run` is built.)
    Environment for running Snakemake against the cluster (SLURM_CONF set when a non-default one is used)."""
    reason = _why_no_slurm()
    if reason is not None:
        if os.environ.get("TWASFLOW_REQUIRE_SLURM") == "1":
            pytest.fail(f"TWASFLOW_REQUIRE_SLURM=1 but {reason}")
        pytest.skip(reason)
    env = dict(os.environ)
    if _slurm_conf():
        env["SLURM_CONF"] = _slurm_conf()
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


def _snakemake_in(cwd: Path, *args: str, env: dict[str, str] | None = None,
                  timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


# A workflow of two rules whose resources come from the same helpers as twasflow's rules.
TINY_RULES = """
include: {resources_smk!r}


rule all:
    input:
        "a.txt",
        "b.txt",


rule a:
    output:
        "a.txt",
    threads: threads("a")
    resources:
        mem_mb=mem_mb("a"),
        runtime=runtime("a"),
        slurm_partition=partition("a"),
    shell:
        "touch {{output}}"


rule b:
    output:
        "b.txt",
    threads: threads("b")
    resources:
        mem_mb=mem_mb("b"),
        runtime=runtime("b"),
        slurm_partition=partition("b"),
    shell:
        "touch {{output}}"
"""


def _dry_run_resources(workdir: Path, attempt: int) -> dict[str, dict[str, str]]:
    """Rule name -> {threads, mem_mb, runtime, slurm_partition} as Snakemake plans them at ``attempt``."""
    r = _snakemake_in(workdir, "-n", "--cores", "4", "--configfile", "resources.yaml", "--attempt", str(attempt),
                      timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    plans: dict[str, dict[str, str]] = {}
    rule = None
    for line in r.stdout.splitlines():
        if m := re.match(r"^rule (\w+):", line):
            rule = m.group(1)
            plans[rule] = {"threads": "1"}
        elif rule and (m := re.match(r"^\s+threads: (\d+)", line)):
            plans[rule]["threads"] = m.group(1)
        elif rule and (m := re.match(r"^\s+resources: (.*)", line)):
            plans[rule].update(kv.split("=", 1) for kv in m.group(1).split(", "))
    return plans


def test_resources_come_from_config_per_rule_and_scale_with_attempt(tmp_path: Path) -> None:
    (tmp_path / "workflow").mkdir()
    (tmp_path / "workflow" / "Snakefile").write_text(
        TINY_RULES.format(resources_smk=str(REPO / "workflow" / "rules" / "resources.smk")))
    (tmp_path / "resources.yaml").write_text(yaml.safe_dump({"resources": {
        "default": {"mem_mb": 1500, "runtime": 10, "threads": 1, "slurm_partition": "short"},
        "a": {"mem_mb": 3000, "threads": 2, "slurm_partition": "long"},
    }}))
    for attempt in (1, 3):
        plans = _dry_run_resources(tmp_path, attempt)
        # rule a: its own mem/threads/partition, the default runtime; rule b: all defaults
        assert plans["a"]["threads"] == "2"
        assert plans["a"]["mem_mb"] == str(3000 * attempt)
        assert plans["a"]["runtime"] == str(10 * attempt)
        assert plans["a"]["slurm_partition"] == "long"
        assert plans["b"]["threads"] == "1"
        assert plans["b"]["mem_mb"] == str(1500 * attempt)
        assert plans["b"]["runtime"] == str(10 * attempt)
        assert plans["b"]["slurm_partition"] == "short"


def test_slurm_profile_leaves_resources_to_the_rules() -> None:
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["retries"] >= 1, "memory scaling by attempt needs retries"
    assert profile["rerun-incomplete"] is True
    # cpus_per_task would override every rule's threads; mem_mb/runtime would freeze the attempt scaling
    fixed = set(profile.get("default-resources", {}))
    for per_rule in (profile.get("set-resources") or {}).values():
        fixed |= set(per_rule)
    assert not fixed & {"cpus_per_task", "mem_mb", "mem", "runtime"}, fixed
    assert "group-components" not in profile and "groups" not in profile, "chunks, not job groups"


def test_ci_slurm_scripts_parse() -> None:
    for script in ("start.sh", "stop.sh"):
        r = subprocess.run(["bash", "-n", str(REPO / ".ci" / "slurm" / script)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    assert "@DIR@" in (REPO / ".ci" / "slurm" / "slurm.conf.in").read_text()


def test_compare_runs_reports_every_difference(tmp_path: Path) -> None:
    """The comparison used on the SLURM run: a changed byte, a missing file and a changed loci value all count;
    only the ``seconds`` column of finemap loci tables is ignored."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    compare = _load_compare()
    runs = [tmp_path / "a", tmp_path / "b"]
    for i, run in enumerate(runs):
        (run / "results" / "finemap" / "m" / "T").mkdir(parents=True)
        (run / "resources").mkdir()
        (run / "results" / "x.tsv").write_text("a\tb\n1\t2\n")
        pq.write_table(pa.table({"locus_id": ["L1"], "n": [3], "seconds": [0.5 + i]}),
                       run / "results" / "finemap" / "m" / "T" / "c000.loci.parquet")
    rows = compare.compare_runs(*runs)
    assert [(r["path"], r["method"], r["equal"]) for r in rows] == [
        ("results/finemap/m/T/c000.loci.parquet", "table-seconds", True),
        ("results/x.tsv", "bytes", True),
    ]
    (runs[1] / "results" / "x.tsv").write_text("a\tb\n1\t3\n")
    (runs[1] / "resources" / "only_b.json").write_text("{}")
    pq.write_table(pa.table({"locus_id": ["L1"], "n": [4], "seconds": [0.5]}),
                   runs[1] / "results" / "finemap" / "m" / "T" / "c000.loci.parquet")
    bad = {r["path"]: r for r in compare.compare_runs(*runs) if not r["equal"]}
    assert set(bad) == {"results/x.tsv", "resources/only_b.json", "results/finemap/m/T/c000.loci.parquet"}
    assert bad["results/finemap/m/T/c000.loci.parquet"]["note"] == "values differ"


# ---------------------------------------------------------------------------------------------------------
# On the real scheduler


@pytest.mark.slow  # ~10 min of SLURM polling on 2 cores: .ci/run runs it as its own step after the default suite
def test_example_on_slurm_equals_the_local_run(slurm_env: dict[str, str], example_run: Path,
                                               tmp_path: Path) -> None:
    """The README example through --profile profiles/slurm: every job submitted to SLURM, every output file
    identical to the local run's (finemap loci tables: all but their timing column)."""
    root = copy_workflow(tmp_path / "slurm")
    r = _snakemake_in(root, "--profile", str(PROFILE), *CI_SLURM_ARGS, env=slurm_env)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-5000:]
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    n_jobs = int(re.search(r"(\d+) of \1 steps \(100%\) done", log).group(1))
    assert len(submitted) == n_jobs - 1, "every job but the local target rule `all` goes through sbatch"
    rows = _load_compare().compare_runs(example_run, root)
    differ = [r for r in rows if not r["equal"]]
    assert not differ, differ
    paths = {r["path"] for r in rows}
    assert any(p.endswith(".loci.parquet") for p in paths) and any(p.endswith(".tsv") for p in paths)
    assert sum(r["method"] == "table-seconds" for r in rows) == sum(p.endswith(".loci.parquet") for p in paths)


HOG_WORKFLOW = """
include: {resources_smk!r}


rule hog:
    output:
        "hog.json",
    threads: threads("hog")
    resources:
        mem_mb=mem_mb("hog"),
        runtime=runtime("hog"),
        slurm_partition=partition("hog"),
    run:
        import json, os, subprocess, time
        import numpy as np

        # Grow this process to 1.5x the rule's base memory: over the first allocation (1x), under the
        # second (2x). The accounting poller samples every second, so hold the memory for a few seconds.
        base = config["resources"]["hog"]["mem_mb"]
        with open("/proc/self/status") as fh:
            rss_kb = next(int(l.split()[1]) for l in fh if l.startswith("VmRSS:"))
        block = np.ones(max(int(1.5 * base * 2**20) - rss_kb * 1024, 0) // 8)
        time.sleep(6)
        job = subprocess.run(["scontrol", "show", "job", os.environ["SLURM_JOB_ID"]],
                             capture_output=True, text=True).stdout
        with open(output[0], "w") as fh:
            json.dump({{"mem_mb": resources.mem_mb, "bytes_held": block.nbytes, "scontrol": job}}, fh)
"""


def test_job_over_its_memory_is_killed_then_retried_with_twice_the_memory(tmp_path: Path,
                                                                         slurm_env: dict[str, str]) -> None:
    partition = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True,
                               env=slurm_env).stdout.split()[0].rstrip("*")
    cpus = min(2, os.cpu_count() or 1)
    (tmp_path / "workflow").mkdir()
    (tmp_path / "workflow" / "Snakefile").write_text(
        HOG_WORKFLOW.format(resources_smk=str(REPO / "workflow" / "rules" / "resources.smk")))
    (tmp_path / "resources.yaml").write_text(yaml.safe_dump({"resources": {
        "hog": {"mem_mb": 500, "runtime": 3, "threads": cpus, "slurm_partition": partition}}}))
    r = _snakemake_in(tmp_path, "--profile", str(PROFILE), *CI_SLURM_ARGS, "--configfile", "resources.yaml",
                      env=slurm_env, timeout=600)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-5000:]
    assert "Trying to restart job" in log
    first_logs = [p for p in (tmp_path / ".snakemake" / "slurm_logs" / "rule_hog").glob("*.log")
                  if "exceeded memory limit" in p.read_text()]
    assert first_logs, "attempt 1 was not killed for memory"
    out = json.loads((tmp_path / "hog.json").read_text())
    assert out["mem_mb"] == 1000
    assert out["bytes_held"] > 0
    # what SLURM granted attempt 2: 2x memory and runtime, the rule's threads and partition from config
    assert re.search(r"\bMinMemoryNode=1000M\b", out["scontrol"]), out["scontrol"]
    assert re.search(r"\bTimeLimit=00:06:00\b", out["scontrol"]), out["scontrol"]
    assert re.search(rf"\bPartition={re.escape(partition)}\b", out["scontrol"]), out["scontrol"]
    assert re.search(rf"\bNumCPUs={cpus}\b", out["scontrol"]), out["scontrol"]
