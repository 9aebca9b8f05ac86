"""Command arguments: the words, "quoted strings" and @-mentions of a message, read as the
typed parameters of a command function.

``params_of(fn)`` reads a command's signature once (at import); ``parse_args`` converts the
tokens of one message. ``Rest`` takes the rest of the message as typed, so an open quote in
``/echo`` text is text, not an error. Errors are ``ArgumentError``s saying what was wrong, in
words a chat user understands; the router adds the usage line.
"""

from __future__ import annotations

import inspect
import math
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NewType

from qqbus.events.chat import Piece  # text, or a mentioned user's id (True)
from qqbus.events.message import Segment

__all__ = ["ArgumentError", "Param", "Piece", "Reader", "Rest", "Token", "User", "params_of", "parse_args"]

#: The text of the rest of the message, as typed (mentions written ``@<id>``).
Rest = NewType("Rest", str)

#: Opening quote -> closing quote.
_QUOTES = {'"': '"', "“": "”", "「": "」"}
_ONEBOT_ID = re.compile(r"[1-9][0-9]{0,19}")
_QQ_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_INT = re.compile(r"[+-]?[0-9]{1,18}")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


class ArgumentError(ValueError):
    """A command was called with arguments that do not fit its signature; ``param`` names which."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class User:
    """A user named in a command: an @-mention (``mentioned``) or a bare id."""

    id: str
    mentioned: bool = False

    def at(self) -> Segment:
        """A segment that mentions this user in a reply."""
        return Segment.at(self.id)


@dataclass(frozen=True)
class Token:
    """One argument as typed: a word, a "quoted string" (quotes removed), or a mention's user id."""

    value: str
    mention: bool = False
    quoted: bool = False

    def shown(self) -> str:
        """The token for an error message: short, and a mention as ``@<id>``."""
        text = f"@{self.value}" if self.mention else self.value
        return repr(text if len(text) <= 24 else text[:21] + "...")


class Reader:
    """Reads tokens off the pieces one at a time, so ``Rest`` can take the rest as typed."""

    def __init__(self, pieces: list[Piece]) -> None:
        self.pieces = pieces
        self.p = 0  # the piece
        self.i = 0  # the character in it

    def _skip_space(self) -> None:
        while self.p < len(self.pieces):
            text, mention = self.pieces[self.p]
            if mention:
                return
            while self.i < len(text) and text[self.i].isspace():  # full-width space too
                self.i += 1
            if self.i < len(text):
                return
            self.p, self.i = self.p + 1, 0

    def next(self) -> Token | None:
        """The next token, or None at the end.

        Raises
        ------
        ArgumentError
            A quote is not closed.
        """
        self._skip_space()
        if self.p >= len(self.pieces):
            return None
        text, mention = self.pieces[self.p]
        if mention:
            self.p, self.i = self.p + 1, 0
            return Token(text, mention=True)
        start = self.i
        close = _QUOTES.get(text[start])
        if close is None:  # a word: up to the next space (quotes inside it are literal)
            end = start
            while end < len(text) and not text[end].isspace():
                end += 1
            self.i = end
            return Token(text[start:end])
        chars, j = [], start + 1
        while j < len(text) and text[j] != close:
            if text[j] == "\\" and j + 1 < len(text) and text[j + 1] in (close, "\\"):
                j += 1  # \" and \\ inside quotes
            chars.append(text[j])
            j += 1
        if j >= len(text):
            raise ArgumentError(f"a quote ({text[start]}) is not closed")
        self.i = j + 1
        return Token("".join(chars), quoted=True)

    def unread(self) -> str:
        """Everything not read yet, as typed (mentions as ``@<id>``), without surrounding space;
        nothing is read."""
        parts = [
            f"@{text}" if mention else (text[self.i :] if k == self.p else text)
            for k, (text, mention) in enumerate(self.pieces[self.p :], start=self.p)
        ]
        return "".join(parts).strip()

    def rest(self) -> str:
        """``unread()``, and the reader is at the end."""
        rest = self.unread()
        self.p, self.i = len(self.pieces), 0
        return rest


# --- parameters: one converter per annotation -------------------------------------------------

Converter = Callable[[Token, str], Any]  # (token, protocol) -> value; ValueError when it does not fit


def _word(token: Token, protocol: str) -> str:
    if token.mention:
        raise ValueError("expected text, not an @-mention")
    return token.value


def _int(token: Token, protocol: str) -> int:
    if token.mention or not _INT.fullmatch(token.value):
        raise ValueError("expected a whole number")
    return int(token.value)


def _float(token: Token, protocol: str) -> float:
    value = float(token.value) if not token.mention and _FLOAT.fullmatch(token.value) else math.nan
    if not math.isfinite(value):
        raise ValueError("expected a number")
    return value


def _user(token: Token, protocol: str) -> User:
    if token.mention:
        if token.value == "all":
            raise ValueError("@all is not one user")
        return User(token.value, mentioned=True)
    pattern = _ONEBOT_ID if protocol == "onebot" else _QQ_ID
    if not pattern.fullmatch(token.value):
        raise ValueError("expected an @-mention or a user id")
    return User(token.value)


_CONVERTERS: dict[Any, Converter] = {str: _word, int: _int, float: _float, User: _user}


def _converter(annotation: Any) -> tuple[Converter, str | None]:
    """The converter of an annotation, and its metavar when it names one (``Dice.metavar``)."""
    if annotation in _CONVERTERS:
        return _CONVERTERS[annotation], None
    parse = getattr(annotation, "parse", None)
    if isinstance(annotation, type) and callable(parse):

        def custom(token: Token, protocol: str) -> Any:
            if token.mention:
                raise ValueError("expected text, not an @-mention")
            return parse(token.value)

        return custom, getattr(annotation, "metavar", None)
    raise TypeError(
        f"no argument type {annotation!r}: use str, int, float, Rest, User or a class with parse()"
    )


@dataclass(frozen=True)
class Param:
    """One argument of a command, read off its signature."""

    name: str
    convert: Converter | None  # None: Rest
    metavar: str
    optional: bool = False
    default: Any = None

    def usage(self) -> str:
        shown = f"{self.metavar}..." if self.convert is None else self.metavar
        return f"[{shown}]" if self.optional else f"<{shown}>"


def params_of(fn: Callable[..., Any]) -> list[Param]:
    """The arguments after the ``CommandCall`` of ``fn``, from its signature and annotations.

    Raises
    ------
    TypeError
        An annotation no converter takes, ``*args``/keyword-only parameters, ``Rest`` not last,
        or a required argument after an optional one: caught when the module is imported.
    """
    hints = typing.get_type_hints(fn)
    found: list[Param] = []
    for param in list(inspect.signature(fn).parameters.values())[1:]:
        if param.kind not in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            raise TypeError(f"{fn.__name__}: argument {param.name} must be positional")
        annotation = hints.get(param.name, str)
        optional = param.default is not param.empty
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            others = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(others) != 1 or len(others) == len(typing.get_args(annotation)):
                raise TypeError(f"{fn.__name__}: argument {param.name}: only `X | None` unions")
            annotation, optional = others[0], True
        default = None if param.default is param.empty else param.default
        if found and found[-1].convert is None:
            raise TypeError(f"{fn.__name__}: Rest must be the last argument")
        if found and found[-1].optional and not optional:
            raise TypeError(f"{fn.__name__}: required argument {param.name} after an optional one")
        if annotation is Rest:
            found.append(Param(param.name, None, param.name, optional, default))
            continue
        convert, metavar = _converter(annotation)
        found.append(Param(param.name, convert, metavar or param.name, optional, default))
    return found


def parse_args(params: list[Param], reader: Reader, protocol: str) -> list[Any]:
    """The values of ``params`` read off ``reader``, in order.

    Raises
    ------
    ArgumentError
        Saying what was wrong: a missing, extra or unfitting argument, or an open quote.
    """
    values: list[Any] = []
    for param in params:
        if param.convert is None:  # Rest
            text = reader.rest()
            if not text and not param.optional:
                raise ArgumentError(f"<{param.metavar}...> is missing", param.name)
            values.append(text or param.default)
            continue
        token = reader.next()
        if token is None:
            if not param.optional:
                raise ArgumentError(f"<{param.metavar}> is missing", param.name)
            values.append(param.default)
            continue
        try:
            values.append(param.convert(token, protocol))
        except ValueError as exc:
            raise ArgumentError(f"{token.shown()}: {exc}", param.name) from exc
    extra = reader.next()
    if extra is not None:
        raise ArgumentError(f"unexpected {extra.shown()}")
    return values
