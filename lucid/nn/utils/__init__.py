"""Training and inspection helpers: ``clip_grad_norm_``, ``summary`` and ``count_macs``."""

from lucid.nn.utils.clip_grad import clip_grad_norm_
from lucid.nn.utils.summary import count_macs, summary

__all__ = ["clip_grad_norm_", "count_macs", "summary"]
