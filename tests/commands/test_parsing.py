"""Arguments: tokens, quotes, mentions, typed converters, the usage line, declaration errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Optional

import pytest
from qqbus.command_args import ArgumentError, Reader, Token
from qqbus.commands import CommandCall, Commands, Rest, User
from qqbus.example_commands import Dice

from tests.commands.conftest import Say


def tokens(*pieces: tuple[str, bool]) -> list[Token]:
    reader, found = Reader(list(pieces)), []
    while (token := reader.next()) is not None:
        found.append(token)
    return found


def words(text: str) -> list[str]:
    return [t.value for t in tokens((text, False))]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a  b\tc", ["a", "b", "c"]),
        ('say "hello world" now', ["say", "hello world", "now"]),
        ("“你好 世界” 「引号 里」", ["你好 世界", "引号 里"]),
        ("一\u3000二", ["一", "二"]),  # a full-width space separates too
        (r'"a \"quoted\" word" "back\\slash"', ['a "quoted" word', "back\\slash"]),
        ('""', [""]),  # an empty quoted string is an argument
        ("don't say\"so", ["don't", 'say"so']),  # quotes inside a word are literal
        ('"a"b', ["a", "b"]),
    ],
)
def test_words_and_quoted_strings(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_an_open_quote_is_an_argument_error_naming_the_quote() -> None:
    with pytest.raises(ArgumentError, match=r"quote \(“\) is not closed"):
        words("“unclosed")


def test_mentions_are_their_own_tokens_between_words() -> None:
    got = tokens(("hug", False), ("555", True), (" and", False), ("666", True))
    assert [(t.value, t.mention) for t in got] == [
        ("hug", False),
        ("555", True),
        ("and", False),
        ("666", True),
    ]


def test_rest_is_the_text_as_typed_even_with_an_open_quote() -> None:
    reader = Reader([('first  he said "hi ', False), ("42", True), (" !", False)])
    assert reader.next() == Token("first")
    assert reader.rest() == 'he said "hi @42 !'
    assert reader.next() is None and reader.rest() == ""


# --- converters, through a router ------------------------------------------------------------


@pytest.fixture
def probe(make_say: Callable[[Commands], Say]) -> Callable[[str, str], str]:
    """``probe(kind, message)``: the reply of a router whose commands show the values they got."""
    commands = Commands(switches=False)

    def show(call: CommandCall, *values: Any) -> None:
        call.reply(repr(values))

    @commands.command("num", help="n")
    def num(call: CommandCall, n: int, x: float = 0.5) -> None:
        show(call, n, x)

    @commands.command("who", help="w")
    def who(call: CommandCall, user: User, why: Rest | None = None) -> None:
        show(call, user, why)

    @commands.command("pick", help="p")
    def pick(call: CommandCall, first: str, second: Optional[str], dice: Dice | None = None) -> None:  # noqa: UP045
        show(call, first, second, dice)

    say = make_say(commands)
    return lambda kind, message: say(kind, message).text


@pytest.mark.parametrize(
    "message, expected",
    [
        ("/num 42", "(42, 0.5)"),
        ("/num -7 2.5e3", "(-7, 2500.0)"),
        ("/num +3 .25", "(3, 0.25)"),
        ("/pick a", "('a', None, None)"),
        ('/pick "a b" c 3d8', "('a b', 'c', Dice(count=3, sides=8))"),
        ("/pick a b d20", "('a', 'b', Dice(count=1, sides=20))"),
    ],
)
def test_typed_arguments_defaults_and_optionals(
    probe: Callable[[str, str], str], message: str, expected: str
) -> None:
    assert probe("onebot_private", message) == expected


@pytest.mark.parametrize(
    "message, problem",
    [
        ("/num", "<n> is missing"),
        ("/num 1.5", "'1.5': expected a whole number"),
        ("/num ٣", "'٣': expected a whole number"),  # Arabic-Indic digits are not ASCII digits
        ("/num 1_000", "'1_000': expected a whole number"),
        ("/num 1 nan", "'nan': expected a number"),
        ("/num 1 1e999", "'1e999': expected a number"),
        ("/num 1 2 3", "unexpected '3'"),
        ("/pick a b 0d6", "'0d6': 1 to 100 dice of 2 to 1000 sides"),
        ("/pick a b 2x6", "'2x6': expected dice like 2d6"),
        ('/pick "open', 'a quote (") is not closed'),
        ("/who bob", "'bob': expected an @-mention or a user id"),
        ("/num " + "9" * 40, "'" + "9" * 21 + "...': expected a whole number"),  # shown short
    ],
)
def test_a_wrong_argument_gets_what_was_wrong_and_the_usage_line(
    probe: Callable[[str, str], str], message: str, problem: str
) -> None:
    usage = {"num": "/num <n> [x]", "pick": "/pick <first> [second] [NdM]", "who": "/who <user> [why...]"}
    name = message.split()[0][1:]
    assert probe("onebot_private", message) == f"{problem}\nusage: {usage[name]}"


@pytest.mark.parametrize(
    "kind, message, user, mentioned",
    [
        (
            "onebot_group",
            [{"type": "text", "data": {"text": "/who "}}, {"type": "at", "data": {"qq": 555}}],
            "555",
            True,
        ),
        ("onebot_group", "/who [CQ:at,qq=555] because", "555", True),  # a CQ-code string
        ("onebot_private", "/who 555", "555", False),  # a bare QQ number
        ("qq_group", "/who <@ABCDEF0123> because", "ABCDEF0123", True),
        ("qq_group", "/who <@!ABCDEF0123>", "ABCDEF0123", True),
        ("qq_c2c", '/who <qqbot-at-user id="ABCDEF0123" />', "ABCDEF0123", True),
        ("qq_c2c", "/who ABCDEF0123", "ABCDEF0123", False),  # a bare openid
    ],
)
def test_a_user_argument_is_a_mention_or_a_bare_id_on_both_platforms(
    probe: Callable[[str, str], str], kind: str, message: Any, user: str, mentioned: bool
) -> None:
    why = "'because'" if "because" in str(message) else "None"
    assert probe(kind, message) == f"(User(id='{user}', mentioned={mentioned}), {why})"


def test_a_bare_user_id_must_fit_the_platform(probe: Callable[[str, str], str]) -> None:
    assert probe("onebot_private", "/who ABC").startswith("'ABC': expected an @-mention or a user id")
    assert probe("onebot_group", "/who [CQ:at,qq=all]").startswith("'@all': @all is not one user")
    assert probe("onebot_private", "/num [CQ:at,qq=5]").startswith("'@5': expected a whole number")


def test_rest_after_a_mention_keeps_the_text_as_typed(probe: Callable[[str, str], str]) -> None:
    assert probe("onebot_group", '/who [CQ:at,qq=5] said "hi [CQ:at,qq=6]') == (
        "(User(id='5', mentioned=True), 'said \"hi @6')"
    )


# --- declarations -----------------------------------------------------------------------------


def test_usage_and_help_lines_come_from_the_signature() -> None:
    commands = Commands(switches=False)

    @commands.command("remind", help="remind someone", aliases=("rm", "Later"))
    def remind(call: CommandCall, who: User, minutes: int, text: Rest) -> None: ...

    @commands.command("raw", help="r", usage="<anything>")
    def raw(call: CommandCall, text: Rest | None = None) -> None: ...

    assert commands.help_text() == (
        "/remind <who> <minutes> <text...> - remind someone (also /rm, /later)\n/raw <anything> - r"
    )
    assert (
        commands.help_text(name="/RM")
        == "/remind <who> <minutes> <text...> - remind someone (also /rm, /later)"
    )


class NoParse:
    pass


class Ok:
    metavar: ClassVar[str] = "OK"

    @classmethod
    def parse(cls, text: str) -> Ok:
        return cls()


def _c(call: CommandCall) -> None: ...


@pytest.mark.parametrize(
    "declare, problem",
    [
        (lambda c: c.command("a", help="")(lambda call, x=None, *rest: None), "must be positional"),
        (lambda c: c.command("a", help="")(_with(NoParse)), "no argument type"),
        (lambda c: c.command("a", help="")(_with(int | str)), "only `X | None` unions"),
        (lambda c: c.command("a", help="")(_rest_first), "Rest must be the last argument"),
        (lambda c: c.command("a", help="")(_optional_first), "required argument b after an optional one"),
        (lambda c: c.command("ping", help="")(_c), "declared twice"),
        (lambda c: c.command("x", help="", aliases=("PING",))(_c), "declared twice"),
        (lambda c: c.command("two words", help="")(_c), "not a command name"),
        (lambda c: c.command("a/b", help="")(_c), "not a command name"),
        (lambda c: c.command("a", help="", allowed="mods")(_c), "allowed must be one of"),  # type: ignore[arg-type]
    ],
)
def test_bad_declarations_fail_at_import_naming_the_problem(
    declare: Callable[[Commands], Any], problem: str
) -> None:
    commands = Commands(switches=False)
    commands.command("ping", help="")(_c)
    with pytest.raises((TypeError, ValueError), match=problem):
        declare(commands)
    assert set(commands.commands) == {"ping"}  # nothing half-registered


def _with(annotation: Any) -> Callable[..., None]:
    def fn(call: CommandCall, x: int) -> None: ...

    fn.__annotations__["x"] = annotation
    return fn


def _rest_first(call: CommandCall, a: Rest, b: str) -> None: ...


def _optional_first(call: CommandCall, a: int | None, b: int) -> None: ...


def test_a_custom_type_is_any_class_with_parse_and_may_name_its_metavar() -> None:
    commands = Commands(switches=False)

    @commands.command("ok", help="")
    def ok(call: CommandCall, value: Ok, other: Ok | None = None) -> None: ...

    assert commands.commands["ok"].usage("/") == "/ok <OK> [OK]"


def test_dice_parse() -> None:
    assert Dice.parse("2d6") == Dice(2, 6) and Dice.parse("D20") == Dice(1, 20)
    for bad in ("2d1", "101d6", "d", "2d6x", "-1d6", "2d10000"):
        with pytest.raises(ValueError):
            Dice.parse(bad)
