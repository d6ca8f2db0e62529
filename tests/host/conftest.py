import os
import tempfile

import pytest

from host_tools import deploy
from tests.host.virtual import SimProcess


@pytest.fixture(autouse=True, scope="session")
def own_virtual_board_registry():
    """Virtual boards note their ports where port auto-detection finds them (virtual_board.running_ports);
    a registry of this session's own keeps boards that other test runs on this machine start out of it."""
    saved = os.environ.get("XDG_RUNTIME_DIR")
    with tempfile.TemporaryDirectory(prefix="gullwing-test-run-") as folder:
        os.environ["XDG_RUNTIME_DIR"] = folder
        yield
    if saved is None:
        os.environ.pop("XDG_RUNTIME_DIR", None)
    else:
        os.environ["XDG_RUNTIME_DIR"] = saved


@pytest.fixture
def board(tmp_path):
    """A virtual ESP32-DevKitC with an empty flash folder and a trace file."""
    sim = SimProcess(tmp_path / "flash", trace=tmp_path / "trace.csv")
    yield sim
    sim.stop()


@pytest.fixture
def deployed(tmp_path):
    """A virtual board running gullwing, with a trace file."""
    sim = SimProcess(tmp_path / "flash", trace=tmp_path / "trace.csv")
    deploy.deploy(port=sim.port, progress=False)
    yield sim
    sim.stop()
