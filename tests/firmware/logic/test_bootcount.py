"""The boot counter in flash: once per boot, never backwards, never in the way."""

import os

from pico_bell import bootcount
from pico_bell.board import Board
from pico_host.fakes import FakeFlash, FakeMachine, FakeNetwork

PATH = "/bell_boot.txt"


class FlakyFlash(FakeFlash):
    def __init__(self, fail_read=False, fail_write=False):
        super().__init__()
        self.fail_read = fail_read
        self.fail_write = fail_write

    def read_file(self, path):
        if self.fail_read:
            raise OSError(5, "EIO")
        return super().read_file(path)

    def write_file(self, path, data):
        if self.fail_write:
            raise OSError(28, "ENOSPC")
        super().write_file(path, data)


def test_counts_up_once_per_boot():
    flash = FakeFlash()
    lines = []
    assert [bootcount.advance(flash, PATH, lines.append) for _ in range(3)] == [1, 2, 3]
    assert flash.files[PATH] == b"3\n"
    assert flash.writes == 3
    assert lines == []  # A first start is nothing to complain about.


def test_a_corrupt_file_never_stops_the_bell():
    for garbage in (b"", b"\xff\xfe", b"seventeen", b"-3", b"99999999999", b"4294967296"):
        flash = FakeFlash()
        flash.files[PATH] = garbage
        lines = []
        assert bootcount.advance(flash, PATH, lines.append) == 1
        assert any("ignored" in line for line in lines)
        assert any("starting again from 1" in line for line in lines)
        assert flash.files[PATH] == b"1\n"


def test_an_interrupted_write_loses_nothing():
    flash = FakeFlash()
    flash.files[PATH] = b"41\n"
    flash.files[PATH + ".tmp"] = b"42\n"  # Power cut between writing and renaming.
    assert bootcount.advance(flash, PATH) == 43
    flash = FakeFlash()
    flash.files[PATH + ".tmp"] = b"7"  # FAT: the old file removed, the rename not done.
    assert bootcount.advance(flash, PATH) == 8
    flash = FakeFlash()
    flash.files[PATH] = b"garbage"
    flash.files[PATH + ".tmp"] = b"12\n"
    assert bootcount.advance(flash, PATH) == 13


def test_flash_errors_are_logged_not_raised():
    lines = []
    assert bootcount.advance(FlakyFlash(fail_read=True), PATH, lines.append) == 1
    assert any("EIO" in line or "5" in line for line in lines)
    lines = []
    assert bootcount.advance(FlakyFlash(fail_write=True), PATH, lines.append) == 1
    assert any("could not save" in line for line in lines)


def test_the_count_stops_at_its_maximum():
    flash = FakeFlash()
    flash.files[PATH] = b"4294967295"
    lines = []
    assert bootcount.advance(flash, PATH, lines.append) == bootcount.MAX_BOOT
    assert any("maximum" in line for line in lines)


def test_real_files_are_replaced_whole():
    # The Board's own file code, on this Python's real file system (MicroPython's VFS
    # under WebAssembly, the computer's under CPython). MicroPython has no pathlib.
    board = Board(FakeMachine(), FakeNetwork())
    folder = _empty_folder()
    path = folder + "/bell_boot.txt"
    try:
        assert board.read_file(path) is None
        assert [bootcount.advance(board, path) for _ in range(3)] == [1, 2, 3]
        assert board.read_file(path) == b"3\n"
        assert os.listdir(folder) == ["bell_boot.txt"]  # noqa: PTH208 - no .tmp left over
    finally:
        for name in os.listdir(folder):  # noqa: PTH208
            os.remove(folder + "/" + name)  # noqa: PTH107
        os.rmdir(folder)  # noqa: PTH106


def _empty_folder():
    if hasattr(os, "getpid"):  # CPython: a private folder under the system's temp dir.
        import tempfile  # noqa: PLC0415 - MicroPython has no tempfile

        return tempfile.mkdtemp()
    folder = "/tmp/bell_boot_test"  # MicroPython's in-memory file system.
    os.mkdir(folder)  # noqa: PTH102
    return folder
