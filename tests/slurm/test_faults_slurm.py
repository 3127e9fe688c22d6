"""Hostile input to the Slurm side: bad cluster profiles, a partition that does not exist, a
request no node can hold, a job that waits, squeue that does not answer. Each failure is one
line naming the file, the key, the value and what was expected. sinfo and squeue are fake
scripts on PATH: no cluster is needed."""
import os
import textwrap

import pytest

from benchmark.cli import main
from benchmark.runs.state import status, update_manifest
from benchmark.runs.tables import table_runs
from slurm import launcher as sl
from slurm import queue

GOOD = dict(partition="debug", gpus_per_node=0, cpus_per_task=1, mem_gb=2, timeout_min=30)


def _profile(tmp_path, text=None, **values):
    path = tmp_path / "x.yaml"
    path.write_text(text if text is not None else "".join(f"{k}: {v}\n" for k, v in dict(GOOD, **values).items()))
    return path


def _error(path) -> str:
    with pytest.raises(sl.ProfileError) as e:
        sl.load_profile(str(path))
    assert "\n" not in str(e.value)
    return str(e.value)


def _fake(tmp_path, monkeypatch, name, script):
    """A fake Slurm command ``name`` first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).write_text("#!/bin/sh\n" + textwrap.dedent(script))
    (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize("key,value,expected", [
    ("timeout_min", "-5", "timeout_min = -5: expected a whole number of minutes >= 1"),
    ("gpus_per_node", "two", "gpus_per_node = 'two': expected a whole number >= 0"),
    ("mem_gb", "lots", "mem_gb = 'lots': expected a number of GB > 0"),
    ("mem_gb", ".inf", "mem_gb = inf: expected a number of GB > 0"),
    ("cpus_per_task", "0", "cpus_per_task = 0: expected a whole number >= 1"),
    ("cpus_per_task", "2.5", "cpus_per_task = 2.5: expected a whole number >= 1"),
    ("partition", '""', "partition = '': expected a partition name"),
    ("setup", "module load cuda", "setup = 'module load cuda': expected a list of shell commands"),
    ("account", '"me\\n#SBATCH --exclusive"', "account = 'me\\n#SBATCH --exclusive': expected a non-empty one-line"),
])
def test_bad_profile_value_names_file_key_value_and_expectation(tmp_path, key, value, expected):
    message = _error(_profile(tmp_path, **{key: value}))
    assert message.startswith(f"cluster profile {tmp_path / 'x.yaml'}: {key} = ") and expected in message


def test_yaml_boolean_is_not_a_number(tmp_path):
    message = _error(_profile(tmp_path, gpus_per_node="yes"))
    assert f"{tmp_path / 'x.yaml'}: gpus_per_node = True: expected a whole number >= 0" in message
    assert "YAML reads yes/no" in message


def test_signal_delay_must_fall_inside_the_time_limit(tmp_path):
    assert "signal_delay_s = 600: expected fewer seconds than timeout_min x 60 (300)" in _error(
        _profile(tmp_path, timeout_min=5, signal_delay_s=600))
    assert "timeout_min = 1: expected more than 2 minutes, the default signal_delay_s (120 s" in _error(
        _profile(tmp_path, timeout_min=1))


def test_garbage_yaml_names_file_and_line(tmp_path):
    message = _error(_profile(tmp_path, "partition: [debug\ntimeout_min: 5\n"))
    assert message.startswith(f"cluster profile {tmp_path / 'x.yaml'}: not valid YAML: ")
    assert "(line 2, column" in message


def test_top_level_list_is_named(tmp_path):
    message = _error(_profile(tmp_path, "- partition: debug\n- timeout_min: 5\n"))
    assert message == (f"cluster profile {tmp_path / 'x.yaml'}: expected 'key: value' lines at the top level, "
                       "got a YAML list")


def test_shipped_profiles_are_valid():
    for name in sl.list_profiles():
        assert sl.load_profile(name).source.endswith(f"{name}.yaml")


SINFO = """\
case "$*" in
  *-a*-p*) echo 'sinfo: error: Conflicting options, -a and -p, specified.' >&2; exit 1 ;;  # as the real one
  *%P*) printf 'debug*\\ngpu\\n' ;;
  *) printf 'node1 2 1800 (null)\\nnode2 2 1800+ (null)\\n' ;;
esac
"""


def test_unknown_partition_names_the_partitions_that_exist(tmp_path, monkeypatch):
    _fake(tmp_path, monkeypatch, "sinfo", SINFO)
    profile = sl.load_profile(str(_profile(tmp_path, partition="gpux")))
    task = sl.Task("r", "r", print, ())
    with pytest.raises(sl.ProfileError) as e:
        sl.submit_slurm([task], tmp_path / "submitit", profile, set())
    assert str(e.value) == (f"cluster profile {tmp_path / 'x.yaml'}: partition = 'gpux': no such partition on "
                            "this cluster; partitions: debug*, gpu (* = the default)")
    assert not (tmp_path / "submitit").exists()  # nothing was submitted


def test_request_larger_than_any_node_says_what_no_node_has(tmp_path, monkeypatch):
    _fake(tmp_path, monkeypatch, "sinfo", SINFO)
    task = sl.Task("r", "r", print, ())
    with pytest.raises(sl.ProfileError) as e:
        sl.submit_slurm([task], tmp_path, sl.load_profile(str(_profile(tmp_path, cpus_per_task=64))), set())
    assert str(e.value) == (f"cluster profile {tmp_path / 'x.yaml'}: asks 64 CPUs per node (1 task x 64 "
                            "cpus_per_task); the largest node in partition debug has 2: Slurm could never start it")
    with pytest.raises(sl.ProfileError, match=r"asks 4 GB per node \(mem_gb\); the largest node in partition "
                                              r"debug has 1.8 GB"):
        sl.check_partition(sl.load_profile(str(_profile(tmp_path, mem_gb=4))))
    with pytest.raises(sl.ProfileError, match=r"asks 3 node\(s\) with 1 CPUs, 1 GB and 0 GPUs each; partition "
                                              r"debug has 2"):
        sl.check_partition(sl.load_profile(str(_profile(tmp_path, mem_gb=1, nodes=3))))
    with pytest.raises(sl.ProfileError, match=r"asks 8 GB per node .*could never start its light jobs"):
        sl.check_partition(sl.load_profile(str(_profile(tmp_path, mem_gb=1))), {True})
    sl.check_partition(sl.load_profile(str(_profile(tmp_path, cpus_per_task=2, mem_gb=1, nodes=2))))  # fits


def test_gpus_are_checked_when_sinfo_shows_gres(tmp_path, monkeypatch):
    _fake(tmp_path, monkeypatch, "sinfo", """\
        case "$*" in
          *%P*) echo gpu ;;
          *) echo 'g1 64 500000 gpu:a100:4(S:0-1)' ;;
        esac
        """)
    with pytest.raises(sl.ProfileError, match=r"asks 8 GPUs per node \(gpus_per_node\); the most "
                                              r"any node in partition gpu has is 4"):
        sl.check_partition(sl.load_profile(str(_profile(tmp_path, partition="gpu", gpus_per_node=8))))
    sl.check_partition(sl.load_profile(str(_profile(tmp_path, partition="gpu", gpus_per_node=4, cpus_per_task=16))))


def test_partition_is_not_checked_when_sinfo_cannot_be_asked(tmp_path, monkeypatch):
    _fake(tmp_path, monkeypatch, "sinfo", "echo 'Unable to contact slurm controller' >&2; exit 1\n")
    sl.check_partition(sl.load_profile(str(_profile(tmp_path, partition="anything", cpus_per_task=999))))


def _slurm_run(tmp_path, job_id="4242"):
    home = tmp_path / "work"
    spec = table_runs("smoke", str(tmp_path / "data"))[0]
    update_manifest(home, "smoke", spec.run_id, executor="slurm", job_id=job_id, state="submitted")
    return home, spec


@pytest.mark.parametrize("line,expected", [
    ("4242 PENDING Resources", "pending: Resources"),
    ("4242 PENDING ReqNodeNotAvail, UnavailableNodes:node1",
     "pending: ReqNodeNotAvail, UnavailableNodes:node1: Slurm may never start it as asked; see `scontrol show job "
     "4242`, then fix the cluster profile, scancel 4242 and launch again"),
])
def test_status_shows_why_a_job_is_pending(tmp_path, monkeypatch, line, expected):
    _fake(tmp_path, monkeypatch, "squeue", f"echo '1 RUNNING None'; echo '{line}'\n")
    home, spec = _slurm_run(tmp_path)
    row = status("smoke", [spec], home)[0]
    assert (row["state"], row["job_id"], row["error"]) == ("pending", "4242", expected)


@pytest.mark.parametrize("script", ["echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2; exit 1",
                                    "exec sleep 30"])
def test_status_is_unknown_when_squeue_fails_or_hangs(tmp_path, monkeypatch, script):
    _fake(tmp_path, monkeypatch, "squeue", script + "\n")
    monkeypatch.setattr(queue, "SQUEUE_TIMEOUT_S", 1)
    home, spec = _slurm_run(tmp_path)
    row = status("smoke", [spec], home)[0]
    assert row["state"] == "unknown"
    assert row["error"] == ("squeue did not answer (failed or timed out), so the state of slurm job 4242 is unknown; "
                            "check `squeue -j 4242` (is SLURM_CONF set and slurmctld up?)")


def test_cli_prints_a_bad_profile_as_one_line(tmp_path):
    bad = _profile(tmp_path, gpus_per_node="two")
    with pytest.raises(SystemExit) as e:
        main(["launch", "--table", "smoke", "--executor", "slurm", "--cluster", str(bad), "--workdir", str(tmp_path),
              "--dry-run"])
    assert str(e.value) == (f"vidtr-bench launch: cluster profile {bad}: gpus_per_node = 'two': expected a whole "
                            "number >= 0")


def test_a_key_given_twice_is_named_with_both_lines(tmp_path):
    """PyYAML keeps the last of two equal keys silently: a profile with a second 'partition:'
    appended would run on it while its first line says otherwise."""
    text = "".join(f"{k}: {v}\n" for k, v in GOOD.items()) + "partition: big\n"
    message = _error(_profile(tmp_path, text))
    assert message.startswith(f"cluster profile {tmp_path / 'x.yaml'}: not valid YAML: ")
    assert "key 'partition' is given twice (lines 1 and 6)" in message and "(line 6, column 1)" in message
    assert sl.load_profile(str(_profile(tmp_path)))["partition"] == "debug"  # one of each: fine


def test_sinfo_is_asked_once_per_launch(tmp_path, monkeypatch):
    """launch checks the partition before anything goes out; submit_slurm is told, and does not ask again."""
    from benchmark.runs.launch import launch
    from benchmark.smoke import runs

    calls = tmp_path / "sinfo_calls"
    _fake(tmp_path, monkeypatch, "sinfo", f'echo "$*" >> {calls}\n' + SINFO)
    profile = _profile(tmp_path, partition="gpux")
    with pytest.raises(sl.ProfileError, match="partition = 'gpux': no such partition"):
        sl.submit_slurm([], tmp_path / "submitit", sl.load_profile(str(profile)), set())
    calls.unlink()
    assert sl.submit_slurm([], tmp_path / "submitit", sl.load_profile(str(profile)), set(),
                           partition_checked=True) == {}
    assert not calls.exists()  # told it was checked: sinfo not asked

    seen = {}
    monkeypatch.setattr(sl, "submit_slurm", lambda *a, **k: seen.update(k) or {})
    launch("smoke", runs(str(tmp_path / "data"))[:1], tmp_path / "home", executor="slurm",
           cluster=str(_profile(tmp_path, mem_gb=1)), progress=False, out=lambda *_: None)
    assert seen.get("partition_checked") is True
    assert len(calls.read_text().splitlines()) == 2  # the partition list and its nodes, once
