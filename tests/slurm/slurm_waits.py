"""Waiting on a real Slurm cluster in tests: for a condition, failing at once (with the run's
error line and log) when a run the test waits on has failed."""
import time

from benchmark.runs.state import status


def wait_for(predicate, timeout, what, work=None, specs=()):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        failed = [r for r in status("smoke", list(specs), work) if r["state"] == "failed"] if specs else []
        if failed:
            raise AssertionError(f"{failed[0]['run_id']} failed: {failed[0]['error']} (log {failed[0]['log']})")
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
