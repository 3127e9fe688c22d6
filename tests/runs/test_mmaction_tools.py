"""mmaction2's own tools on our configs and checkpoints: what a user of mmaction2 runs."""
import subprocess
import sys
from pathlib import Path

import mmaction
import pytest
import torch

from benchmark.runs import job
from benchmark.runs.records import read_record
from benchmark.runs.spec import run_dir
from benchmark.runs.tables import build_table_data, table_runs

TOOLS = Path(mmaction.__file__).parent / ".mim" / "tools"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The smoke table's tiny VidTr, trained for 2 epochs by the harness (checkpoints epoch_1, epoch_2)."""
    home = tmp_path_factory.mktemp("tools")
    build_table_data("smoke", str(home / "data"))
    spec = table_runs("smoke", str(home / "data"), rows=["tiny VidTr"])[0]
    job.execute(spec, home)
    wd = run_dir(home, spec)
    return dict(home=home, spec=spec, wd=wd, config=wd / "smoke.py", record=read_record(home, spec))


def _python(code: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_checkpoints_load_with_torchs_default_weights_only_allowlist(trained):
    for ckpt in ("epoch_1.pth", "epoch_2.pth"):
        path = str(trained["wd"] / ckpt)
        # a fresh interpreter with torch alone: nothing added to the allowlist, no getattr, no numpy
        bare = _python("import sys, torch; c = torch.load(sys.argv[1], weights_only=True); "
                       "print(sorted(c), c['meta']['epoch'])", path)
        assert bare.returncode == 0, bare.stderr[-2000:]
        assert "'message_hub', 'meta', 'optimizer', 'param_schedulers', 'state_dict'" in bare.stdout
        # ... and one that imported vidtr: it registers no extra safe globals either
        safe = _python("import sys, torch, vidtr; from torch.serialization import get_safe_globals; "
                       "names = [getattr(g, '__qualname__', str(g)) for g in get_safe_globals()]; "
                       "print([n for n in names if 'History' in n or 'getattr' in n or 'numpy' in n.lower()]); "
                       "torch.load(sys.argv[1], weights_only=True)", path)
        assert safe.returncode == 0 and safe.stdout.strip() == "[]", safe.stderr[-2000:]


def test_mmaction2_test_tool_evaluates_a_harness_checkpoint(trained, tmp_path):
    run = subprocess.run([sys.executable, str(TOOLS / "test.py"), str(trained["config"]),
                          str(trained["wd"] / "epoch_2.pth"), "--work-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    top1 = trained["record"]["metrics"]["top1"]
    assert f"acc/top1: {top1 / 100:.4f}" in run.stdout + run.stderr  # the same score the record holds


def test_resume_restores_iteration_learning_rate_optimizer_moments_and_history(trained, tmp_path):
    from mmengine.config import Config
    from mmengine.runner import Runner

    ckpt = trained["wd"] / "epoch_1.pth"
    saved = torch.load(ckpt, weights_only=True)
    cfg = Config.fromfile(str(trained["config"]))
    cfg.work_dir, cfg.resume, cfg.load_from = str(tmp_path), True, str(ckpt)
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    assert (runner.train_loop.epoch, runner.train_loop.iter) == (saved["meta"]["epoch"], saved["meta"]["iter"])
    state = runner.optim_wrapper.optimizer.state_dict()
    assert state["param_groups"][0]["lr"] == saved["optimizer"]["param_groups"][0]["lr"]
    moments = [(k, v["momentum_buffer"]) for k, v in saved["optimizer"]["state"].items()]
    assert moments and all(torch.equal(state["state"][k]["momentum_buffer"], m) for k, m in moments)
    lr = runner.message_hub.get_scalar("train/lr")  # a HistoryBuffer again, with the saved history
    assert type(lr).__name__ == "HistoryBuffer"
    assert lr.data[0].tolist() == saved["message_hub"]["log_scalars"]["train/lr"]["log_history"].tolist()


def test_mmaction2_train_tool_resumes_a_harness_run(trained, tmp_path):
    import shutil

    wd = tmp_path / "run"
    shutil.copytree(trained["wd"], wd)
    (wd / "last_checkpoint").write_text(str(wd / "epoch_1.pth"))  # as if preempted after epoch 1
    run = subprocess.run([sys.executable, str(TOOLS / "train.py"), str(trained["config"]), "--work-dir", str(wd),
                          "--resume"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    assert "resumed epoch: 1" in log and "Epoch(train) [2]" in log and "Epoch(train) [1]" not in log
