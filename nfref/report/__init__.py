"""The report side of nfref: the claims and figures that measure every identity of the notes
(:mod:`.derivations`), studies that fit or survey (:mod:`.studies`), the benchmarks
(:mod:`.bench`) and the command line (:mod:`.cli`).

It imports the library; the library never imports it.
"""
