"""The resource plan (ci/plan.py): estimates from the configs, refusals before any work, and an estimate
checked against a measured peak."""
import subprocess
import sys
from pathlib import Path

import pytest

from ci import plan

ROOT = Path(__file__).resolve().parents[1]
PRIMER = ROOT / "book" / "intro" / "kernels_primer.ipynb"


def test_parse_bytes():
    assert plan.parse_bytes("80GB") == 80e9 and plan.parse_bytes("512 MB") == 512e6 and plan.parse_bytes("1000") == 1e3
    with pytest.raises(ValueError, match="memory"):
        plan.parse_bytes("lots")


def test_plan_fits_and_refuses(tmp_path):
    row = plan.plan_notebook(PRIMER, profile="smoke")
    assert not row["error"] and row["peak_bytes"] > 0 and {c["config"] for c in row["configs"]} >= {"WidthConfig"}
    assert plan.verdict(row, device="cpu", gpu_mem=80e9, host_mem=64e9) == "fits"
    assert plan.verdict(row, device="cuda", gpu_mem=1e3, host_mem=64e9).startswith("refused: needs about")


def test_oversized_knob_is_refused_when_the_config_is_built():
    row = plan.plan_notebook(PRIMER, profile="smoke", params={"width": 4194304, "N": 4096})
    assert row["error"] and "NBS_MAX_HOST_GB" in row["error"]


def test_runner_plan_cli_exit_code():
    ok = subprocess.run([sys.executable, "-m", "ci.plan", "--profile", "smoke", "--device", "cpu", str(PRIMER)],
                        cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0 and "fits" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "ci.plan", "--profile", "smoke", "--device", "cpu", "--host-mem",
                          "1MB", str(PRIMER)], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 1 and "refused" in bad.stdout


def test_width_errors_estimate_within_a_factor_two_of_the_measured_peak():
    # The current RSS is sampled during the run (ru_maxrss would also count a transient peak of the imports,
    # e.g. the first compilation of every module in a fresh clone).
    code = (
        "import threading, time, psutil\nimport nbs_lib as nl\nfrom nbs_lib import primer\n"
        "ctx = nl.run_context('cpu', 'cpu', 0, announce=False)\n"
        "cfg = primer.WidthConfig(log2_widths=(14, 15, 16), seeds=16, bootstrap=10)\n"
        "proc = psutil.Process(); base = proc.memory_info().rss; peak = [base]; done = []\n"
        "def watch():\n"
        "    while not done:\n"
        "        peak[0] = max(peak[0], proc.memory_info().rss); time.sleep(0.002)\n"
        "t = threading.Thread(target=watch); t.start()\n"
        "primer.width_errors(cfg, ctx)\n"
        "done.append(1); t.join()\n"
        "print(peak[0] - base, cfg.resources().host_bytes)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    measured, estimated = map(float, out.stdout.split()[-2:])
    assert measured > 0 and 0.5 <= estimated / measured <= 2.0, (estimated, measured)
