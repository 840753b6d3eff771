"""Small things a newcomer trips on (issue 17, point 8), each through the CLI as typed."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from harmonia.plugins import Plugins

README = Path(__file__).parents[1] / "README.md"


@pytest.fixture
def cli_universe(
    harmonia_cli: Callable,
    tiny: Plugins,
    harmonia_database: str,
    sqlite_h1: Path,
    wide_terminal: None,
) -> Callable:
    """``harmonia_cli`` on a SQLite database holding the tiny market's 2027-H1 data."""
    shutil.copyfile(sqlite_h1, harmonia_database.removeprefix("sqlite:///"))
    return harmonia_cli


def test_plugins_alone_lists_the_packs(harmonia_cli: Callable, tiny: Plugins) -> None:
    alone = harmonia_cli("plugins")
    assert alone.exit_code == 0, alone.output
    assert alone.output == harmonia_cli("plugins", "list").output
    assert "tiny" in alone.output and "test-tiny 1.0" in alone.output


def test_the_readme_example_harmonia_toml_is_what_the_workspace_reads(
    harmonia_cli: Callable, tiny: Plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = README.read_text().split("### harmonia.toml", 1)[1]
    example = re.search(r"```toml\n(.*?)```", section, re.S)
    assert example is not None, "the README's harmonia.toml section has no example"
    (tmp_path / "harmonia.toml").write_text(example.group(1))
    (tmp_path / "market").mkdir()
    monkeypatch.chdir(tmp_path / "market")  # found in a parent folder too
    from harmonia import workspace

    found = workspace.find()
    assert found.database and found.engine == "database" and found.output == "out"
    assert [sink.name for sink in found.sinks] == ["csv", "xlsx"]
    assert found.sinks[0].options == {"delimiter": ";", "name": "fr-onco"}
    # A required pack that is not installed at that version: every command says so.
    (tmp_path / "harmonia.toml").write_text(
        example.group(1).replace('"harmonia-oncology"', '"harmonia-oncology>=99"')
    )
    refused = harmonia_cli("plugins")
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert "harmonia.toml" in refused.output and "harmonia-oncology>=99" in refused.output
