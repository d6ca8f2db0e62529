import pytest

from host_tools import deploy
from tests.host.virtual import SimProcess


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
