"""The pack kit: `harmonia pack new` writes packs that pass their own tests, `harmonia
pack check` finds every problem with its file and position, `data_pack` needs no hooks."""

from __future__ import annotations

import importlib.util
import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from harmonia import data_pack
from harmonia.errors import DefinitionError
from harmonia.packkit import check_pack, new_country_pack, new_therapy_area_pack
from harmonia.testing import pack_problems


def _import(directory: Path, package: str):
    """The new pack's package, imported from where `pack new` wrote it (sys.path unchanged)."""
    init = directory / package / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        package, init, submodule_search_locations=[str(init.parent)]
    )
    assert spec is not None and spec.loader is not None, f"no package {package} in {directory}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module  # for the package's imports of itself
    try:
        spec.loader.exec_module(module)
        return module
    finally:
        for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
            del sys.modules[name]


@pytest.fixture
def country(tmp_path: Path) -> Path:
    new_country_pack("pt", tmp_path / "harmonia-pt", name="Portugal", language="pt")
    return tmp_path / "harmonia-pt"


@pytest.fixture
def area(tmp_path: Path) -> Path:
    new_therapy_area_pack("respiratory", tmp_path / "harmonia-respiratory")
    return tmp_path / "harmonia-respiratory"


def test_new_packs_check_clean_and_register_without_problems(country, area):
    assert check_pack(country) == [] and check_pack(area) == []
    pt = _import(country, "harmonia_pt")
    assert pack_problems(pt.pack, name="pt") == []
    (profile,) = pt.pack.harmonia_country_profiles()
    assert (profile.code, profile.name, profile.language) == ("PT", "Portugal", "pt")
    respiratory = _import(area, "harmonia_respiratory")
    assert pack_problems(respiratory.pack, name="respiratory") == []
    # Only the hooks whose files exist: what `harmonia plugins list` will show.
    hooks = {name for name in vars(respiratory.pack) if name.startswith("harmonia_")}
    assert hooks == {
        "harmonia_questionnaires",
        "harmonia_segmentation_rules",
        "harmonia_engagement_strategies",
    }


def test_the_country_template_lists_the_catalogues_choices(country):
    text = (country / "harmonia_pt" / "country.toml").read_text()
    assert "#   process_mode: " in text and "'data-driven'" not in text
    assert '"data-driven" | "field-involved"' in text
    assert "#   pull_through.enabled: " in text and "true | false" in text


def _problems(path: Path) -> set[tuple[str, str, str]]:
    return {(p.file, p.position, p.problem) for p in check_pack(path)}


def test_check_names_every_problem_with_its_file_and_position(country, area):
    profile = country / "harmonia_pt" / "country.toml"
    text = profile.read_text().replace('"data-driven"', '"data-drivn"')
    profile.write_text(text.replace("min_calls = 1", "min_calls = 9"))
    found = _problems(country)
    assert ("harmonia_pt/country.toml", "process_mode") in {(f, p) for f, p, _ in found}
    assert any(p == "parameters.min_calls" and "[0.0, 4.0]" in m for _, p, m in found)

    rules = area / "harmonia_respiratory" / "rules" / "respiratory-core.toml"
    rules.write_text(rules.read_text().replace('dimension = "adoption"', 'dimension = "adopton"'))
    ((file, position, problem),) = _problems(area)
    assert (file, position) == ("harmonia_respiratory/rules/respiratory-core.toml", "features[2]")
    assert "dimension 'adopton'" in problem


def test_check_reads_each_file_on_its_own_first(area):
    package = area / "harmonia_respiratory"
    (package / "strategies.toml").write_text("[[strategies]]\nname = x\n")
    (package / "strategy.toml").write_text("")
    found = _problems(area)
    syntax = [p for f, p, _ in found if f == "harmonia_respiratory/strategies.toml"]
    assert syntax == ["line 2, column 8"]
    assert any(f == "harmonia_respiratory/strategy.toml" and "data_pack reads no such file" in m
               for f, _, m in found)  # fmt: skip


def test_check_finds_what_pip_would_leave_out(area):
    pyproject = area / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(', "**/*.toml", "**/*.json"', ""))
    unshipped = {f for f, _, m in _problems(area) if m.startswith("not shipped")}
    assert unshipped == {
        "harmonia_respiratory/questionnaires/respiratory-profile-v1.toml",
        "harmonia_respiratory/rules/respiratory-core.toml",
    }
    pyproject.write_text(
        pyproject.read_text().replace('respiratory = "harmonia_respiratory:pack"', "")
    )
    assert ("pyproject.toml", "project.entry-points.harmonia") in {
        (f, p) for f, p, _ in _problems(area)
    }


def test_check_and_new_through_the_cli(harmonia_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = harmonia_cli("pack", "new", "therapy-area", "respiratory")
    assert result.exit_code == 0 and "harmonia pack check harmonia-respiratory" in result.output
    assert harmonia_cli("pack", "check", "harmonia-respiratory").output.endswith("no problems.\n")
    again = harmonia_cli("pack", "new", "therapy-area", "respiratory")
    assert again.exit_code != 0 and "exists and is not empty" in again.output
    bad = harmonia_cli("pack", "new", "country", "Portugal")
    assert bad.exit_code != 0 and "is not a country code" in bad.output
    rules = tmp_path / "harmonia-respiratory/harmonia_respiratory/rules/respiratory-core.toml"
    rules.write_text(rules.read_text().replace("bins = 10", "bins = ten"))
    checked = harmonia_cli("pack", "check", "harmonia-respiratory", "--json")
    assert checked.exit_code == 1
    (problem,) = json.loads(checked.output)["problems"]
    assert problem["file"].endswith("respiratory-core.toml") and "line" in problem["position"]


def test_data_pack_reads_identifier_schemes(tmp_path):
    (tmp_path / "identifiers.toml").write_text(
        '[[schemes]]\nname = "NIF"\ncountry = "PT"\npattern = "\\\\d{9}"\n'
        'description = "nine digits"\n'
    )
    (scheme,) = data_pack(tmp_path).harmonia_identifier_schemes()
    assert (scheme.name, scheme.check("123 456 789")) == ("NIF", "123456789")
    (tmp_path / "identifiers.toml").write_text('[[schemes]]\nname = "NIF"\n')
    with pytest.raises(DefinitionError, match=r"schemes\[0\]"):
        data_pack(tmp_path).harmonia_identifier_schemes()


@pytest.mark.slow
def test_generated_packs_install_with_pip_and_pass_their_own_tests(tmp_path, country, area):
    """pip-installs both packs into a fresh venv and runs their tests there."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # This environment's packages (harmonia, pytest, setuptools) through a .pth file.
    lines = [f"import site; site.addsitedir({path!r})" for path in site.getsitepackages()]
    (Path(purelib) / "outer_environment.pth").write_text("\n".join(lines) + "\n")
    for pack in (country, area):
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
             "--disable-pip-version-check", str(pack)],
            check=True, capture_output=True,
        )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONIA_")}
    env["HARMONIA_STRICT_PLUGINS"] = "1"
    listed = subprocess.run(
        [str(python), "-c", "import sys; from harmonia.cli import main; "
         "sys.exit(main(prog_name='harmonia'))", "plugins", "list", "--json"],
        check=True, capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    names = {pack["name"] for pack in json.loads(listed.stdout)["packs"]}
    assert {"pt", "respiratory"} <= names
    for pack in (country, area):
        # The installed copy, not the folder: run the tests from elsewhere.
        tests = tmp_path / f"tests-{pack.name}"
        (pack / "tests").rename(tests)
        ran = subprocess.run(
            [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
            capture_output=True, text=True, env=env, cwd=tmp_path,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stdout + ran.stderr
