"""Built-in sources, sinks and policies, registered like any installed pack.

Nothing here reaches into harmonia's internals beyond what an external pack
may use; see :data:`harmonia.plugin.manager.BUILTIN_MODULES`.
"""
