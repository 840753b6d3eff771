"""The veeva sink: a target list as Veeva load files that upsert, never duplicate."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pytest

import harmonia_veeva
from harmonia import ConfigError, CycleInfo, SinkRequest

CHANNELS = ("face_to_face", "remote", "email")


def _target_list(*rows: tuple) -> pa.Table:
    names = ("harmonia_id", "source_system", "source_id", "territory", "segment", "needs", "tier")
    columns = list(zip(*rows, strict=True)) if rows else [()] * (len(names) + len(CHANNELS))
    data = {name: list(columns[i]) for i, name in enumerate(names + CHANNELS)}
    return pa.table(data)


TARGETS = _target_list(
    (1, "veeva", "001A", "US-T01", "champion", "outcomes_focused", "A", 9, 2, 6),
    (2, "veeva", "001B", "US-T01", "grow", "balanced", "B", 5, 0, 6),
    (3, "veeva", "001B", "US-T02", "grow", "balanced", "B", 5, 0, 6),
    (4, "csv", "C9", "US-T02", "grow", "unprofiled", "C", 3, 0, 4),
    (5, "veeva", "001C", None, "grow", "unprofiled", "C", 3, 0, 4),
)


def _write(tmp_path: Path, cycle_id: int = 7, table: pa.Table = TARGETS, **options) -> Path:
    (sink,) = harmonia_veeva.harmonia_output_sinks()
    sink.check_options(options)
    request = SinkRequest(
        kind="target_list",
        table=table,
        cycle=CycleInfo(cycle_id, "US", "oncology", "2027-H1"),
        directory=tmp_path,
        options=options,
    )
    written = list(sink.write(request))
    folder = Path(written[0]).parent
    assert [Path(p).name for p in written][:7] == (folder / "load-order.txt").read_text().split()
    return folder


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / f"{name}.csv").open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_the_cycle_plan_hierarchy_references_parents_by_external_id(tmp_path):
    folder = _write(tmp_path)
    (cycle,) = _rows(folder, "MC_Cycle_vod__c")
    assert cycle == {
        "External_Id_vod__c": "HMN-US-oncology-2027-H1",
        "Name": "US oncology 2027-H1",
        "Start_Date_vod__c": "2027-01-01",
        "End_Date_vod__c": "2027-06-30",
        "Status_vod__c": "Planned_vod",
    }
    channels = {r["External_Id_vod__c"]: r for r in _rows(folder, "MC_Cycle_Channel_vod__c")}
    assert set(channels) == {f"HMN-US-oncology-2027-H1-{c}" for c in CHANNELS}
    assert channels["HMN-US-oncology-2027-H1-email"]["Channel_Object_vod__c"] == "Sent_Email_vod__c"
    plans = _rows(folder, "MC_Cycle_Plan_vod__c")
    assert [(p["Territory_vod__c"], p["Cycle_vod__r.External_Id_vod__c"]) for p in plans] == [
        ("US-T01", "HMN-US-oncology-2027-H1"),
        ("US-T02", "HMN-US-oncology-2027-H1"),
    ]
    targets = {r["Target_vod__c"] + "@" + r["Cycle_Plan_vod__r.External_Id_vod__c"]: r
               for r in _rows(folder, "MC_Cycle_Plan_Target_vod__c")}  # fmt: skip
    assert sorted(targets) == [
        "001A@HMN-US-oncology-2027-H1-US-T01",
        "001B@HMN-US-oncology-2027-H1-US-T01",
        "001B@HMN-US-oncology-2027-H1-US-T02",
    ]
    assert (
        targets["001A@HMN-US-oncology-2027-H1-US-T01"]["Channel_Interactions_Goal_vod__c"] == "17"
    )
    goals = _rows(folder, "MC_Cycle_Plan_Channel_vod__c")
    mine = [
        g for g in goals if g["Cycle_Plan_Target_vod__r.External_Id_vod__c"].endswith("T01-001B")
    ]
    # A channel without contacts (remote: 0) gets no goal record.
    assert sorted((g["Cycle_Channel_vod__r.External_Id_vod__c"].rsplit("-", 1)[1],
                   g["Channel_Activity_Goal_vod__c"]) for g in mine) == [
        ("email", "6"), ("face_to_face", "5")]  # fmt: skip


def test_targets_and_segments_per_account_and_territory(tmp_path):
    folder = _write(tmp_path)
    tsf = {r["External_Id_vod__c"]: r for r in _rows(folder, "TSF_vod__c")}
    assert sorted(tsf) == ["001A__US-T01", "001B__US-T01", "001B__US-T02"]
    assert tsf["001A__US-T01"] == {
        "External_Id_vod__c": "001A__US-T01",
        "Account_vod__c": "001A",
        "Territory_vod__c": "US-T01",
        "My_Target_vod__c": "true",
        "Harmonia_Segment__c": "champion",
        "Harmonia_Needs__c": "outcomes_focused",
        "Harmonia_Tier__c": "A",
        "Harmonia_Cycle__c": "US oncology 2027-H1",
    }
    atl = {r["Account_vod__c"]: r["Territory_To_Add_vod__c"]
           for r in _rows(folder, "Account_Territory_Loader_vod__c")}  # fmt: skip
    assert atl == {"001A": ";US-T01;", "001B": ";US-T01;US-T02;"}


def test_a_rerun_writes_the_same_external_ids_so_a_reload_updates(tmp_path):
    first = _write(tmp_path / "a", cycle_id=7)
    second = _write(tmp_path / "b", cycle_id=8, table=TARGETS.slice(0, 2))
    for name in ("TSF_vod__c", "MC_Cycle_Plan_Target_vod__c", "MC_Cycle_Plan_Channel_vod__c"):
        before = [r.get("External_Id_vod__c") for r in _rows(first, name)]
        after = [r.get("External_Id_vod__c") for r in _rows(second, name)]
        assert len(before) == len(set(before)), f"{name}: an external id twice in one load"
        assert set(after) <= set(before), f"{name}: a re-run made new records"


def test_targets_without_a_veeva_id_or_territory_are_listed_with_the_reason(tmp_path):
    folder = _write(tmp_path)
    unmatched = {r["harmonia_id"]: r["reason"] for r in _rows(folder, "unmatched")}
    assert unmatched["4"].startswith("no Veeva account id: the customer is known as csv C9")
    assert unmatched["5"].startswith("no territory")
    assert "C9" not in (folder / "TSF_vod__c.csv").read_text()


def test_options_name_the_account_key_and_the_custom_fields(tmp_path):
    folder = _write(tmp_path, account_key="External_ID_vod__c", field_prefix="HMN_",
                    status="In_Progress_vod")  # fmt: skip
    (row, *_) = _rows(folder, "TSF_vod__c")
    assert {"Account_vod__r.External_ID_vod__c", "HMN_Segment__c"} <= set(row)
    (target, *_) = _rows(folder, "MC_Cycle_Plan_Target_vod__c")
    assert "Target_vod__r.External_ID_vod__c" in target
    assert _rows(folder, "MC_Cycle_vod__c")[0]["Status_vod__c"] == "In_Progress_vod"


def test_bad_options_are_refused_with_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="status='Active' is not allowed"):
        _write(tmp_path, status="Active")
    with pytest.raises(ConfigError, match="is not a Salesforce API name"):
        _write(tmp_path, external_id_field="External Id")


def test_the_pack_is_found_through_its_entry_point(harmonia_catalog):
    catalog = harmonia_catalog  # every installed pack, strict (harmonia.testing)
    assert "veeva" in catalog.output_sinks and "veeva-accounts" in catalog.data_sources
    assert catalog.output_sinks["veeva"].provenance.distribution == "harmonia-veeva"


def test_erasing_a_person_removes_every_row_naming_their_account_and_nothing_else(tmp_path):
    from harmonia import Erasure

    (sink,) = harmonia_veeva.harmonia_output_sinks()
    folder = _write(tmp_path)
    before = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.csv")}
    assert sum("001B" in text for text in before.values()) >= 4  # the check below can fail
    erased = Erasure((2, 3), (("veeva", "001B"),))
    removed = {p.name: sink.erase(str(p), erased) for p in sorted(folder.glob("*.csv"))}
    after = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.csv")}
    assert not any("001B" in text for text in after.values())
    assert removed["TSF_vod__c.csv"] == 2 and removed["MC_Cycle_vod__c.csv"] == 0
    assert after["MC_Cycle_vod__c.csv"] == before["MC_Cycle_vod__c.csv"]  # untouched
    assert all(
        "001A" in after[name] for name in ("TSF_vod__c.csv", "MC_Cycle_Plan_Channel_vod__c.csv")
    )
    # unmatched.csv names people by harmonia id: customer 5's row goes with its id.
    assert sink.erase(str(folder / "unmatched.csv"), Erasure((5,), ())) == 1
    assert "001C" not in (folder / "unmatched.csv").read_text(encoding="utf-8")
    assert sink.erase(str(tmp_path / "elsewhere.xlsx"), erased) is None


def test_erasing_matches_only_account_columns_exactly(tmp_path):
    """A short id of another system (``01``) is no Veeva account: dates, territories and
    other accounts' keys that contain it stay; only the person's own rows go."""
    from harmonia import Erasure

    (sink,) = harmonia_veeva.harmonia_output_sinks()
    table = _target_list(
        (1, "veeva", "001A", "T-01", "champion", "outcomes_focused", "A", 9, 2, 6),
        (2, "veeva", "001B", "T-01", "grow", "balanced", "B", 5, 0, 6),
        (3, "veeva", "X01", "T-02", "grow", "balanced", "B", 5, 0, 6),
    )
    folder = _write(tmp_path, table=table)
    before = {p.name: _rows(folder, p.stem) for p in folder.glob("*.csv")}
    erased = Erasure((2,), (("veeva", "001B"), ("csv", "01")))
    removed = {p.name: sink.erase(str(p), erased) for p in sorted(folder.glob("*.csv"))}
    after = {p.name: _rows(folder, p.stem) for p in folder.glob("*.csv")}
    assert after["MC_Cycle_vod__c.csv"] == before["MC_Cycle_vod__c.csv"]  # 2027-01-01 stays
    assert after["MC_Cycle_Plan_vod__c.csv"] == before["MC_Cycle_Plan_vod__c.csv"]  # T-01 stays
    for name, rows in before.items():
        kept = [row for row in rows if "001B" not in "|".join(row.values())]
        assert after[name] == kept, name
        assert removed[name] == len(rows) - len(kept), name
    assert any("X01" in "|".join(row.values()) for row in after["TSF_vod__c.csv"])


def test_erasing_with_the_sinks_options_takes_only_ids_of_its_system(tmp_path):
    """The person's id in another system may be another Veeva account's id: with the
    options the files were written with, only ids of the sink's ``system`` count."""
    from harmonia import Erasure

    (sink,) = harmonia_veeva.harmonia_output_sinks()
    folder = _write(tmp_path)
    tsf = folder / "TSF_vod__c.csv"
    erased = Erasure((2, 3), (("veeva", "001B"), ("crm", "001A")))
    assert sink.erase_location(str(tsf), erased, {}) == 2  # the default system: veeva
    assert "001A" in tsf.read_text(encoding="utf-8")
    assert "001B" not in tsf.read_text(encoding="utf-8")
    # Written before options were recorded: every id of the person, as before.
    assert sink.erase_location(str(tsf), erased, None) == 1
    assert "001A" not in tsf.read_text(encoding="utf-8")


def test_an_empty_option_means_its_default_when_writing_and_erasing(tmp_path):
    """``--sink veeva:system=`` writes accounts of the default system: the erasure,
    given the same recorded options, takes that system's ids too."""
    from harmonia import Erasure

    (sink,) = harmonia_veeva.harmonia_output_sinks()
    tsf = _write(tmp_path, system="") / "TSF_vod__c.csv"
    erased = Erasure((2, 3), (("veeva", "001B"), ("crm", "001A")))
    assert sink.erase_location(str(tsf), erased, {"system": ""}) == 2
    assert "001B" not in tsf.read_text(encoding="utf-8")


def test_a_two_parameter_erase_of_an_older_pack_still_works(tmp_path):
    from harmonia import Erasure, OutputSink

    calls = []
    older = OutputSink(
        name="older",
        description="a pack written before erase got options",
        accepts={"target_list"},
        write=lambda request: [],
        erase=lambda location, erasure: calls.append((location, erasure)) or 3,
    )
    erased = Erasure((1,), ())
    assert older.erase_location("x.csv", erased, {"system": "crm"}) == 3
    assert calls == [("x.csv", erased)]
