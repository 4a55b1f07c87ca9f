"""Remedies and proofs about rule packs, with the z3 SMT solver; the engine judges every answer.

Names load on first use: z3 is imported only when a remedy or an analysis is asked for.
"""
from rules.lazy import lazy_exports

_EXPORTS = {}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
