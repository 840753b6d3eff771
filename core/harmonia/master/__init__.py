"""Master data: matching customers across sources, merging and unmerging them,
golden records, data quality, and privacy (objections, erasure, pseudonyms).

A layer beside :mod:`harmonia.strategy`: it uses the store and the catalog,
and the application (:mod:`harmonia.app.master`, :mod:`harmonia.app.privacy`)
offers it. Which id a customer has now is :mod:`harmonia.store.identity`'s
one resolver, which cycles, explanations and refinements share.
"""
