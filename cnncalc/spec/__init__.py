"""From input to a typed spec: :mod:`~cnncalc.spec.source` decides what SPEC is (text, path,
stdin, zoo name) and reads it; :mod:`~cnncalc.spec.oneline` and :mod:`~cnncalc.spec.yamlspec`
read it into the raw records of :mod:`~cnncalc.spec.syntax`; :mod:`~cnncalc.spec.build` makes
layers of them; :mod:`~cnncalc.spec.parse` runs those steps.

Nothing here imports PyYAML until a YAML spec is read.
"""
