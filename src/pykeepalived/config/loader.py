"""load(): file -> preprocessed lines -> blocks -> typed model, with diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pykeepalived.config.model import Config, Diagnostic, Level, exit_code_for

if TYPE_CHECKING:
    from pykeepalived.config.lexer import Line


@dataclass(slots=True)
class LoadResult:
    config: Config | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    exit_code: int = 0
    main_missing: bool = False  # no file matched the main path (keepalived then runs an empty config)

    @property
    def level(self) -> Level:
        return max((d.level for d in self.diagnostics), default=Level.OK)


def build(lines: list[Line], *, main_file: str, files: tuple[str, ...],
          interfaces: frozenset[str] | None = None,
          prior: list[Diagnostic] | None = None) -> tuple[Config | None, list[Diagnostic], int | None]:
    """Lines -> block tree -> keyword handlers -> completion: the model, all diagnostics, and the
    exit code when keepalived would stop at once (else None)."""
    from pykeepalived.config.blocks import Ctx, Fields, StopParse, block_kind, walk
    from pykeepalived.config.complete import complete
    from pykeepalived.config.grammar import build_tree
    from pykeepalived.config.keywords.root import ROOT

    diags: list[Diagnostic] = list(prior or [])
    ctx = Ctx(diags)
    f: Fields = {}
    try:
        walk(ctx, build_tree(lines, ROOT, block_kind, ctx.err), ROOT, f)
    except StopParse as stop:
        return None, diags, stop.code
    return complete(ctx, f, files, interfaces), diags, None


def load(path: str, *, config_id: str | None = None, all_config: bool = False,
         interfaces: frozenset[str] | None = None) -> LoadResult:
    """Load keepalived.conf at `path`. Never raises on bad input; see LoadResult.

    `interfaces`: the interface names that exist (None: read them from the running system)."""
    from pykeepalived.config.lexer import Preprocessor

    pre = Preprocessor(config_id=config_id, all_config=all_config)
    lines = pre.read_main(path)
    diags = list(pre.diagnostics)
    if pre.fatal_exit is not None:
        return LoadResult(None, diags, pre.fatal_exit)
    config: Config | None = None
    stop: int | None = None
    if lines is not None:
        config, diags, stop = build(lines, main_file=path, files=tuple(pre.files), interfaces=interfaces,
                                    prior=diags)
    level = max((d.level for d in diags), default=Level.OK)
    if stop is not None:
        return LoadResult(None, diags, stop)
    if lines is None and not all_config:
        config = Config()  # keepalived runs (and -t passes) with no configuration at all
    return LoadResult(config, diags, exit_code_for(level), main_missing=lines is None)


def load_text(text: str, *, name: str = "<string>", config_id: str | None = None,
              interfaces: frozenset[str] | None = None) -> LoadResult:
    """Load configuration text (relative includes resolve against the current directory)."""
    from pykeepalived.config.lexer import Preprocessor

    pre = Preprocessor(config_id=config_id)
    lines = pre.read_text(text, name)
    if pre.fatal_exit is not None:
        return LoadResult(None, list(pre.diagnostics), pre.fatal_exit)
    config, diags, stop = build(lines, main_file=name, files=tuple(pre.files), interfaces=interfaces,
                                prior=list(pre.diagnostics))
    if stop is not None:
        return LoadResult(None, diags, stop)
    level = max((d.level for d in diags), default=Level.OK)
    return LoadResult(config, diags, exit_code_for(level))
