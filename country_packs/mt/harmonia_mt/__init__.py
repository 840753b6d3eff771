"""harmonia-mt: Malta, a small market run from rep workbooks and questionnaires alone.

The pack declares the country profile ``MT`` (``country.toml``): rep and
local data only (no vendor data, no national identifier file), field
refinement under the built-in ``standard`` policy. It needs no Python beyond
this hook: the rep workbooks are read by ``harmonia-excel``.
"""

from importlib.resources import files

from harmonia import CountryProfile, hookimpl, load_definitions


@hookimpl
def harmonia_country_profiles():
    """The Maltese country profile ``MT``."""
    return load_definitions(CountryProfile, files(__package__) / "country.toml")
