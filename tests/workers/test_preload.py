"""The lazily loaded packages are imported before a worker's first job thread can race the warm-up.

CI once failed two jobs with "Module 'scipy' has no attribute '_lib'": the job imported a scipy
submodule while the warm-up thread was still importing another.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from songforge.workers.measure import PRELOAD, start_warm_up
before = [m for m in PRELOAD if m in sys.modules]
start_warm_up()
print(json.dumps({"before": before, "missing": [m for m in PRELOAD if m not in sys.modules]}))
"""


def test_start_warm_up_returns_with_everything_imported() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, check=True
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert "scipy.ndimage" not in seen["before"], "the probe must start without the packages loaded"
    assert seen["missing"] == []
