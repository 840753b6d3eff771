"""The plugin layer: what packs implement and return, and how harmonia gathers it.

``hookspecs``
    The one specification module: every hook, documented (docs/hooks.md is
    generated from it).
``types``
    The records packs return (sources, sinks, identifier schemes, commands,
    batches and requests); with :mod:`harmonia.definitions`, the contract.
``kinds``
    The one table of hook kinds that the manager, the catalog, ``harmonia
    plugins list`` and the docs all read.
``switches``
    The environment variables of pack loading (strict mode, the allow-list).
``catalog``
    What the packs provide, checked once and frozen (:class:`Catalog`):
    what engine, ingest, the application and the CLI work with. It never
    imports the manager.
``manager``
    Discovery, registration and calling hooks (:class:`PluginManager`);
    ``manager.catalog()`` builds the Catalog.

Pack authors import from :mod:`harmonia` itself; this package is internal.
"""
