"""tinygrad_edu.data: IDX parsing and checks, bounded decompression, checksums, downloads (through
pooch, against a local server), digits, DataLoader.

The tests that read the real files use shared/data (next to the repository, or next to a folder
above it) and are skipped, with the reason, when it is absent. The download tests serve copies of
those files, made in a temporary folder, from an HTTP server on 127.0.0.1 inside this process;
every server stops at the end of its test, or by itself after 30 s. No test reaches the network:
`no_network` refuses to resolve any host but the loopback.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import importlib.util
import shutil
import socket
import struct
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import data
from tinygrad_edu.data import DataLoader, DatasetError, DownloadError, load_digits, load_mnist, read_idx

# ../shared/data beside the repository; a worktree one level deeper finds it one folder further up.
SHARED = next(
    (p / "shared" / "data" for p in Path(__file__).resolve().parents[1:] if (p / "shared" / "data").is_dir()),
    Path(__file__).resolve().parents[2] / "shared" / "data",
)
MNIST_DIR = SHARED / "mnist"
FASHION_DIR = SHARED / "fashion-mnist"

needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"the MNIST files are not in {MNIST_DIR} (the shared data folder next to the repository)",
)
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"the Fashion-MNIST files are not in {FASHION_DIR} (the shared data folder next to the repository)",
)
needs_sklearn = pytest.mark.skipif(
    importlib.util.find_spec("sklearn") is None,
    reason="scikit-learn is not installed (pip install 'tinygrad_edu[data]')",
)

TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse to resolve any host but the loopback, so that no test here can reach the network."""
    resolve = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, f"no network in tests: refused to resolve {host!r}")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """The IDX encoding of a uint8 array."""
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_split(folder: Path, images: np.ndarray, labels: np.ndarray, kind: str = "test", gz: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    image_name, label_name = data.FILES[kind]
    for name, array in ((image_name, images), (label_name, labels)):
        blob = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(blob))
        else:
            (folder / name).write_bytes(blob)


# ---------------------------------------------------------------- IDX parsing and refusals


def test_read_idx_gzip_and_raw(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(array))
    (tmp_path / "b.gz").write_bytes(gzip.compress(idx_bytes(array)))
    for name in ("a", "b.gz"):
        out = read_idx(tmp_path / name)
        assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
        np.testing.assert_array_equal(out, array)


def test_read_idx_multibyte_types_are_native(tmp_path: Path) -> None:
    values = np.array([1, -2, 300], dtype=">i4")
    (tmp_path / "ints").write_bytes(bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 3) + values.tobytes())
    out = read_idx(tmp_path / "ints")
    assert out.dtype == np.dtype("int32") and out.dtype.isnative
    assert out.tolist() == [1, -2, 300]


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"<html>not found</html>", "not an IDX file"),
        (bytes([0, 0, 8, 3, 0, 0]), "header is cut short"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2, 3]), "truncated"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3]), "extra bytes"),
    ],
)
def test_read_idx_refuses_bad_files(tmp_path: Path, blob: bytes, message: str) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(blob)
    with pytest.raises(DatasetError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)  # the error names the file


def test_truncated_gzip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((100, 28, 28), np.uint8)))[:-30])
    with pytest.raises(DatasetError, match="corrupt gzip"):
        read_idx(path)


def gzip_bomb(path: Path, header: bytes, inflated: int = 1 << 30) -> None:
    """A ~1 MB gzip file whose content is `header` and then zeros, `inflated` bytes in all: one gzip
    member per MiB (a gzip file may hold several, read one after another), each ~1 KB."""
    mib = 1 << 20
    member = gzip.compress(bytes(mib), compresslevel=9, mtime=0)
    with open(path, "wb") as file:
        file.write(gzip.compress(header + bytes(mib - len(header)), mtime=0))
        for _ in range(inflated // mib - 1):
            file.write(member)


def test_gzip_bomb_named_like_mnist_is_refused_quickly_in_small_memory(tmp_path: Path) -> None:
    """Regression (issue 10, item 9): a 1 MB gzip that inflates to 1 GiB was decompressed whole
    (2.1 GB RSS) before being refused. Its size is known in advance: reading stops one byte past it."""
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 10000, 28, 28)  # a valid t10k-images header
    gzip_bomb(tmp_path / "t10k-images-idx3-ubyte.gz", header)
    write_split(tmp_path / "labels", np.zeros((1, 28, 28), np.uint8), np.zeros(10000, np.uint8))
    shutil.copy(tmp_path / "labels" / "t10k-labels-idx1-ubyte.gz", tmp_path)
    assert (tmp_path / "t10k-images-idx3-ubyte.gz").stat().st_size < 1_200_000
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DatasetError, match=r"i\.e\. 7840016 bytes, but the file inflates to more") as info:
            load_mnist(tmp_path, "test")
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "t10k-images-idx3-ubyte.gz" in str(info.value)
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.0f} MiB: more than the 7.5 MiB file that is expected"
    assert seconds < 5  # decompressing the whole GiB takes several seconds on its own


def test_header_claiming_more_than_the_known_size_is_refused_before_reading(tmp_path: Path) -> None:
    header = bytes([0, 0, 8, 1]) + struct.pack(">I", 2**31)  # a "labels" file of 2 GiB
    gzip_bomb(tmp_path / "t10k-labels-idx1-ubyte.gz", header, inflated=1 << 20)
    with pytest.raises(DatasetError, match=r"i\.e\. 2147483656 bytes, more than 10008 bytes \(the largest such file"):
        read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", max_bytes=data.mnist.known_size("t10k-labels-idx1-ubyte"))


def test_read_idx_refuses_255_dimensions(tmp_path: Path) -> None:
    # Regression (issue 10, item 14): 255 dimensions of size 1 fit the file, and NumPy's reshape
    # then failed with its own bare error (arrays have at most 64 dimensions).
    path = tmp_path / "deep-idx255-ubyte"
    path.write_bytes(bytes([0, 0, 8, 255]) + struct.pack(">255I", *[1] * 255) + b"\x07")
    with pytest.raises(DatasetError, match=r"announces 255 dimensions, but an array has at most 64") as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_header_beyond_the_file_allocates_nothing_large(tmp_path: Path, compressed: bool) -> None:
    blob = bytes([0, 0, 0x0E, 3]) + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1) + bytes(64)  # ~6e29 bytes
    path = tmp_path / ("huge-idx3-double.gz" if compressed else "huge-idx3-double")
    path.write_bytes(gzip.compress(blob) if compressed else blob)
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match="truncated") as info:
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value) and "(4294967295, 4294967295, 4294967295)" in str(info.value)
    assert peak < 4 * 2**20  # what reading a chunk costs, not what the header claims


def test_wrong_magic_swapped_files(tmp_path: Path) -> None:
    images, labels = np.zeros((10000, 28, 28), np.uint8), np.zeros(10000, np.uint8)
    write_split(tmp_path, labels, images)  # swapped on purpose
    with pytest.raises(DatasetError, match=r"magic number 0x00000801 \(that of a label file\).*swapped"):
        load_mnist(tmp_path, "test", verify=False)


def test_wrong_count_is_refused(tmp_path: Path) -> None:
    write_split(tmp_path, np.zeros((5, 28, 28), np.uint8), np.zeros(5, np.uint8))
    with pytest.raises(DatasetError, match=r"header says 5 items.*has 10000 items"):
        load_mnist(tmp_path, "test", verify=False)


def test_unknown_checksum_is_refused_and_verify_false_loads(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 10000).astype(np.uint8)
    write_split(tmp_path, images, labels, gz=False)
    with pytest.raises(DatasetError, match=r"unknown SHA-256 .* not the official t10k-images-idx3-ubyte"):
        load_mnist(tmp_path, "test")
    x, y = load_mnist(tmp_path, "test", verify=False)  # the escape hatch for one's own IDX files
    np.testing.assert_allclose(x, images.reshape(10000, 784) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)


def test_missing_directory_says_where_and_how(tmp_path: Path) -> None:
    where = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(where)
    message = str(info.value)
    assert str(where) in message and "does not exist" in message
    assert "train-images-idx3-ubyte.gz" in message and "download=True" in message


def test_missing_file_is_named(tmp_path: Path) -> None:
    write_split(tmp_path, np.zeros((10000, 28, 28), np.uint8), np.zeros(10000, np.uint8))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\(\.gz\) not found in"):
        load_mnist(tmp_path, "test")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="kind must be 'train' or 'test'"):
        load_mnist("x", kind="validation")
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        load_mnist("x", dataset="cifar")


# ---------------------------------------------------------------- the real files


@needs_mnist
def test_mnist_test_split_values() -> None:
    x, y = load_mnist(MNIST_DIR, "test")
    assert x.shape == (10000, 784) and x.dtype == np.float32
    assert y.shape == (10000,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert y[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@needs_mnist
def test_mnist_train_split_values() -> None:
    x, y = load_mnist(MNIST_DIR, "train", dataset="mnist")
    assert x.shape == (60000, 784) and y.shape == (60000,)
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert abs(float(x.mean()) - 0.1307) < 1e-3  # the mean pixel every MNIST tutorial normalises with


@needs_fashion
def test_fashion_mnist_loads_the_same_way() -> None:
    x, y = load_mnist(FASHION_DIR, "test")
    assert x.shape == (10000, 784) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [1000] * 10
    with pytest.raises(DatasetError, match=r"Fashion-MNIST file .* but MNIST was asked for"):
        load_mnist(FASHION_DIR, "test", dataset="mnist")


@needs_mnist
def test_raw_and_dotted_copies_verify(tmp_path: Path) -> None:
    expected = load_mnist(MNIST_DIR, "test")
    (tmp_path / "t10k-images.idx3-ubyte").write_bytes(
        gzip.decompress((MNIST_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())
    )
    # gzipped again with another header: different .gz bytes, same content, still official
    raw_labels = gzip.decompress((MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(raw_labels, mtime=0))
    x, y = load_mnist(tmp_path, "test")
    np.testing.assert_array_equal(x, expected[0])
    np.testing.assert_array_equal(y, expected[1])


@needs_mnist
def test_one_changed_pixel_is_caught(tmp_path: Path) -> None:
    raw = bytearray(gzip.decompress((MNIST_DIR / "t10k-images-idx3-ubyte.gz").read_bytes()))
    raw[5000] ^= 0xFF
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(bytes(raw))
    shutil.copy(MNIST_DIR / "t10k-labels-idx1-ubyte.gz", tmp_path)
    with pytest.raises(DatasetError, match="unknown SHA-256"):
        load_mnist(tmp_path, "test")


@needs_mnist
@needs_fashion
def test_mixed_datasets_are_refused(tmp_path: Path) -> None:
    shutil.copy(MNIST_DIR / "t10k-images-idx3-ubyte.gz", tmp_path)
    shutil.copy(FASHION_DIR / "t10k-labels-idx1-ubyte.gz", tmp_path)
    with pytest.raises(DatasetError, match=r"is from MNIST but .* is from Fashion-MNIST"):
        load_mnist(tmp_path, "test")


def test_official_digests_match_the_shared_sha256sums() -> None:
    for dataset, folder in (("mnist", MNIST_DIR), ("fashion-mnist", FASHION_DIR)):
        sums = folder / "SHA256SUMS"
        if not sums.is_file():
            pytest.skip(f"{sums} is absent")
        for line in sums.read_text().splitlines():
            digest, name = line.split()
            assert data.SHA256[dataset][name.removesuffix(".gz")][0] == digest


# ---------------------------------------------------------------- downloads (pooch) from a local server


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves the files of `server.folder`; `server.mode` makes it misbehave on purpose."""

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:
        server = self.server
        server.requests.append(self.path)
        path = server.folder / Path(self.path).name
        mode = server.mode
        if mode == "flaky" and len(server.requests) <= server.failures:
            mode = "drop"
        if mode == "hang":
            time.sleep(1.5)  # longer than the client's timeout; ends by itself
            return
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "drop":  # announce the whole file, send a part, hang up
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def serve():
    """serve(folder, mode) -> base URL of a server on 127.0.0.1 (modes: ok, drop, flaky, hang)."""
    servers = []

    def start(folder: Path, mode: str = "ok", failures: int = 0) -> tuple[str, http.server.HTTPServer]:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.block_on_close = False
        server.folder, server.mode, server.failures, server.requests = folder, mode, failures, []
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        watchdog = threading.Timer(30, server.shutdown)  # stops by itself even if a test hangs
        watchdog.daemon = True
        watchdog.start()
        servers.append((server, watchdog))
        return f"http://127.0.0.1:{server.server_address[1]}/files/", server

    yield start
    for server, watchdog in servers:
        watchdog.cancel()
        server.shutdown()
        server.server_close()


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    """A folder to serve, made in tmp: the test split's .gz files copied from the shared folder."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    for name in TEST_FILES:
        shutil.copy(MNIST_DIR / f"{name}.gz", folder)
    return folder


@pytest.fixture
def tampered(tmp_path: Path) -> Path:
    """A folder to serve whose files have the wrong checksum: the shared test split with one pixel
    (and one label) changed, gzipped again."""
    folder = tmp_path / "tampered"
    folder.mkdir()
    for name, position in zip(TEST_FILES, (5000, 100)):
        content = bytearray(gzip.decompress((MNIST_DIR / f"{name}.gz").read_bytes()))
        content[position] ^= 0x01
        (folder / f"{name}.gz").write_bytes(gzip.compress(bytes(content), compresslevel=1, mtime=0))
    return folder


def _files(folder: Path) -> list[str]:
    """Every file in `folder`, hidden and temporary ones included (pooch's are named tmp*)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@needs_mnist
def test_download_into_cache_dir(serve, mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(tmp_path / "cache"))
    url, server = serve(mirror)
    monkeypatch.setitem(data.BASE_URLS, "mnist", [url])  # the module-level list is what tests override
    x, y = load_mnist(kind="test", download=True)
    cache = tmp_path / "cache" / "mnist"
    assert _files(cache) == [f"{n}.gz" for n in TEST_FILES]
    for name in TEST_FILES:
        assert hashlib.sha256((cache / f"{name}.gz").read_bytes()).hexdigest() == data.SHA256["mnist"][name][0]
    assert x.shape == (10000, 784) and y[:3].tolist() == [7, 2, 1]
    assert len(server.requests) == 2
    load_mnist(kind="test", download=True)  # already there and verified: nothing is fetched again
    assert len(server.requests) == 2


@needs_mnist
def test_download_retries_after_a_dropped_connection(serve, mirror: Path, tmp_path: Path) -> None:
    url, server = serve(mirror, "flaky", failures=1)
    x, _ = load_mnist(tmp_path, "test", download=True, base_urls=[url], retries=2, timeout=5)
    assert x.shape == (10000, 784)
    assert len(server.requests) == 3  # one cut short, then both files whole
    assert _files(tmp_path) == sorted(["mirror", *(f"{n}.gz" for n in TEST_FILES)])  # no temporary file left


@needs_mnist
def test_wrong_checksum_is_refused_and_nothing_is_kept(serve, tampered: Path, tmp_path: Path) -> None:
    url, server = serve(tampered)
    target = tmp_path / "data"
    with pytest.raises(DownloadError) as info:
        load_mnist(target, "test", download=True, base_urls=[url], retries=1)
    message = str(info.value)
    assert "could not download t10k-images-idx3-ubyte.gz" in message
    assert data.SHA256["mnist"]["t10k-images-idx3-ubyte"][0] in message and "does not match" in message
    assert "by hand" in message
    assert server.requests == ["/files/t10k-images-idx3-ubyte.gz"]  # retries=1: asked once
    assert _files(target) == []  # the wrong bytes were not kept, not even as a temporary file


@needs_mnist
def test_wrong_checksum_mirror_falls_back_to_the_next(serve, tampered: Path, mirror: Path, tmp_path: Path) -> None:
    bad_url, bad = serve(tampered)
    good_url, good = serve(mirror)
    load_mnist(tmp_path / "data", "test", download=True, base_urls=[bad_url, good_url], retries=1)
    assert len(bad.requests) == 2 and len(good.requests) == 2  # each file: the bad mirror, then the good one
    assert _files(tmp_path / "data") == [f"{n}.gz" for n in TEST_FILES]


@needs_mnist
def test_missing_on_first_mirror_falls_back(serve, mirror: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    url404, _ = serve(empty)
    good_url, _ = serve(mirror)
    data.download_mnist("mnist", tmp_path / "out", kinds=["test"], base_urls=[url404, good_url], retries=1, quiet=True)
    assert _files(tmp_path / "out") == [f"{n}.gz" for n in TEST_FILES]


@needs_mnist
def test_download_fails_cleanly_when_every_attempt_fails(serve, tampered: Path, mirror: Path, tmp_path: Path) -> None:
    corrupt_url, _ = serve(tampered)
    drop_url, dropper = serve(mirror, "drop")
    start = time.perf_counter()
    with pytest.raises(DownloadError) as info:
        data.download_mnist("mnist", tmp_path / "out", kinds=["test"], base_urls=[corrupt_url, drop_url], retries=2)
    assert time.perf_counter() - start < 15  # pooch waits 1 s before its retry on each mirror
    message = str(info.value)
    assert "does not match" in message and "IncompleteRead" in message and "by hand" in message
    assert len(dropper.requests) == 2  # bounded: `retries` attempts per mirror
    assert _files(tmp_path / "out") == []  # nothing half-written is left behind


@needs_mnist
def test_download_times_out_on_a_silent_server(serve, mirror: Path, tmp_path: Path) -> None:
    url, server = serve(mirror, "hang")
    start = time.perf_counter()
    with pytest.raises(DownloadError, match="timed out"):
        data.download_mnist("mnist", tmp_path / "out", kinds=["test"], base_urls=[url], timeout=0.3, retries=2)
    assert time.perf_counter() - start < 10
    assert len(server.requests) == 2


def test_download_without_a_network_fails_cleanly(tmp_path: Path) -> None:
    """The real mirrors, with no network (the `no_network` fixture): a DownloadError naming every
    mirror tried and how to get the files by hand, quickly, and no file left behind."""
    pytest.importorskip("pooch", reason="pooch is not installed (pip install 'tinygrad_edu[data]')")
    with pytest.raises(DownloadError) as info:
        load_mnist(tmp_path, "test", download=True, retries=1)
    message = str(info.value)
    assert all(base in message for base in data.BASE_URLS["mnist"]) and "by hand" in message
    assert _files(tmp_path) == []


@needs_mnist
def test_download_replaces_a_corrupt_cached_file(serve, mirror: Path, tmp_path: Path) -> None:
    url, server = serve(mirror)
    target = tmp_path / "data"
    target.mkdir()
    for name in TEST_FILES:
        shutil.copy(MNIST_DIR / f"{name}.gz", target)
    (target / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8bgarbage")
    with pytest.raises(DatasetError):
        load_mnist(target, "test")
    load_mnist(target, "test", download=True, base_urls=[url])
    assert server.requests == ["/files/t10k-labels-idx1-ubyte.gz"]


@needs_mnist
@needs_fashion
def test_download_never_overwrites_the_other_dataset(serve, mirror: Path, tmp_path: Path) -> None:
    url, server = serve(mirror)
    target = tmp_path / "data"
    target.mkdir()
    for name in TEST_FILES:
        shutil.copy(FASHION_DIR / f"{name}.gz", target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    with pytest.raises(DatasetError, match=r"official Fashion-MNIST file .* dataset='fashion-mnist'"):
        load_mnist(target, "test", download=True, base_urls=[url])  # dataset=None means MNIST here
    assert server.requests == []
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before


@needs_mnist
def test_quiet_silences_pooch(serve, mirror: Path, tmp_path: Path) -> None:
    import logging

    pooch = pytest.importorskip("pooch")
    url, _ = serve(mirror)
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    pooch.get_logger().addHandler(handler)
    try:
        data.download_mnist("mnist", tmp_path / "a", kinds=["test"], base_urls=[url], quiet=True)
        assert records == []
        data.download_mnist("mnist", tmp_path / "b", kinds=["test"], base_urls=[url])
        assert len(records) == 2 and all(r.startswith("Downloading file") for r in records)
    finally:
        pooch.get_logger().removeHandler(handler)


# ---------------------------------------------------------------- digits


@needs_sklearn
def test_load_digits_split() -> None:
    X_train, y_train, X_test, y_test = load_digits()
    assert X_train.dtype == X_test.dtype == np.float32 and y_train.dtype == y_test.dtype == np.int64
    assert X_train.shape[1] == 64 and len(X_train) + len(X_test) == 1797
    assert abs(len(X_test) / 1797 - 0.2) < 0.005
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    assert np.all(np.bincount(y_test) >= 34)  # stratified: every class is in the test set
    again = load_digits()
    np.testing.assert_array_equal(again[3], y_test)  # the split is fixed
    train_rows = {row.tobytes() for row in X_train}
    assert sum(row.tobytes() in train_rows for row in X_test) < 5  # (a few digits are exact duplicates)


# ---------------------------------------------------------------- DataLoader


def test_dataloader_batches_and_len() -> None:
    X, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    loader = DataLoader(X, y, batch_size=4, shuffle=False)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert all(isinstance(xb, tg.Tensor) and isinstance(yb, tg.Tensor) for xb, yb in batches)
    assert np.concatenate([yb.numpy() for _, yb in batches]).tolist() == list(range(10))
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == y.dtype
    with pytest.raises(ValueError, match="read-only"):  # a batch is read-only: the dataset cannot change through it
        batches[0][0].data[:] = -1
    assert X.min() == 0
    dropped = DataLoader(X, y, batch_size=4, drop_last=True, seed=0)
    assert len(dropped) == len(list(dropped)) == 2


def test_dataloader_shuffles_reproducibly() -> None:
    X, y = np.arange(100, dtype=np.float32).reshape(50, 2), np.arange(50)

    def passes(loader: DataLoader, n: int = 3) -> list[list[int]]:
        return [np.concatenate([yb.numpy() for _, yb in loader]).tolist() for _ in range(n)]

    first = passes(DataLoader(X, y, 8, seed=1))
    assert first == passes(DataLoader(X, y, 8, seed=1))  # the same seed, the same epochs
    assert first[0] != first[1]  # reshuffled on every pass
    assert all(sorted(p) == list(range(50)) for p in first)  # each pass is a permutation
    assert first != passes(DataLoader(X, y, 8, seed=2))
    xb, yb = next(iter(DataLoader(X, y, 8, seed=3)))  # features stay with their labels
    np.testing.assert_array_equal(xb.numpy()[:, 0], yb.numpy() * 2)
    tg.manual_seed(5)  # without a seed, tinygrad_edu's generator decides
    a = passes(DataLoader(X, y, 8), 1)
    tg.manual_seed(5)
    assert a == passes(DataLoader(X, y, 8), 1)


def test_dataloader_accepts_tensors_and_rejects_mistakes() -> None:
    loader = DataLoader(tg.Tensor(np.zeros((6, 3))), tg.Tensor(np.arange(6)), batch_size=6)
    assert len(loader) == 1
    with pytest.raises(ValueError, match=r"same number of samples.*\(5, 3\) and \(4,\)"):
        DataLoader(np.zeros((5, 3)), np.zeros(4), batch_size=2)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            DataLoader(np.zeros((5, 3)), np.zeros(5), batch_size=bad)


def test_dataloader_batches_copy_nothing_unshuffled_and_once_shuffled() -> None:
    """Issue 12: a batch is wrapped without a copy (from_numpy). Unshuffled, it is a view of the
    dataset; shuffled, gathering its rows is the only copy made."""
    X = np.random.default_rng(0).standard_normal((4096, 256)).astype(np.float32)
    y = np.arange(4096)
    for xb, yb in DataLoader(X, y, batch_size=1000, shuffle=False):
        assert np.shares_memory(xb.data, X) and np.shares_memory(yb.data, y)
        assert not xb.data.flags.writeable and not yb.data.flags.writeable
    np.testing.assert_array_equal(xb.numpy(), X[4000:])
    batch_bytes = 1000 * 256 * 4
    iterator = iter(DataLoader(X, y, batch_size=1000, seed=0))
    tracemalloc.start()
    try:
        xb, yb = next(iterator)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not np.shares_memory(xb.data, X) and xb.data.base is None  # the gathered rows, wrapped as they are
    assert not xb.data.flags.writeable
    assert batch_bytes <= peak < 1.5 * batch_bytes, f"peak {peak} bytes for a {batch_bytes}-byte batch: a second copy?"
    np.testing.assert_array_equal(xb.numpy(), X[yb.numpy()])
