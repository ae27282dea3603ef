"""The expander a step's command expands itself with: the shell lexer and that step's scope."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from builder.dockerfile.shell_lexer import ExpansionError, ShellLexer
from builder.errors import ArgValueError, Location, PlanError

#: COPY/ADD heredoc bodies: always `\` as escape, quotes kept (BuildKit's ExpandRaw lexer).
_RAW_LEXER = ShellLexer("\\", skip_quotes=True)


@dataclass(frozen=True)
class ScopeExpander:
    """`builder.dockerfile.commands.Expander` over one step's ARG/ENV values."""

    lexer: ShellLexer  #: the Dockerfile's lexer (its escape directive)
    env: Mapping[str, str]

    def word(self, text: str) -> str:
        return self.lexer.expand_word(text, self.env)

    def words(self, text: str) -> list[str]:
        return self.lexer.expand_words(text, self.env)

    def raw(self, text: str) -> str:
        return _RAW_LEXER.expand_word(text, self.env)


def expansion_error(
    exc: ExpansionError,
    location: Location | None,
    message: str | None = None,
    hint: str | None = None,
) -> PlanError:
    """The PlanError for a word that cannot be expanded: a plain PlanError when the
    word is malformed, an ArgValueError when it fails only for these values."""
    kind = PlanError if exc.malformed else ArgValueError
    return kind(message or str(exc), location, hint)
