"""Pretrained weights: cfg registry and tags, download and cache, checkpoint loading and adaptation.

Each model's weights are described by a *pretrained cfg*, a dict with timm's
keys (``hf_hub_id`` + ``hf_hub_filename``, ``url``, ``file``, ``num_classes``,
``input_size``, ``crop_pct``, ``interpolation``, ``mean``, ``std``,
``first_conv``, ``classifier``, ``license``, ``origin_url``, ``paper_ids``)
plus ``sha256`` where the host publishes one, ``top1``/``top5`` as published
and ``settings`` (builder arguments the weights need, such as PVT v1's
``attn_proj=True``). Plugins register them with :func:`register_pretrained`;
``create_model("name.tag", pretrained=True)`` resolves one, fetches the file
into ``$LUCID_HOME`` and loads it.

Files are fetched with a plain HTTP(S) GET (the Hugging Face Hub's
``https://huggingface.co/<repo>/resolve/main/<file>`` works as a plain URL),
written to a temporary file and renamed into place only once their size and
hash check out. ``LUCID_OFFLINE=1`` never connects; ``LUCID_WEIGHTS_MIRROR``
replaces the scheme and host of every weights URL.
"""

from __future__ import annotations

import copy
import hashlib
import http.client
import json
import math
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import numpy as np

from lucid.models._registry import REGISTRY

if TYPE_CHECKING:
    from lucid import nn

__all__ = [
    "PretrainedWeightsError",
    "adapt_input_conv",
    "download",
    "get_cache_dir",
    "get_pretrained_cfg",
    "list_pretrained",
    "read_weights",
    "register_pretrained",
    "split_tag",
]

StateFilter = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


class PretrainedWeightsError(RuntimeError):
    """Weights that cannot be had: unknown tag, failed or unverifiable download, offline miss."""


# ---------------------------------------------------------------- registry ---

# model name -> tag -> cfg, in registration order (the first tag is the default,
# as in timm); model name -> function mapping foreign key names to the model's.
_CFGS: dict[str, dict[str, dict[str, Any]]] = {}
_FILTERS: dict[str, StateFilter] = {}
_TAG = re.compile(r"^[A-Za-z0-9_]+$")


def register_pretrained(
    model: str, tag: str, cfg: Mapping[str, Any], *, filter_fn: StateFilter | None = None
) -> None:
    """Describe weights for ``model`` under ``tag`` (``"pvt_v2_b0"``, ``"in1k"``).

    Parameters
    ----------
    model
        The registered model name the weights are for.
    tag
        timm-style tag naming the weights; the first tag registered for a model is its default.
    cfg
        The pretrained cfg (see the module docstring for its keys). At least one of
        ``hf_hub_id``, ``url`` or ``file`` says where the weights come from.
    filter_fn
        Maps a loaded state dict's names to the model's (for example timm's names
        to the official ones); it must leave names it does not know unchanged.

    Examples
    --------
    >>> from lucid.models import get_pretrained_cfg, register_pretrained
    >>> register_pretrained("tiny_doc_model", "demo", {"url": "http://127.0.0.1:1/w.safetensors"})
    >>> get_pretrained_cfg("tiny_doc_model.demo")["tag"]
    'demo'
    """
    if not _TAG.match(tag):
        raise ValueError(f"pretrained tag {tag!r} must be letters, digits and underscores")
    if not any(cfg.get(key) for key in ("hf_hub_id", "url", "file")):
        raise ValueError(
            f"pretrained cfg {model}.{tag} names no source: give hf_hub_id, url or file"
        )
    _CFGS.setdefault(model, {})[tag] = {
        **copy.deepcopy(dict(cfg)),
        "architecture": model,
        "tag": tag,
    }
    if filter_fn is not None:
        _FILTERS[model] = filter_fn


def split_tag(name: str) -> tuple[str, str | None]:
    """``"pvt_v2_b0.in1k"`` -> ``("pvt_v2_b0", "in1k")``; an untagged name has tag ``None``.

    Examples
    --------
    >>> split_tag("pvt_v2_b0.in1k"), split_tag("pvt_v2_b0")
    (('pvt_v2_b0', 'in1k'), ('pvt_v2_b0', None))
    """
    model, dot, tag = name.partition(".")
    return model, (tag if dot else None)


def _cfg_for(model: str, tag: str | None) -> dict[str, Any] | None:
    tags = _CFGS.get(model, {})
    if tag is None:
        return next(iter(tags.values()), None)
    if tag not in tags:
        known = ", ".join(f"{model}.{t}" for t in tags) or "none"
        raise PretrainedWeightsError(
            f"no pretrained weights tagged {tag!r} for {model}; its tags: {known} "
            "(see lucid.models.list_pretrained())"
        )
    return tags[tag]


def get_pretrained_cfg(name: str) -> dict[str, Any]:
    """A copy of the pretrained cfg for ``"model"`` (its default tag) or ``"model.tag"``.

    Raises
    ------
    PretrainedWeightsError
        The model has no weights, or none under that tag.
    """
    from lucid.models import _plugins

    _plugins.ensure_loaded()
    model, tag = split_tag(name)
    cfg = _cfg_for(model, tag)
    if cfg is None:
        raise PretrainedWeightsError(
            f"no pretrained weights are known for {model!r}; see lucid.models.list_pretrained()"
        )
    return copy.deepcopy(cfg)


def with_weights(
    names: list[str], pattern: str | None, *, pretrained: bool, tagged: bool
) -> list[str]:
    """Filter ``names`` for :func:`lucid.models.list_models`.

    With ``pretrained`` only models with weights stay; with ``tagged`` each of
    those is listed once per tag (``"pvt_v2_b0.in1k"``), the others by their
    plain name. The pattern may match either spelling.
    """

    def matches(*spellings: str) -> bool:
        return pattern is None or any(fnmatchcase(s, pattern) for s in spellings)

    out = []
    for model in names:
        tags = _CFGS.get(model, {})
        if tagged and tags:
            out += [f"{model}.{tag}" for tag in tags if matches(f"{model}.{tag}", model)]
        elif (tags or not pretrained) and matches(model):
            out.append(model)
    return out


def list_pretrained(pattern: str | None = None) -> list[str]:
    """Tagged names (``"pvt_v2_b0.in1k"``) of all weights for registered models, as timm's.

    Parameters
    ----------
    pattern
        Shell-style pattern matched against the tagged or the plain model name.

    Examples
    --------
    >>> from lucid.models import list_pretrained
    >>> all("." in name for name in list_pretrained())
    True
    """
    from lucid.models import list_models

    return list_models(pattern, pretrained=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def describe_weights(names: list[str]) -> list[dict[str, Any]]:
    """JSON-ready cfgs of the tagged ``names``, each with its ``name`` first."""
    return [{"name": name, **_jsonable(get_pretrained_cfg(name))} for name in names]


def weights_row(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """A ``lucid models list --pretrained`` row: NAME, TOP-1, TOP-5, LICENSE, SOURCE."""
    top = [f"{entry[k]:.2f}" if k in entry else "-" for k in ("top1", "top5")]
    hub = entry.get("hf_hub_id")
    source = f"hf-hub:{hub}" if hub else entry.get("url") or entry.get("file") or "-"
    return (entry["name"], *top, entry.get("license", "-"), str(source))


# ------------------------------------------------------------------ cache ---


def get_cache_dir() -> str:
    """Where downloaded weights live: ``$LUCID_HOME``, by default ``~/.cache/lucid``.

    Examples
    --------
    >>> import os
    >>> from lucid.models import get_cache_dir
    >>> os.path.isabs(get_cache_dir())
    True
    """
    home = os.environ.get("LUCID_HOME") or os.path.join("~", ".cache", "lucid")
    return os.path.abspath(os.path.expanduser(home))


def _offline() -> bool:
    return os.environ.get("LUCID_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def _mirrored(url: str) -> str:
    """``url`` with scheme and host replaced by ``$LUCID_WEIGHTS_MIRROR``, path kept."""
    mirror = os.environ.get("LUCID_WEIGHTS_MIRROR", "").strip()
    if not mirror:
        return url
    base = urllib.parse.urlsplit(mirror)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise PretrainedWeightsError(
            f"LUCID_WEIGHTS_MIRROR={mirror!r} is not a URL like http://host:port; fix or unset it"
        )
    return urllib.parse.urlunsplit(
        urllib.parse.urlsplit(url)._replace(scheme=base.scheme, netloc=base.netloc)
    )


def _looks_complete(path: str) -> bool:
    """A cheap structural check: a truncated safetensors or zip file fails it."""
    import zipfile

    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if head[:4] == b"PK\x03\x04":
            try:
                with zipfile.ZipFile(path):
                    return True
            except zipfile.BadZipFile:
                return False
        if len(head) < 8:
            return False
        length = int.from_bytes(head, "little")
        if 2 <= length <= size - 8:
            try:
                header = json.loads(f.read(length))
            except ValueError:
                return True  # not safetensors: nothing more to check cheaply
            try:
                ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
                return 8 + length + max(ends, default=0) == size
            except (AttributeError, KeyError, TypeError, IndexError, ValueError):
                return False  # a safetensors header, but broken
    return True


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cached_ok(path: str, sha256: str | None) -> bool:
    if not os.path.isfile(path):
        return False
    # A hash recorded at download time protects files that have no published hash.
    recorded = path + ".sha256"
    if sha256 is None and os.path.isfile(recorded):
        with open(recorded) as f:
            sha256 = f.read().strip() or None
    if sha256 is not None:
        return _sha256(path) == sha256
    return _looks_complete(path)


def _write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _progress(total: int | None, name: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=name,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        leave=False,
    )


def download(url: str, path: str, sha256: str | None = None) -> str:
    """Fetch ``url`` to ``path`` unless a verified copy is there; return ``path``.

    The file is streamed into a temporary file beside ``path`` and renamed
    into place only when its size matches the server's ``Content-Length``
    and its sha256 matches ``sha256`` (when given). Without a published hash,
    the hash it got is printed and recorded beside the file, so later runs
    detect a damaged copy. A cached file that fails its check is fetched again.

    Parameters
    ----------
    url
        HTTP(S) address; ``$LUCID_WEIGHTS_MIRROR`` replaces its scheme and host.
    path
        Where the file belongs.
    sha256
        The published hex digest, if any.

    Raises
    ------
    PretrainedWeightsError
        Offline (``LUCID_OFFLINE=1``) without a good cached copy, the server
        failed, the transfer was cut short, or the hash does not match. The
        message names the exact path to place the file at by hand.
    """
    if _cached_ok(path, sha256):
        return path
    source = _mirrored(url)
    by_hand = f"download {url} yourself and place it at exactly {path}"
    if _offline():
        state = "is damaged" if os.path.exists(path) else "is missing"
        raise PretrainedWeightsError(
            f"LUCID_OFFLINE is set and the weights file {path} {state}; {by_hand}, or unset "
            "LUCID_OFFLINE"
        )
    if urllib.parse.urlsplit(source).scheme not in ("http", "https"):
        raise PretrainedWeightsError(f"weights URL {source!r} is not http(s)")
    if os.path.exists(path):
        print(f"lucid: cached {path} is incomplete or damaged; fetching it again", file=sys.stderr)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{uuid.uuid4().hex}.part"
    digest = hashlib.sha256()
    received = 0
    try:
        request = urllib.request.Request(source, headers={"User-Agent": "lucid"})
        with urllib.request.urlopen(request, timeout=60) as response, open(tmp, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with _progress(total, os.path.basename(path)) as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
        if total is not None and received != total:
            raise PretrainedWeightsError(
                f"the download of {source} stopped after {received} of {total} bytes; try again, "
                f"or {by_hand}"
            )
        got = digest.hexdigest()
        if sha256 is not None and got != sha256:
            raise PretrainedWeightsError(
                f"{source} has sha256 {got}, not the published {sha256}; the file was not kept. "
                f"Try again, or {by_hand}"
            )
        os.replace(tmp, path)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise PretrainedWeightsError(f"cannot download {source} ({reason}); {by_hand}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if sha256 is None:
        _write_atomically(path + ".sha256", got + "\n")
        print(
            f"lucid: downloaded {path} (sha256 {got}; no published hash to check it against)",
            file=sys.stderr,
        )
    return path


def _source(cfg: Mapping[str, Any]) -> tuple[str, str]:
    """Where to load ``cfg``'s weights from, in timm's order: file, then Hub, then URL."""
    if cfg.get("source") == "url" and cfg.get("url"):
        return "url", cfg["url"]
    if cfg.get("file"):
        return "file", os.path.expanduser(cfg["file"])
    if cfg.get("hf_hub_id"):
        return "hf-hub", cfg["hf_hub_id"]
    return "url", cfg["url"]


def weights_file(cfg: Mapping[str, Any], home: str | None = None) -> str:
    """The local path of ``cfg``'s weights, downloading them into the cache if needed."""
    kind, where = _source(cfg)
    home = home or get_cache_dir()
    if kind == "file":
        if not os.path.isfile(where):
            hint = f" (download it from {cfg['url']})" if cfg.get("url") else ""
            raise PretrainedWeightsError(
                f"the weights file {where}{hint} for {cfg['architecture']}.{cfg['tag']} is "
                "missing; place it there, or pass checkpoint_path= to create_model"
            )
        return where
    # The published hash belongs to the cfg's main remote file: the Hub file when
    # there is one, else the URL; an alternative source is checked by recorded hash.
    sha256 = cfg.get("sha256") if kind == ("hf-hub" if cfg.get("hf_hub_id") else "url") else None
    if kind == "hf-hub":
        filename = cfg.get("hf_hub_filename", "model.safetensors")
        url = f"https://huggingface.co/{where}/resolve/main/{filename}"
        path = os.path.join(home, "hub", *where.split("/"), filename)
    else:
        url = where
        name = os.path.basename(urllib.parse.urlsplit(url).path) or "weights"
        path = os.path.join(home, "checkpoints", name)
    return download(url, path, sha256)


# ---------------------------------------------------------------- loading ---


def read_weights(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Arrays and text metadata of a weights file: safetensors, ``.npz`` or a PyTorch checkpoint.

    PyTorch checkpoints go through lucid's allowlisted reader (see
    :doc:`/guide/pretrained`), so no code in them runs and torch is not needed.

    Examples
    --------
    >>> import os, tempfile
    >>> import lucid
    >>> from lucid.models import read_weights
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> lucid.save({"w": lucid.ones(2)}, path, metadata={"model": "demo"})
    >>> arrays, meta = read_weights(path)
    >>> arrays["w"].tolist(), meta
    ([1.0, 1.0], {'model': 'demo'})
    """
    from lucid._serialization import load
    from lucid._tensor import Tensor
    from lucid.models._torch_pickle import is_torch_checkpoint, read_state_dict, unwrap

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no weights file at {path!r}")
    if is_torch_checkpoint(path):
        return read_state_dict(path), {}
    # A nested lucid checkpoint ({"model": ..., "optimizer": ...}) holds its weights inside.
    state = unwrap(load(path), path)
    arrays = {k: v.data for k, v in state.items() if isinstance(k, str) and isinstance(v, Tensor)}
    if not arrays:
        raise ValueError(f"{path!r} holds no named tensors; no weights to load")
    metadata: dict[str, str] = {}
    if not path.endswith(".npz"):
        import safetensors

        from lucid._serialization import _STRUCTURE_KEY

        with safetensors.safe_open(path, framework="np") as f:
            # lucid.save's own bookkeeping is not the file's metadata.
            metadata = {k: v for k, v in (f.metadata() or {}).items() if k != _STRUCTURE_KEY}
    return arrays, metadata


def adapt_input_conv(in_chans: int, weight: np.ndarray) -> np.ndarray:
    """Fit a first convolution's RGB filters to ``in_chans`` input channels, as timm does.

    One channel sums the RGB filters; other counts repeat them and scale by
    ``3 / in_chans``, so the response to a grey image keeps its size.

    Examples
    --------
    >>> import numpy as np
    >>> from lucid.models import adapt_input_conv
    >>> w = np.ones((2, 3, 1, 1), np.float32)
    >>> adapt_input_conv(1, w)[:, :, 0, 0].tolist(), adapt_input_conv(4, w).shape
    ([[3.0], [3.0]], (2, 4, 1, 1))
    """
    if weight.ndim != 4:
        raise ValueError(f"expected a convolution weight (O, I, kH, kW), got shape {weight.shape}")
    out, channels, kh, kw = weight.shape
    dtype = weight.dtype
    w = weight.astype(np.float32)
    if in_chans == 1:
        if channels > 3:
            if channels % 3:
                raise ValueError(f"cannot fold {channels} input channels into 1 (not RGB groups)")
            w = w.reshape(out, channels // 3, 3, kh, kw).sum(axis=2)
        else:
            w = w.sum(axis=1, keepdims=True)
    elif in_chans != 3:
        if channels != 3:
            raise ValueError(
                f"can adapt RGB filters only; this convolution takes {channels} channels"
            )
        repeat = math.ceil(in_chans / 3)
        w = np.tile(w, (1, repeat, 1, 1))[:, :in_chans] * (3 / in_chans)
    return w.astype(dtype)


def _note(message: str) -> None:
    print(f"lucid: {message}", file=sys.stderr)


def _only_channels_differ(weight: np.ndarray, target: np.ndarray) -> bool:
    drop = (weight.shape[:1] + weight.shape[2:], target.shape[:1] + target.shape[2:])
    return weight.ndim == target.ndim == 4 and weight.shape != target.shape and drop[0] == drop[1]


def _fit(
    model: nn.Module,
    arrays: dict[str, np.ndarray],
    cfg: Mapping[str, Any] | None,
    label: str,
) -> dict[str, np.ndarray]:
    """Adapt loaded weights to the model as built: first conv, classifier, backbone-only."""
    own = {name: t.data for name, t in model.state_dict().items()}
    if cfg is None:
        return arrays
    arrays = dict(arrays)
    conv = f"{cfg.get('first_conv')}.weight"
    if conv in arrays and conv in own and _only_channels_differ(arrays[conv], own[conv]):
        arrays[conv] = adapt_input_conv(own[conv].shape[1], arrays[conv])
        _note(f"{label}: adapted {conv} to {own[conv].shape[1]} input channels")
    head = cfg.get("classifier")
    keys = [k for k in arrays if head and (k == head or k.startswith(f"{head}."))]
    if keys and any(k not in own or own[k].shape != arrays[k].shape for k in keys):
        for k in keys:
            if k in own:
                arrays[k] = own[k]  # keep the fresh initialisation
            else:
                del arrays[k]
        if f"{head}.weight" in own:
            _note(
                f"{label}: the classifier {head!r} keeps its fresh initialisation for "
                f"{own[f'{head}.weight'].shape[0]} classes (the weights have "
                f"{cfg.get('num_classes')})"
            )
    if getattr(model, "features_only", False):
        # A backbone keeps the layers it has, as timm's features_only does.
        arrays = {k: v for k, v in arrays.items() if k in own}
    return arrays


def _load(
    model: nn.Module,
    arrays: dict[str, np.ndarray],
    strict: bool,
    path: str,
    name: str,
    kwargs: Mapping[str, Any],
) -> None:
    try:
        model.load_state_dict(arrays, strict=strict)
    except (KeyError, RuntimeError, ValueError) as exc:
        built = ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) or "its defaults"
        raise RuntimeError(
            f"the weights in {path!r} do not fit model {name!r} (built with {built}): {exc}"
        ) from None


def _apply_settings(settings: Mapping[str, Any], kwargs: dict[str, Any], origin: str) -> None:
    """Fill in the builder arguments the weights need; refuse ones that contradict them."""
    for key, value in settings.items():
        if key in kwargs and kwargs[key] != value:
            raise ValueError(
                f"{origin} needs {key}={value!r}, but {key}={kwargs[key]!r} was passed; pass "
                f"{key}={value!r} or leave it out"
            )
        kwargs[key] = value


def _checkpoint_settings(metadata: Mapping[str, str], model: str, path: str) -> dict[str, Any]:
    """Settings recorded by the converter in a checkpoint's metadata, checked against ``model``."""
    recorded = metadata.get("model")
    if recorded and recorded != model:
        raise ValueError(
            f"{path!r} holds weights for {recorded!r}, not {model!r}; build it with "
            f"create_model({recorded!r}, checkpoint_path=...)"
        )
    try:
        settings = json.loads(metadata.get("settings", "{}"))
    except ValueError:
        settings = None
    if not isinstance(settings, dict):
        raise ValueError(f"{path!r} has malformed 'settings' metadata; re-convert the checkpoint")
    return settings


def build(
    name: str,
    *,
    pretrained: bool,
    checkpoint_path: str | os.PathLike[str] | None,
    strict: bool,
    pretrained_cfg_overlay: Mapping[str, Any] | None,
    cache_dir: str | os.PathLike[str] | None,
    kwargs: dict[str, Any],
) -> nn.Module:
    """What :func:`lucid.models.create_model` does; see there."""
    model_name, tag = split_tag(name)
    info = REGISTRY.get(model_name)
    cfg = _cfg_for(model_name, tag)
    if cfg is not None and pretrained_cfg_overlay:
        cfg = {**cfg, **pretrained_cfg_overlay}
    if pretrained and cfg is None:
        raise PretrainedWeightsError(
            f"no pretrained weights are published for {model_name!r} (none that lucid knows "
            "of); see lucid.models.list_pretrained(), or load your own with checkpoint_path="
        )
    kwargs = dict(kwargs)
    if pretrained and cfg is not None:
        _apply_settings(cfg.get("settings", {}), kwargs, f"the weights {model_name}.{cfg['tag']}")
    checkpoint: tuple[str, dict[str, np.ndarray]] | None = None
    if checkpoint_path is not None:
        path = os.fspath(checkpoint_path)
        arrays, metadata = read_weights(path)
        _apply_settings(
            _checkpoint_settings(metadata, model_name, path), kwargs, f"checkpoint {path!r}"
        )
        checkpoint = (path, arrays)
    model = info.builder(**kwargs)
    refilter = _FILTERS.get(model_name, lambda arrays: arrays)
    if pretrained and cfg is not None:
        path = weights_file(cfg, os.fspath(cache_dir) if cache_dir is not None else None)
        arrays, _ = read_weights(path)
        label = f"{model_name}.{cfg['tag']}"
        _load(model, _fit(model, refilter(arrays), cfg, label), strict, path, model_name, kwargs)
    if checkpoint is not None:
        path, arrays = checkpoint
        fitted = _fit(model, refilter(arrays), cfg, os.path.basename(path))
        _load(model, fitted, strict, path, model_name, kwargs)
    model.pretrained_cfg = copy.deepcopy(cfg) if cfg is not None else {"architecture": model_name}
    return model
