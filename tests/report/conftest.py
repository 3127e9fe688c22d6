"""The smoke table launched once for every report test that reads finished runs."""
import pytest

from benchmark.cli import main


@pytest.fixture(scope="session")
def smoke_home(tmp_path_factory):
    """A workdir with the smoke table's three runs finished (records, scalar logs, TensorBoard files)."""
    work = tmp_path_factory.mktemp("report") / "work"
    assert main(["launch", "--table", "smoke", "--workdir", str(work), "--quiet"]) == 0
    return work
