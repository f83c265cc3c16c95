"""lucid.distributed under a real ``mpirun -n 2`` (Open MPI from the test environment)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import lucid

SCRIPT = Path(__file__).with_name("mpi_script.py")
TIMEOUT = 240  # seconds; every scenario ends long before, or the test fails


@pytest.fixture
def scenario(mpirun):
    """Run one of mpi_script.py's scenarios on 2 ranks, writing into a folder."""

    def run(name: str, out: Path) -> subprocess.CompletedProcess[str]:
        return mpirun([sys.executable, str(SCRIPT), name, str(out)], timeout=TIMEOUT)

    return run


def _alone(scenario: str, out: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI", "PRTE_"))}
    subprocess.run(
        [sys.executable, str(SCRIPT), scenario, str(out)],
        check=True,
        capture_output=True,
        timeout=TIMEOUT,
        env=env,
    )


def test_collectives_across_two_ranks(tmp_path, scenario):
    result = scenario("collectives", tmp_path)
    assert result.returncode == 0, result.stderr
    for rank in (0, 1):
        got = np.load(tmp_path / f"collectives-rank{rank}.npz")
        np.testing.assert_array_equal(got["sum"], [3.0, 6.0])  # 1*[1,2] + 2*[1,2]
        np.testing.assert_array_equal(got["avg"], [1.5] * 3)
        np.testing.assert_array_equal(got["max"], [1, 0])
        np.testing.assert_array_equal(got["broadcast"], np.full((2, 2), 8.0))  # rank 1's 1+7
        np.testing.assert_array_equal(got["gather"], [[0.0] * 3, [1.0] * 3])
        np.testing.assert_array_equal(got["rows"].ravel(), [0, 10, 11])  # 1 row, then 2


def _check_equivalent(kind: str, tmp_path: Path, scenario) -> None:
    result = scenario(kind, tmp_path)
    assert result.returncode == 0, result.stderr
    _alone(kind, tmp_path)
    alone = np.load(tmp_path / f"{kind}-world1-rank0.npz")
    ranks = [np.load(tmp_path / f"{kind}-world2-rank{r}.npz") for r in (0, 1)]
    for r in ranks:
        # Bit-identical replicas after every step...
        assert r["identical"].tolist() == [True, True, True]
        # ...equal to one process on the whole batch, up to summation order.
        diff = np.linalg.norm(r["params"] - alone["params"]) / np.linalg.norm(alone["params"])
        assert diff < 1e-6, diff
    assert np.array_equal(ranks[0]["params"], ranks[1]["params"])


def test_two_ranks_equal_one_process_on_the_whole_batch_convnet(tmp_path, scenario):
    _check_equivalent("convnet", tmp_path, scenario)


@pytest.mark.slow
def test_two_ranks_equal_one_process_on_the_whole_batch_pvt_v2(tmp_path, scenario):
    _check_equivalent("pvt", tmp_path, scenario)


def test_a_failing_rank_ends_every_rank_with_its_error(tmp_path, scenario):
    start = time.monotonic()
    result = scenario("fail", tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "rank 1 failed" in output and "injected failure on rank 1" in output
    assert time.monotonic() - start < TIMEOUT
    assert not list(tmp_path.glob("finished-rank*"))  # no rank carried on past the failure
    # Whatever rank 0 managed to save is a complete checkpoint.
    if (tmp_path / "ckpt.safetensors").exists():
        assert lucid.load(tmp_path / "ckpt.safetensors")["step"] in (0, 1, 2, 3)


def test_a_rank_dying_mid_save_leaves_the_previous_checkpoint(tmp_path, scenario):
    result = scenario("die_while_saving", tmp_path)
    assert result.returncode != 0
    state = lucid.load(tmp_path / "ckpt.safetensors")
    assert state["step"] == 1
    np.testing.assert_array_equal(state["w"].numpy(), np.ones(1000, dtype=np.float32))
