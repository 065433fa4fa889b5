"""Files: atomic writes survive SIGTERM and dead writers, folders move whole, outputs checked."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bayesspr.io.files import (
    OutputPathError,
    atomic_folder,
    atomic_write,
    check_output_path,
    file_kind,
    saved_fit_kind,
)

HDF5 = b"\x89HDF\r\n\x1a\n" + bytes(64)


def _dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".old")))


def test_atomic_write_removes_temp_files_of_dead_writers_only(tmp_path):
    target = tmp_path / "out.csv"
    dead = tmp_path / f".out.csv.{_dead_pid()}.abc123.tmp"
    alive = tmp_path / f".out.csv.{os.getppid()}.def456.tmp"  # a write under way elsewhere
    other = tmp_path / f".other.csv.{_dead_pid()}.abc123.tmp"  # another target's
    for path in (dead, alive, other):
        path.write_text("half a file")
    atomic_write(lambda tmp: open(tmp, "w").write("a,b\n1,2\n"), target)
    assert target.read_text() == "a,b\n1,2\n"
    assert not dead.exists()
    assert alive.exists() and other.exists()


def test_atomic_write_cleans_up_when_the_process_gets_sigterm(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("earlier\n")
    script = textwrap.dedent(f"""
        import os, signal, time
        from bayesspr.io.files import atomic_write

        def write(tmp):
            open(tmp, "w").write("half")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)

        atomic_write(write, {str(target)!r})
    """)
    done = subprocess.run([sys.executable, "-c", script], timeout=120, capture_output=True)
    assert done.returncode == 143, done.stderr.decode()
    assert target.read_text() == "earlier\n"
    assert _temps(tmp_path) == []


def test_atomic_folder_replaces_the_folder_whole(tmp_path):
    out = tmp_path / "plan"
    with atomic_folder(out) as tmp:
        (tmp / "a.csv").write_text("first\n")
        (tmp / "b.csv").write_text("first\n")
    with atomic_folder(out) as tmp:
        (tmp / "a.csv").write_text("second\n")
    assert sorted(p.name for p in out.iterdir()) == ["a.csv"]
    assert (out / "a.csv").read_text() == "second\n"
    assert _temps(tmp_path) == []


def test_atomic_folder_leaves_the_earlier_folder_intact_on_failure(tmp_path):
    out = tmp_path / "plan"
    with atomic_folder(out) as tmp:
        (tmp / "a.csv").write_text("first\n")
    with pytest.raises(RuntimeError, match="disk full"), atomic_folder(out) as tmp:
        (tmp / "a.csv").write_text("second\n")
        raise RuntimeError("disk full")
    assert [p.name for p in out.iterdir()] == ["a.csv"]
    assert (out / "a.csv").read_text() == "first\n"
    assert _temps(tmp_path) == []


def test_atomic_folder_puts_back_a_folder_a_killed_writer_left_aside(tmp_path):
    pid = _dead_pid()
    aside = tmp_path / f".plan.{pid}.abc123.old"  # killed between the two renames
    aside.mkdir()
    (aside / "a.csv").write_text("first\n")
    half = tmp_path / f".plan.{pid}.def456.tmp"
    half.mkdir()
    with pytest.raises(RuntimeError), atomic_folder(tmp_path / "plan"):
        raise RuntimeError("this run fails too")
    assert (tmp_path / "plan" / "a.csv").read_text() == "first\n"
    assert _temps(tmp_path) == []


def test_file_kind_tells_fits_images_pages_and_text_apart(tmp_path):
    cases = {
        "fit.nc": HDF5,
        "chart.png": b"\x89PNG\r\n\x1a\n....",
        "page.html": b"<!DOCTYPE html>",
        "table.csv": b"a,b\n1,2\n",
        "empty.csv": b"",
    }
    kinds = {}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        kinds[name] = file_kind(tmp_path / name)
    assert kinds == {
        "fit.nc": "hdf5",
        "chart.png": "png",
        "page.html": "html",
        "table.csv": "text",
        "empty.csv": "empty",
    }


def test_saved_fit_kind_refuses_a_file_that_is_not_a_fit(tmp_path):
    fake = tmp_path / "fit.nc"
    fake.write_text("date,zip\n")
    with pytest.raises(ValueError, match=r"is not a netCDF file written by SPRModel\.save"):
        saved_fit_kind(fake)


def test_check_output_path_refuses_a_hard_link_to_an_input(tmp_path):
    data = tmp_path / "world.csv"
    data.write_text("a\n1\n")
    link = tmp_path / "copy.csv"
    os.link(data, link)
    with pytest.raises(OutputPathError, match="same file as the input --data"):
        check_output_path(link, "csv", {"--data": data})


def test_check_output_path_refuses_a_folder_it_would_wipe(tmp_path):
    out = tmp_path / "plan"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputPathError, match=r"holds files this command did not write \(notes"):
        check_output_path(out, "folder", folder_files=("plan.csv",))
    model = out / "spr.nc"
    model.write_bytes(HDF5)
    with pytest.raises(OutputPathError, match="holds the input --model"):
        check_output_path(out, "folder", {"--model": model}, folder_files=("spr.nc",))
    (out / "notes.txt").unlink()
    model.unlink()
    (out / "plan.csv").write_text("old plan")
    assert check_output_path(out, "folder", folder_files=("plan.csv",)) == out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_atomic_folder_swaps_in_one_step_so_the_folder_is_never_missing(tmp_path, monkeypatch):
    """A writer killed at any moment leaves ``plan`` whole: the old or the new folder.

    With two renames there is an instant with no ``plan`` at all (a SIGKILL there left it
    missing until the next run); the exchange has none, so moving the target aside never
    happens.
    """
    out = tmp_path / "plan"
    with atomic_folder(out) as tmp:
        (tmp / "a.csv").write_text("first\n")
    real_rename = os.rename

    def rename(src, dst, *args, **kwargs):
        assert Path(src) != out, "plan was moved aside: a kill now would leave no plan"
        return real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", rename)
    with atomic_folder(out) as tmp:
        (tmp / "a.csv").write_text("second\n")
    assert (out / "a.csv").read_text() == "second\n"
    assert _temps(tmp_path) == []
