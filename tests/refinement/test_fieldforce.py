"""Territories, roster and alignment loaded like any source, every bad row quarantined."""

from __future__ import annotations

from pathlib import Path

import field_market
from field_market import run
from helpers import query

from harmonia import Harmonia
from harmonia.errors import ConfigError


def _load(app: Harmonia, *paths: Path) -> dict[str, object]:
    results = app.loads.run(app.loads.plan(list(paths)), country="BE")
    return {r.kind: r for r in results}


def _reasons(app: Harmonia, kind: str) -> dict[str, list[str]]:
    rows = app.loads.quarantined(kind=kind)
    return {str(row.row): row.reasons for row in rows}


def test_the_field_force_loads_and_a_cycle_takes_territories_from_its_period(
    field_app: Harmonia, tmp_path: Path
) -> None:
    app = field_app
    files = field_market.write_field_force(tmp_path / "force")
    loaded = _load(app, tmp_path / "force")
    assert [loaded[k].rows_loaded for k in ("territories", "roster", "alignment")] == [4, 4, 11]
    assert all(result.rows_quarantined == 0 for result in loaded.values())
    again = _load(app, files["roster"])
    assert (again["roster"].rows_unchanged, again["roster"].rows_new) == (4, 0)
    cycle = run(app, tmp_path)
    app.refinement.open_feedback(cycle)
    scope = query(
        app.database_url,
        "SELECT c.source_id, s.territory FROM refinement_scope s JOIN crosswalk c "
        f"ON c.customer_id = s.customer_id WHERE s.cycle_id = {cycle} ORDER BY c.source_id",
    )
    territories = {row["source_id"]: row["territory"] for row in scope}
    # C05's customer record says T1; the alignment of 2027-H1 puts it on T2.
    assert territories["C05"] == "T2" and territories["C01"] == "T1"
    assert territories["C10"] == "T2"


def test_unknown_units_two_places_and_loops_are_quarantined(
    field_app: Harmonia, tmp_path: Path
) -> None:
    app = field_app
    field_market.write_field_force(tmp_path / "force")
    _load(app, tmp_path / "force")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "territories.csv").write_text(
        "territory;level;parent\n"
        "T3;territory;D9\n"  # unknown parent
        "D2;district;D3\n"  # D2 -> D3 -> D2
        "D3;district;D2\n"
        "T4;territory;T1\n"  # a territory under a territory
        "T5;territory;D1\n",
        encoding="utf-8",
    )
    (bad / "roster.csv").write_text(
        "person;role;unit;manager\n"
        "ann;rep;T1;dora\n"  # a rep in two places
        "ann;rep;T2;dora\n"
        "bob;rep;T9;dora\n"  # unknown territory
        "cat;manager;D1;dan\n"  # cat -> dan -> cat
        "dan;manager;R1;cat\n"
        "eve;rep;T2;nobody\n"  # unknown manager
        "fay;rep;D1;dora\n"  # a rep on a district
        "gus;rep;T5;dora\n",
        encoding="utf-8",
    )
    (bad / "alignment.csv").write_text(
        "customer_id;territory;period\nC01;T9;2027-H1\nC99;T1;2027-H1\nC02;T5;2027-H1\n",
        encoding="utf-8",
    )
    loaded = _load(app, bad)
    assert [loaded[k].rows_loaded for k in ("territories", "roster", "alignment")] == [1, 1, 1]
    territories = _reasons(app, "territories")
    assert "parent 'D9' is not a known unit" in territories["2"][0]
    assert "loop back to it: D2 -> D3 -> D2" in territories["3"][0]
    assert "loop back to it: D3 -> D2 -> D3" in territories["4"][0]
    assert "territory 'T4' cannot be under the territory 'T1'" in territories["5"][0]
    roster = _reasons(app, "roster")
    assert "placed in T1 and T2" in roster["2"][0] and "placed in T1 and T2" in roster["3"][0]
    assert "unit 'T9' is not a known territory" in roster["4"][0]
    assert "loop back to them: cat -> dan -> cat" in roster["5"][0]
    assert "manager 'nobody' is not in the roster" in roster["7"][0]
    assert "a rep works on a territory; 'D1' is a district" in roster["8"][0]
    alignment = _reasons(app, "alignment")
    assert "territory 'T9' is not a known territory" in alignment["2"][0]
    assert "'C99' is not a customer" in alignment["3"][0]


def test_territory_codes_are_their_country_s_own(
    feedback: tuple[Harmonia, int], tmp_path: Path
) -> None:
    import pytest
    from field_market import ask

    from harmonia.errors import NotFoundError

    app, cycle = feedback
    # Another market's field force with the same codes, and a rep on its T1.
    folder = tmp_path / "nl"
    folder.mkdir()
    (folder / "territories.csv").write_text(
        field_market.TERRITORIES.replace("Territory One", "Gebied Een"), encoding="utf-8"
    )
    (folder / "roster.csv").write_text(
        "person;name;role;unit;manager\nnora;Nora;manager;D1;\nniels;Niels;rep;T1;nora\n",
        encoding="utf-8",
    )
    loaded = {r.kind: r for r in app.loads.run(app.loads.plan([folder]), country="NL")}
    assert (loaded["territories"].rows_new, loaded["territories"].rows_quarantined) == (4, 0)
    assert (loaded["roster"].rows_new, loaded["roster"].rows_quarantined) == (2, 0)
    names = query(app.database_url, "SELECT country, name FROM territory WHERE code = 'T1'")
    assert sorted((r["country"], r["name"]) for r in names) == [
        ("BE", "Territory One"),
        ("NL", "Gebied Een"),
    ]
    # NL's T1 gives no say over BE's T1, for a rep or a manager.
    assert app.refinement.territories_of("niels") == ["T1"]
    with pytest.raises(NotFoundError, match="niels not in the roster of BE"):
        ask(app, cycle, "C01", "segment", "grow", "access", "niels")
    waiting = ask(app, cycle, "C03", "tier", "B", "data error", "rita")["id"]
    with pytest.raises(ConfigError, match="nora is not a manager"):
        app.refinement.decide(cycle, [waiting], "accept", manager="nora")
    # A BE rep's authority is unchanged by NL's units.
    assert ask(app, cycle, "C04", "tier", "A", "data error", "rita")["status"] == "pending"


def test_an_alignment_puts_a_customer_on_a_territory_of_its_own_country(
    feedback: tuple[Harmonia, int], tmp_path: Path
) -> None:
    app, _ = feedback
    # NL's units: T1 (a code BE has too) and T7 (NL's only).
    folder = tmp_path / "nl"
    folder.mkdir()
    (folder / "territories.csv").write_text(
        field_market.TERRITORIES + "T7;Gebied Zeven;territory;D1\n", encoding="utf-8"
    )
    (nl,) = app.loads.run(app.loads.plan([folder]), country="NL")
    assert nl.rows_quarantined == 0
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "alignment.csv").write_text(
        "customer_id;territory;period\nC01;T7;2027-H2\nC02;T1;2027-H2\nC03;T9;2027-H2\n",
        encoding="utf-8",
    )
    loaded = _load(app, moved)
    assert (loaded["alignment"].rows_loaded, loaded["alignment"].rows_quarantined) == (1, 2)
    reasons = _reasons(app, "alignment")
    assert reasons["2"] == [
        "territory 'T7' is not a territory of BE, the customer's country (it is one of NL): "
        "align the customer on a territory of its own country"
    ]
    assert "territory 'T9' is not a known territory" in reasons["4"][0]
    stored = query(
        app.database_url,
        "SELECT c.source_id, a.territory FROM alignment a JOIN crosswalk c "
        "ON c.customer_id = a.customer_id WHERE a.period = '2027-H2'",
    )
    assert [(r["source_id"], r["territory"]) for r in stored] == [("C02", "T1")]
