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
        "nested/name.with.dots": tg.ones(2, 2),
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
