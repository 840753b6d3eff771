"""Built-in refinement policies: ``standard`` and ``strict``."""

from importlib.resources import files

from harmonia import RefinementPolicy, hookimpl, load_definitions


@hookimpl
def harmonia_refinement_policies():
    return load_definitions(RefinementPolicy, files(__package__) / "data" / "policies.toml")
