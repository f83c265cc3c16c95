"""Random generators: seeding, saving and restoring state, explicit generators."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import lucid


def test_manual_seed_returns_the_default_generator_and_repeats_draws():
    g = lucid.manual_seed(123)
    assert g is lucid.default_generator
    assert lucid.initial_seed() == 123
    a = lucid.randn(5)
    lucid.manual_seed(123)
    np.testing.assert_array_equal(lucid.randn(5).numpy(), a.numpy())


def test_seeding_keeps_the_stream_of_numpy_default_rng():
    # Checkpoints and tests written before Generator existed keep their numbers.
    lucid.manual_seed(0)
    expected = np.random.default_rng(0).random(4, dtype=np.float32)
    np.testing.assert_array_equal(lucid.rand(4).numpy(), expected)


def test_rng_state_round_trips_exactly_mid_stream():
    lucid.manual_seed(5)
    lucid.rand(3)
    lucid.randn(1)  # an odd number of 32-bit halves leaves one buffered
    state = lucid.get_rng_state()
    assert state.dtype == np.uint8 and state.ndim == 1
    after = [lucid.rand(7).numpy(), lucid.randint(0, 100, (4,)).numpy(), lucid.randperm(6).numpy()]
    lucid.manual_seed(99)  # anything in between
    lucid.set_rng_state(state)
    again = [lucid.rand(7).numpy(), lucid.randint(0, 100, (4,)).numpy(), lucid.randperm(6).numpy()]
    for x, y in zip(after, again, strict=True):
        np.testing.assert_array_equal(x, y)
    assert lucid.initial_seed() == 5


def test_state_survives_a_checkpoint_in_a_fresh_process(tmp_path):
    lucid.manual_seed(11)
    lucid.rand(2)
    path = tmp_path / "rng.safetensors"
    lucid.save({"rng": lucid.get_rng_state()}, path)
    expected = lucid.randn(4).numpy()
    code = (
        "import lucid, sys\n"
        f"lucid.set_rng_state(lucid.load({str(path)!r})['rng'])\n"
        "print(repr(lucid.randn(4).numpy().tolist()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == repr(expected.tolist())


def test_explicit_generators_are_independent_of_the_default():
    g1 = lucid.Generator().manual_seed(3)
    g2 = lucid.Generator().manual_seed(3)
    lucid.manual_seed(0)
    a = lucid.rand(4, generator=g1)
    lucid.rand(10)  # draws from the default generator only
    b = lucid.rand(4, generator=g2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    p1 = lucid.randperm(10, generator=g1)
    p2 = lucid.randperm(10, generator=g2)
    assert p1.tolist() == p2.tolist() and sorted(p1.tolist()) == list(range(10))
    assert p1.dtype == np.int64
    assert (
        lucid.randint(0, 5, (3,), generator=g1).tolist()
        == lucid.randint(0, 5, (3,), generator=g2).tolist()
    )


def test_unseeded_generators_differ_and_report_their_seed():
    g1, g2 = lucid.Generator(), lucid.Generator()
    assert g1.initial_seed() != g2.initial_seed()
    s = g1.seed()
    assert g1.initial_seed() == s


def test_negative_seeds_wrap_as_in_pytorch():
    assert lucid.Generator().manual_seed(-1).initial_seed() == 2**64 - 1


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (np.zeros(10, dtype=np.uint8), ValueError, "expected 50 bytes"),
        (lucid.zeros(42), TypeError, "uint8"),
        ([1, 2, 3], TypeError, "1-D uint8 tensor"),
        ("state", TypeError, "1-D uint8 tensor"),
    ],
)
def test_bad_states_are_refused_and_change_nothing(bad, error, match):
    g = lucid.Generator().manual_seed(8)
    before = g.get_state().numpy()
    with pytest.raises(error, match=match):
        g.set_state(bad)
    np.testing.assert_array_equal(g.get_state().numpy(), before)


def test_a_state_with_an_even_increment_is_refused():
    state = lucid.Generator().manual_seed(1).get_state().numpy().copy()
    state[5 + 16] &= 0xFE  # the increment's lowest bit: PCG64 increments are odd
    with pytest.raises(ValueError, match="out of range"):
        lucid.Generator().set_state(state)


@pytest.mark.parametrize(
    ("seed", "error"), [(2**64, ValueError), (-(2**63) - 1, ValueError), (1.5, TypeError)]
)
def test_bad_seeds(seed, error):
    with pytest.raises(error):
        lucid.manual_seed(seed)


def test_bad_generator_arguments():
    with pytest.raises(TypeError, match=r"lucid\.Generator"):
        lucid.rand(2, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="CPU only"):
        lucid.Generator(device="cuda")
    with pytest.raises(ValueError, match="non-negative integer"):
        lucid.randperm(-1)
