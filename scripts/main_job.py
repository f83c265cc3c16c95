"""The main job of `make run`: list the models, build and time PVT-Medium, build the docs."""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS_OUT = ROOT / "docs" / "_build" / "html"


def banner(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def discover() -> None:
    import lucid.models

    banner("Plugins and the models they registered")
    for plugin in lucid.models.list_plugins():
        print(
            f"{plugin.name} ({plugin.distribution} {plugin.version}): {len(plugin.models)} models"
        )
    for error in lucid.models.plugin_errors():
        print(f"  failed: {error}")
    print(", ".join(lucid.models.list_models()))


def build_and_run(batch: int) -> None:
    import numpy as np

    import lucid
    import lucid.models
    from lucid.nn.utils import summary

    banner("lucid.models.pvt_medium()")
    start = time.perf_counter()
    model = lucid.models.pvt_medium().eval()
    print(f"built in {time.perf_counter() - start:.2f} s")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params:,}")
    summary(model, (1, 3, 224, 224))

    banner(f"Forward pass, batch of {batch} images at 224x224")
    images = lucid.tensor(np.random.default_rng(0).standard_normal((batch, 3, 224, 224)))
    with lucid.no_grad():
        model(images[:1])  # warm-up: first-touch allocations
        start = time.perf_counter()
        logits = model(images)
        elapsed = time.perf_counter() - start
    print(f"logits {logits.shape} in {elapsed:.3f} s ({elapsed / batch * 1000:.0f} ms/image)")


def build_docs() -> None:
    banner("Documentation")
    cmd = [sys.executable, "-m", "sphinx", "-q", "-W", "-n", "--keep-going", "-b", "html"]
    subprocess.run([*cmd, str(ROOT / "docs"), str(DOCS_OUT)], check=True)
    print(f"open file://{DOCS_OUT / 'index.html'}")
    print("or serve it with: make run SERVE=1  (http://127.0.0.1:8000)")


def serve(port: int) -> None:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(DOCS_OUT))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"serving the docs on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=8, help="images in the timed forward pass")
    parser.add_argument("--serve", action="store_true", help="serve the built docs on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    discover()
    build_and_run(args.batch)
    build_docs()
    if args.serve:
        serve(args.port)


if __name__ == "__main__":
    main()
