"""The layer-level differentiable functions behind ``lucid.nn.functional``, one file per family."""
