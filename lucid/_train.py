"""``lucid train`` and ``lucid validate``: timm's train.py and validate.py, small."""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

# Only the standard library at import time, as in lucid._cli: `lucid --help`
# stays instant; NumPy, the models and Pillow load when a command runs.

_LOG_FIELDS = ("epoch", "train_loss", "eval_loss", "eval_top1", "eval_top5", "lr", "epoch_time")


class TrainError(Exception):
    """A problem with the command's input (data folder, checkpoint, options), told as one line."""


# ---------------------------------------------------------------- parser ---


def _reported(command: Callable[[argparse.Namespace, TextIO], int]) -> Callable[..., int]:
    """``command``, with bad input reported as one ``lucid: error:`` line and status 2."""

    def run(args: argparse.Namespace, out: TextIO) -> int:
        try:
            return command(args, out)
        except (TrainError, FileNotFoundError, NotADirectoryError) as exc:
            print(f"lucid: error: {exc}", file=sys.stderr)
            return 2

    return run


def _data_options(parser: argparse.ArgumentParser) -> None:
    """The options train and validate share, named as timm's."""
    parser.add_argument("data_dir", metavar="DIR", help="the dataset folder (ImageFolder splits)")
    parser.add_argument("--model", required=True, help="a registered model name")
    parser.add_argument("--num-classes", type=int, help="classes of the head (default: the data's)")
    parser.add_argument("--img-size", type=int, help="input image size (default: the model's)")
    parser.add_argument("-b", "--batch-size", type=int, default=32, help="batch size (32)")
    parser.add_argument("-j", "--workers", type=int, default=2, help="loader processes (2)")
    parser.add_argument(
        "--distributed", action="store_true",
        help="one of several MPI ranks (start with mpirun -n N): each reads its share of "
        "the data; --batch-size is per rank",
    )  # fmt: skip


def add_parsers(commands: Any) -> None:
    """Register ``train`` and ``validate`` on the ``lucid`` command's subparsers."""
    train = commands.add_parser(
        "train",
        help="train a registered model on an ImageFolder dataset",
        description="Train a registered model on DIR/<train-split> and validate on "
        "DIR/<val-split> (folders of class folders of images), as timm's train.py.",
    )
    _data_options(train)
    train.add_argument("--train-split", default="train", help="training folder (train)")
    train.add_argument("--val-split", default="validation", help="validation folder (validation)")
    train.add_argument("--pretrained", action="store_true", help="start from pretrained weights")
    train.add_argument("--epochs", type=int, default=10, help="epochs to train (10)")
    train.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (1e-3)")
    train.add_argument("--weight-decay", type=float, default=0.05, help="AdamW decay (0.05)")
    train.add_argument("--warmup-epochs", type=float, default=1, help="linear warmup epochs (1)")
    train.add_argument("--warmup-lr", type=float, default=1e-5, help="warmup start lr (1e-5)")
    train.add_argument("--min-lr", type=float, default=0.0, help="cosine end lr (0)")
    train.add_argument("--smoothing", type=float, default=0.1, help="label smoothing (0.1)")
    train.add_argument("--clip-grad", type=float, help="clip the gradient norm to this")
    train.add_argument(
        "--scale", type=float, nargs=2, default=(0.08, 1.0), metavar=("MIN", "MAX"),
        help="random-resized-crop area range (0.08 1)",
    )  # fmt: skip
    train.add_argument("--hflip", type=float, default=0.5, help="horizontal flip chance (0.5)")
    train.add_argument("--color-jitter", type=float, default=0.4, help="color jitter (0.4)")
    train.add_argument("--seed", type=int, default=42, help="random seed (42)")
    train.add_argument("--output", default="output", help="folder for checkpoints and log")
    train.add_argument("--resume", metavar="PATH", help="continue from a checkpoint")
    train.add_argument(
        "--log-format", choices=("csv", "json"), default="csv",
        help="summary.csv, or summary.jsonl with one JSON object per epoch",
    )  # fmt: skip
    train.set_defaults(handler=_reported(train_command))

    validate = commands.add_parser(
        "validate",
        help="top-1/top-5 accuracy of a checkpoint on an ImageFolder dataset",
        description="Evaluate a model (with a checkpoint from lucid train, or pretrained) on "
        "DIR/<split>, as timm's validate.py.",
    )
    _data_options(validate)
    validate.add_argument("--split", default="validation", help="folder to evaluate (validation)")
    validate.add_argument("--checkpoint", metavar="PATH", help="weights or a training checkpoint")
    validate.add_argument("--pretrained", action="store_true", help="use pretrained weights")
    validate.add_argument("--results-file", metavar="PATH", help="also write the results as JSON")
    validate.set_defaults(handler=_reported(validate_command))


# ------------------------------------------------------------------ data ---


def _split(data_dir: str, split: str) -> str:
    path = os.path.join(data_dir, split)
    if not os.path.isdir(path):
        raise TrainError(
            f"no folder {path!r}: {data_dir!r} should hold the {split!r} split as "
            f"{split}/<class>/<image> (see scripts/make_digits_folder.py)"
        )
    return path


def _data_config(model: Any, img_size: int | None) -> dict[str, Any]:
    """The model's pretrained_cfg (timm's keys), with the input size the command uses."""
    cfg = dict(getattr(model, "pretrained_cfg", None) or {})
    if img_size is not None:
        cfg["input_size"] = (3, img_size, img_size)
    return cfg


def _loader(
    dataset: Any,
    args: argparse.Namespace,
    shuffle: bool,
    generator: Any = None,
    sampler: Any = None,
) -> Any:
    from lucid.data import DataLoader

    return DataLoader(
        dataset,
        batch_size=args.batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        num_workers=args.workers,
        generator=generator,
        persistent_workers=args.workers > 0,
    )


def _rank_share(dataset: Any) -> Any:
    """This rank's samples for evaluation: every world-size-th, none repeated (no padding)."""
    import lucid.distributed as dist
    from lucid.data import Subset

    if not dist.is_initialized() or dist.get_world_size() == 1:
        return dataset
    return Subset(dataset, range(dist.get_rank(), len(dataset), dist.get_world_size()))


def _start_distributed(args: argparse.Namespace) -> tuple[int, int]:
    """Join the MPI ranks when ``--distributed``; (rank, world size), (0, 1) otherwise."""
    if not args.distributed:
        return 0, 1
    import lucid.distributed as dist

    dist.init_process_group()
    return dist.get_rank(), dist.get_world_size()


def _check_positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise TrainError(f"--{name.replace('_', '-')} must be positive, got {value}")
    if args.workers < 0:
        raise TrainError(f"--workers must be 0 or more, got {args.workers}")


# ----------------------------------------------------------------- model ---


def _create_model(args: argparse.Namespace, num_classes: int, img_size: int | None) -> Any:
    from lucid import models

    kwargs: dict[str, Any] = {"num_classes": num_classes}
    if img_size is not None:
        kwargs["img_size"] = img_size
    if args.pretrained:
        kwargs["pretrained"] = True
    try:
        return models.create_model(args.model, **kwargs)
    except (TypeError, ValueError) as exc:
        raise TrainError(f"cannot build {args.model} with {kwargs}: {exc}") from exc


def _state_dict_of(checkpoint: Any, path: str) -> Mapping[str, Any]:
    """The model weights of a training checkpoint (key ``state_dict``) or of a plain weight file."""
    if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get("state_dict"), Mapping):
        return checkpoint["state_dict"]
    if isinstance(checkpoint, Mapping):
        return checkpoint
    raise TrainError(f"{path} holds a {type(checkpoint).__name__}, not model weights")


# --------------------------------------------------------------- metrics ---


def _evaluate(model: Any, loader: Iterable[Any], num_classes: int) -> dict[str, float]:
    """Mean cross-entropy and top-1/top-5 accuracy (in percent) over ``loader``."""
    import numpy as np

    import lucid
    import lucid.nn.functional as F

    k = min(5, num_classes)
    total = correct1 = correctk = 0
    loss_sum = 0.0
    model.eval()
    with lucid.no_grad():
        for images, targets in loader:
            logits = model(images)
            loss_sum += float(F.cross_entropy(logits, targets, reduction="sum").item())
            scores, labels = logits.numpy(), targets.numpy()
            topk = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            correct1 += int((topk[:, 0] == labels).sum())
            correctk += int((topk == labels[:, None]).any(axis=1).sum())
            total += len(labels)
    sums = np.array([loss_sum, correct1, correctk, total], dtype=np.float64)
    import lucid.distributed as dist

    if dist.is_initialized():
        dist.all_reduce(sums)  # every rank saw its own share: add the counts up
    loss_sum, correct1, correctk, total = sums.tolist()
    if total == 0:
        raise TrainError("the validation split holds no image")
    return {
        "eval_loss": loss_sum / total,
        "eval_top1": 100.0 * correct1 / total,
        "eval_top5": 100.0 * correctk / total,
    }


class _Log:
    """One row per epoch appended to summary.csv or summary.jsonl (timm's summary.csv columns)."""

    def __init__(self, output: str, fmt: str) -> None:
        self.path = os.path.join(output, "summary.csv" if fmt == "csv" else "summary.jsonl")
        self.fmt = fmt

    def write(self, row: dict[str, Any]) -> None:
        new = not os.path.exists(self.path)
        with open(self.path, "a", newline="") as f:
            if self.fmt == "json":
                f.write(json.dumps(row) + "\n")
            else:
                writer = csv.DictWriter(f, fieldnames=_LOG_FIELDS)
                if new:
                    writer.writeheader()
                writer.writerow(row)


# ------------------------------------------------------------- checkpoints ---


def _save(path: str, state: dict[str, Any]) -> None:
    import lucid

    lucid.save(state, path)  # atomic: a temporary file renamed over the old one


def _checkpoint(
    args: argparse.Namespace,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    generator: Any,
    epoch: int,
    metric: float | None,
    best: float | None,
    classes: list[str],
    img_size: int | None,
) -> dict[str, Any]:
    """Everything resuming needs, under timm's checkpoint keys where timm has them."""
    import lucid

    return {
        "epoch": epoch,  # epochs completed
        "arch": args.model,
        "state_dict": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng_state": lucid.get_rng_state(),
        "loader_rng_state": generator.get_state(),
        "metric": metric,
        "best_metric": best,
        "num_classes": len(classes) if args.num_classes is None else args.num_classes,
        "img_size": img_size,
        "classes": classes,
    }


# --------------------------------------------------------------- commands ---


def _schedule(optimizer: Any, args: argparse.Namespace, steps_per_epoch: int) -> Any:
    """Linear warmup from ``--warmup-lr``, then cosine to ``--min-lr``, stepped every update."""
    from lucid.optim import lr_scheduler

    total = args.epochs * steps_per_epoch
    warmup = min(total - 1, math.ceil(args.warmup_epochs * steps_per_epoch))
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=total - warmup, eta_min=args.min_lr)
    if warmup <= 0:
        return cosine
    linear = lr_scheduler.LinearLR(
        optimizer, start_factor=min(1.0, args.warmup_lr / args.lr), total_iters=warmup
    )
    return lr_scheduler.SequentialLR(optimizer, [linear, cosine], milestones=[warmup])


def train_command(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``lucid train``; returns the exit status (130 after Ctrl-C, with a checkpoint)."""
    import lucid
    import lucid.nn.functional as F
    from lucid import nn, optim
    from lucid.vision.datasets import ImageFolder
    from lucid.vision.transforms import create_transform

    _check_positive(args, "epochs", "batch_size", "lr", "num_classes", "img_size", "clip_grad")
    if args.warmup_epochs < 0 or args.smoothing < 0 or args.smoothing >= 1:
        raise TrainError("--warmup-epochs must be >= 0 and --smoothing in [0, 1)")
    resume = None
    if args.resume is not None:
        resume = lucid.load(args.resume)
        if not isinstance(resume, Mapping) or "optimizer" not in resume:
            raise TrainError(f"{args.resume} is not a checkpoint written by lucid train")
        if resume.get("arch") != args.model:
            raise TrainError(
                f"{args.resume} is a checkpoint of {resume.get('arch')!r}, not of {args.model!r}"
            )
    rank, world = _start_distributed(args)
    # As timm: each rank draws its own augmentations and dropout masks.
    lucid.manual_seed(args.seed + rank)
    generator = lucid.Generator().manual_seed(args.seed + rank)

    train_set = ImageFolder(_split(args.data_dir, args.train_split))
    val_set = ImageFolder(_split(args.data_dir, args.val_split))
    if val_set.classes != train_set.classes:
        raise TrainError(
            f"the splits disagree on the classes: {args.train_split} has {train_set.classes}, "
            f"{args.val_split} has {val_set.classes}"
        )
    num_classes = args.num_classes or len(train_set.classes)
    if num_classes < len(train_set.classes):
        raise TrainError(
            f"--num-classes {num_classes} is fewer than the {len(train_set.classes)} classes "
            f"of {args.train_split}; leave it out to use the data's"
        )
    img_size = args.img_size
    model = _create_model(args, num_classes, img_size)
    cfg = _data_config(model, img_size)
    train_set.transform = create_transform(
        cfg,
        is_training=True,
        scale=tuple(args.scale),
        hflip=args.hflip,
        color_jitter=args.color_jitter or None,
    )
    val_set.transform = create_transform(cfg)
    sampler = None
    if world > 1:
        import lucid.distributed as dist

        sampler = dist.DistributedSampler(train_set, shuffle=True, seed=args.seed)
    train_loader = _loader(train_set, args, shuffle=True, generator=generator, sampler=sampler)
    val_loader = _loader(_rank_share(val_set), args, shuffle=False)

    optimizer = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = _schedule(optimizer, args, len(train_loader))
    start_epoch, best = 0, None
    if resume is not None:
        model.load_state_dict(resume["state_dict"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        lucid.set_rng_state(resume["rng_state"])
        generator.set_state(resume["loader_rng_state"])
        start_epoch, best = int(resume["epoch"]), resume.get("best_metric")
        if rank == 0:
            print(f"resumed {args.resume} after epoch {start_epoch}", file=out)
    trained = model
    if args.distributed:
        import lucid.distributed as dist

        # Wraps after resuming, so every rank starts from rank 0's weights.
        trained = dist.DistributedDataParallel(model)

    # Only rank 0 writes: the log, the checkpoints (atomic) and the messages.
    writer = rank == 0
    if writer:
        os.makedirs(args.output, exist_ok=True)
    log = _Log(args.output, args.log_format)
    last = os.path.join(args.output, "last.safetensors")
    epoch = start_epoch

    def snapshot(done: int, metric: float | None) -> dict[str, Any]:
        return _checkpoint(
            args, model, optimizer, scheduler, generator, done, metric, best,
            train_set.classes, img_size,
        )  # fmt: skip

    try:
        for epoch in range(start_epoch, args.epochs):
            start = time.perf_counter()
            if sampler is not None:
                sampler.set_epoch(epoch)
            train_loss = _train_one_epoch(
                trained, train_loader, optimizer, scheduler, args, epoch, F, nn, show=writer
            )
            metrics = _evaluate(trained, val_loader, num_classes)
            row = {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                **metrics,
                "lr": optimizer.param_groups[0]["lr"],
                "epoch_time": time.perf_counter() - start,
            }
            if best is None or metrics["eval_top1"] > best:
                best = metrics["eval_top1"]
                if writer:
                    best_path = os.path.join(args.output, "model_best.safetensors")
                    _save(best_path, snapshot(epoch + 1, best))
            if not writer:
                continue
            log.write(row)
            _save(last, snapshot(epoch + 1, metrics["eval_top1"]))
            print(
                f"epoch {epoch + 1}/{args.epochs}: train_loss {train_loss:.4f}  "
                f"eval_loss {metrics['eval_loss']:.4f}  top1 {metrics['eval_top1']:.2f}  "
                f"top5 {metrics['eval_top5']:.2f}  ({row['epoch_time']:.1f} s)",
                file=out,
                flush=True,
            )
    except KeyboardInterrupt:
        # The epoch in progress is lost, but not the weights: resuming repeats it.
        if writer:
            path = os.path.join(args.output, "interrupted.safetensors")
            _save(path, snapshot(epoch, None))
            print(f"\ninterrupted: saved {path} (resume with --resume {path})", file=out)
            out.flush()
        return 130
    if writer:
        print(f"best top1 {best:.2f}; checkpoints in {args.output}", file=out)
    return 0


def _train_one_epoch(
    model: Any,
    loader: Any,
    optimizer: Any,
    scheduler: Any,
    args: argparse.Namespace,
    epoch: int,
    F: Any,
    nn: Any,
    show: bool = True,
) -> float:
    """One pass over the training data with a progress bar; returns the mean loss."""
    from tqdm import tqdm

    model.train()
    loss_sum, seen = 0.0, 0
    start = time.perf_counter()
    # disable=None shows it on a terminal only; other ranks than 0 never show it.
    disable = None if show else True
    with tqdm(loader, desc=f"epoch {epoch + 1}/{args.epochs}", disable=disable, leave=False) as bar:
        for images, targets in bar:
            loss = F.cross_entropy(model(images), targets, label_smoothing=args.smoothing)
            optimizer.zero_grad()
            loss.backward()
            if args.clip_grad is not None:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
            optimizer.step()
            scheduler.step()
            loss_sum += float(loss.item()) * len(targets)
            seen += len(targets)
            rate = seen / max(time.perf_counter() - start, 1e-9)
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", img_s=f"{rate:.1f}")
    import numpy as np

    import lucid.distributed as dist

    sums = np.array([loss_sum, seen], dtype=np.float64)
    if dist.is_initialized():
        dist.all_reduce(sums)  # the log shows the mean over every rank's samples
    return float(sums[0] / max(sums[1], 1))


def validate_command(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``lucid validate``: print (and optionally save) loss, top-1 and top-5."""
    import lucid
    from lucid.vision.datasets import ImageFolder
    from lucid.vision.transforms import create_transform

    _check_positive(args, "batch_size", "num_classes", "img_size")
    rank, _ = _start_distributed(args)
    checkpoint = None if args.checkpoint is None else lucid.load(args.checkpoint)
    info = checkpoint if isinstance(checkpoint, Mapping) and "state_dict" in checkpoint else {}
    dataset = ImageFolder(_split(args.data_dir, args.split))
    classes = info.get("classes")
    if classes is not None and list(classes) != dataset.classes:
        raise TrainError(
            f"the checkpoint was trained on classes {list(classes)}, but {args.split} has "
            f"{dataset.classes}"
        )
    num_classes = args.num_classes or info.get("num_classes") or len(dataset.classes)
    img_size = args.img_size or info.get("img_size")
    model = _create_model(args, int(num_classes), img_size)
    if checkpoint is not None:
        model.load_state_dict(_state_dict_of(checkpoint, args.checkpoint))
    dataset.transform = create_transform(_data_config(model, img_size))
    results = {
        "model": args.model,
        "checkpoint": args.checkpoint,
        "images": len(dataset),
        **_evaluate(model, _loader(_rank_share(dataset), args, shuffle=False), int(num_classes)),
    }
    if rank != 0:
        return 0
    print(json.dumps(results, indent=2), file=out)
    if args.results_file:
        with open(args.results_file, "w") as f:
            json.dump(results, f, indent=2)
    return 0
