"""harmonia-jp: Japan's choices among the global options, and its identifiers.

The pack declares the country profile ``JP`` (``country.toml``), the
refinement policy ``jp-standard`` it names (``policies.toml``, reasons in
Japanese) and the identifier schemes ``MIC`` (医療機関コード, facilities)
and ``ISEKI`` (医籍登録番号, physicians), in :mod:`harmonia_jp.identifiers`.
"""

from importlib.resources import files

from harmonia import CountryProfile, RefinementPolicy, hookimpl, load_definitions
from harmonia_jp.identifiers import ISEKI, MIC

_DATA = files(__package__)


@hookimpl
def harmonia_country_profiles():
    """The Japanese country profile ``JP``."""
    return load_definitions(CountryProfile, _DATA / "country.toml")


@hookimpl
def harmonia_refinement_policies():
    """The Japanese refinement policy ``jp-standard``."""
    return load_definitions(RefinementPolicy, _DATA / "policies.toml")


@hookimpl
def harmonia_identifier_schemes():
    """MIC (HCO) and ISEKI (HCP)."""
    return [MIC, ISEKI]
