"""Use the TinyNet plugin once it is installed: list, build and run its models."""

import lucid
import lucid.models

print(lucid.models.list_models("tinynet_*"))
model = lucid.models.tinynet_s(num_classes=5)
print(model(lucid.randn(2, 3, 32, 32)).shape)
