"""The one output writer (ganforge.outputs): atomic, never through a link, never over a file ganforge did not write."""

from __future__ import annotations

import os

import pytest

from ganforge.outputs import MANIFEST, OutputError, OutputFolder, atomic_file, ensure_folder


def test_atomic_file_writes_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    with atomic_file(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.suffix == ".txt"
        assert tmp != target
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_atomic_file_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    def write_half():
        with atomic_file(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_half()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_two_writers_get_distinct_temporaries(tmp_path):
    target = tmp_path / "a.npz"
    with atomic_file(target) as t1, atomic_file(target) as t2:
        assert t1 != t2
        t1.write_text("1")
        t2.write_text("2")
    assert target.read_text() in {"1", "2"}


def test_a_link_at_the_target_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    (tmp_path / "out").mkdir()
    link = tmp_path / "out" / "scores.csv"
    link.symlink_to(outside)
    with atomic_file(link) as tmp:
        tmp.write_text("ours")
    assert outside.read_text() == "precious"
    assert not link.is_symlink()
    assert link.read_text() == "ours"


def test_own_folder_that_is_a_link_is_refused(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "samples").symlink_to(photos)
    with pytest.raises(OutputError, match="symbolic link"):
        ensure_folder(tmp_path / "run" / "samples", own=True)
    with pytest.raises(OutputError, match="symbolic link"), atomic_file(tmp_path / "run" / "samples" / "x.png",
                                                                       own_folder=True):
        pass
    assert list(photos.iterdir()) == []


def test_output_folder_refuses_foreign_files_and_replaces_its_own(tmp_path):
    folder = OutputFolder(tmp_path / "out")
    folder.claim()  # missing folder: fine
    with folder.write("00000.png") as tmp:
        tmp.write_bytes(b"png")
    assert (tmp_path / "out" / MANIFEST).is_file()
    OutputFolder(tmp_path / "out").claim()  # only our own file: fine
    with OutputFolder(tmp_path / "out").write("00000.png") as tmp:
        tmp.write_bytes(b"png2")
    (tmp_path / "out" / "holiday.png").write_bytes(b"user")
    with pytest.raises(OutputError, match=r"holiday\.png"):
        OutputFolder(tmp_path / "out").claim()
    # a file of ours the user edited is theirs now
    (tmp_path / "out" / "00000.png").write_bytes(b"edited")
    with pytest.raises(OutputError, match="not written by ganforge"), OutputFolder(tmp_path / "out").write(
            "00000.png"):
        pass
    assert (tmp_path / "out" / "00000.png").read_bytes() == b"edited"


def test_unwritable_folder_is_one_line(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    try:
        if os.access(ro, os.W_OK) and os.geteuid() == 0:
            pytest.skip("root ignores folder permissions")
        with pytest.raises(OutputError, match="cannot write"), atomic_file(ro / "x.txt"):
            pass
    finally:
        os.chmod(ro, 0o700)


def test_checkpoints_go_through_the_writer_and_their_bytes_do_not_depend_on_the_temporary(tmp_path):
    import torch

    from ganforge.checkpoint import TMP_PATTERN, copy_atomic, remove_partial, save_atomic

    state = {"models": {"G": {"w": torch.arange(6.0).reshape(2, 3)}}, "config": {"name": "x"}}
    save_atomic(state, tmp_path / "latest.pt")
    save_atomic(state, tmp_path / "best.pt")  # another (random) temporary name, the same bytes
    assert (tmp_path / "latest.pt").read_bytes() == (tmp_path / "best.pt").read_bytes()
    copy_atomic(tmp_path / "latest.pt", tmp_path / "step-0000002.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "latest.pt", "step-0000002.pt"]
    # what a kill mid-save leaves (today's names and the fixed ones of earlier versions) is recognised and removed;
    # a user's file with a similar name is not
    left = [".latest.k2_x9q0a.partial.pt", ".step-0000004.abcdefgh.partial.pt", "latest.pt.tmp"]
    for name in [*left, "latest.partial.pt", "notes.pt.tmp"]:
        (tmp_path / name).write_bytes(b"cut")
    assert all(TMP_PATTERN.fullmatch(n) for n in left)
    assert sorted(p.name for p in remove_partial(tmp_path)) == sorted(left)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "latest.partial.pt", "latest.pt",
                                                           "notes.pt.tmp", "step-0000002.pt"]
