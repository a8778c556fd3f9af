"""Claims and figures of the derivation report, one module per section of the notes.

Modules are named ``sNN_<topic>.py`` so the report follows the notes' order; each
registers its claims with :func:`nfref.report.claims.claim` and its figures with
:func:`nfref.report.claims.figure`.
"""
