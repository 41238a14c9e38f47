"""Only regular files of bounded size are read; nothing blocks on a FIFO or a device."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seasongate._errors import ConfigError
from seasongate._fileio import UnreadableFile, read_regular_file
from seasongate._yaml import read_text


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(b"x: 1\n")
    assert read_regular_file(path, limit=10) == b"x: 1\n"


def test_a_fifo_is_refused_at_once_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "V226__x.sql"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableFile, match="FIFO"):
        read_regular_file(fifo, limit=1000)


def test_a_symlink_to_dev_zero_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "calendar.yaml"
    link.symlink_to("/dev/zero")
    with pytest.raises(ConfigError, match="character device"):
        read_text(link)


def test_a_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * 101)
    with pytest.raises(UnreadableFile, match="limit is 100"):
        read_regular_file(path, limit=100)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="directory"):
        read_regular_file(tmp_path, limit=100)
