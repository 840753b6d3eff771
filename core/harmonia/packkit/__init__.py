"""The pack kit: write a new pack (``harmonia pack new``) and check one without
installing it (``harmonia pack check``). See docs/packs.md."""

from harmonia.packkit.check import PackProblem, check_pack, registered_problems
from harmonia.packkit.scaffold import new_country_pack, new_therapy_area_pack

__all__ = [
    "PackProblem",
    "check_pack",
    "new_country_pack",
    "new_therapy_area_pack",
    "registered_problems",
]
