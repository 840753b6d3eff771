"""Testing packs: helpers that import without pytest, and a pytest plugin.

A public module for pack authors. The pytest plugin (:mod:`harmonia.testing.plugin`,
loaded automatically through the ``pytest11`` entry point) provides the
fixtures ``harmonia_plugins``, ``register_pack``, ``harmonia_cli``,
``harmonia_database``, ``postgres_server`` and ``postgres_url``; this module
itself needs no pytest:

    from harmonia.testing import module_pack

    def test_my_source(register_pack, harmonia_plugins):
        register_pack(module_pack("demo", harmonia_data_sources=lambda: [my_source]))
        assert "my-source" in harmonia_plugins.catalog().data_sources
"""

from __future__ import annotations

from harmonia.plugin.manager import module_pack

#: Where the PostgreSQL test server is (the default below when unset).
POSTGRES_ENV = "HARMONIA_TEST_POSTGRES"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"

__all__ = ["DEFAULT_POSTGRES", "POSTGRES_ENV", "module_pack"]
