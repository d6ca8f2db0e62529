"""The `gullwing` command and the mpy-cross build of the firmware."""

import shutil
import subprocess
import sys

from click.testing import CliRunner

from host_tools import FIRMWARE_DIR, __version__, build
from host_tools.cli import cli


def test_version_is_the_firmware_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == "gullwing, version " + __version__
    assert '"' + __version__ + '"' in (FIRMWARE_DIR / "gullwing" / "__init__.py").read_text()


def test_help_lists_usage():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.output


def test_console_script_is_installed():
    exe = shutil.which("gullwing", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert exe, "pip install -e . did not install the gullwing script"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    assert __version__ in out


def test_every_firmware_file_compiles():
    assert build.check() == []


def test_build_gives_mpy_for_the_package_and_source_for_main(tmp_path):
    files = build.build(tmp_path)
    assert "main.py" in files and files["main.py"] == FIRMWARE_DIR / "main.py"
    assert "gullwing/__init__.mpy" in files
    assert files["gullwing/__init__.mpy"].read_bytes()[:1] == b"M"  # .mpy magic


def test_syntax_micropython_lacks_fails_the_build_naming_the_file(tmp_path):
    fw = tmp_path / "fw"
    shutil.copytree(FIRMWARE_DIR, fw)
    (fw / "gullwing" / "doors.py").write_text(
        "def pick(side):\n    match side:\n        case 'left':\n            return 0\n    return 1\n")
    errors = build.check(fw)
    assert len(errors) == 1
    assert "firmware/gullwing/doors.py" in errors[0]
