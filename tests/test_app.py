"""The application layer without the CLI: what a notebook or a web page does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tiny_market
from helpers import write

from harmonia import Harmonia, current_app
from harmonia.errors import ConfigError, NotFoundError
from harmonia.plugin.catalog import Catalog


@pytest.fixture
def app(harmonia_database: str, tiny: Catalog) -> Harmonia:
    return Harmonia(harmonia_database, tiny, actor="notebook")


def test_load_run_explain_and_diff_return_results(app: Harmonia, tmp_path: Path) -> None:
    jobs = app.loads.plan([tiny_market.DATA / "h1"])
    assert [Path(job.location).name for job in jobs] == [
        "customers.csv",
        "metrics.csv",
        "responses.csv",
    ]
    progress: list[tuple[int, str]] = []
    loaded = app.loads.run(
        jobs, country="NL", progress=lambda done, what: progress.append((done, what))
    )
    assert [result.rows_quarantined for result in loaded] == [0, 0, 0]
    assert sum(done for done, _ in progress) == 3
    first = app.cycles.run(
        country="NL", therapy_area="cardiology", period="2027-H1", directory=tmp_path
    )
    assert first.cycle.actor == "notebook" and first.cycle.customers == 10
    assert {row["segment"] for row in first.summary} >= {"champion", "maintain"}
    second = app.cycles.run(
        country="NL", therapy_area="cardiology", period="2027-H1", directory=tmp_path
    )
    assert [c.id for c in app.cycles.list()] == [second.cycle.id, first.cycle.id]
    matrix = app.cycles.diff(first.cycle.id, second.cycle.id)
    assert matrix["moved"] == 0 and matrix["stayed"] == 10
    explanation = app.cycles.explain(first.cycle.id, "C03")
    assert explanation.agrees and explanation.to_json()["customer"]["id"]
    assert "tiny-core" in app.cycles.show(first.cycle.id).snapshot["rule_set"]["name"]
    assert isinstance(app.loads.quarantined(), list)


def test_customers_are_read_by_territory_without_touching_the_store(app: Harmonia) -> None:
    app.loads.run(app.loads.plan([tiny_market.DATA / "h1" / "customers.csv"]), country="NL")
    assert app.customers.territories("NL") == ["T1", "T2"]
    found = app.customers.in_territory("NL", "T1")
    assert [c.source_id for c in found] == ["C03", "C02", "C05", "C04", "C01"]  # by last name
    assert len({c.system for c in found}) == 1 and found[0].type == "HCP"
    assert app.customers.in_territory("NL", "nowhere") == []
    assert app.customers.territories("BE") == []


def test_loads_plan_checks_what_it_is_given(app: Harmonia, tmp_path: Path) -> None:
    customers = tiny_market.DATA / "h1" / "customers.csv"
    assert [job.source.name for job in app.loads.plan(str(customers))] == ["csv"]  # one path
    with pytest.raises(ConfigError, match="source csv has no option colour") as raised:
        app.loads.plan([customers], options={"colour": "red"})
    assert "its options:" in raised.value.render()
    with pytest.raises(NotFoundError, match=r"no data source csvv .*did you mean csv"):
        app.loads.plan(source="csvv")
    with pytest.raises(ConfigError, match="options must be a mapping"):
        app.loads.plan([customers], options=["delimiter=;"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="give either files or --source"):
        app.loads.plan([customers], source="csv")
    with pytest.raises(ConfigError, match="give a path or a list of paths"):
        app.loads.plan(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="takes the list of jobs"):
        app.loads.run([customers])  # type: ignore[list-item]


def test_quarantine_is_read_and_exported_as_data(app: Harmonia, tmp_path: Path) -> None:
    bad = write(tmp_path / "customers.csv", "customer_id,country,type\nC1,NL,HCP\nC2,XX,HCP\n")
    app.loads.run(app.loads.plan([bad]))
    (row,) = app.loads.quarantined()
    assert row.record["customer_id"] == "C2" and "is not an ISO 3166" in row.reasons[0]
    (exported,) = app.loads.export_quarantine(tmp_path / "fix")
    assert (exported.kind, exported.rows) == ("customers", 1)
    assert "quarantine_id" in exported.path.read_text().splitlines()[0]


def test_mistakes_are_harmonia_errors_not_click_ones(app: Harmonia) -> None:
    with pytest.raises(ConfigError, match="nothing to load"):
        app.loads.plan([])
    with pytest.raises(NotFoundError, match="no data source vendor"):
        app.loads.plan(source="vendor")
    with pytest.raises(NotFoundError, match="no cycle 7"):
        app.cycles.show(7)


def test_packs_and_questionnaires_are_reported_as_data(app: Harmonia) -> None:
    report = app.packs.report()
    assert [pack["name"] for pack in report.packs] == ["tiny"]
    assert report.packs[0]["provides"]["countries"] == ["NL"]
    assert [q.key for q in app.questionnaires.versions()] == [("tiny-profile", "1")]
    assert app.questionnaires.resolve("tiny-profile").version == "1"


def test_the_source_request_carries_what_the_packs_provide(app: Harmonia) -> None:
    request = app.source_request({"customers": "5"}, "nl")
    assert request.country == "NL" and request.profile is not None
    assert [q.id for q in request.questionnaires] == ["tiny-profile"]
    assert "TINY" in {scheme.name for scheme in request.identifier_schemes}


def test_current_app_is_the_one_made_current(app: Harmonia) -> None:
    with app.current():
        assert current_app() is app
    assert current_app() is not app


def test_current_apps_nest_and_the_inner_one_wins_until_it_ends(
    app: Harmonia, tiny: Catalog, tmp_path: Path
) -> None:
    other = Harmonia(f"sqlite:///{tmp_path / 'other.db'}", tiny)
    with app.current():
        with other.current():
            assert current_app() is other
        assert current_app() is app
        with pytest.raises(ValueError), other.current():
            raise ValueError("a failing block still restores the outer application")
        assert current_app() is app


def test_current_apps_of_parallel_threads_do_not_see_each_other(
    app: Harmonia, tiny: Catalog, tmp_path: Path
) -> None:
    import threading

    apps = [Harmonia(f"sqlite:///{tmp_path / f'{n}.db'}", tiny) for n in range(4)]
    seen: dict[int, list[bool]] = {}
    barrier = threading.Barrier(len(apps))

    def work(number: int) -> None:
        with apps[number].current():
            barrier.wait()  # every thread has made its own current before any checks
            seen[number] = [current_app() is apps[number] for _ in range(50)]
            barrier.wait()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(apps))]
    with app.current():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert current_app() is app  # the threads' blocks changed nothing here
    assert seen == {n: [True] * 50 for n in range(len(apps))}


def test_without_a_current_app_one_is_opened_from_the_environment_and_not_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARMONIA_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    first = current_app()
    assert first.database_url == f"sqlite:///{tmp_path / 'env.db'}"
    assert current_app() is not first  # nothing pinned: the next test starts clean


def test_open_reads_the_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARMONIA_DATABASE_URL", raising=False)
    write(tmp_path / "harmonia.toml", 'database = "sqlite:///from-toml.db"\noutput = "results"\n')
    opened = Harmonia.open(folder=tmp_path)
    assert opened.database_url == "sqlite:///from-toml.db"
    assert Harmonia.open("sqlite:///given.db", folder=tmp_path).database_url == "sqlite:///given.db"
    monkeypatch.setenv("HARMONIA_DATABASE_URL", "sqlite:///from-env.db")  # as on the CLI
    assert Harmonia.open(folder=tmp_path).database_url == "sqlite:///from-env.db"


@pytest.mark.parametrize(
    "form", ["path", "text path", "sqlite url", "with a catalog", "open", "open a path"]
)
def test_every_documented_way_to_construct_the_application_works(
    form: str,
    harmonia_database: str,
    tiny: Catalog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docs/api.md: ``Harmonia(database)``, ``Harmonia(database, catalog)``, ``Harmonia.open``."""
    monkeypatch.setenv("HARMONIA_LOAD_PLUGINS", "")  # discovery finds the built-ins only
    monkeypatch.delenv("HARMONIA_DATABASE_URL", raising=False)
    path = Path(harmonia_database.removeprefix("sqlite:///"))
    app = {
        "path": lambda: Harmonia(path),
        "text path": lambda: Harmonia(str(path)),
        "sqlite url": lambda: Harmonia(harmonia_database),
        "with a catalog": lambda: Harmonia(harmonia_database, tiny),
        "open": lambda: Harmonia.open(database=harmonia_database, folder=path.parent),
        "open a path": lambda: Harmonia.open(path, folder=path.parent),
    }[form]()
    assert app.database.sqlite_path == path
    state = app.schema.current()
    assert state.revision == state.needed
    expected = {"NL"} if form == "with a catalog" else set()
    assert set(app.catalog.country_profiles) == expected
    assert "csv" in app.catalog.data_sources and app.packs.report().conflicts == []


def test_the_application_layer_needs_no_click() -> None:
    # Every area of the application, including the ones added after this test.
    code = (
        "import importlib, pkgutil, sys\n"
        "import harmonia.app\n"
        "for area in pkgutil.iter_modules(harmonia.app.__path__):\n"
        "    importlib.import_module(f'harmonia.app.{area.name}')\n"
        "print('click' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_results_are_plain_data_a_web_page_can_serialize(app: Harmonia) -> None:
    document = json.loads(json.dumps(app.packs.report().to_json()))
    assert document["conflicts"] == [] and document["packs"][0]["name"] == "tiny"
