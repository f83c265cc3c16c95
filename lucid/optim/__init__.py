"""Optimizers (SGD, Adam, AdamW) and learning-rate schedules (``lucid.optim.lr_scheduler``)."""

from lucid.optim import lr_scheduler
from lucid.optim.adam import Adam, AdamW
from lucid.optim.optimizer import Optimizer
from lucid.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
