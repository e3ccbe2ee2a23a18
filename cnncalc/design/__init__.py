"""Design questions asked the other way round: which values of the unknowns (``?``) make a
spec valid (:mod:`.solve`, :mod:`.answer`), which input sizes a network accepts."""
