"""The README as a new user follows it: its quick-start block, run in a clean login shell, and the
command line's `--help`, answered before any heavy library is imported."""
import os
import re
import subprocess
import sys

import pytest

from benchmark import REPO

README = REPO / "README.md"


def quick_start() -> str:
    """The commands between the README's quick-start markers."""
    text = README.read_text()
    block = re.search(r"<!-- quick-start[^>]*-->\s*```bash\n(.*?)```\s*<!-- /quick-start -->", text, re.S)
    assert block, "README.md has no quick-start block between <!-- quick-start --> markers"
    return block.group(1)


def test_the_quick_start_names_the_environment_and_the_first_experiment():
    lines = [ln.split("#")[0].strip() for ln in quick_start().splitlines() if ln.split("#")[0].strip()]
    assert lines[0] == "source .venv/bin/activate"
    assert lines[1:] == ["vidtr-bench launch --table smoke", "vidtr-bench status --table smoke",
                         "vidtr-bench report --table smoke"]
    first_screen = README.read_text().split("## One command per job")[0]
    assert "make demo" in first_screen and "make test" in first_screen and "make setup" in first_screen


@pytest.mark.slow
def test_the_quick_start_runs_as_written_in_a_clean_shell(tmp_path):
    """`bash -l` with nothing of this session's environment: no activated venv, no PYTHONPATH
    of ours beyond the checkout (the venv may be an editable install of another checkout), runs
    under a fresh $VIDTR_BENCH_HOME; the commands must work as the README writes them."""
    if not (REPO / ".venv" / "bin" / "activate").exists():
        pytest.skip("no .venv in the checkout (make setup creates it; make test runs it first)")
    env = {"HOME": str(tmp_path), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "PYTHONPATH": str(REPO), "VIDTR_BENCH_HOME": str(tmp_path / "work")}
    script = "set -euo pipefail\n" + quick_start()
    run = subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in env.items()), "bash", "-lc", script], cwd=REPO,
                         capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    assert out.count(" done ") >= 3  # status: the three smoke runs
    assert "## Table smoke: smoke table" in out and "Runs behind the cells:" in out
    assert len(list((tmp_path / "work" / "runs").glob("*/record.json"))) == 3


def test_help_imports_no_heavy_library():
    """`vidtr-bench --help` and a subcommand's `--help` parse before torch, mmengine, mmaction2,
    pandas or matplotlib are imported (the figures: `farm-bench -- python -m benchmark.cli --help`)."""
    code = ("import sys\nfrom benchmark.cli import main\n"
            "for argv in (['--help'], ['launch', '--help'], ['compare', '--help'], ['curves', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "heavy = sorted(m for m in ('torch', 'mmengine', 'mmaction', 'pandas', 'matplotlib', 'numpy', 'vidtr')"
            " if m in sys.modules)\nprint('HEAVY', heavy)\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "HEAVY []" in run.stdout and "vidtr-bench compare" in run.stdout
