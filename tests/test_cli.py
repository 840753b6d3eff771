"""The command line through click's runner: help everywhere, JSON, user errors, the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import greeting_pack
import pytest
import tiny_market
from helpers import count_rows, write

from harmonia import Command, cli
from harmonia.errors import HarmoniaDeprecationWarning
from harmonia.plugin.catalog import Catalog
from harmonia.plugin.manager import BUILTIN_MODULES
from harmonia.plugin.switches import ALLOW_ENV
from harmonia.testing import module_pack

#: The commands DESIGN.md and issue 2 promise, with their subcommands.
PROMISED = {
    ("cycle",): {"run", "list", "show", "diff", "sql"},
    ("db",): {"upgrade", "current"},
    ("plugins",): {"list"},
    ("quarantine",): {"list", "export"},
    ("rules",): {"list", "show", "check"},
    ("demo",): set(),
    ("explain",): set(),
    ("load",): set(),
}


def _walk(group: click.Group, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    context = click.Context(group, info_name=path[-1] if path else "harmonia")
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _walk(command, (*path, name))


def test_help_works_on_every_command_and_subcommand_including_packs(
    harmonia_cli: Callable, register_pack: Callable
) -> None:
    import harmonia_synthetic

    register_pack(harmonia_synthetic)
    register_pack(greeting_pack)
    root = harmonia_cli("--help")
    assert root.exit_code == 0 and "Usage:" in root.output
    commands = list(_walk(cli.main, ()))
    for path, subcommands in PROMISED.items():
        assert path in commands, path
        assert {c[-1] for c in commands if c[:-1] == path} >= subcommands, path
    assert {("synthetic", "write"), ("greet",), ("greet-tools", "count")} <= set(commands)
    for path in [*commands, ("questionnaire", "recite")]:
        result = harmonia_cli(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output and path[-1] in result.output, path
    assert harmonia_cli("greet", "--who", "Anna").output == "hello Anna\n"
    assert harmonia_cli("greet-tools", "count").output == "1 2 3\n"
    assert harmonia_cli("questionnaire", "recite").output == "how often do you prescribe?\n"


def test_help_lists_pack_commands_without_importing_them(
    harmonia_cli: Callable, register_pack: Callable
) -> None:
    sys.modules.pop(greeting_pack.COMMANDS, None)
    register_pack(greeting_pack)
    listing = harmonia_cli("--help").output
    assert "greet-tools" in listing and "Greet someone (a pack's command)." in listing
    assert "recite" in harmonia_cli("questionnaire", "--help").output
    assert greeting_pack.COMMANDS not in sys.modules
    assert harmonia_cli("greet").output == "hello world\n"
    assert greeting_pack.COMMANDS in sys.modules


def test_pack_commands_are_attached_per_run_never_to_the_shared_groups(
    harmonia_cli: Callable, register_pack: Callable
) -> None:
    from harmonia.cli.questionnaire import questionnaire

    register_pack(greeting_pack)
    assert harmonia_cli("greet").exit_code == 0
    assert harmonia_cli("questionnaire", "recite").exit_code == 0
    assert "greet" not in cli.main.commands and "recite" not in questionnaire.commands


@pytest.mark.slow
def test_the_cli_runner_fixture_gives_each_test_only_its_own_packs(tmp_path: Path) -> None:
    """Run two tests in a child pytest: the second must not see the first's command."""
    write(
        tmp_path / "test_two.py",
        """
        import click
        from harmonia import Command
        from harmonia.testing import module_pack

        hello = click.Command("hello", callback=lambda: click.echo("hello"))
        bye = click.Command("bye", callback=lambda: click.echo("bye"))

        def pack(name):
            record = Command(name=name, path=f"{__name__}:{name}", help=name)
            return module_pack(name + "-pack", harmonia_commands=lambda: [record])

        def test_first(harmonia_cli, register_pack):
            register_pack(pack("hello"))
            assert harmonia_cli("hello").output == "hello\\n"

        def test_second(harmonia_cli, register_pack):
            register_pack(pack("bye"))
            assert "hello" not in harmonia_cli("--help").output
            assert harmonia_cli("bye").output == "bye\\n"
        """,
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
    )
    assert "2 passed" in result.stdout, result.stdout[-2000:]


@pytest.mark.parametrize(("group", "name"), [(None, "load"), ("cycle", "run")])
def test_a_pack_command_may_not_shadow_a_built_in(
    harmonia_cli: Callable, register_pack: Callable, group: str | None, name: str
) -> None:
    impostor = Command(name=name, group=group, path="greeting_commands:greet", help="An impostor.")
    register_pack(module_pack("shadow", harmonia_commands=lambda: [impostor]))
    help_text = harmonia_cli("--help")
    shown = f"{group} {name}" if group else name
    assert f"tried to replace the built-in command '{shown}'" in help_text.stderr
    assert "An impostor" not in harmonia_cli(*filter(None, [group, name]), "--help").output


def _greeter(pack: str, path: str) -> object:
    record = Command(name="greet", path=path, help=f"Greet, the {pack} way.")
    return module_pack(pack, harmonia_commands=lambda: [record])


def test_two_packs_declaring_one_command_name_keep_the_first_and_the_cli_works(
    harmonia_cli: Callable, register_pack: Callable
) -> None:
    register_pack(_greeter("first", "greeting_commands:greet"), version="1.0")
    register_pack(_greeter("second", "greeting_commands:recite"), version="2.0")
    listing = harmonia_cli("--help")
    assert listing.exit_code == 0, listing.output
    assert "Greet, the first way." in listing.stdout and "second way" not in listing.stdout
    assert (
        "warning: command 'greet' is provided by both first (test-first 1.0) and second "
        "(test-second 2.0); second's is disabled"
    ) in listing.stderr
    assert "HARMONIA_LOAD_PLUGINS" in listing.stderr
    assert harmonia_cli("greet", "--who", "you").stdout == "hello you\n"
    assert harmonia_cli("plugins", "list").exit_code == 0  # the rest of the CLI works


def test_two_packs_declaring_one_command_name_is_an_error_in_strict_mode(
    harmonia_cli: Callable, register_pack: Callable, harmonia_plugins: Any
) -> None:
    register_pack(_greeter("first", "greeting_commands:greet"))
    register_pack(_greeter("second", "greeting_commands:recite"))
    harmonia_plugins.strict = True
    for args in (("--help",), ("greet",), ("plugins", "list")):
        result = harmonia_cli(*args)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), args
        assert "command 'greet' is provided by both first" in result.output
        assert "fix: uninstall one of the packs" in result.output


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("crm_sdk_cli:export", "No module named 'crm_sdk_cli'"),
        ("greeting_commands:missing", "has no attribute 'missing'"),
        ("greeting_commands:not_a_command", "is a str, not a click command"),
    ],
)
def test_a_pack_command_that_fails_to_import_becomes_a_stub_that_explains(
    harmonia_cli: Callable, register_pack: Callable, path: str, reason: str
) -> None:
    broken = Command(name="crm", path=path, help="Export to our CRM.")
    register_pack(module_pack("crm", harmonia_commands=lambda: [broken]), version="2.1")
    listing = harmonia_cli("--help")
    assert listing.exit_code == 0 and "Export to our CRM." in listing.output
    result = harmonia_cli("crm")
    assert result.exit_code != 0
    assert "the commands of pack 'crm' (test-crm 2.1) are unavailable" in result.output
    assert reason in result.output and "Traceback" not in result.output
    assert "(unavailable)" in harmonia_cli("crm", "--help").output


def test_a_pack_command_that_fails_to_import_is_fatal_in_strict_mode(
    harmonia_cli: Callable, register_pack: Callable, harmonia_plugins: Any
) -> None:
    broken = Command(name="crm", path="crm_sdk_cli:export", help="Export to our CRM.")
    register_pack(module_pack("crm", harmonia_commands=lambda: [broken]))
    harmonia_plugins.strict = True
    result = harmonia_cli("crm")
    assert result.exit_code != 0 and "crm_sdk_cli" in result.output
    assert "(unavailable)" not in result.output


def _deprecated_pack(name: str = "old") -> object:
    def register(cli: click.Group) -> None:
        @cli.command(name=name)
        def command() -> None:
            """A command added the deprecated way."""
            click.echo(f"{name} here")

        @cli.commands["questionnaire"].command(name=f"{name}-sub")
        def sub() -> None:
            """A subcommand added the deprecated way."""
            click.echo("sub here")

        @cli.command(name="load")
        def load() -> None:
            """An impostor."""

    return module_pack(f"{name}-pack", harmonia_register_commands=register)


def test_the_deprecated_command_hook_still_works_and_warns(
    harmonia_cli: Callable, register_pack: Callable
) -> None:
    with pytest.warns(HarmoniaDeprecationWarning, match="use|harmonia_commands"):
        register_pack(_deprecated_pack())
    assert harmonia_cli("old").stdout == "old here\n"
    assert harmonia_cli("questionnaire", "old-sub").stdout == "sub here\n"
    listing = harmonia_cli("--help")
    assert "tried to replace the built-in command 'load'" in listing.stderr
    assert "Load canonical files" in harmonia_cli("load", "--help").output


def test_a_deprecated_registration_may_not_take_a_declared_command(
    harmonia_cli: Callable, register_pack: Callable
) -> None:
    register_pack(_greeter("first", "greeting_commands:greet"))
    with pytest.warns(HarmoniaDeprecationWarning):
        register_pack(_deprecated_pack("greet"))
    listing = harmonia_cli("--help")
    assert "command 'greet' of pack 'greet-pack' (test-greet-pack) is provided by pack " in (
        listing.stderr
    )
    assert harmonia_cli("greet").stdout == "hello world\n"


def test_a_deprecated_registration_that_fails_gets_a_stub_that_explains(
    harmonia_cli: Callable, register_pack: Callable
) -> None:
    def register(cli: click.Group) -> None:
        raise ImportError("No module named 'crm_sdk'")

    with pytest.warns(HarmoniaDeprecationWarning):
        register_pack(module_pack("crm", harmonia_register_commands=register), version="2.1")
    listing = harmonia_cli("--help")
    assert listing.exit_code == 0
    assert "crm" in listing.output and "(unavailable)" in listing.output
    result = harmonia_cli("crm")
    assert result.exit_code != 0
    assert "the commands of pack 'crm' (test-crm 2.1) are unavailable" in result.output
    assert "crm_sdk" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("plugins", "list"),
        ("cycle", "list"),
        ("load", "--help"),
        ("explain", "--help"),
        ("demo", "--help"),
    ],
)
def test_every_command_warns_about_a_broken_pack_on_stderr(
    harmonia_cli: Callable, register_pack: Callable, args: tuple[str, ...]
) -> None:
    register_pack(module_pack("typo", harmonia_datasources=lambda: []), refused=True)
    result = harmonia_cli(*args)
    assert result.exit_code == 0, result.output
    assert "warning: pack 'typo'" in result.stderr and "harmonia_datasources" in result.stderr


def _failing_rules() -> list:
    raise ValueError("the rules server is down")


def test_catalog_problems_are_one_line_on_the_cli_and_whole_in_plugins_list(
    harmonia_cli: Callable, register_pack: Callable, wide_terminal: None
) -> None:
    register_pack(module_pack("flaky", harmonia_segmentation_rules=_failing_rules), version="3")
    rules = harmonia_cli("rules", "list")
    assert rules.exit_code == 0, rules.output
    (notice,) = [line for line in rules.stderr.splitlines() if line.startswith("warning:")]
    assert notice.startswith("warning: installed packs have 1 problem (pack 'flaky' (test-flaky 3)")
    assert notice.endswith("`harmonia plugins list` shows them")
    listing = harmonia_cli("plugins", "list")
    assert listing.exit_code == 0, listing.output
    assert "Problems with installed packs (1):" in listing.stdout
    assert "hook harmonia_segmentation_rules: ValueError: the rules server is down" in (
        listing.stdout
    )
    assert "warning: installed packs" not in listing.stderr  # shown in full already
    document = json.loads(harmonia_cli("plugins", "list", "--json").stdout)
    assert any("the rules server is down" in warning for warning in document["warnings"])


@pytest.mark.cli  # runs the console script's entry in a new interpreter
def test_console_script_collects_cycles_less_often() -> None:
    # Start-up builds objects that live until exit: the console script runs
    # the cycle collector after 200,000 new objects (the default is 700), gives
    # the interpreter its defaults back when it returns, and at exit leaves the
    # live objects out of the teardown's collections (frozen).
    code = textwrap.dedent(
        """
        import atexit, gc, sys
        from harmonia.cli import main
        seen = []
        main.command("probe")(lambda: seen.append(gc.get_threshold()))
        before = gc.get_threshold()
        sys.argv = ["harmonia", "probe"]
        try:
            main()
        except SystemExit as done:
            assert done.code in (0, None), done.code
        frozen = gc.get_freeze_count()
        atexit._run_exitfuncs()
        print(seen, before == gc.get_threshold(), frozen == 0 < gc.get_freeze_count())
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[(200000, 30, 30)] True True"


@pytest.mark.cli  # runs `harmonia --help` in a new interpreter, with no fixture to mark it
@pytest.mark.parametrize("packs", ["none", "installed"])
def test_help_does_not_import_the_heavy_libraries(packs: str) -> None:
    # What `harmonia --help` imports, not how long it takes: a timed test would
    # fail on a busy machine. The installed packs (Veeva's sink) are loaded too.
    code = textwrap.dedent(
        """
        import sys
        from harmonia.cli import main
        sys.argv = ["harmonia", "--help"]
        try:
            main()
        except SystemExit as done:
            assert done.code in (0, None), done.code
        heavy = {
            "duckdb", "pyarrow", "numpy", "sqlglot", "alembic", "pandas",
            "sqlalchemy", "sqlmodel", "psycopg", "openpyxl",
        }
        print(sorted(heavy & set(sys.modules)))
        """
    )
    environment = {**os.environ, "HARMONIA_STRICT_PLUGINS": "1"}
    environment.pop(ALLOW_ENV, None)
    if packs == "none":
        environment[ALLOW_ENV] = ""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "Commands:" in result.stdout


def test_version(harmonia_cli: Callable) -> None:
    result = harmonia_cli("--version")
    assert result.exit_code == 0 and result.output.startswith("harmonia ")


def test_plugins_list_with_built_ins_only(harmonia_cli: Callable, wide_terminal: None) -> None:
    assert (
        "No packs installed (--all shows the built-ins)." in harmonia_cli("plugins", "list").output
    )
    listing = harmonia_cli("plugins", "list", "--all").output
    assert "harmonia.builtin" in listing and "csv" in listing


# --- JSON everywhere -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("plugins", "list", "--json"),
        ("plugins", "list", "--all", "--json"),
        ("rules", "list", "--json"),
        ("cycle", "list", "--json"),
        ("quarantine", "list", "--json"),
    ],
)
def test_json_output_parses(harmonia_cli: Callable, tiny: Catalog, args: tuple[str, ...]) -> None:
    result = harmonia_cli(*args)
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)


def test_plugins_list_names_each_pack_with_what_it_provides(
    harmonia_cli: Callable, tiny: Catalog
) -> None:
    document = json.loads(harmonia_cli("plugins", "list", "--json").stdout)
    (pack,) = document["packs"]  # the built-ins only with --all
    assert (pack["name"], pack["distribution"], pack["version"]) == ("tiny", "test-tiny", "1.0")
    assert "harmonia_country_profiles" in pack["hooks"]
    assert pack["provides"]["countries"] == ["NL"]
    assert document["warnings"] == [] and document["conflicts"] == []
    everything = json.loads(harmonia_cli("plugins", "list", "--all", "--json").stdout)
    builtins = [p for p in everything["packs"] if p["builtin"]]
    assert {p["distribution"] for p in builtins} == {"harmonia"}
    assert [p["name"] for p in builtins] == list(BUILTIN_MODULES)


def test_plugins_list_reports_conflicts_without_failing(
    harmonia_cli: Callable, tiny: Catalog, register_pack: Callable
) -> None:
    register_pack(module_pack("copy", harmonia_identifier_schemes=lambda: [tiny_market.TINY]))
    result = harmonia_cli("plugins", "list", "--json")
    assert result.exit_code == 0
    conflicts = json.loads(result.stdout)["conflicts"]
    assert conflicts and all("identifier scheme TINY is provided by both" in c for c in conflicts)
    assert all("copy (test-copy 0)" in c and "tiny (test-tiny 1.0)" in c for c in conflicts)


def test_rules_list_show_and_check(
    harmonia_cli: Callable, tiny: Catalog, tmp_path: Path, wide_terminal: None
) -> None:
    (listed,) = json.loads(harmonia_cli("rules", "list", "--json").stdout)
    assert listed["name"] == "tiny-core" and listed["pack"] == "tiny (test-tiny 1.0)"
    assert listed["dimensions"]["tier"] == ["A", "B", "C"]
    shown = harmonia_cli("rules", "show", "tiny-core").output
    assert "potential_q = 4 AND adoption = 'high'" in shown
    assert "1 rule set(s) valid, 0 rejected." in harmonia_cli("rules", "check").output
    broken = write(
        tmp_path / "broken.toml",
        (tiny_market.DATA.parent / "rules" / "tiny-core.toml")
        .read_text()
        .replace('when = "trx_q = 2"', 'when = "trx_q = 2 AND bogus"'),
    )
    checked = harmonia_cli("rules", "check", str(broken))
    assert checked.exit_code == 1
    assert "tier.rules[0].when" in checked.output and "bogus" in checked.output


# --- user errors: one clear message, an exit code, never a traceback ------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("cycle", "run", "-c", "XX", "-t", "cardiology"), "no country profile XX"),
        (("cycle", "run", "-c", "NL", "-t", "dermatology"), "no rule set for therapy area"),
        (("cycle", "run", "-c", "NL", "-t", "cardiology", "-p", "2027-H3"), "is not a period"),
        (("cycle", "run", "-c", "NL", "-t", "cardiology", "-e", "nosuch"), "Invalid value"),
        (
            ("cycle", "run", "-c", "NL", "-t", "cardiology", "-e", "spark"),
            "the Spark engine does not know where the market's data is",
        ),
        (("cycle", "run", "-c", "NL", "-t", "cardiology", "--sink", "crm"), "no output sink crm"),
        (("cycle", "show", "42"), "no cycle 42"),
        (("--database", "typo.db", "cycle", "list"), "no database at typo.db"),
        (("--database", "typo.db", "quarantine", "list"), "no database at typo.db"),
        (("cycle", "diff", "1", "x"), "Invalid value"),
        (("load", "/no/such/file.csv"), "no such file or directory"),
        (("load", "notes.md"), "no installed source reads .md"),
        (("load", "--source", "vendor"), "no data source vendor"),
        (("load", "--source", "csv", "-o", "path"), "is not KEY=VALUE"),
        (("load", "--source", "csv", "-o", "colour=red"), "source csv has no option colour"),
        (("load",), "give files or folders to load"),
        (("load", "--decimal", ";", "x.csv"), "Invalid value"),
        (
            ("load", str(tiny_market.DATA / "h1" / "customers.csv"), "--system", "harmonia"),
            "'harmonia' names harmonia's own customer ids, not a source system",
        ),
        (("explain", "--cycle", "1"), "Missing option '--customer'"),
        (("rules", "show", "tiny-cor"), "did you mean tiny-core?"),
        (("plugins", "lst"), "No such command"),
        (("nonsense",), "No such command"),
    ],
)
def test_user_errors_are_a_short_message_and_a_failing_exit_code(
    harmonia_cli: Callable,
    tiny: Catalog,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "notes.md", "# notes\n")
    result = harmonia_cli(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 6, result.output


def test_load_summary_table(harmonia_cli: Callable, tiny: Catalog, wide_terminal: None) -> None:
    """Read, then new, updated, unchanged and quarantined: loading again moves nothing."""

    def summary() -> list[list[str]]:
        result = harmonia_cli("load", str(tiny_market.DATA / "h1"), "--country", "NL")
        assert result.exit_code == 0, result.output
        rows = [line.strip("│┃ ").split() for line in result.output.splitlines()]
        return [[cell for cell in row if cell not in "│┃"] for row in rows if len(row) > 6]

    header, *first = summary()
    assert header == ["batch", "file", "read", "new", "updated", "unchanged", "quarantined"]
    assert [row[1:] for row in first] == [
        ["customers.csv", "10", "10", "0", "0", "0"],
        ["metrics.csv", "38", "38", "0", "0", "0"],
        ["responses.csv", "6", "6", "0", "0", "0"],
    ]
    _, *again = summary()
    assert [row[1:] for row in again] == [
        ["customers.csv", "10", "0", "0", "10", "0"],
        ["metrics.csv", "38", "0", "0", "38", "0"],
        ["responses.csv", "6", "0", "0", "6", "0"],
    ]


def test_load_through_a_named_source_with_options(
    harmonia_cli: Callable, tiny: Catalog, harmonia_database: str
) -> None:
    path = tiny_market.DATA / "h1" / "customers.csv"
    result = harmonia_cli(
        "load", "--source", "csv", "-o", f"path={path}", "--country", "NL", "--system", "crm",
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (summary,) = json.loads(result.stdout)
    assert (summary["source"], summary["system"], summary["rows_loaded"]) == ("csv", "crm", 10)
    assert count_rows(harmonia_database, ["crosswalk"]) == {"crosswalk": 10}


def test_a_source_of_a_family_the_country_does_not_use_is_refused(
    harmonia_cli: Callable, tiny: Catalog, register_pack: Callable
) -> None:
    from harmonia import DataSource

    rep = DataSource(
        name="rep-sheet", description="", kinds={"customers"}, family="rep", read=lambda r: []
    )
    register_pack(module_pack("reps", harmonia_data_sources=lambda: [rep]))
    result = harmonia_cli("load", "--source", "rep-sheet", "--country", "NL")
    assert result.exit_code != 0
    assert "NL does not use rep data sources (its profile allows: external, local)" in result.output


# --- the demo, end to end -------------------------------------------------------------------------


@pytest.fixture
def demo_packs(register_pack: Callable) -> None:
    import harmonia_fr
    import harmonia_oncology
    import harmonia_synthetic

    for pack in (harmonia_synthetic, harmonia_fr, harmonia_oncology):
        register_pack(pack)


def _demo(harmonia_cli: Callable, workdir: Path, *database: str) -> Any:
    result = harmonia_cli(*database, "demo", "--customers", "300", "--workdir", str(workdir))
    assert result.exit_code == 0, result.output
    assert "harmonia demo" in result.output and "FR x oncology" in result.output
    assert {p.name for p in (workdir / "inputs" / "fr-oncology").iterdir()} == {
        "customers.csv",
        "metrics.csv",
        "responses.csv",
        "potential-revised.csv",  # loaded between the two cycles
    }
    outputs = sorted(p.name for p in (workdir / "out").iterdir())
    assert "FR-oncology-2027-H1-cycle2-target_list.csv" in outputs
    assert "explain --cycle 2 --customer" in result.output
    # A tenth of the potentials are revised between the half-years: some customers move.
    diff = harmonia_cli(*database, "cycle", "diff", "1", "2", "--json")
    assert json.loads(diff.stdout)["moved"] > 0, diff.output
    return result


@pytest.mark.slow
def test_demo_end_to_end_on_sqlite(
    harmonia_cli: Callable,
    demo_packs: None,
    harmonia_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harmonia.cli import render

    monkeypatch.setattr(render.stdout._console_now(), "_width", 60)  # a narrow terminal
    shown = _demo(harmonia_cli, tmp_path / "demo").output.splitlines()
    # The "Next:" commands are whole lines to copy, however narrow the terminal.
    assert (
        "  harmonia explain --cycle 2 --customer C0000001 --system synthetic-fr-oncology" in shown
    )
    assert "  harmonia cycle diff 1 2" in shown
    counts = count_rows(harmonia_database, ["customer", "cycle", "assignment"])
    assert counts == {"customer": 300, "cycle": 2, "assignment": 600}
    explained = harmonia_cli("explain", "--cycle", "2", "--customer", "C0000001", "--json")
    assert json.loads(explained.stdout)["engine_and_python_agree"] is True


@pytest.mark.slow
def test_the_demo_shows_three_markets_and_two_therapy_areas(
    harmonia_cli: Callable, register_pack: Callable, harmonia_database: str, tmp_path: Path
) -> None:
    import harmonia_de
    import harmonia_diabetes
    import harmonia_fr
    import harmonia_oncology
    import harmonia_synthetic
    import harmonia_us

    packs = (harmonia_synthetic, harmonia_fr, harmonia_de, harmonia_us)
    for pack in (*packs, harmonia_oncology, harmonia_diabetes):
        register_pack(pack)
    workdir = tmp_path / "demo"
    result = harmonia_cli("demo", "--customers", "200", "--workdir", str(workdir))
    assert result.exit_code == 0, result.output
    assert "DE, FR, US x diabetes, oncology" in result.output
    assert len({p.name for p in (workdir / "inputs").iterdir()}) == 6
    listed = json.loads(harmonia_cli("cycle", "list", "--json").stdout)
    assert len(listed) == 12
    assert {(c["country"], c["therapy_area"]) for c in listed} == {
        (country, area) for country in ("FR", "DE", "US") for area in ("oncology", "diabetes")
    }
    explained = harmonia_cli(
        "explain", "--cycle", "2", "--customer", "C0000001", "--system", "synthetic-fr-oncology",
        "--json",
    )  # fmt: skip
    assert json.loads(explained.stdout)["engine_and_python_agree"] is True


@pytest.mark.slow
@pytest.mark.postgres
def test_demo_end_to_end_on_postgresql(
    harmonia_cli: Callable, demo_packs: None, postgres_url: str, tmp_path: Path
) -> None:
    _demo(harmonia_cli, tmp_path / "demo", "--database", postgres_url)
    counts = count_rows(postgres_url, ["customer", "cycle", "assignment"])
    assert counts == {"customer": 300, "cycle": 2, "assignment": 600}
    listed = harmonia_cli("--database", postgres_url, "cycle", "list", "--json")
    assert [c["engine"] for c in json.loads(listed.stdout)] == ["database", "database"]


def test_duckdb_out_of_memory_is_a_message_naming_the_setting(
    harmonia_cli: Callable, tiny: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A universe larger than DuckDB's memory limit ends in what to set, not a traceback."""
    loaded = harmonia_cli("load", str(tiny_market.DATA / "h1"), "--country", "NL")
    assert loaded.exit_code == 0, loaded.output
    monkeypatch.setenv("HARMONIA_MEMORY_LIMIT", "1MB")
    result = harmonia_cli("cycle", "run", "-c", "NL", "-t", "cardiology")
    assert result.exit_code == 1, result.output
    assert "ran out of memory at its limit of 1MB" in result.output
    assert "set HARMONIA_MEMORY_LIMIT to a larger size" in result.output
    assert "Traceback" not in result.output
    monkeypatch.setenv("HARMONIA_MEMORY_LIMIT", "lots")
    result = harmonia_cli("cycle", "run", "-c", "NL", "-t", "cardiology")
    assert result.exit_code == 1, result.output
    assert "HARMONIA_MEMORY_LIMIT=lots is not a memory size" in result.output
    assert "Traceback" not in result.output
    monkeypatch.delenv("HARMONIA_MEMORY_LIMIT")
    assert harmonia_cli("cycle", "run", "-c", "NL", "-t", "cardiology").exit_code == 0
