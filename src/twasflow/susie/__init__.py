"""SuSiE / SuSiE-RSS fine-mapping engine matching susieR 0.12.35 (pure numpy / scipy).

Public API
----------
susie_rss(z, R, n, bhat, shat, var_y, L, *, lambda_=0.0, ...) -> SusieFit
susie(X, y, L, ...) -> SusieFit
susie_suff_stat(XtX, Xty, yty, n, L, X_colmeans, y_mean, maf, ...) -> SusieFit
prepare_R(R, R_eig=None) -> PreparedR      (validate R once, cache eigendecomposition / PSD check)
SymOperator                                 (protocol: R known through diag, products, correlation blocks)
kriging_rss(z, R, n=None, r_tol=1e-8, s=None) -> pandas.DataFrame
estimate_s_rss(z, R, n=None, r_tol=1e-8, method="null-mle") -> float
SusieFit.posterior_mean(), .posterior_sd(), .get_cs(...), .get_pip(...); CredibleSet
"""

from .diagnostics import estimate_s_rss, kriging_rss
from .ibss import SusieFit
from .operator import SymOperator
from .rss import PreparedR, prepare_R, susie_rss
from .sets import CredibleSet, get_cs, get_pip
from .ser import single_effect_regression
from .suff_stat import susie, susie_suff_stat

__all__ = [
    "CredibleSet",
    "PreparedR",
    "SusieFit",
    "SymOperator",
    "estimate_s_rss",
    "get_cs",
    "get_pip",
    "kriging_rss",
    "prepare_R",
    "single_effect_regression",
    "susie",
    "susie_rss",
    "susie_suff_stat",
]
