"""Independent implementations of nfref's maps, written from ``docs/vectors.md`` alone.

Each module here re-implements one map in plain NumPy from the schema document's
formulas and the papers it cites, without importing nfref: that these pass
:func:`nfref.conformance.check` shows the vectors and the document are enough to
reproduce nfref from outside (``tests/test_independent.py``). Every module has the
callables the checker takes (``forward``, ``inverse``, ``forward_vjp``, ``inverse_vjp``,
``jacobian``, and ``configure`` where the map has a configuration).
"""
