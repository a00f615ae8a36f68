"""Content production, with no chat knowledge: writers, voices, captions, rendering, checks,
publishers, and `pipeline.produce`, the cached steps the jobs and `novacast make` share."""
