"""Downloads through the real code path (pooch, requests), against a local HTTP server
(no internet needed)."""
import hashlib
import http.server
import os
import socket
import threading

import numpy as np
import pytest

from nnfast import mnist_loader
from nnfast.cli.download import main as download_main
from nnfast.cli.main import main as cli_main
from nnfast.data import download as _download
from nnfast.data.download import DownloadError


class Server:
    """A server on 127.0.0.1 (random port) whose answers per path the test sets.

    routes: path -> bytes (served whole), ("truncate", bytes) (full Content-Length,
    half the body, then close), ("close",) (close without answering), or a list of
    such answers used one per request.  Unknown paths get a 404.
    """

    def __init__(self):
        self.routes = {}
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                answer = outer.routes.get(self.path)
                if isinstance(answer, list):
                    answer = answer.pop(0) if len(answer) > 1 else answer[0]
                if answer is None:
                    self.send_error(404)
                    return
                if isinstance(answer, tuple) and answer[0] == "close":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                body = answer[1] if isinstance(answer, tuple) else answer
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if isinstance(answer, tuple) and answer[0] == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture(scope="module")
def fashion_bytes(fashion_dir):
    return {n: open(os.path.join(fashion_dir, n), "rb").read() for n in mnist_loader.IDX_FILENAMES}


@pytest.fixture
def env(tmp_path, monkeypatch, server):
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("NNFAST_MIRROR", server.url + "/mirror")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def leftovers(folder):
    """Anything but the four IDX files and the loader's cache: pooch's temporary files included."""
    keep = set(mnist_loader.IDX_FILENAMES) | {"nnfast-cache-train.npz", "nnfast-cache-test.npz"}
    return [n for n in os.listdir(folder) if n not in keep]


def unused_port():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_shipped_checksums_match_the_real_files(fashion_dir, mnist_dir):
    for dataset, folder in (("fashion-mnist", fashion_dir), ("mnist", mnist_dir)):
        for name, (size, sha) in _download.FILES[dataset].items():
            p = os.path.join(folder, name)
            if os.path.exists(p):
                assert os.path.getsize(p) == size
                assert hashlib.sha256(open(p, "rb").read()).hexdigest() == sha


def test_mirror_urls(monkeypatch):
    monkeypatch.delenv("NNFAST_MIRROR", raising=False)
    urls = _download.urls_for("mnist", "t10k-images-idx3-ubyte.gz")
    assert len(urls) >= 2 and all(u.endswith("/t10k-images-idx3-ubyte.gz") for u in urls)
    assert any("ossci-datasets" in u for u in urls) and any("lecun" in u for u in urls)
    assert any("zalandoresearch" in u for u in _download.urls_for("fashion-mnist", "x"))
    monkeypatch.setenv("NNFAST_MIRROR", "http://example.invalid/data/")
    assert _download.urls_for("mnist", "a.gz") == ["http://example.invalid/data/a.gz"]


def test_download_then_load(env, server, fashion_bytes, fashion_dir, capfd):
    for n, b in fashion_bytes.items():
        server.routes["/mirror/" + n] = b
    tr, va, te = mnist_loader.load_data(dataset="fashion-mnist", download=True)
    folder = env / "fashion-mnist"
    assert sorted(os.listdir(folder)) == sorted(list(fashion_bytes) + [
        "nnfast-cache-train.npz", "nnfast-cache-test.npz"])
    for n, b in fashion_bytes.items():
        assert (folder / n).read_bytes() == b
    assert tr[0].shape == (50000, 784) and te[1].shape == (10000,)
    ref = mnist_loader.load_idx(fashion_dir, "test")
    np.testing.assert_array_equal(te[0], ref[0])
    err = capfd.readouterr().err
    assert "downloading t10k-labels-idx1-ubyte.gz from 127.0.0.1" in err and "100%" in err
    # a second call finds everything and fetches nothing
    server.requests.clear()
    mnist_loader.load_data(dataset="fashion-mnist", download=True)
    assert server.requests == []


def test_only_missing_files_fetched(env, server, fashion_bytes):
    folder = env / "fashion-mnist"
    folder.mkdir(parents=True)
    for n in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (folder / n).write_bytes(b"not touched")
    for n, b in fashion_bytes.items():
        server.routes["/mirror/" + n] = b
    assert _download.download("fashion-mnist", quiet=True) == str(folder)
    assert sorted(server.requests) == ["/mirror/t10k-images-idx3-ubyte.gz",
                                       "/mirror/t10k-labels-idx1-ubyte.gz"]
    assert (folder / "train-images-idx3-ubyte.gz").read_bytes() == b"not touched"


def test_corrupted_file_rejected(env, server, fashion_bytes):
    bad = bytearray(fashion_bytes["t10k-labels-idx1-ubyte.gz"])
    bad[100] ^= 0xFF
    server.routes["/mirror/t10k-labels-idx1-ubyte.gz"] = bytes(bad)
    folder = env / "fashion-mnist"
    with pytest.raises(DownloadError) as err:
        _download.download("fashion-mnist", files=["t10k-labels-idx1-ubyte.gz"], quiet=True)
    msg = str(err.value)
    assert "SHA-256 mismatch" in msg and str(folder) in msg and len(msg.splitlines()) == 3
    assert err.value.attempts == [("t10k-labels-idx1-ubyte.gz",
                                   server.url + "/mirror/t10k-labels-idx1-ubyte.gz",
                                   "SHA-256 mismatch (got %s...)"
                                   % hashlib.sha256(bad).hexdigest()[:12])]
    assert err.value.missing == ["t10k-labels-idx1-ubyte.gz"]
    assert not folder.exists()      # made for the download, removed again: nothing came
    assert server.requests == ["/mirror/t10k-labels-idx1-ubyte.gz"]  # no pointless retry


def test_wrong_size_rejected(env, server, fashion_bytes):
    server.routes["/mirror/t10k-labels-idx1-ubyte.gz"] = \
        fashion_bytes["t10k-labels-idx1-ubyte.gz"] + b"extra"
    (env / "fashion-mnist").mkdir(parents=True)
    with pytest.raises(DownloadError, match="more than the expected 5125 bytes"):
        _download.download("fashion-mnist", files=["t10k-labels-idx1-ubyte.gz"], quiet=True)
    assert os.listdir(env / "fashion-mnist") == []      # an existing folder stays, empty


def test_truncated_transfer(env, server, fashion_bytes):
    name = "t10k-images-idx3-ubyte.gz"
    server.routes["/mirror/" + name] = ("truncate", fashion_bytes[name])
    with pytest.raises(DownloadError) as err:
        _download.download("fashion-mnist", files=[name], quiet=True)
    assert "cut short" in str(err.value) and "retried" in str(err.value)
    assert server.requests == ["/mirror/" + name] * 2
    assert not (env / "fashion-mnist").exists()


def test_retry_once_recovers(env, server, fashion_bytes, capfd):
    name = "t10k-images-idx3-ubyte.gz"
    server.routes["/mirror/" + name] = [("truncate", fashion_bytes[name]), fashion_bytes[name]]
    _download.download("fashion-mnist", files=[name])
    assert (env / "fashion-mnist" / name).read_bytes() == fashion_bytes[name]
    assert len(server.requests) == 2
    assert "cut short" in capfd.readouterr().err
    assert leftovers(env / "fashion-mnist") == []


def test_server_closes_connection(env, server):
    name = "t10k-labels-idx1-ubyte.gz"
    server.routes["/mirror/" + name] = ("close",)
    with pytest.raises(DownloadError) as err:
        _download.download("mnist", files=[name], quiet=True)
    assert "closed the connection" in str(err.value)
    assert server.requests == ["/mirror/" + name] * 2       # retried once, like a cut transfer
    assert not (env / "mnist").exists()


def test_all_mirrors_tried_in_turn(env, server, monkeypatch, mnist_dir):
    monkeypatch.delenv("NNFAST_MIRROR")
    name = "t10k-labels-idx1-ubyte.gz"
    server.routes["/b/" + name] = open(os.path.join(mnist_dir, name), "rb").read()
    monkeypatch.setitem(_download.MIRRORS, "mnist", (server.url + "/a/", server.url + "/b/"))
    _download.download("mnist", files=[name], quiet=True)
    assert server.requests == ["/a/" + name, "/b/" + name]  # a 404 is not retried
    assert (env / "mnist" / name).exists()


def test_offline_message(env, monkeypatch, capfd):
    port = unused_port()
    monkeypatch.setenv("NNFAST_MIRROR", "http://127.0.0.1:%d" % port)
    with pytest.raises(DownloadError) as err:
        mnist_loader.load_data(download=True)
    msg = str(err.value)
    assert msg.splitlines() == [
        "could not download mnist's train-images-idx3-ubyte.gz and 3 more into %s" % (env / "mnist"),
        "  tried 127.0.0.1:%d: cannot connect (connection refused)" % port,
        "  place the files there by hand (sizes and SHA-256 in nnfast.data.registry.FILES), "
        "or give the loader a folder that holds them"]
    # a mirror that cannot be reached is asked once, not once per file
    assert [a[0] for a in err.value.attempts] == ["train-images-idx3-ubyte.gz"]
    assert sorted(err.value.missing) == sorted(mnist_loader.IDX_FILENAMES)
    assert not (env / "mnist").exists() and capfd.readouterr().err == ""


def test_unreachable_mirrors_are_each_tried_once(env, monkeypatch):
    monkeypatch.delenv("NNFAST_MIRROR")
    a, b = unused_port(), unused_port()
    monkeypatch.setitem(_download.MIRRORS, "mnist", ("http://127.0.0.1:%d/" % a, "http://127.0.0.1:%d/" % b))
    with pytest.raises(DownloadError) as err:
        _download.download("mnist", quiet=True)
    assert [(n, u) for n, u, _ in err.value.attempts] == [
        ("train-images-idx3-ubyte.gz", "http://127.0.0.1:%d/train-images-idx3-ubyte.gz" % a),
        ("train-images-idx3-ubyte.gz", "http://127.0.0.1:%d/train-images-idx3-ubyte.gz" % b)]
    assert err.value.tried_line() == "tried 127.0.0.1:%d, 127.0.0.1:%d: cannot connect (connection refused)" % (a, b)


def test_connect_timeout_is_at_most_10_s(env, server, fashion_bytes, monkeypatch):
    import pooch
    seen = []
    real = pooch.HTTPDownloader

    def spy(**kwargs):
        seen.append(kwargs["timeout"])
        return real(**kwargs)
    monkeypatch.setattr(pooch, "HTTPDownloader", spy)
    name = "t10k-labels-idx1-ubyte.gz"
    server.routes["/mirror/" + name] = fashion_bytes[name]
    _download.download("fashion-mnist", files=[name], quiet=True)
    assert len(seen) == 1 and seen[0][0] <= 10           # (connect, read) as requests takes it


def test_file_mirror(env, monkeypatch, fashion_dir):
    monkeypatch.setenv("NNFAST_MIRROR", "file://" + str(fashion_dir))
    _download.download("fashion-mnist", files=["t10k-labels-idx1-ubyte.gz"], quiet=True)
    assert (env / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes() == \
        open(os.path.join(fashion_dir, "t10k-labels-idx1-ubyte.gz"), "rb").read()
    monkeypatch.setenv("NNFAST_MIRROR", "file://" + str(env / "nowhere"))
    with pytest.raises(DownloadError, match="no such file"):
        _download.download("fashion-mnist", files=["t10k-images-idx3-ubyte.gz"], quiet=True)


def test_downloaded_files_follow_the_umask(env, server, fashion_bytes):
    name = "t10k-labels-idx1-ubyte.gz"
    server.routes["/mirror/" + name] = fashion_bytes[name]
    old = os.umask(0o022)
    try:
        _download.download("fashion-mnist", files=[name], quiet=True)
    finally:
        os.umask(old)
    assert os.stat(env / "fashion-mnist" / name).st_mode & 0o777 == 0o644


def offline(monkeypatch):
    monkeypatch.setenv("NNFAST_MIRROR", "http://127.0.0.1:%d" % unused_port())


def test_cli_offline_is_five_short_lines_status_2(env, monkeypatch, capsys):
    offline(monkeypatch)
    assert cli_main(["chapter1", "--download", "--epochs", "1"]) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) <= 5, err
    assert len(lines[0]) - len(str(env)) <= 80 and max(map(len, lines[1:])) <= 100, err
    assert lines[0] == "nnfast chapter1: cannot download mnist into %s (4 files missing)" % (env / "mnist")
    assert "tried 127.0.0.1:" in lines[1] and "cannot connect" in lines[1]
    for way in ("--data DIR", "NNFAST_DATA=DIR", "--dataset fashion-mnist", "by hand"):
        assert way in err


def test_cli_download_offline_creates_no_folder(env, tmp_path, monkeypatch, capsys):
    offline(monkeypatch)
    target = tmp_path / "nonexistent" / "x"
    assert download_main(["--dir", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnfast download: cannot download mnist into %s" % target)
    assert len(err.splitlines()) <= 5 and "NNFAST_DATA" in err
    assert not (tmp_path / "nonexistent").exists()


def test_cli_download_into_unwritable_folder(env, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        assert download_main(["--dir", str(ro / "a" / "b")]) == 2
    finally:
        os.chmod(ro, 0o755)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot create the data folder %s" % (ro / "a" / "b") in err
    assert os.listdir(ro) == []


def test_unwritable_folder(env, server):
    folder = env / "mnist"
    folder.mkdir(parents=True)
    os.chmod(folder, 0o555)
    try:
        with pytest.raises(PermissionError, match="cannot write to the data folder"):
            mnist_loader.load_data(download=True)
        assert server.requests == []
    finally:
        os.chmod(folder, 0o755)


def test_folder_below_a_file(tmp_path):
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="is a file"):
        _download.download("mnist", tmp_path / "f" / "mnist", quiet=True)


def test_download_into_given_path(tmp_path, server, monkeypatch, fashion_bytes):
    monkeypatch.setenv("NNFAST_MIRROR", server.url)
    for n, b in fashion_bytes.items():
        server.routes["/" + n] = b
    tr, va, te = mnist_loader.load_data(tmp_path / "mine", "fashion-mnist", download=True)
    assert len(va[1]) == 10000 and sorted(os.listdir(tmp_path / "mine"))[0] == "nnfast-cache-test.npz"


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown dataset"):
        _download.download("cifar10")
    with pytest.raises(ValueError, match="unknown mnist file"):
        _download.download("mnist", "/tmp/nowhere", files=["x.gz"])


def test_main(env, server, fashion_bytes, capsys):
    for n, b in fashion_bytes.items():
        if n.startswith("t10k"):
            server.routes["/mirror/" + n] = b
    assert download_main(["--dataset", "fashion-mnist", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "(2 files missing)" in err and "HTTP 404" in err and len(err.splitlines()) == 5
    assert sorted(os.listdir(env / "fashion-mnist")) == ["t10k-images-idx3-ubyte.gz",
                                                         "t10k-labels-idx1-ubyte.gz"]
    for n, b in fashion_bytes.items():
        server.routes["/mirror/" + n] = b
    assert download_main(["--dataset", "fashion-mnist", "--dir", str(env / "x")]) == 0
    assert "all four IDX files in %s" % (env / "x") in capsys.readouterr().out
