"""Real packs installed with pip into a fresh environment, found through entry points.

One virtual environment per module: it sees this environment's packages
(harmonia and its dependencies) through a ``.pth`` file, and pip installs two
throwaway distributions into it: ``harmonia-hello`` (a working pack) and
``harmonia-broken`` (fails at import). The CLI then runs there as a
subprocess, exactly as a market analyst runs it.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HELLO = """
from harmonia import IdentifierScheme, hookimpl

@hookimpl
def harmonia_identifier_schemes():
    return [IdentifierScheme(name="HELLO", country="NL", pattern=r"\\d{4}",
                             description="four digits")]
"""

BROKEN = """
import harmonia_vendor_sdk  # not installed: the pack cannot be imported
"""


#: A complete PEP 517 build backend in a few lines, shipped inside each test
#: distribution: the test then needs neither setuptools nor wheel nor an index.
BACKEND = """
import base64, hashlib, pathlib, tomllib, zipfile

def _record(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    project = tomllib.loads(pathlib.Path("pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    stem = name.replace("-", "_")
    info = f"{stem}-{version}.dist-info"
    files = {path.as_posix(): path.read_bytes() for path in pathlib.Path(stem).rglob("*.py")}
    metadata = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n"
    files[f"{info}/METADATA"] = metadata.encode()
    wheel = "Wheel-Version: 1.0\\nGenerator: tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files[f"{info}/WHEEL"] = wheel.encode()
    points = "".join(f"{k} = {v}\\n" for k, v in project["entry-points"]["harmonia"].items())
    files[f"{info}/entry_points.txt"] = f"[harmonia]\\n{points}".encode()
    record = [_record(path, data) for path, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\\n".join(record) + "\\n").encode()
    filename = f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / filename, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return filename
"""


def _distribution(root: Path, name: str, entry_point: str, source: str) -> Path:
    folder = root / name
    module = name.replace("-", "_")
    (folder / module).mkdir(parents=True)
    (folder / module / "__init__.py").write_text(textwrap.dedent(source))
    (folder / "backend.py").write_text(BACKEND)
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = []
            build-backend = "backend"
            backend-path = ["."]

            [project]
            name = "{name}"
            version = "0.4.2"
            dependencies = ["harmonia"]

            [project.entry-points.harmonia]
            {entry_point} = "{module}"
            """
        )
    )
    return folder


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a fresh venv with harmonia-hello and harmonia-broken installed."""
    root = tmp_path_factory.mktemp("packs")
    venv = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
    )
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Why: this environment may itself be a virtualenv (tox, a dev venv) whose
    # packages --system-site-packages does not reach; addsitedir also runs
    # their .pth files, which editable installs rely on.
    lines = [f"import site; site.addsitedir({path!r})" for path in site.getsitepackages()]
    (Path(purelib) / "outer_environment.pth").write_text("\n".join(lines) + "\n")
    for name, entry_point, source in (
        ("harmonia-hello", "hello", HELLO),
        ("harmonia-broken", "broken", BROKEN),
    ):
        folder = _distribution(root / "src", name, entry_point, source)
        subprocess.run(
            [
                *(str(python), "-m", "pip", "install", "--quiet", "--no-deps"),
                *("--no-build-isolation", "--disable-pip-version-check", str(folder)),
            ],
            check=True,
            capture_output=True,
        )
    return python


def harmonia(python: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run the harmonia CLI in the test environment."""
    variables = {
        key: value
        for key, value in os.environ.items()
        if key not in ("HARMONIA_STRICT_PLUGINS", "HARMONIA_LOAD_PLUGINS", "COLUMNS")
    }
    variables.update(
        HARMONIA_DATABASE_URL=str(python.parent.parent / "harmonia.db"), COLUMNS="200", **env
    )
    code = "import sys; from harmonia.cli import main; sys.exit(main(prog_name='harmonia'))"
    return subprocess.run(
        [str(python), "-c", code, *args], capture_output=True, text=True, env=variables
    )


def test_an_installed_pack_is_listed_with_its_distribution_and_version(environment: Path) -> None:
    result = harmonia(environment, "plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    packs = {pack["name"]: pack for pack in json.loads(result.stdout)["packs"]}
    hello = packs["hello"]
    assert (hello["distribution"], hello["version"]) == ("harmonia-hello", "0.4.2")
    assert hello["hooks"] == ["harmonia_identifier_schemes"]
    assert hello["provides"] == {"identifiers": ["HELLO"]}
    assert hello["builtin"] is False and hello["error"] is None


def test_a_broken_pack_does_not_take_help_down(environment: Path) -> None:
    result = harmonia(environment, "--help")
    assert result.returncode == 0, result.stderr
    assert "Commands:" in result.stdout and "plugins" in result.stdout
    assert "harmonia-broken" in result.stderr and "pip uninstall harmonia-broken" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broken_pack_is_listed_with_its_error_and_a_warning(environment: Path) -> None:
    result = harmonia(environment, "plugins", "list", "--json")
    document = json.loads(result.stdout)
    broken = next(pack for pack in document["packs"] if pack["name"] == "broken")
    assert broken["distribution"] == "harmonia-broken"
    assert "harmonia_vendor_sdk" in broken["error"]
    assert any("harmonia-broken" in warning for warning in document["warnings"])
    table = harmonia(environment, "plugins", "list")
    assert table.returncode == 0
    assert "warning: pack 'broken'" in table.stderr
    assert "hello" in table.stdout


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--strict", "plugins", "list"), {}),
        (("plugins", "list"), {"HARMONIA_STRICT_PLUGINS": "1"}),
    ],
)
def test_strict_mode_makes_a_broken_pack_fatal_with_a_clear_message(
    environment: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    result = harmonia(environment, *args, **env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "harmonia-broken" in result.stderr and "harmonia_vendor_sdk" in result.stderr
    assert "pip uninstall harmonia-broken" in result.stderr


def test_the_allow_list_keeps_a_broken_pack_out(environment: Path) -> None:
    result = harmonia(
        environment, "--strict", "plugins", "list", "--json", HARMONIA_LOAD_PLUGINS="hello"
    )
    assert result.returncode == 0, result.stderr
    names = [pack["name"] for pack in json.loads(result.stdout)["packs"]]
    assert names == ["hello"]
