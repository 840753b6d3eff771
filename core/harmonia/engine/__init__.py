"""The cycle engine: one cycle's definitions resolved, its query, and where it runs.

``spec`` resolves what a cycle runs with from the catalog; ``query`` writes the
whole per-customer computation as one SQL query; ``dialects`` transpiles it;
``backends`` runs it in embedded DuckDB or inside the database; ``cycle`` runs
a cycle end to end and records it; ``explain`` and ``compare`` read cycles
back. Nothing here prints: results go to the application layer.
"""
