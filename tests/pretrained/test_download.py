"""Downloading weights: atomic, verified, cached, offline-safe, mirrorable; from 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

import lucid
from lucid.models import PretrainedWeightsError, adapt_input_conv, get_cache_dir
from lucid.models._pretrained import download, weights_file


def weights_bytes(tmp_path, seed: int = 0) -> bytes:
    path = tmp_path / f"src{seed}.safetensors"
    lucid.save({"w": lucid.Tensor(np.random.default_rng(seed).standard_normal(4096))}, path)
    return path.read_bytes()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.suffix in (".part", ".tmp"))


def test_download_lands_verified_and_is_reused(tmp_path, lucid_home, weights_server, capsys):
    data = weights_bytes(tmp_path)
    weights_server.put("files/w.safetensors", data)
    dest = lucid_home / "checkpoints" / "w.safetensors"
    url = f"{weights_server.url}/files/w.safetensors"
    assert download(url, str(dest), sha(data)) == str(dest)
    assert dest.read_bytes() == data
    assert download(url, str(dest), sha(data)) == str(dest)
    assert weights_server.requests == ["/files/w.safetensors"]
    assert capsys.readouterr().err == ""  # no bar off a terminal; a published hash is not echoed
    assert leftovers(lucid_home) == []


def test_unpublished_hash_is_printed_and_recorded(tmp_path, lucid_home, weights_server, capsys):
    data = weights_bytes(tmp_path)
    weights_server.put("w.safetensors", data)
    dest = lucid_home / "w.safetensors"
    download(f"{weights_server.url}/w.safetensors", str(dest))
    assert f"sha256 {sha(data)}" in capsys.readouterr().err
    assert (lucid_home / "w.safetensors.sha256").read_text().strip() == sha(data)


def test_hash_mismatch_keeps_nothing(tmp_path, lucid_home, weights_server):
    weights_server.put("w.safetensors", weights_bytes(tmp_path))
    dest = lucid_home / "w.safetensors"
    with pytest.raises(PretrainedWeightsError, match="not the published") as info:
        download(f"{weights_server.url}/w.safetensors", str(dest), "0" * 64)
    assert str(dest) in str(info.value)
    assert not dest.exists()
    assert leftovers(lucid_home) == []


def test_cut_transfer_keeps_nothing(tmp_path, lucid_home, weights_server):
    weights_server.put("w.safetensors", weights_bytes(tmp_path))
    dest = lucid_home / "w.safetensors"
    with pytest.raises(PretrainedWeightsError, match=r"stopped after \d+ of \d+ bytes"):
        download(f"{weights_server.url}/short/w.safetensors", str(dest))
    assert not dest.exists()
    assert leftovers(lucid_home) == []


def test_redirects_are_followed(tmp_path, lucid_home, weights_server):
    data = weights_bytes(tmp_path)
    weights_server.put("cdn/w.safetensors", data)
    dest = lucid_home / "w.safetensors"
    download(f"{weights_server.url}/redirect/cdn/w.safetensors", str(dest), sha(data))
    assert dest.read_bytes() == data
    assert weights_server.requests == ["/redirect/cdn/w.safetensors", "/cdn/w.safetensors"]


@pytest.mark.parametrize("published", [True, False], ids=["published-hash", "recorded-hash"])
def test_truncated_cache_is_fetched_again(tmp_path, lucid_home, weights_server, published):
    data = weights_bytes(tmp_path)
    weights_server.put("w.safetensors", data)
    dest = lucid_home / "w.safetensors"
    url = f"{weights_server.url}/w.safetensors"
    digest = sha(data) if published else None
    download(url, str(dest), digest)
    dest.write_bytes(data[:-10])
    download(url, str(dest), digest)
    assert dest.read_bytes() == data
    assert len(weights_server.requests) == 2


def test_damaged_cache_without_any_hash_is_detected(tmp_path, lucid_home, weights_server):
    data = weights_bytes(tmp_path)
    weights_server.put("w.safetensors", data)
    dest = lucid_home / "w.safetensors"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(data[:-10])  # placed by hand, cut short: the header no longer fits
    download(f"{weights_server.url}/w.safetensors", str(dest))
    assert dest.read_bytes() == data


def test_offline_never_connects_and_names_the_path(
    tmp_path, lucid_home, weights_server, monkeypatch
):
    weights_server.put("w.safetensors", weights_bytes(tmp_path))
    monkeypatch.setenv("LUCID_OFFLINE", "1")
    dest = lucid_home / "checkpoints" / "w.safetensors"
    with pytest.raises(PretrainedWeightsError, match="LUCID_OFFLINE") as info:
        download(f"{weights_server.url}/w.safetensors", str(dest))
    assert f"place it at exactly {dest}" in str(info.value)
    assert weights_server.requests == []
    assert not lucid_home.exists()


def test_offline_uses_a_good_cached_copy(tmp_path, lucid_home, weights_server, monkeypatch):
    data = weights_bytes(tmp_path)
    dest = lucid_home / "w.safetensors"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(data)
    monkeypatch.setenv("LUCID_OFFLINE", "1")
    assert download("https://example.invalid/w.safetensors", str(dest), sha(data)) == str(dest)


def test_mirror_replaces_scheme_and_host(tmp_path, lucid_home, weights_server, monkeypatch):
    data = weights_bytes(tmp_path)
    weights_server.put("timm/some_model.in1k/resolve/main/model.safetensors", data)
    monkeypatch.setenv("LUCID_WEIGHTS_MIRROR", weights_server.url)
    cfg = {"hf_hub_id": "timm/some_model.in1k", "architecture": "some_model", "tag": "in1k"}
    path = weights_file(cfg)
    assert path == os.path.join(
        str(lucid_home), "hub", "timm", "some_model.in1k", "model.safetensors"
    )
    assert weights_server.requests == ["/timm/some_model.in1k/resolve/main/model.safetensors"]


def test_bad_mirror_is_named(monkeypatch, lucid_home):
    monkeypatch.setenv("LUCID_WEIGHTS_MIRROR", "127.0.0.1:8000")
    with pytest.raises(PretrainedWeightsError, match="LUCID_WEIGHTS_MIRROR"):
        download("https://huggingface.co/x/y", str(lucid_home / "y"))


def test_unreachable_server_names_url_and_path(lucid_home, weights_server):
    url = f"{weights_server.url}/missing.safetensors"
    dest = lucid_home / "missing.safetensors"
    with pytest.raises(PretrainedWeightsError, match="cannot download") as info:
        download(url, str(dest))
    assert url in str(info.value) and str(dest) in str(info.value)
    assert not dest.exists()


def test_cache_dir_follows_lucid_home(lucid_home, monkeypatch):
    assert get_cache_dir() == str(lucid_home)
    monkeypatch.delenv("LUCID_HOME")
    assert get_cache_dir() == os.path.expanduser(os.path.join("~", ".cache", "lucid"))


def test_adapt_input_conv_matches_timm_rules():
    w = np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(adapt_input_conv(1, w), w.sum(axis=1, keepdims=True), rtol=1e-6)
    five = adapt_input_conv(5, w)
    np.testing.assert_allclose(five, np.concatenate([w, w[:, :2]], axis=1) * 3 / 5, rtol=1e-6)
    assert adapt_input_conv(3, w) is not w and np.array_equal(adapt_input_conv(3, w), w)
    with pytest.raises(ValueError, match="RGB"):
        adapt_input_conv(2, np.zeros((4, 5, 3, 3), np.float32))


def test_local_file_source_is_used_or_named(tmp_path, lucid_home, weights_server):
    local = tmp_path / "manual.pth"
    cfg = {
        "file": str(local),
        "url": f"{weights_server.url}/w.pth",
        "architecture": "some_model",
        "tag": "in1k",
    }
    with pytest.raises(PretrainedWeightsError) as info:
        weights_file(cfg)
    message = str(info.value)
    assert str(local) in message and cfg["url"] in message and "checkpoint_path=" in message
    local.write_bytes(weights_bytes(tmp_path))
    assert weights_file(cfg) == str(local)
    assert weights_server.requests == []


def test_cache_dir_argument_overrides_lucid_home(tmp_path, lucid_home, weights_server):
    data = weights_bytes(tmp_path)
    weights_server.put("w.safetensors", data)
    cfg = {"url": f"{weights_server.url}/w.safetensors", "architecture": "m", "tag": "t"}
    path = weights_file(cfg, str(tmp_path / "elsewhere"))
    assert path == str(tmp_path / "elsewhere" / "checkpoints" / "w.safetensors")
    assert not lucid_home.exists()


def test_progress_bar_shows_on_a_terminal(tmp_path, lucid_home, weights_server):
    import fcntl
    import pty
    import struct
    import termios

    data = weights_bytes(tmp_path)
    weights_server.put("w.safetensors", data)
    code = (
        "from lucid.models._pretrained import download\n"
        f"download({weights_server.url + '/w.safetensors'!r}, {str(lucid_home / 'w')!r}, "
        f"{sha(data)!r})\n"
    )
    leader, follower = pty.openpty()
    # A new pseudo-terminal is 0 columns wide, where tqdm draws nothing.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], stderr=follower, stdout=subprocess.PIPE, timeout=120
        )
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal is closed once everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert b"w:" in shown and b"%|" in shown
