"""TinyNet models for lucid: the complete example of a model plugin.

The plugin's entry point names the family module, ``lucid_models_tinynet.tinynet``,
whose ``@register_model`` builders are all lucid needs: the package itself
defines no hook.
"""
