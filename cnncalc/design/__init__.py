"""Design questions asked the other way round, answered from a spec: which values of its
unknowns (``?``) make it valid (:mod:`.solve` searches, :mod:`.answer` verifies and records,
:mod:`.domains` says what each unknown may be), and which input sizes a network accepts
(:mod:`.sizes`, solved on progressions of sizes by :mod:`.pieces`, written by
:mod:`.compact`). The package sits at the analysis layer: it walks specs with
:mod:`cnncalc.analysis` and imports no output module.
"""

DEFAULT_RANGE = (1, 1024)
"""The sizes an input axis may take unless ``--range`` (``range=``) says: ``cnncalc sizes``
lists them, ``cnncalc solve`` tries them for an unknown input size (``?x?x3``)."""

TOP = 5
"""The solutions ``cnncalc solve`` shows unless ``--top`` (``top=``) says."""


class TooLarge(ValueError):
    """A question beyond the package's documented limits; the message says what was
    exceeded (the commands add what to narrow)."""
