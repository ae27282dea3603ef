"""Docker's wording for sizes, ages and history rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from builder.image.model import Descriptor, History, ImageConfig, Manifest
from builder.image.views import (
    ago,
    history_rows,
    human_duration,
    human_size,
    parse_time,
    split_name,
)

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0B"),
        (999, "999B"),
        (1000, "1kB"),
        (7_050_000, "7.05MB"),
        (123_456, "123kB"),
        (999_900, "1e+03kB"),  # Go's %.3g does the same
        (74_800_000, "74.8MB"),
        (1_500_000_000, "1.5GB"),
    ],
)
def test_human_size_matches_go_units(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.5, "Less than a second"),
        (1, "1 second"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (120, "2 minutes"),
        (3599, "59 minutes"),
        (3600, "About an hour"),
        (5399, "About an hour"),
        (5400, "2 hours"),
        (47 * 3600, "47 hours"),
        (48 * 3600, "2 days"),
        (14 * 86400, "2 weeks"),
        (60 * 86400, "2 months"),
        (2 * 365 * 86400, "2 years"),
    ],
)
def test_human_duration_matches_go_units(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_times_with_nanoseconds_and_zones() -> None:
    assert parse_time("2024-05-01T10:00:00.123456789Z") == datetime(
        2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_time("") is None
    assert parse_time("yesterday") is None
    now = datetime(2024, 5, 4, 10, 0, 0, tzinfo=UTC)
    assert ago("2024-05-01T10:00:00Z", now) == "3 days ago"
    assert ago("", now) == "N/A"


def test_split_name_gives_familiar_repository_and_tag() -> None:
    assert split_name("docker.io/library/debian:bookworm") == ("debian", "bookworm")
    assert split_name("localhost:5000/team/app:1") == ("localhost:5000/team/app", "1")
    assert split_name("docker.io/team/app:latest") == ("team/app", "latest")


def test_history_rows_give_sizes_to_layers_and_zero_to_empty_entries() -> None:
    config = ImageConfig(
        architecture="amd64",
        os="linux",
        diff_ids=[D, D],
        history=[
            History(created_by="import"),
            History(created_by="ENV A=1", empty_layer=True),
            History(created_by="RUN make"),
        ],
    )
    manifest = Manifest(
        config=Descriptor("c", D, 10),
        layers=(Descriptor("l", D, 100), Descriptor("l", D, 7)),
    )
    rows = history_rows("sha256:" + "b" * 64, config, manifest)
    assert [(r.image[:9], r.created_by, r.size) for r in rows] == [
        ("sha256:bb", "RUN make", 7),
        ("<missing>", "ENV A=1", 0),
        ("<missing>", "import", 100),
    ]
