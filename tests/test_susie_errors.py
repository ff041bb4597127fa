"""Bad input to the SuSiE engine raises SusieError naming the argument; non-PSD R only warns."""

from __future__ import annotations

import numpy as np
import pytest

from twasflow.errors import InputError, SusieError
from twasflow.susie import kriging_rss, susie, susie_rss


@pytest.fixture
def zr():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 8))
    R = np.corrcoef(X, rowvar=False)
    z = rng.standard_normal(8)
    return z, R


def test_nan_z(zr) -> None:
    z, R = zr
    z = z.copy()
    z[3] = np.nan
    with pytest.raises(SusieError, match=r"z.*index 3"):
        susie_rss(z=z, R=R, n=100)


def test_inf_in_R(zr) -> None:
    z, R = zr
    R = R.copy()
    R[2, 5] = R[5, 2] = np.inf
    with pytest.raises(SusieError, match=r"R.*\[2, 5\]"):
        susie_rss(z=z, R=R, n=100)


def test_R_wrong_shape(zr) -> None:
    z, R = zr
    with pytest.raises(SusieError, match=r"column 'R'.*7 x 7.*expected 8 x 8"):
        susie_rss(z=z, R=R[:7, :7], n=100)
    with pytest.raises(SusieError, match="R must be a square matrix"):
        susie_rss(z=z, R=R[:, :7], n=100)


def test_R_not_symmetric(zr) -> None:
    z, R = zr
    R = R.copy()
    R[0, 1] += 1e-3
    with pytest.raises(SusieError, match="R is not symmetric"):
        susie_rss(z=z, R=R, n=100)


def test_non_psd_R_warns_but_fits(zr) -> None:
    z, R = zr
    Rb = R.copy()
    Rb[0, 1] = Rb[1, 0] = 0.99
    Rb[0, 2] = Rb[2, 0] = -0.99
    Rb[1, 2] = Rb[2, 1] = 0.99
    assert np.linalg.eigvalsh(Rb).min() < -0.1
    with pytest.warns(UserWarning, match="not positive semidefinite.*lambda_"):
        fit = susie_rss(z=z, R=Rb, n=100, L=3, check_prior=False)
    assert fit.pip.shape == (8,)
    with pytest.warns(UserWarning, match="negative eigenvalues"):
        susie_rss(z=z, R=Rb, L=3, lambda_=1e-3)


def test_bad_shat_and_inputs(zr) -> None:
    z, R = zr
    with pytest.raises(SusieError, match="shat must be positive; index 4"):
        susie_rss(bhat=z, shat=np.where(np.arange(8) == 4, 0.0, 1.0), R=R, n=100)
    with pytest.raises(SusieError, match="either z or"):
        susie_rss(z=z, bhat=z, shat=np.ones(8), R=R, n=100)
    with pytest.raises(SusieError, match="column 'L'"):
        susie_rss(z=z, R=R, n=100, L=0)
    with pytest.raises(SusieError, match="column 'n'"):
        susie_rss(z=z, R=R, n=1)
    with pytest.raises(SusieError, match="estimate_prior_method"):
        susie_rss(z=z, R=R, n=100, estimate_prior_method="bogus")
    with pytest.raises(SusieError, match="bhat.*index 2"):
        susie_rss(bhat=np.where(np.arange(8) == 2, np.nan, 1.0), shat=np.ones(8), R=R, n=100)


def test_individual_level_errors() -> None:
    X = np.ones((5, 3))
    X[1, 2] = np.nan
    with pytest.raises(SusieError, match=r"X.*\[1, 2\]"):
        susie(X, np.arange(5.0))
    with pytest.raises(SusieError, match="y contains a missing value at index 0"):
        susie(np.eye(5, 3), np.array([np.nan, 1, 2, 3, 4.0]))


def test_errors_are_input_errors(zr) -> None:
    z, R = zr
    with pytest.raises(InputError):
        kriging_rss(z[:5], R, 100)
