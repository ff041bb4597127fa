#!/usr/bin/env bash
# Run the bundled example with an earlier revision of twasflow and with this working tree, and compare every
# output file (.ci/slurm/compare_runs.py: identical bytes; finemap *.loci.parquet: identical tables but for
# their `seconds` timing column). Used for refactors that must not change a result (issue 16).
#
# Usage: benchmarks/compare_to_revision.sh REV [WORKDIR]
#   REV      a git revision (e.g. main, or the commit before the refactor)
#   WORKDIR  scratch directory (default: a new temporary directory); REV's run goes to WORKDIR/old,
#            this tree's run to WORKDIR/new. Each run takes ~3-5 min on 2 cores.
# Exit status: 0 when every file is identical, 1 otherwise. Also writes WORKDIR/{old,new}.sha256.
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:?usage: $0 REV [WORKDIR]}
WORK=${2:-$(mktemp -d)}
PY=${PYTHON:-.venv/bin/python}
mkdir -p "$WORK/old" "$WORK/new"
git archive "$REV" | tar -x -C "$WORK/old"
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$WORK/new" 2>/dev/null || true
for side in old new; do
  echo "== running the example with $side ($( [ $side = old ] && echo "$REV" || echo "working tree"))"
  (cd "$WORK/$side" && PYTHONPATH="$WORK/$side/src" OPENBLAS_NUM_THREADS=1 \
     "$OLDPWD/$PY" -m snakemake --cores "${CORES:-2}" > "$WORK/$side.log" 2>&1) \
     || { echo "the $side run failed: see $WORK/$side.log"; exit 2; }
  (cd "$WORK/$side" && find results resources -type f -print0 | sort -z | xargs -0 sha256sum) > "$WORK/$side.sha256"
done
"$PY" .ci/slurm/compare_runs.py "$WORK/old" "$WORK/new"
