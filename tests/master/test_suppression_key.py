"""The suppression list's key lives outside the database it protects.

An erasure hashes the person's ids under a key kept in a file (0600) beside a
SQLite store (under ``XDG_CONFIG_HOME`` for PostgreSQL), the database only
its fingerprint; a store from before, which kept the key in
``workspace_secret``, moves it out at its first use and says so; a copy of
the store without the key, or with another, refuses to load or erase and
says why, rather than letting an erased person back.
"""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest
import tiny_market
from helpers import load, quarantined, query, tiny_catalog, write

from harmonia.errors import ConfigError
from harmonia.master.privacy import erase
from harmonia.store import Database
from harmonia.store.facts import copy_store
from harmonia.store.suppression import KEY_ID_NAME, KEY_NAME, fingerprint, key_path


def _ids(url: str) -> dict[str, int]:
    return {r["source_id"]: r["customer_id"] for r in query(url, "SELECT * FROM crosswalk")}


def _reload_refused(url: str, folder: Path) -> list[int]:
    """Load the tiny market's customers again; the rows refused as an erased person's."""
    old = (tiny_market.DATA / "h1" / "customers.csv").read_text(encoding="utf-8")
    load(
        url,
        tiny_catalog(),
        write(folder / "customers.csv", old + f"N{folder.name};NL;HCP;Nel;Nieuw;;;;;;\n"),
        country="NL",
    )
    return sorted(
        row["row_number"]
        for row in quarantined(url)
        if row["reasons"] == ["erased person; GDPR Art. 17"] and folder.name in row["location"]
    )


def _everything(url: str) -> dict[str, str]:
    tables = [r["name"] for r in query(url, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: json.dumps(query(url, f"SELECT * FROM {t}"), default=str) for t in tables}


def test_the_key_is_a_file_the_database_keeps_only_its_fingerprint(universe: str) -> None:
    database = Database(universe)
    erase(database, _ids(universe)["C01"], actor="dpo")
    path = key_path(database)
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    key = bytes.fromhex(path.read_text().strip())
    secrets = {r["name"]: r["value"] for r in query(universe, "SELECT * FROM workspace_secret")}
    assert secrets == {KEY_ID_NAME: fingerprint(key)}
    audit = json.dumps(query(universe, "SELECT * FROM audit_event"), default=str)
    assert key.hex() not in audit and key.hex() not in json.dumps(secrets)
    if universe.startswith("sqlite"):
        assert key.hex() not in json.dumps(_everything(universe))
        assert path.parent == Path(universe.removeprefix("sqlite:///")).parent / "secrets"


def test_a_store_that_kept_its_key_moves_it_out_at_first_use_and_still_refuses_the_erased(
    universe: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(universe)
    erase(database, _ids(universe)["C01"], actor="dpo")
    path = key_path(database)
    key = path.read_text().strip()
    # The store as an older harmonia left it: the key itself in workspace_secret, no file.
    with database.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM workspace_secret")
        connection.exec_driver_sql(
            f"INSERT INTO workspace_secret (name, value) VALUES ('{KEY_NAME}', '{key}')"
        )
    path.unlink()
    with caplog.at_level(logging.WARNING, logger="harmonia.store.suppression"):
        assert _reload_refused(universe, tmp_path / "first") == [2]
    assert f"moved the suppression list's key out of the database into {path}" in caplog.text
    assert key not in caplog.text
    assert path.read_text().strip() == key and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert query(universe, "SELECT name FROM workspace_secret") == [{"name": KEY_ID_NAME}]
    # After the move the same hashes are recognised: the erased person stays out.
    assert _reload_refused(universe, tmp_path / "second") == [2]


def test_a_store_copied_without_its_key_refuses_to_load_or_erase_and_says_why(
    universe: str, tmp_path: Path
) -> None:
    if not universe.startswith("sqlite"):
        pytest.skip("copies a SQLite store's file")
    database = Database(universe)
    erase(database, _ids(universe)["C01"], actor="dpo")
    copied = tmp_path / "copy" / "harmonia.db"
    copied.parent.mkdir()
    copy_store(Path(universe.removeprefix("sqlite:///")), copied)
    url = f"sqlite:///{copied}"
    assert key_path(Database(url)).is_file()  # copy_store copies the key with the store
    key_path(Database(url)).unlink()
    before = _everything(url)
    with pytest.raises(ConfigError, match=r"key file .* is missing: without it this store cannot"):
        _reload_refused(url, tmp_path / "reload")
    with pytest.raises(ConfigError, match="is missing") as refused:
        erase(Database(url), _ids(url)["C02"], actor="dpo")
    assert "a store copied without its key cannot check its list" in refused.value.fix
    # Another key does not pass for it either.
    write(key_path(Database(url)), "ab" * 32)
    with pytest.raises(ConfigError, match="lacks a key this store's suppression list"):
        _reload_refused(url, tmp_path / "other")
    after = _everything(url)
    # Nothing loaded, erased or half-written: only the refused batches are on record.
    assert {t for t in before if after[t] != before[t]} == {"load_batch"}
    batches = query(url, "SELECT status, rows_loaded FROM load_batch ORDER BY id")
    assert batches[-2:] == [{"status": "failed", "rows_loaded": 0}] * 2
    # The original, with its key, still refuses the person.
    assert _reload_refused(universe, tmp_path / "original") == [2]


def test_a_rotated_key_hashes_new_entries_and_the_old_one_still_checks_the_old(
    harmonia_cli, tiny, universe: str, tmp_path: Path
) -> None:
    database = Database(universe)
    known = _ids(universe)
    erase(database, known["C01"], actor="dpo")
    path = key_path(database)
    [old] = path.read_text().split()
    rotated = harmonia_cli("--database", universe, "privacy", "rotate-key")
    assert rotated.exit_code == 0, rotated.output
    new, kept = path.read_text().split()
    assert kept == old and new != old and stat.S_IMODE(path.stat().st_mode) == 0o600
    [secret] = query(universe, "SELECT value FROM workspace_secret")
    assert secret["value"] == f"{fingerprint(bytes.fromhex(new))},{fingerprint(bytes.fromhex(old))}"
    audit = json.dumps(query(universe, "SELECT * FROM audit_event"), default=str)
    assert "privacy.rotate_key" in audit and new not in audit and old not in audit
    # C02 is hashed under the new key; C01 (under the old) is still recognised.
    before = {r["hash"] for r in query(universe, "SELECT hash FROM suppression")}
    erase(database, known["C02"], actor="dpo")
    added = {r["hash"] for r in query(universe, "SELECT hash FROM suppression")} - before
    import hmac
    from hashlib import sha256

    under_new = hmac.new(bytes.fromhex(new), b"source|csv|C02", sha256).hexdigest()
    assert under_new in added
    assert _reload_refused(universe, tmp_path / "reload") == [2, 3]
    # A file that lost the old key cannot check the entries hashed under it.
    write(path, new + "\n")
    with pytest.raises(ConfigError, match="lacks a key this store's suppression list"):
        _reload_refused(universe, tmp_path / "lost")


def test_rotating_a_fresh_stores_key_keeps_the_keys_of_a_shared_key_file(
    universe: str, sqlite_h1: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harmonia.master.privacy import rotate_suppression_key

    shared = tmp_path / "keys" / "harmonia.key"
    monkeypatch.setenv("HARMONIA_KEY_FILE", str(shared))
    erase(Database(universe), _ids(universe)["C01"], actor="dpo")
    [first] = shared.read_text().split()
    other = tmp_path / "other" / "harmonia.db"
    other.parent.mkdir()
    copy_store(sqlite_h1, other)
    rotate_suppression_key(Database(f"sqlite:///{other}"), actor="dpo")
    new, kept = shared.read_text().split()
    assert kept == first and new != first
    # The first store still checks its list (its key was not dropped).
    assert _reload_refused(universe, tmp_path / "reload") == [2]


def test_a_key_file_others_can_read_is_used_with_a_warning(
    universe: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(universe)
    erase(database, _ids(universe)["C01"], actor="dpo")
    path = key_path(database)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="harmonia.store.suppression"):
        assert _reload_refused(universe, tmp_path / "reload") == [2]
    assert f"chmod 600 {path}" in caplog.text
