"""What a report becomes: the table (:mod:`~cnncalc.output.render`, rich only on a terminal),
JSON, CSV, Markdown and GitHub annotations (:mod:`~cnncalc.output.formats`) and PyTorch
source (:mod:`~cnncalc.output.export`). Text only: the CLI prints it.
"""
