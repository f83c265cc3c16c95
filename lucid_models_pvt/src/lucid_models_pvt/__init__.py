"""Pyramid Vision Transformer models for lucid (PVT v1 and v2), registered as a plugin."""
