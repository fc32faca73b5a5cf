"""Tests of tinygrad_edu.save / tinygrad_edu.load: bit-for-bit round trips through .npz, atomic
writes, and clear errors for truncated, tampered, pickled or foreign files."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.serialization import CheckpointError


def trained_model() -> nn.MLP:
    tg.manual_seed(0)
    model = nn.MLP([5, 7, 3])
    opt = optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        tg.nn.functional.cross_entropy(model(tg.randn(8, 5)), np.arange(8) % 3).backward()
        opt.step()
    return model


def test_state_dict_round_trip_is_bit_for_bit(tmp_path):
    model = trained_model()
    path = tmp_path / "model.npz"
    tg.save(model.state_dict(), path)
    loaded = tg.load(path)
    assert list(loaded) == list(model.state_dict())  # names, in order
    for name, value in model.state_dict().items():
        assert isinstance(loaded[name], tg.Tensor)
        assert loaded[name].dtype == value.dtype and loaded[name].shape == value.shape
        assert loaded[name].data.tobytes() == value.data.tobytes()  # bit for bit
    tg.manual_seed(123)
    restored = nn.MLP([5, 7, 3])
    restored.load_state_dict(loaded)
    x = tg.randn(4, 5)
    np.testing.assert_array_equal(restored(x).data, model(x).data)


def test_round_trip_of_dtypes_shapes_and_awkward_names(tmp_path):
    state = {
        "float64": np.random.default_rng(0).standard_normal((2, 3)),
        "float32 scalar": np.float32(np.pi),
        "int64": np.arange(5),
        "bool": np.array([True, False]),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "file": tg.Tensor([1.0]),  # names that are also np.savez's own argument names
        "allow_pickle": tg.Tensor([2.0]),
        "name.with.dots": tg.ones(2, 2),
        "größe ünd spaces": tg.zeros(1),
        "negative zero and nan": np.array([-0.0, np.nan, np.inf], dtype=np.float32),
        "python float": 1.5,
    }
    path = tmp_path / "state.npz"
    tg.save(state, str(path))
    loaded = tg.load(str(path))
    assert list(loaded) == list(state)
    for name, value in state.items():
        expected = value.data if isinstance(value, tg.Tensor) else np.asarray(value)
        assert loaded[name].dtype == expected.dtype and loaded[name].shape == expected.shape
        assert loaded[name].data.tobytes() == expected.tobytes()
    with np.load(path, allow_pickle=False) as archive:  # a plain .npz that NumPy itself reads
        np.testing.assert_array_equal(archive["int64"], np.arange(5))


def test_save_is_atomic_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    tg.save({"w": np.arange(3.0)}, path)
    assert os.listdir(tmp_path) == ["model.npz"]

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # e.g. the user presses Ctrl-C half-way through writing

    monkeypatch.setattr(np.lib.format, "write_array", crash)
    with pytest.raises(KeyboardInterrupt):
        tg.save({"w": np.arange(100.0)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.npz"]  # no half-written file, no leftover temporary
    np.testing.assert_array_equal(tg.load(path)["w"].data, np.arange(3.0))  # the old checkpoint is intact


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "model.npz"
    tg.save({"w": np.zeros(2)}, path)
    tg.save({"v": np.ones(3)}, path)
    assert list(tg.load(path)) == ["v"]


def test_truncated_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "model.npz"
    tg.save(trained_model().state_dict(), path)
    data = path.read_bytes()
    for keep in (len(data) // 2, len(data) - 10, 3, 0):
        path.write_bytes(data[:keep])
        with pytest.raises(CheckpointError, match=r"is not a valid tinygrad_edu checkpoint.*truncated"):
            tg.load(path)


def test_tampered_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "model.npz"
    weights = np.full(64, 0.25, dtype=np.float32)
    tg.save({"layer.weight": weights}, path)
    data = bytearray(path.read_bytes())
    position = bytes(data).index(weights.tobytes())
    data[position + 17] ^= 0x40  # flip one bit of one weight
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"not a valid tinygrad_edu checkpoint: Bad CRC-32"):
        tg.load(path)


def test_pickled_and_foreign_files_are_refused(tmp_path):
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, evil=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError, match=r"pickle.*arbitrary code"):
        tg.load(pickled)
    text = tmp_path / "notes.npz"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"does not start like an \.npz"):
        tg.load(text)
    single = tmp_path / "single.npy"
    np.save(single, np.arange(3))
    with pytest.raises(CheckpointError, match=r"single .npy array, not a state dict"):
        tg.load(single)
    with pytest.raises(FileNotFoundError):
        tg.load(tmp_path / "missing.npz")
    raw = tmp_path / "raw.npz"
    with zipfile.ZipFile(raw, "w") as archive:
        archive.writestr("text.txt", "hello")  # a zip member that is not an array
    with pytest.raises(CheckpointError, match="not a numeric array"):
        tg.load(raw)


def test_save_refuses_what_it_cannot_store(tmp_path):
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"pass Linear.state_dict\(\), not the Linear itself"):
        tg.save(model, tmp_path / "m.npz")
    with pytest.raises(TypeError, match="keys must be strings"):
        tg.save({1: np.zeros(2)}, tmp_path / "m.npz")
    with pytest.raises(TypeError, match="only numeric arrays"):
        tg.save({"name": "text"}, tmp_path / "m.npz")
    with pytest.raises(TypeError, match="expected a dict"):
        tg.save([np.zeros(2)], tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- names the .npz format cannot keep apart


def test_save_refuses_a_name_ending_in_npy(tmp_path):
    # Regression (issue 10, item 6): "w.npy" was stored as the member "w.npy.npy" and NumPy's
    # npz reader then answered load(p)["w.npy"] with the member "w.npy", i.e. the entry "w".
    a, b = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match=r"'a\.npy' ends in '\.npy'.*read back as 'a'.*rename it, e\.g\. 'a_npy'"):
        tg.save({"a": a, "a.npy": b}, tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []  # refused before anything is written


@pytest.mark.parametrize(
    ("name", "what"),
    [("layer/weight", "a '/'"), ("layer\\weight", "a '\\\\'"), ("w\0b", "a NUL character")],
)
def test_save_refuses_names_a_zip_member_cannot_hold(tmp_path, name, what):
    with pytest.raises(ValueError, match=rf"contains {what}.*Use '\.'"):
        tg.save({name: np.zeros(2)}, tmp_path / "m.npz")
    with pytest.raises(ValueError, match="lone surrogate"):
        tg.save({"w\udc80": np.zeros(2)}, tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_every_name_that_save_accepts_comes_back_as_itself(tmp_path):
    names = ["w", "w.np", "w.npy_", ".npy.w", "npy", "0.weight", "w b", "é", "", "w.NPY"]
    state = {name: np.full(2, i, dtype=np.int16) for i, name in enumerate(names)}
    tg.save(state, tmp_path / "m.npz")
    loaded = tg.load(tmp_path / "m.npz")
    assert list(loaded) == names
    assert all(loaded[name].tolist() == [i, i] for i, name in enumerate(names))


# ---------------------------------------------------------------- damaged files


def small_checkpoint(path):
    state = {"w": np.array([[0.5, -1.0]], dtype=np.float32), "b": np.array([3, -4], dtype=np.int16)}
    tg.save(state, path)
    return state


def loads_exactly(path, state) -> bool:
    loaded = tg.load(path)  # raises CheckpointError, or returns the whole dict
    return list(loaded) == list(state) and all(
        loaded[k].dtype == v.dtype and loaded[k].shape == v.shape and loaded[k].data.tobytes() == v.tobytes()
        for k, v in state.items()
    )


def test_checkpoint_fuzz_every_bit_flip_and_truncation(tmp_path):
    """Every single-bit flip and every truncation of a small checkpoint either raises
    CheckpointError or loads exactly the saved values (a flip in a field zip readers ignore,
    such as a timestamp, is harmless): never another exception, never a partial dict."""
    original = tmp_path / "model.npz"
    state = small_checkpoint(original)
    blob = original.read_bytes()
    damaged = tmp_path / "damaged.npz"
    outcomes = {"error": 0, "exact": 0}
    for bit in range(8 * len(blob)):
        flipped = bytearray(blob)
        flipped[bit // 8] ^= 1 << (bit % 8)
        damaged.write_bytes(flipped)
        try:
            assert loads_exactly(damaged, state), f"flipping bit {bit} loaded other values"
            outcomes["exact"] += 1
        except CheckpointError:
            outcomes["error"] += 1
    for length in range(len(blob)):
        damaged.write_bytes(blob[:length])
        with pytest.raises(CheckpointError):
            tg.load(damaged)
    # Every bit of the arrays and their .npy headers is covered by a CRC-32, so most flips are caught.
    assert outcomes["error"] > outcomes["exact"] > 0


def central_directory_entry(path, index: int = 0) -> int:
    """Byte offset of the central-directory record of member `index`."""
    with zipfile.ZipFile(path) as archive:
        offset = archive.start_dir
        for _ in range(index):
            name, extra, comment = np.frombuffer(path.read_bytes()[offset + 28 : offset + 34], "<u2")
            offset += 46 + int(name) + int(extra) + int(comment)
    return offset


@pytest.mark.parametrize(
    ("field", "offset", "bit", "message"),
    [
        # Regressions (issue 10, item 6): each of these raised a bare exception or dropped an entry.
        ("encrypted flag", 8, 0, "encrypted"),  # was RuntimeError: File is encrypted
        ("compression method", 10, 2, "compression method"),  # was NotImplementedError
        ("comment length", 32, 6, "directory does not describe"),  # silently dropped the entry "b"
    ],
)
def test_damaged_zip_fields_raise_checkpoint_error(tmp_path, field, offset, bit, message):
    path = tmp_path / "model.npz"
    small_checkpoint(path)
    data = bytearray(path.read_bytes())
    data[central_directory_entry(path) + offset] ^= 1 << bit
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=message):
        tg.load(path)


def npz_with_member(path, name: str, payload: bytes, repeat: int = 1) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for _ in range(repeat):
            archive.writestr(name, payload)


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def test_header_larger_than_the_file_is_refused_before_allocating(tmp_path):
    # Regression (issue 10, item 6): a header claiming 10^12 elements was a bare MemoryError.
    import tracemalloc

    path = tmp_path / "huge.npz"
    npz_with_member(path, "w.npy", npy_header((10**12,)) + bytes(16))  # a valid zip, CRC and all
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"'w' announces shape \(1000000000000,\).*holds 16 bytes"):
            tg.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_duplicate_and_foreign_members_are_refused(tmp_path):
    path = tmp_path / "twice.npz"
    with pytest.warns(UserWarning, match="Duplicate name"):
        npz_with_member(path, "w.npy", npy_header((2,)) + bytes(8), repeat=2)
    with pytest.raises(CheckpointError, match="two entries are named 'w'"):
        tg.load(path)
    path = tmp_path / "structured.npz"
    npz_with_member(path, "w.npy", npy_header((1,), descr=[("a", "<f4")]) + bytes(4))
    with pytest.raises(CheckpointError, match="'w' is not a numeric array"):
        tg.load(path)


def test_numpy_written_archives_load(tmp_path):
    """np.savez and np.savez_compressed files (what a PyTorch user exports) load as they are."""
    arrays = {"weight": np.arange(12.0).reshape(3, 4).T, "bias": np.arange(3, dtype=">i4")}  # Fortran order, big-endian
    for writer in (np.savez, np.savez_compressed):
        writer(tmp_path / "w.npz", **arrays)
        loaded = tg.load(tmp_path / "w.npz")
        assert list(loaded) == ["weight", "bias"]
        np.testing.assert_array_equal(loaded["weight"].data, arrays["weight"])
        assert loaded["bias"].dtype == np.int32 and loaded["bias"].tolist() == [0, 1, 2]


# ---------------------------------------------------------------- killed saves


_KILLED_WRITER = """
import sys
import numpy as np
import tinygrad_edu as tg
tg.save({"w": np.ones(2**27 // 8)}, sys.argv[1])  # 128 MiB, written in chunks of 16 MiB
"""


def test_a_killed_save_leaves_the_old_file_and_the_next_save_removes_its_orphan(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "model.npz"
    tg.save({"w": np.arange(3.0)}, path)
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(path)])
    orphan = None
    deadline = time.monotonic() + 60
    try:
        while orphan is None and time.monotonic() < deadline and writer.poll() is None:
            temporaries = [p for p in tmp_path.iterdir() if p.name.startswith(".model.npz.")]
            if temporaries and temporaries[0].stat().st_size > 2**20:  # the array is being written
                orphan = temporaries[0]
            else:
                time.sleep(0.001)
        writer.send_signal(signal.SIGKILL)  # as the OOM killer, or a cluster's time limit, would
    finally:
        writer.kill()
        writer.wait()
    assert orphan is not None, "the writer finished (or failed) before it could be killed mid-write"
    assert orphan.exists() and writer.returncode == -signal.SIGKILL
    assert f".{writer.pid}." in orphan.name  # the writer's pid is in the name: that is how it is known dead
    np.testing.assert_array_equal(tg.load(path)["w"].data, np.arange(3.0))  # the old checkpoint is intact
    tg.save({"w": np.arange(4.0)}, path)  # the next save of the same path cleans up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    np.testing.assert_array_equal(tg.load(path)["w"].data, np.arange(4.0))


def test_save_keeps_the_temporary_file_of_a_save_still_running(tmp_path):
    path = tmp_path / "model.npz"
    running = tmp_path / f".model.npz.{os.getpid()}.0123456789ab.tmp"  # this process is alive
    running.write_bytes(b"half")
    other_target = tmp_path / ".other.npz.1.0123456789ab.tmp"  # an orphan of another path
    other_target.write_bytes(b"half")
    tg.save({"w": np.zeros(1)}, path)
    assert running.exists() and other_target.exists()


def test_a_save_that_fails_on_disk_removes_its_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        tg.save({"w": np.zeros(10)}, path)
    assert os.listdir(tmp_path) == []
