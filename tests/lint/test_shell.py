"""The shell parser for RUN scripts (`builder.lint.shell`).

Tables of scripts and the simple commands ShellCheck (as hadolint uses it)
finds in them, the command queries the rules use, and property tests: no
input makes the parser raise or take long.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.lint import shell
from builder.lint.shell import parse_script

Cmds = list[tuple[str, tuple[str, ...]]]


def commands(text: str) -> Cmds:
    return [(c.name, c.args) for c in parse_script(text).commands]


#: script -> the commands found, in ShellCheck's order.
COMMANDS: dict[str, Cmds] = {
    "": [],
    "apt-get update && apt-get install -y curl": [
        ("apt-get", ("update",)),
        ("apt-get", ("install", "-y", "curl")),
    ],
    "a; b & c || d\ne": [("a", ()), ("b", ()), ("c", ()), ("d", ()), ("e", ())],
    "a \\\n  && b": [("a", ()), ("b", ())],
    "a # comment && b\nc": [("a", ()), ("c", ())],
    "echo a#b": [("echo", ("a#b",))],
    # quotes and escapes removed, expansions oversimplified
    "echo 'a b' \"c $d\" e\\ f $'g\\'h'": [("echo", ("a b", "c ${VAR}", "e f", "g\\'h"))],
    'echo "a\\"b" "\\x"': [("echo", ('a"b', "\\x"))],
    "echo ${A:-b} $1 $@ $(( 1 + 2 ))": [("echo", ("${VAR}", "${VAR}", "${VAR}", "${VAR}"))],
    "echo pre{a,b}post {1..3} {x}": [("echo", ("prepost", "", "{x}"))],
    # assignments and redirections are not arguments
    "FOO=1 BAR=(a b) cmd x 2>&1 >/dev/null <in &>log": [("cmd", ("x",))],
    "x=1": [],
    "> file": [],
    # substitutions: the command first, then those inside its words
    "echo $(a | b) `c`": [("echo", ("${VAR}", "${VAR}")), ("a", ()), ("b", ()), ("c", ())],
    'x="$(sudo y)"': [("sudo", ("y",))],
    "cat <(a) >(b)": [("cat", ("${VAR}", "${VAR}")), ("a", ()), ("b", ())],
    "echo ${A:-$(b)}": [("echo", ("${VAR}",)), ("b", ())],
    "echo $(( a b ))": [("echo", ("${VAR}",)), ("a", ("b",))],
    # compound commands
    "( cd /x && make ) | tee log": [("cd", ("/x",)), ("make", ()), ("tee", ("log",))],
    "{ a; b; } > out": [("a", ()), ("b", ())],
    "if a; then b; elif c; then d; else e; fi": [
        ("a", ()),
        ("b", ()),
        ("c", ()),
        ("d", ()),
        ("e", ()),
    ],
    "for p in x $(y); do z $p; done": [("y", ()), ("z", ("${VAR}",))],
    "for ((i=0; i<3; i++)); do a; done": [("a", ())],
    "while read -r l; do echo $l; done < f": [("read", ("-r", "l")), ("echo", ("${VAR}",))],
    "until a; do b; done": [("a", ()), ("b", ())],
    "case $x in a|b) c;; *) d ;; esac": [("c", ()), ("d", ())],
    "f() { a; }; function g { b; }; f": [("a", ()), ("b", ()), ("f", ())],
    "[ -f x ] && [[ -d $(y) ]] && z": [("y", ()), ("z", ())],
    "! a && time -p b": [("a", ()), ("time", ()), ("b", ())],
    "declare -a arr=(1 2) && local v=1": [("declare", ("-a", "")), ("local", ("v=1",))],
    # wrappers name the command they run; the arguments stay
    "command sudo x": [("sudo", ("sudo", "x"))],
    "busybox wget -q u": [("wget", ("wget", "-q", "u"))],
    "command -v wget": [("command", ("-v", "wget"))],
    "exec -a name wget": [("exec", ("-a", "name", "wget"))],
    "env sudo x": [("env", ("sudo", "x"))],
    # a name with an expansion is no command (hadolint skips it)
    "$APT install x && apt-get install y": [("apt-get", ("install", "y"))],
    '"apt-get" install x': [("apt-get", ("install", "x"))],
    # here-documents: the body is not a script
    "cat <<EOF > f\nsudo x\nEOF\necho done": [("cat", ()), ("echo", ("done",))],
    "cat <<-'EOF'\n\tsudo x\n\tEOF\n": [("cat", ())],
    # ShellCheck stops quietly at a token that cannot start a command
    "a;; b": [("a", ())],
    "a ) b": [("a", ())],
    "a; fi": [("a", ())],
    "a b (": [("a", ("b",))],
    "{ a; } b": [("a", ())],
    "a &; b": [("a", ()), ("b", ())],
}


@pytest.mark.parametrize("text", list(COMMANDS))
def test_commands(text: str) -> None:
    script = parse_script(text)
    assert script.parsed
    assert commands(text) == COMMANDS[text]


#: Scripts ShellCheck cannot parse: no commands at all.
FAILING = [
    "echo 'unterminated",
    'echo "unterminated',
    "echo `unterminated",
    "echo $(unterminated",
    "echo ${unterminated",
    "a &&",
    "a |",
    "if a; then b",
    "while a; do b",
    "case x in a) b",
    "( a",
    "{ a",
    "a; ( b",
    "f() ( a",
    "( a ) 'b",
    "cat <<EOF\nbody without end",
]


@pytest.mark.parametrize("text", FAILING)
def test_parse_failures_have_no_commands(text: str) -> None:
    script = parse_script(text)
    assert not script.parsed
    assert script.commands == ()
    assert not script.has_pipes


@pytest.mark.parametrize(
    ("text", "pipes"),
    [
        ("a | b", True),
        ("a |& b", True),
        ("echo $(a | b)", True),
        ("echo `a | b`", True),
        ("a || b", False),
        ("echo '|'", False),
        ("echo a\\|b", False),
        ("a | b '", False),
    ],
)
def test_pipes(text: str, pipes: bool) -> None:
    assert parse_script(text).has_pipes is pipes


def test_backquotes_that_do_not_parse_count_as_empty() -> None:
    assert commands("echo `if x` && sudo y") == [("echo", ("${VAR}",)), ("sudo", ("y",))]


# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------


def one(text: str) -> shell.Command:
    (cmd,) = parse_script(text).commands
    return cmd


def test_flags() -> None:
    cmd = one("apt-get -yq --no-install-recommends --target-release=x install - -- pkg -1")
    assert [f for f, _ in cmd.flags] == ["y", "q", "no-install-recommends", "target-release", "1"]
    assert shell.has_flag(cmd, "y") and shell.has_flag(cmd, "-y")
    assert shell.has_flag(cmd, "--no-install-recommends")
    assert not shell.has_flag(cmd, "install")
    assert shell.has_any_flag(cmd, ["x", "q"])
    assert shell.flag_count(one("apt-get -qq install"), "q") == 2


def test_args_without_flags() -> None:
    cmd = one("pip install -r req.txt --upgrade pkg==1")
    assert shell.args_without_flags(cmd) == ["install", "req.txt", "pkg==1"]


def test_drop_flag_args_drops_the_next_word() -> None:
    cmd = one("apt-get install -t stable pkg")
    assert shell.args_without_flags(shell.drop_flag_args(cmd, ["t"])) == ["install", "pkg"]
    # hadolint drops the next word even when the value was attached
    cmd = one("apt-get install --target-release=stable pkg other")
    kept = shell.args_without_flags(shell.drop_flag_args(cmd, ["target-release"]))
    assert kept == ["install", "other"]
    assert shell.drop_flag_args(cmd, ["z"]) is cmd


def test_flag_values() -> None:
    cmd = one("useradd -u 1000 -g 10 --uid 5 app")
    assert shell.flag_values(cmd, "u") == ["1000"]
    assert shell.flag_values(cmd, "uid") == ["5"]
    assert shell.flag_values(one("useradd -u"), "u") == []


def test_command_helpers() -> None:
    script = parse_script("apt-get update && pip3 install x && python3 -m pip install y")
    assert [c.name for c in shell.find_commands(script, "apt-get")] == ["apt-get"]
    assert shell.using_program(script, "pip3")
    assert not shell.using_program(script, "pip")
    apt, pip, python = script.commands
    assert shell.cmd_has_args(apt, "apt-get", ["upgrade", "update"])
    assert not shell.cmd_has_args(apt, "apt", ["update"])
    assert shell.has_arg(apt, "update")
    assert shell.cmd_has_prefix_arg(pip, "pip3", "inst")
    assert shell.is_pip_install(pip) and shell.is_pip_install(python)
    assert not shell.is_pip_install(one("python3 -m pip list"))
    assert script.command_names() == ["apt-get", "pip3", "python3"]


def test_words_keep_their_raw_text() -> None:
    (word,) = one("echo \"a $b\"'c'").words
    assert word.raw == "\"a $b\"'c'"
    assert word.text == "a ${VAR}c"
    assert not word.literal
    assert one("echo 'x'").words[0].literal


# ---------------------------------------------------------------------------
# Hostile input
# ---------------------------------------------------------------------------

PIECES = [
    "a", "b ", " ", "\n", "\t", ";", ";;", "&", "&&", "|", "||", "|&", "(", ")", "{ ", " }",
    "'", '"', "`", "\\", "\\\n", "$", "$(", "${", "$((", "))", "$'", "<<", "<<-", "EOF", "<(",
    ">", "2>&1", "#", "=", "x=", "=(", "if ", "then ", "else ", "fi", "for ", " in ", "do ",
    "done", "case ", "esac", "while ", "function ", "[[ ", " ]]", "[ ", " ]", "!", "time ",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    script = parse_script(text)
    assert isinstance(script, shell.Script)
    assert script.parsed or script.commands == ()


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=120))
def test_shell_like_text_never_raises(pieces: list[str]) -> None:
    text = "".join(pieces)
    start = time.perf_counter()
    script = parse_script(text)
    assert time.perf_counter() - start < 1.0
    for cmd in script.commands:
        assert len(cmd.args) == len(cmd.ids) == len(cmd.words)


@pytest.mark.parametrize(
    "text",
    [
        "$(" * 5000,
        "(" * 5000,
        "`" * 5001,
        "${" * 5000,
        "{ " * 5000,
        "if " * 5000,
        "a=(" * 5000,
        "$((" * 5000,
        "[[ " * 5000,
        "echo " + "x" * 200_000,
        "a|" * 20_000 + "b",
        "'" * 10_001,
        "<<EOF " * 2000 + "\n",
    ],
    ids=lambda t: repr(t[:12]),
)
def test_pathological_input_is_fast(text: str) -> None:
    start = time.perf_counter()
    parse_script(text)
    assert time.perf_counter() - start < 2.0
