# Resources of every rule, in one place = the config's `resources` block (a key per rule name, `default` applies
# to all; src/twasflow/schemas/config.schema.yaml documents the keys). Each rule sets its threads with
# threads("name") and its resources with **rule_resources("name"). Memory and runtime grow with the attempt number, so a job that SLURM
# kills for memory or time comes back with 2x, then 3x (the profiles set `retries`). Kept apart from
# common.smk so a test workflow can include exactly these helpers (tests/test_slurm.py runs a job that exceeds
# its first allocation).
from twasflow import workflow_helpers as wh


def mem_mb(rule_name):
    """Memory (MB) for a rule, scaled by attempt so a retried job asks for more."""
    base = wh.resource(config, rule_name, "mem_mb")
    return lambda wildcards, attempt: base * attempt


def runtime(rule_name):
    """Wall-time limit (minutes) for a rule, scaled by attempt like memory."""
    base = wh.resource(config, rule_name, "runtime")
    return lambda wildcards, attempt: base * attempt


def threads(rule_name):
    """Threads for a rule; on SLURM they become --cpus-per-task (the profile must not set cpus_per_task)."""
    return wh.resource(config, rule_name, "threads")


def partition(rule_name):
    """SLURM partition for a rule = resources.<rule>.slurm_partition, else resources.default's, else ''.

    An empty string lets the executor plugin submit to the cluster's default partition; local runs ignore it.
    """
    return wh.partition(config, rule_name)


def rule_resources(rule_name):
    """Every resource of a rule (memory, runtime, SLURM partition), spread into its resources directive."""
    return {"mem_mb": mem_mb(rule_name), "runtime": runtime(rule_name), "slurm_partition": partition(rule_name)}
