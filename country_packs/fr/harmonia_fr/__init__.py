"""harmonia-fr: France's choices among the global options, and its national identifiers.

The pack declares the country profile ``FR`` (``country.toml``), the
refinement policy ``fr-standard`` it names (``policies.toml``) and the
identifier schemes ``RPPS`` (health professionals) and ``FINESS``
(healthcare organisations), defined in :mod:`harmonia_fr.identifiers`.
"""

from importlib.resources import files

from harmonia import CountryProfile, RefinementPolicy, hookimpl, load_definitions
from harmonia_fr.identifiers import FINESS, RPPS

_DATA = files(__package__)


@hookimpl
def harmonia_country_profiles():
    """The French country profile ``FR``."""
    return load_definitions(CountryProfile, _DATA / "country.toml")


@hookimpl
def harmonia_refinement_policies():
    """The French refinement policy ``fr-standard``."""
    return load_definitions(RefinementPolicy, _DATA / "policies.toml")


@hookimpl
def harmonia_identifier_schemes():
    """RPPS (HCP) and FINESS (HCO)."""
    return [RPPS, FINESS]
