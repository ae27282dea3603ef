"""Progress renderers: plain format, rawjson schema, the tty display, mode selection."""

from __future__ import annotations

import io
import json
import random
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
from rich.console import Console

from builder.solve.progress import (
    BuildStarted,
    Event,
    PlainProgress,
    QuietProgress,
    RawJsonProgress,
    StepCanceled,
    StepDone,
    StepFailed,
    StepLog,
    StepOutput,
    StepStarted,
    make_reporter,
)
from builder.solve.progress.tty import BuildBoard, TtyProgress, printable, render_board

TIME = re.compile(r"\d+\.\d{3}")


def plain_lines(events: list[Event]) -> list[str]:
    out = io.StringIO()
    with PlainProgress(out) as report:
        for event in events:
            report(event)
    return [TIME.sub("T", line) for line in out.getvalue().splitlines()]


# --- plain -------------------------------------------------------------------------------


def test_plain_format_is_buildkits() -> None:
    lines = plain_lines(
        [
            BuildStarted(3),
            StepStarted(1, "[1/3] FROM busybox"),
            StepDone(1, 0.0, cached=True),
            StepStarted(2, "[2/3] RUN echo hi"),
            StepLog(2, "resolve busybox"),
            StepOutput(2, b"hi\nthere\n"),
            StepDone(2, 0.123),
            StepStarted(3, "[3/3] RUN false"),
            StepFailed(3, 'process "false" did not complete successfully: exit code: 1'),
        ]
    )
    assert lines == [
        "#1 [1/3] FROM busybox",
        "#1 CACHED",
        "",
        "#2 [2/3] RUN echo hi",
        "#2 resolve busybox",
        "#2 T hi",
        "#2 T there",
        "#2 DONE 0.1s",
        "",
        "#3 [3/3] RUN false",
        '#3 ERROR: process "false" did not complete successfully: exit code: 1',
        "",
    ]


def test_plain_canceled_step_is_buildkits() -> None:
    lines = plain_lines(
        [
            StepStarted(4, "[two 2/2] RUN sleep 27"),
            StepOutput(4, b"half a line"),
            StepCanceled(4, 1.5),
        ]
    )
    assert lines == ["#4 [two 2/2] RUN sleep 27", "#4 T half a line", "#4 CANCELED", ""]


def test_plain_joins_partial_lines_and_flushes_the_rest() -> None:
    lines = plain_lines(
        [
            StepStarted(2, "RUN x"),
            StepOutput(2, b"hel"),
            StepOutput(2, b"lo\r\nwor"),
            StepOutput(2, b"ld\nno newline"),
            StepDone(2, 1.0),
            StepStarted(3, "RUN y"),
            StepOutput(3, b"\xff bad \xc3"),
            StepFailed(3, "boom"),
        ]
    )
    assert lines == [
        "#2 RUN x",
        "#2 T hello",
        "#2 T world",
        "#2 T no newline",
        "#2 DONE 1.0s",
        "",
        "#3 RUN y",
        "#3 T \ufffd bad \ufffd",
        "#3 ERROR: boom",
        "",
    ]


def test_plain_close_writes_unterminated_output() -> None:
    assert plain_lines([StepStarted(1, "RUN x"), StepOutput(1, b"tail")]) == [
        "#1 RUN x",
        "#1 T tail",
    ]


def test_plain_cuts_an_endless_line_between_characters() -> None:
    data = "é".encode() * 40_000  # 80 000 bytes, no newline
    out = io.StringIO()
    report = PlainProgress(out)
    report(StepStarted(1, "RUN x"))
    report(StepOutput(1, data))
    report(StepDone(1, 1.0))
    texts = [line.split(" ", 2)[2] for line in out.getvalue().splitlines()[1:-2]]
    assert len(texts) == 2
    assert "".join(texts) == "é" * 40_000


class SerialCheckingStream(io.StringIO):
    """A stream that fails when two writes overlap, and records each write."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self.overlaps = 0
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        if self.busy:
            self.overlaps += 1
        self.busy = True
        time.sleep(0)  # let another thread run in the middle of a write
        self.writes.append(text)
        self.busy = False
        return super().write(text)


def emit_from_threads(report: PlainProgress | RawJsonProgress | TtyProgress) -> None:
    """4 steps at once, each writing 50 numbered lines in random-sized chunks."""

    def step(vertex: int) -> None:
        rng = random.Random(vertex)
        report(StepStarted(vertex, f"[{vertex}/4] RUN work"))
        data = b"".join(b"v%d line %d\n" % (vertex, n) for n in range(50))
        while data:
            size = rng.randint(1, 17)
            report(StepOutput(vertex, data[:size]))
            data = data[size:]
            if rng.random() < 0.2:
                time.sleep(0)
        report(StepDone(vertex, 0.5))

    threads = [threading.Thread(target=step, args=(v,)) for v in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_plain_concurrent_steps_give_whole_prefixed_lines() -> None:
    stream = SerialCheckingStream()
    emit_from_threads(PlainProgress(stream))
    assert stream.overlaps == 0
    assert all(write.endswith("\n") for write in stream.writes)
    seen: dict[int, list[int]] = {v: [] for v in range(1, 5)}
    for line in stream.getvalue().splitlines():
        if not line or line.endswith(("RUN work", "DONE 0.5s")):
            continue
        match = re.fullmatch(r"#(\d) \d+\.\d{3} v(\d) line (\d+)", line)
        assert match, line
        assert match[1] == match[2], line
        seen[int(match[1])].append(int(match[3]))
    assert seen == {v: list(range(50)) for v in range(1, 5)}


# --- rawjson -----------------------------------------------------------------------------

KEYS = {
    "build_started": ["type", "time", "total_steps"],
    "step_started": ["type", "vertex", "time", "name"],
    "step_output": ["type", "vertex", "time", "data"],
    "step_log": ["type", "vertex", "time", "data"],
    "step_done": ["type", "vertex", "time", "seconds", "cached"],
    "step_failed": ["type", "vertex", "time", "seconds", "message"],
    "step_canceled": ["type", "vertex", "time", "seconds"],
}


def rawjson(events: list[Event]) -> list[dict[str, object]]:
    out = io.StringIO()
    when = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    with RawJsonProgress(out, clock=lambda: when) as report:
        for event in events:
            report(event)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    for record in records:
        assert list(record) == KEYS[record["type"]]
        assert record["time"] == "2024-05-01T12:00:00.123456Z"
        assert datetime.fromisoformat(record["time"]) == when
    return records


def test_rawjson_schema_round_trip() -> None:
    records = rawjson(
        [
            BuildStarted(3),
            StepStarted(1, "[1/3] FROM busybox"),
            StepDone(1, 0.0, cached=True),
            StepStarted(2, "[2/3] RUN echo"),
            StepLog(2, "resolve"),
            StepOutput(2, b"caf\xc3"),
            StepOutput(2, b"\xa9\n\xff"),
            StepDone(2, 1.25),
            StepStarted(3, "[3/3] RUN false"),
            StepFailed(3, "exit code: 1", seconds=0.5),
        ]
    )
    stripped = [{k: v for k, v in r.items() if k != "time"} for r in records]
    assert stripped == [
        {"type": "build_started", "total_steps": 3},
        {"type": "step_started", "vertex": 1, "name": "[1/3] FROM busybox"},
        {"type": "step_done", "vertex": 1, "seconds": 0.0, "cached": True},
        {"type": "step_started", "vertex": 2, "name": "[2/3] RUN echo"},
        {"type": "step_log", "vertex": 2, "data": "resolve"},
        {"type": "step_output", "vertex": 2, "data": "caf"},
        {"type": "step_output", "vertex": 2, "data": "é\n\ufffd"},
        {"type": "step_done", "vertex": 2, "seconds": 1.25, "cached": False},
        {"type": "step_started", "vertex": 3, "name": "[3/3] RUN false"},
        {"type": "step_failed", "vertex": 3, "seconds": 0.5, "message": "exit code: 1"},
    ]


def test_rawjson_flushes_a_cut_character_and_measures_failed_steps() -> None:
    records = rawjson([StepStarted(1, "RUN x"), StepOutput(1, b"\xe2\x82"), StepFailed(1, "no")])
    assert [r["type"] for r in records] == ["step_started", "step_output", "step_failed"]
    assert records[1]["data"] == "\ufffd"
    assert isinstance(records[2]["seconds"], float)


def test_rawjson_marks_a_canceled_step() -> None:
    records = rawjson([StepStarted(1, "RUN sleep 27"), StepOutput(1, b"\xe2"), StepCanceled(1, 2)])
    stripped = [{k: v for k, v in r.items() if k != "time"} for r in records]
    assert stripped[-2:] == [
        {"type": "step_output", "vertex": 1, "data": "\ufffd"},
        {"type": "step_canceled", "vertex": 1, "seconds": 2.0},
    ]
    assert isinstance(records[-1]["seconds"], float)


def test_rawjson_concurrent_lines_are_whole_objects() -> None:
    out = SerialCheckingStream()
    emit_from_threads(RawJsonProgress(out))
    assert out.overlaps == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    for vertex in range(1, 5):
        data = "".join(
            str(r["data"]) for r in records if r["type"] == "step_output" and r["vertex"] == vertex
        )
        assert data == "".join(f"v{vertex} line {n}\n" for n in range(50))


# --- tty ---------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def tty(height: int = 40) -> tuple[TtyProgress, Console, Clock]:
    console = Console(file=io.StringIO(), force_terminal=True, width=80, height=height, record=True)
    clock = Clock()
    return TtyProgress(console=console, clock=clock), console, clock


def summary_of(console: Console) -> list[str]:
    text = console.export_text()
    return ("[+] Building" + text.rsplit("[+] Building", 1)[1]).rstrip("\n").splitlines()


LONG = "[builder 2/4] RUN apt-get update && apt-get install -y build-essential curl git"


def test_tty_summary_shows_every_step_with_its_state() -> None:
    report, console, clock = tty()
    with report:
        report(BuildStarted(5))
        report(StepStarted(1, "[builder 1/4] FROM docker.io/library/debian:bookworm"))
        report(StepDone(1, 0.0, cached=True))
        report(StepStarted(2, LONG))
        report(StepOutput(2, b"".join(b"apt %d\n" % n for n in range(20))))
        clock.now += 3.25
        report(StepDone(2, 3.21))
        report(StepStarted(3, "[builder 3/4] RUN make"))
        report(StepOutput(3, b"".join(b"make %d\n" % n for n in range(10)) + b"make: *** Error 2"))
        clock.now += 0.5
        report(StepFailed(3, "exit code: 2"))
        report(StepStarted(4, "[other 2/2] RUN sleep 100"))
        clock.now += 1.0
    lines = summary_of(console)
    assert lines[0] == "[+] Building 4.8s (4/5) FINISHED"  # canceled counts as ended
    assert all(len(line) <= 80 for line in lines)
    assert lines[1].startswith(" => [builder 1/4] FROM docker.io/library/debian:bookworm")
    assert lines[1].endswith("CACHED")
    assert lines[2].startswith(" => [builder 2/4] RUN apt-get update")
    assert "…" in lines[2]
    assert lines[2].endswith(" DONE 3.2s")
    assert len(lines[2]) == 80
    assert lines[3].startswith(" => [builder 3/4] RUN make ")
    assert lines[3].endswith("ERROR 0.5s")
    assert lines[4:10] == [
        " => => # make 5",
        " => => # make 6",
        " => => # make 7",
        " => => # make 8",
        " => => # make 9",
        " => => # make: *** Error 2",
    ]
    assert lines[10].startswith(" => [other 2/2] RUN sleep 100")
    assert lines[10].endswith("CANCELED 1.0s")
    assert len(lines) == 11  # done steps keep no output in the summary


def test_tty_canceled_step_says_so_while_the_build_goes_on() -> None:
    report, console, clock = tty()
    with report:
        report(BuildStarted(3))
        report(StepStarted(1, "[one 2/2] RUN sleep 27"))
        report(StepStarted(2, "[two 2/2] RUN sleep 27"))
        clock.now += 2.0
        report(StepCanceled(1, 1.75))
        text = render_board(report._board, clock.now, 80).plain.splitlines()
        assert text[1].endswith("CANCELED 1.8s")
        assert text[2].endswith(" 2.0s") and "CANCELED" not in text[2]
        report(StepCanceled(2, 2.0))
    lines = summary_of(console)
    assert lines[0] == "[+] Building 2.0s (2/3) FINISHED"
    assert [line.split()[-2:] for line in lines[1:]] == [["CANCELED", "1.8s"], ["CANCELED", "2.0s"]]


def test_tty_running_step_shows_its_last_lines_dimmed_and_a_timer() -> None:
    report, _, clock = tty()
    with report:
        report(StepStarted(1, "[1/1] RUN build"))
        report(StepOutput(1, b"".join(b"out %d\n" % n for n in range(9))))
        report(StepOutput(1, b"\x1b[2J\x1b[31mred\x1b[0m\tcol\n10%\r50%\r"))
        clock.now += 2.0
        view = report.renderable()
        lines = view.plain.splitlines()
        assert lines[0] == "[+] Building 2.0s (0/1)"
        assert lines[1].startswith(" => [1/1] RUN build") and lines[1].endswith(" 2.0s")
        assert lines[2:] == [
            " => => # out 5",
            " => => # out 6",
            " => => # out 7",
            " => => # out 8",
            " => => # red col",
            " => => # 50%",
        ]
        tail_start = len(lines[0]) + 1 + len(lines[1]) + 1
        assert any(span.style == "dim" and span.start >= tail_start for span in view.spans)


def test_tty_live_view_fits_the_terminal_height() -> None:
    board = BuildBoard(started=0.0)
    for vertex in range(1, 21):
        board.apply(StepStarted(vertex, f"[{vertex}/21] RUN step"), 0.0)
        board.apply(StepDone(vertex, 0.1), 0.0)
    board.apply(StepStarted(21, "[21/21] RUN last"), 0.0)
    board.apply(StepOutput(21, b"a\nb\n"), 0.0)
    lines = render_board(board, 1.0, 80, height=10).plain.splitlines()
    assert len(lines) <= 9
    assert lines[-3].startswith(" => [21/21] RUN last")
    assert lines[-2:] == [" => => # a", " => => # b"]
    board.finish(2.0)
    assert len(render_board(board, 2.0, 80).plain.splitlines()) == 22


def test_tty_narrow_terminal_still_fits() -> None:
    board = BuildBoard(started=0.0)
    board.apply(StepStarted(1, LONG), 0.0)
    board.apply(StepDone(1, 0.1), 0.0)
    board.finish(1.0)
    assert all(len(line) <= 12 for line in render_board(board, 1.0, 12).plain.splitlines())


def test_tty_concurrent_steps_all_end_done() -> None:
    report, console, _ = tty()
    with report:
        emit_from_threads(report)
    lines = summary_of(console)
    assert lines[0].startswith("[+] Building") and lines[0].endswith("(4/4) FINISHED")
    assert sorted(line[4:11] for line in lines[1:]) == [f"[{v}/4] R" for v in range(1, 5)]
    assert all(line.endswith("DONE 0.5s") for line in lines[1:])


def test_tty_close_without_events_writes_nothing() -> None:
    report, console, _ = tty()
    report.close()
    report.close()
    report(StepStarted(1, "late"))
    assert console.export_text() == ""


def test_printable_drops_escapes_and_controls() -> None:
    assert printable("\x1b]0;title\x07a\x1b[1;31mb\x1b[0m\x00c\x9bd\te") == "abcd    e"


# --- make_reporter -----------------------------------------------------------------------


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        return True


@pytest.mark.parametrize(
    ("mode", "stream", "environ", "kind"),
    [
        ("auto", FakeTty(), {"TERM": "xterm"}, TtyProgress),
        ("auto", FakeTty(), {}, TtyProgress),
        ("auto", FakeTty(), {"TERM": "xterm", "CI": "false"}, TtyProgress),
        ("auto", FakeTty(), {"TERM": "xterm", "CI": "true"}, PlainProgress),
        ("auto", FakeTty(), {"TERM": "xterm", "CI": "1"}, PlainProgress),
        ("auto", FakeTty(), {"TERM": "dumb"}, PlainProgress),
        ("auto", io.StringIO(), {"TERM": "xterm"}, PlainProgress),
        ("plain", FakeTty(), {"TERM": "xterm"}, PlainProgress),
        ("tty", io.StringIO(), {"CI": "true"}, TtyProgress),
        ("rawjson", FakeTty(), {}, RawJsonProgress),
        ("quiet", FakeTty(), {}, QuietProgress),
    ],
)
def test_make_reporter_picks_the_renderer(
    mode: str, stream: io.StringIO, environ: dict[str, str], kind: type
) -> None:
    with make_reporter(mode, stream, environ=environ) as report:
        assert type(report) is kind


def test_make_reporter_rejects_unknown_modes() -> None:
    with pytest.raises(ValueError, match="unknown progress mode 'fancy'"):
        make_reporter("fancy", io.StringIO(), environ={})


def test_closed_stream_is_not_a_tty() -> None:
    stream = FakeTty()
    stream.close()
    assert type(make_reporter("auto", stream, environ={})) is PlainProgress


def test_importing_progress_does_not_import_rich() -> None:
    code = "import sys, builder.solve.progress; sys.exit('rich' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
