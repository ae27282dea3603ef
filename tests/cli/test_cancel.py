"""Cancelling a build: SIGINT, SIGTERM and SIGHUP stop every stage and leave nothing behind.

Real `pybuild build` processes, real runc containers: the tests send the
signal while two stages each run `sleep 27` (a duration nothing else uses,
so the processes can be found in /proc), then look for what is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import builder
from builder.api import BuildRequest
from builder.errors import BuildCancelled
from builder.solve.progress import Event, StepCanceled, StepStarted
from tests.cli.test_image_commands import PYBUILD, ok
from tests.runtime.test_container import host_processes_running
from tests.solve.building import busybox_store, write_context
from tests.stacks import netns_mounts, stack_processes

SLEEP = ("sleep", "27")
SECRET = "cancel-test-secret-5b1e"  #: the secret's value: finds its copies in /dev/shm

TWO_STAGES = """\
FROM busybox AS one
RUN sleep 27 && echo one > /one

FROM busybox AS two
RUN --mount=type=secret,id=token sleep 27 && echo two > /two

FROM busybox
COPY --from=one /one /one
COPY --from=two /two /two
"""

ONE_STAGE = "FROM busybox\nRUN sleep 27\n"

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}


def _sleepers() -> list[int]:
    """`sleep 27` processes; busybox's sh runs the first command of `a && b` as a child."""
    return host_processes_running(*SLEEP)


def _secret_copies() -> list[Path]:
    """Copies of the test's secret that the build made in /dev/shm."""
    found = []
    for path in Path("/dev/shm").glob("pybuild-secrets-*/*"):
        try:
            if path.read_text() == SECRET:
                found.append(path)
        except OSError:
            continue
    return found


def _overlay_mounts_under(root: Path) -> list[str]:
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    return [line for line in mounts if f" {root}/" in line]


class _Build:
    """A `pybuild build --progress plain` process; its stderr is collected by a thread."""

    def __init__(self, root: Path, context: Path) -> None:
        secret = context / "secret.txt"
        secret.write_text(SECRET)
        argv = ["build", "--progress", "plain", "--secret", f"id=token,src={secret}"]
        self.process = subprocess.Popen(
            [*PYBUILD, *argv, str(context)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYBUILD_ROOT": str(root)},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def wait_until_sleeping(self, count: int) -> list[str]:
        """Wait until `count` sleeps run; the `#N` of the steps that run them."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the build ended early:\n{self.stderr}")
            started = [line.split()[0] for line in self.lines if " RUN " in line]
            if len(_sleepers()) >= count and len(started) >= count:
                return started
            time.sleep(0.05)
        self.process.kill()
        pytest.fail(f"the sleeps never started:\n{self.stderr}")

    def stop(self) -> None:
        """End a build a failed test left running (SIGTERM cleans up; SIGKILL if it hangs)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait(self, timeout: float = 30) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"the build did not stop:\n{self.stderr}")
        self._reader.join(5)
        return code


@pytest.fixture
def root(tmp_path: Path, busybox_rootfs_tar: Path) -> Path:
    root = tmp_path / "store"
    ok(root, "import", str(busybox_rootfs_tar), "busybox:latest")
    return root


@pytest.fixture
def start(root: Path) -> Iterator[Callable[[Path], _Build]]:
    """Start builds in `root`; those still running at the end are stopped."""
    builds: list[_Build] = []

    def starter(context: Path) -> _Build:
        builds.append(_Build(root, context))
        return builds[-1]

    yield starter
    for build in builds:
        build.stop()


def _assert_nothing_left(root: Path, pid: int | None = None) -> None:
    """No sleep, mount, temp dir or secret copy is left; nor, for pybuild process `pid`,
    a network stack or namespace of its RUN steps (they stop before the build returns)."""
    if pid is not None:
        assert stack_processes(f"pybuild-run-{pid}-") == []
        assert netns_mounts(f"pybuild-run-{pid}-") == []
    deadline = time.monotonic() + 1  # a killed process may need a moment to be reaped
    while _sleepers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sleepers() == []
    assert _overlay_mounts_under(root) == []
    assert sorted(p.name for p in (root / "tmp").iterdir()) == []
    assert _secret_copies() == []


@pytest.mark.parametrize("signum", list(EXIT_CODES), ids=lambda s: signal.Signals(s).name)
def test_a_signal_cancels_every_stage(
    root: Path, start: Callable[[Path], _Build], tmp_path: Path, signum: signal.Signals
) -> None:
    context = write_context(tmp_path / "ctx", TWO_STAGES)
    build = start(context)
    running = build.wait_until_sleeping(2)
    assert len(running) == 2
    assert len(_secret_copies()) == 1  # stage two's secret, while it runs
    assert len(stack_processes(f"pybuild-run-{build.process.pid}-")) == 2  # their networks
    sent = time.monotonic()
    build.process.send_signal(signum)
    code = build.wait()
    took = time.monotonic() - sent
    assert code == EXIT_CODES[signum], build.stderr
    assert took < 2, f"{took:.2f}s from the signal to the exit"
    assert "Traceback" not in build.stderr
    for vertex in running:
        assert f"{vertex} CANCELED" in build.lines, build.stderr
    assert "build canceled" in build.lines[-1]
    _assert_nothing_left(root, build.process.pid)


def test_repeated_interrupts(root: Path, start: Callable[[Path], _Build], tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", TWO_STAGES)
    build = start(context)
    build.wait_until_sleeping(2)
    sent = time.monotonic()
    for _ in range(3):
        build.process.send_signal(signal.SIGINT)
        time.sleep(0.05)
    code = build.wait()
    assert code == 130, build.stderr
    assert time.monotonic() - sent < 2
    assert "Traceback" not in build.stderr
    assert "Exception ignored" not in build.stderr
    _assert_nothing_left(root, build.process.pid)


def test_one_stage_is_cancelled_as_fast(
    root: Path, start: Callable[[Path], _Build], tmp_path: Path
) -> None:
    context = write_context(tmp_path / "ctx", ONE_STAGE)
    build = start(context)
    (vertex,) = build.wait_until_sleeping(1)
    sent = time.monotonic()
    build.process.send_signal(signal.SIGINT)
    assert build.wait() == 130, build.stderr
    assert time.monotonic() - sent < 2
    assert f"{vertex} CANCELED" in build.lines
    _assert_nothing_left(root, build.process.pid)


def test_a_failing_stage_is_still_the_error(
    root: Path, start: Callable[[Path], _Build], tmp_path: Path
) -> None:
    """Not a cancel: the failure is reported (exit 1), the other stage shows CANCELED."""
    context = write_context(
        tmp_path / "ctx",
        TWO_STAGES.replace("sleep 27 && echo two > /two", "sleep 1 && exit 3"),
    )
    build = start(context)
    code = build.wait(60)
    assert code == 1, build.stderr
    assert "exit code: 3" in build.stderr
    assert "build canceled" not in build.stderr
    assert "Traceback" not in build.stderr
    assert any(line.endswith(" CANCELED") for line in build.lines), build.stderr
    _assert_nothing_left(root, build.process.pid)


def test_the_library_raises_build_cancelled(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    store = busybox_store(tmp_path / "store", busybox_rootfs_tar)
    context = write_context(tmp_path / "ctx", TWO_STAGES)
    cancel = threading.Event()
    events: list[Event] = []
    cancelled_at: list[float] = []

    def cancel_when_sleeping() -> None:
        deadline = time.monotonic() + 60
        while len(_sleepers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        cancelled_at.append(time.monotonic())
        cancel.set()

    threading.Thread(target=cancel_when_sleeping, daemon=True).start()
    with pytest.raises(BuildCancelled):
        builder.build(BuildRequest(context, progress=events.append, cancel=cancel), store=store)
    assert cancelled_at and time.monotonic() - cancelled_at[0] < 1
    started = {e.vertex for e in events if isinstance(e, StepStarted) and "sleep" in e.name}
    assert len(started) == 2
    assert {e.vertex for e in events if isinstance(e, StepCanceled)} == started
    _assert_nothing_left(store.root, os.getpid())


def test_signal_handlers_are_restored(root: Path, tmp_path: Path) -> None:
    """After a build, the CLI's handlers are gone: Python's own SIGINT handling is back."""
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN true\n")
    script = (
        "import signal, sys\n"
        "from builder.cli.main import app\n"
        "before = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]\n"
        "try:\n"
        f"    app(['build', '-q', {str(context)!r}])\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "after = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]\n"
        "assert before == after, (before, after)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYBUILD_ROOT": str(root)},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_cancel_on_signals_sets_the_event_and_restores() -> None:
    from builder.cli.signals import cancel_on_signals

    cancel = threading.Event()
    before = signal.getsignal(signal.SIGTERM)
    previous_hup = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with cancel_on_signals(cancel) as caught:
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN  # stays ignored
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)  # a later one changes nothing, raises nothing
            time.sleep(0.01)
        assert cancel.is_set()
        assert (caught.signum, caught.name, caught.exit_code) == (signal.SIGTERM, "SIGTERM", 143)
        assert signal.getsignal(signal.SIGTERM) == before
        assert signal.getsignal(signal.SIGINT) == signal.default_int_handler
    finally:
        signal.signal(signal.SIGHUP, previous_hup)


def test_build_stop_reads_the_callers_event_without_setting_it() -> None:
    from builder.solve.cancel import BuildStop

    outside = threading.Event()
    stop = BuildStop(outside)
    assert not stop.is_set() and not stop.wait(0.01)
    stop.set()  # a stage failed: the caller's event is left alone
    assert stop.is_set() and not stop.cancelled() and not outside.is_set()
    other = BuildStop(outside)
    threading.Timer(0.05, outside.set).start()
    assert other.wait(5) and other.cancelled()
