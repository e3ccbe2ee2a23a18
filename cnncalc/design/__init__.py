"""Design questions answered from a spec: what could change and still analyse cleanly.

:mod:`.sizes` finds every input size a network accepts (``cnncalc sizes``). It sits at the
analysis layer: it walks specs with :mod:`cnncalc.analysis` and imports no output module.
"""
