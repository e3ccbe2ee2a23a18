"""Estimates read off a finished report: other tools' MAC conventions (:mod:`.conventions`)
and the memory and work of a training step (:mod:`.training`)."""
