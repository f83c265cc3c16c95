"""Learning-rate schedules that rewrite an optimizer's ``group["lr"]`` at each ``step()``."""

from __future__ import annotations

import bisect
import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

from lucid.optim.optimizer import Optimizer, _brief


class LRScheduler:
    """Base class of the schedulers, with PyTorch's semantics.

    Building a scheduler records each group's ``"initial_lr"`` (its base
    learning rate) and sets the learning rate of epoch 0; each ``step()``
    moves to the next epoch. Call it after ``optimizer.step()``.

    Subclasses implement ``get_lr``, which derives the next learning rates
    from the current ones (so schedules compose with manual changes), and
    ``_closed_form_lr``, the learning rates at ``last_epoch`` from the base
    learning rates alone (``SequentialLR`` uses it to restart a schedule).

    Parameters
    ----------
    optimizer:
        The optimizer whose learning rates are scheduled.
    last_epoch:
        The index of the last epoch done: ``-1`` to start a schedule, or the
        epoch to resume from (the groups must then hold ``"initial_lr"``,
        which a loaded optimizer state dict does).
    """

    _is_initial = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"a scheduler needs a lucid.optim.Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(
                        f"resuming at last_epoch={last_epoch} needs 'initial_lr' in every "
                        f"parameter group, but param_groups[{i}] has none; load the "
                        "optimizer's state dict first, or start with last_epoch=-1"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Set the learning rates of the first epoch (or of the epoch resumed at)."""
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rates of epoch ``last_epoch``, one per group; ``step`` calls it.

        To read the current learning rates use ``get_last_lr``.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement get_lr()")

    def _closed_form_lr(self) -> list[float]:
        """The learning rates at ``last_epoch`` computed from ``base_lrs`` alone."""
        return self.get_lr()

    def step(self) -> None:
        """Advance the schedule by one epoch and write the new learning rates."""
        self.last_epoch += 1
        self._set_lrs(self.get_lr())

    def _jump_to(self, epoch: int) -> None:
        """Set the learning rates of ``epoch`` directly, from the closed form."""
        self.last_epoch = epoch
        self._set_lrs(self._closed_form_lr())

    def _undo_initial_step(self) -> None:
        """Take back the step done at construction (``SequentialLR`` redoes it)."""
        self.last_epoch -= 1

    def _set_lrs(self, lrs: Sequence[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step`` set, one per parameter group.

        Examples
        --------
        >>> import lucid
        >>> w = lucid.Tensor([1.0], requires_grad=True)
        >>> opt = lucid.optim.SGD([w], lr=0.1)
        >>> sched = lucid.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        >>> for _ in range(4):
        ...     opt.step()
        ...     sched.step()
        >>> sched.get_last_lr()
        [0.025]
        """
        return list(self._last_lr)

    # Attributes that are not the scheduler's own state: never saved, never loaded.
    _not_state: tuple[str, ...] = ("optimizer",)

    def _own_state(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._not_state}

    def state_dict(self) -> dict[str, Any]:
        """A copy of the scheduler's state (everything but the optimizer).

        Examples
        --------
        >>> import lucid
        >>> w = lucid.Tensor([1.0], requires_grad=True)
        >>> opt = lucid.optim.SGD([w], lr=0.1)
        >>> sched = lucid.optim.lr_scheduler.StepLR(opt, step_size=2)
        >>> sched.state_dict()["last_epoch"]
        0
        """
        return copy.deepcopy(self._own_state())

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a state returned by ``state_dict``.

        Every key and value is checked first (each value against the type of
        the one it replaces, a list against its length); on error nothing
        changes. Keys the scheduler does not own, such as ``"optimizer"``,
        are refused: a scheduler stays attached to the optimizer it was
        built on.

        Parameters
        ----------
        state_dict:
            The scheduler's saved state.

        Raises
        ------
        ValueError
            Missing or unknown keys.
        TypeError
            A value of the wrong type or length.

        Examples
        --------
        >>> import lucid
        >>> w = lucid.Tensor([1.0], requires_grad=True)
        >>> opt = lucid.optim.SGD([w], lr=0.1)
        >>> sched = lucid.optim.lr_scheduler.StepLR(opt, step_size=2)
        >>> state = {**sched.state_dict(), "optimizer": None}
        >>> sched.load_state_dict(state)
        Traceback (most recent call last):
        ...
        ValueError: the scheduler state dict has key(s) ['optimizer'], which a StepLR ...
        """
        for scheduler, attributes in self._checked_state(state_dict):
            scheduler.__dict__.update(attributes)

    def _checked_state(self, state_dict: Any) -> list[tuple[LRScheduler, dict[str, Any]]]:
        """The attributes to set on each scheduler (this one, and any it runs), all checked."""
        own = self._own_state()
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"expected a scheduler state dict, got {type(state_dict).__name__}; pass the "
                "result of scheduler.state_dict()"
            )
        unknown = sorted(map(str, set(state_dict) - set(own)))
        if unknown:
            raise ValueError(
                f"the scheduler state dict has key(s) {unknown}, which a "
                f"{type(self).__name__} does not own; pass the result of scheduler.state_dict()"
            )
        missing = sorted(set(own) - set(state_dict))
        if missing:
            raise ValueError(
                f"expected a scheduler state dict of a {type(self).__name__}, which has "
                f"{sorted(own)}; this one lacks {missing}; pass the result of "
                "scheduler.state_dict()"
            )
        for key, current in own.items():
            _check_like(key, state_dict[key], current)
        return [(self, copy.deepcopy({key: state_dict[key] for key in own}))]

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


# ------------------------------------------------------------ schedules ---


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Parameters
    ----------
    optimizer:
        The optimizer whose learning rates are scheduled.
    step_size:
        Number of epochs between two decays.
    gamma:
        Multiplicative factor of each decay.
    last_epoch:
        Epoch to resume from, ``-1`` to start.

    Examples
    --------
    >>> import lucid
    >>> w = lucid.Tensor([1.0], requires_grad=True)
    >>> opt = lucid.optim.SGD([w], lr=1.0)
    >>> sched = lucid.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    >>> lrs = []
    >>> for _ in range(5):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> lrs
    [1.0, 1.0, 0.1, 0.1, 0.01]
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        if not (isinstance(step_size, int) and step_size >= 1):
            raise ValueError(f"step_size must be a positive integer, got {step_size!r}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the learning rate by a factor moving linearly from ``start_factor`` to ``end_factor``.

    The factor reaches ``end_factor`` after ``total_iters`` steps and stays
    there; with the defaults this is a linear warm-up.

    Parameters
    ----------
    optimizer:
        The optimizer whose learning rates are scheduled.
    start_factor:
        Factor of the first epoch, in (0, 1].
    end_factor:
        Factor from epoch ``total_iters`` on, in [0, 1].
    total_iters:
        Number of steps of the ramp.
    last_epoch:
        Epoch to resume from, ``-1`` to start.

    Examples
    --------
    >>> import lucid
    >>> w = lucid.Tensor([1.0], requires_grad=True)
    >>> opt = lucid.optim.SGD([w], lr=1.0)
    >>> sched = lucid.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> lrs = []
    >>> for _ in range(5):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> lrs
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if not 0 < start_factor <= 1:
            raise ValueError(f"start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"end_factor must be in [0, 1], got {end_factor!r}")
        if not (isinstance(total_iters, int) and total_iters >= 1):
            raise ValueError(f"total_iters must be a positive integer, got {total_iters!r}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        # The ratio of this epoch's factor to the previous one's.
        span = self.end_factor - self.start_factor
        ratio = 1.0 + span / (self.total_iters * self.start_factor + (self.last_epoch - 1) * span)
        return [lr * ratio for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        done = min(self.total_iters, self.last_epoch) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * done
        return [base * factor for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Anneal the learning rate from its base value to ``eta_min`` along a half cosine.

    At epoch ``t`` the learning rate is
    ``eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``: it
    reaches ``eta_min`` at ``T_max`` and, past it, rises again (as PyTorch's).

    Parameters
    ----------
    optimizer:
        The optimizer whose learning rates are scheduled.
    T_max:
        Number of epochs of the half period.
    eta_min:
        Smallest learning rate.
    last_epoch:
        Epoch to resume from, ``-1`` to start.

    Examples
    --------
    >>> import lucid
    >>> w = lucid.Tensor([1.0], requires_grad=True)
    >>> opt = lucid.optim.SGD([w], lr=1.0)
    >>> sched = lucid.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    >>> lrs = []
    >>> for _ in range(5):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> lrs
    [1.0, 0.853553, 0.5, 0.146447, 0.0]
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        if not (isinstance(T_max, int) and T_max >= 1):
            raise ValueError(f"T_max must be a positive integer, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, low = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if (t - 1 - T) % (2 * T) == 0:
            # Leaving the bottom of a period: the ratio below would divide by zero.
            rise = (1 - math.cos(math.pi / T)) / 2
            lrs = zip(self._current_lrs(), self.base_lrs, strict=True)
            return [lr + (base - low) * rise for lr, base in lrs]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - low) + low for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        cos = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * cos for base in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run schedulers one after the other, switching at given epochs.

    Each scheduler restarts from its first epoch when its turn comes; the
    usual use is a warm-up followed by a decay.

    Parameters
    ----------
    optimizer:
        The optimizer all ``schedulers`` were built on.
    schedulers:
        The schedulers, in the order they run.
    milestones:
        The epochs at which the next scheduler takes over (one fewer than
        schedulers, increasing).
    last_epoch:
        Epoch to resume from, ``-1`` to start.

    Examples
    --------
    >>> import lucid
    >>> from lucid.optim import lr_scheduler
    >>> w = lucid.Tensor([1.0], requires_grad=True)
    >>> opt = lucid.optim.SGD([w], lr=1.0)
    >>> warmup = lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
    >>> decay = lr_scheduler.CosineAnnealingLR(opt, T_max=2)
    >>> sched = lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[2])
    >>> lrs = []
    >>> for _ in range(5):
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    ...     opt.step()
    ...     sched.step()
    >>> lrs
    [0.5, 0.75, 1.0, 0.5, 0.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        if not schedulers:
            raise ValueError("SequentialLR needs at least one scheduler, got none")
        for i, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(
                    f"schedulers[{i}] must be an LRScheduler, got {type(scheduler).__name__}"
                )
            if scheduler.optimizer is not optimizer:
                raise ValueError(
                    f"schedulers[{i}] ({type(scheduler).__name__}) schedules another optimizer; "
                    "build every scheduler on the optimizer given to SequentialLR"
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR needs one milestone fewer than schedulers, got {len(schedulers)} "
                f"schedulers and {len(milestones)} milestones"
            )
        if list(milestones) != sorted(milestones):
            raise ValueError(f"milestones must be increasing, got {list(milestones)!r}")
        self.optimizer = optimizer
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        # Each scheduler set the learning rates when it was built; start over
        # from the base rates and let only the first one take its first step.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_initial_step()
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _undo_initial_step(self) -> None:
        for scheduler in self._schedulers:
            scheduler._undo_initial_step()

    def step(self) -> None:
        """Advance by one epoch, handing over to the next scheduler at a milestone."""
        self.last_epoch += 1
        idx = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._jump_to(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    _not_state = ("optimizer", "_schedulers")

    def state_dict(self) -> dict[str, Any]:
        """A copy of the state, with each scheduler's own state under ``"_schedulers"``."""
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def _checked_state(self, state_dict: Any) -> list[tuple[LRScheduler, dict[str, Any]]]:
        # The children are checked with this scheduler, so a bad child state leaves all as is.
        if not isinstance(state_dict, Mapping) or "_schedulers" not in state_dict:
            raise ValueError(
                "expected a SequentialLR state dict (with '_schedulers'); pass the result of "
                "scheduler.state_dict()"
            )
        saved = state_dict["_schedulers"]
        if not isinstance(saved, (list, tuple)) or len(saved) != len(self._schedulers):
            count = len(saved) if isinstance(saved, (list, tuple)) else repr(saved)
            raise ValueError(
                f"the state dict holds {count} schedulers but this SequentialLR has "
                f"{len(self._schedulers)}"
            )
        updates = super()._checked_state(
            {k: v for k, v in state_dict.items() if k != "_schedulers"}
        )
        for i, (scheduler, state) in enumerate(zip(self._schedulers, saved, strict=True)):
            try:
                updates += scheduler._checked_state(state)
            except (TypeError, ValueError) as e:
                raise type(e)(f"_schedulers[{i}]: {e}") from None
        return updates


def _check_like(key: str, value: Any, current: Any) -> None:
    """Raise ``TypeError`` unless ``value`` can replace the attribute's ``current`` value."""
    if isinstance(current, bool):
        ok = isinstance(value, bool)
    elif key == "last_epoch":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(current, (int, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(current, (list, tuple)):
        ok = isinstance(value, (list, tuple)) and len(value) == len(current)
        if ok:
            for item, now in zip(value, current, strict=True):
                _check_like(key, item, now)
    else:
        ok = type(value) is type(current)
    if not ok:
        raise TypeError(
            f"the scheduler state's {key!r} is {_brief(value)}, which cannot replace "
            f"{_brief(current)}; "
            "pass the result of scheduler.state_dict() of a scheduler built the same way"
        )
