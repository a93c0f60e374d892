#!/usr/bin/env bash
# A normal (non-editable) install works from outside the source tree: the shipped sweeps and mask
# specs are package data. Installs `pip install .` into a throwaway venv that sees the system's
# packages (torch and the rest are already there), then runs the main commands in a temp folder.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dipheal-installed.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
python -m venv --system-site-packages "$WORK/venv"
"$WORK/venv/bin/pip" install -q --no-deps "$SRC" >"$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log"; exit 1; }
cd "$WORK"
PY="$WORK/venv/bin/python"
"$PY" - <<'PYEOF'
import dip_heal, pathlib
where = pathlib.Path(dip_heal.__file__).resolve()
assert "venv" in where.parts, f"dip_heal imported from {where}, not the venv's install"
from dip_heal.io import write_image
from dip_heal.synthetic import synthetic_frame
s = synthetic_frame((64, 64), detector=None, seed=1)
c = s.counts.copy()
c[30:34, :] = -1
write_image("frame.cbf", c)
print(f"installed dip-heal at {where.parent}")
PYEOF
"$WORK/venv/bin/dip-heal" -q fit frame.cbf --grid --trials 2 --iters 4 --out sweep --no-progress
"$WORK/venv/bin/dip-heal" -q mask frame.cbf --spec pilatus-saxs --out frame_mask.npy
test -f sweep/sweep.json && test -f frame_mask.npy
echo "installed.sh: a non-editable install runs fit --grid and mask --spec pilatus-saxs from $WORK"
