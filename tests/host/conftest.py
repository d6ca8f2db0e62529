import pytest

from tests.host.virtual import SimProcess


@pytest.fixture
def board(tmp_path):
    """A virtual ESP32-DevKitC with an empty flash folder and a trace file."""
    sim = SimProcess(tmp_path / "flash", trace=tmp_path / "trace.csv")
    yield sim
    sim.stop()
