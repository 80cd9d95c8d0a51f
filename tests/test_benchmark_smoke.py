"""The benchmark harness starts and produces its tables (not a measurement: --quick)."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT


def test_harness_runs_quick(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick",
                        "--runs", "1", "--no-chart", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "| luatrap, intercepting rule |" in r.stdout
    assert "| luatrap emulate, rule on getpid |" in r.stdout  # the gzip table
    assert "luatrap's start-up over native" in r.stdout
    data = json.loads((tmp_path / "latest.json").read_text())
    assert data["quick"] is True and data["results"]
