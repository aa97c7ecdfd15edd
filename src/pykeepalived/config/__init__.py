"""keepalived.conf: preprocessor (lexer.py), block grammar (grammar.py), the keyword tables
(keywords/<block>.py, run by blocks.py), keepalived's completion rules (complete.py) building the
typed model (model.py), `-t` (check.py) and reload diff (reload.py); loader.py runs the steps.

Public API::

    result = load(path, config_id=None, all_config=False)
    result.config        # model.Config, or None when the file could not be used at all
    result.diagnostics   # list of model.Diagnostic(level, file, line, message)
    result.exit_code     # what `keepalived -t` would exit with (0, 4, 5 or 6)
"""

from __future__ import annotations

from pykeepalived.config.loader import LoadResult, load, load_text
from pykeepalived.config.model import Config, Diagnostic, Level, Pos

__all__ = ["Config", "Diagnostic", "Level", "LoadResult", "Pos", "load", "load_text"]
