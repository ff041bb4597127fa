"""Brent's derivative-free bounded scalar minimiser (Brent 1973, "localmin").

R's ``optimize()`` and ``optim(method="Brent")`` both run this algorithm with ``tol`` as the absolute
part of the tolerance (``optimize`` default ``eps^0.25``, ``optim`` default ``reltol = sqrt(eps)``).
Reproducing the same iterate sequence (golden-section start at ``a + c (b - a)``, parabolic steps,
``tol1 = sqrt(eps) |x| + tol / 3``) makes the optimum agree with susieR to rounding rather than to the
optimiser tolerance, which matters because the ELBO trace is compared per iteration.
"""

from __future__ import annotations

import math
from typing import Callable

_GOLD = 0.5 * (3.0 - math.sqrt(5.0))
_SQRT_EPS = math.sqrt(2.220446049250313e-16)
R_OPTIM_RELTOL = _SQRT_EPS  # optim()'s default control$reltol
R_OPTIMIZE_TOL = 2.220446049250313e-16 ** 0.25  # optimize()'s default tol


def brent_min(f: Callable[[float], float], lower: float, upper: float, tol: float) -> float:
    """Return the abscissa of a local minimum of ``f`` on ``[lower, upper]``.

    ``f`` is never evaluated at the end points. ``tol`` is the absolute tolerance term.
    """
    a, b = float(lower), float(upper)
    v = a + _GOLD * (b - a)
    w = x = v
    d = e = 0.0
    fx = f(x)
    fv = fw = fx
    tol3 = tol / 3.0
    while True:
        xm = 0.5 * (a + b)
        tol1 = _SQRT_EPS * abs(x) + tol3
        t2 = 2.0 * tol1
        if abs(x - xm) <= t2 - 0.5 * (b - a):
            return x
        p = q = r = 0.0
        if abs(e) > tol1:
            # trial parabola through x, w, v
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            else:
                q = -q
            r = e
            e = d
        if abs(p) >= abs(0.5 * q * r) or p <= q * (a - x) or p >= q * (b - x):
            e = (b - x) if x < xm else (a - x)
            d = _GOLD * e
        else:
            d = p / q
            u = x + d
            # never evaluate too close to the bracket ends
            if u - a < t2 or b - u < t2:
                d = tol1 if x < xm else -tol1
        if abs(d) >= tol1:
            u = x + d
        elif d > 0.0:
            u = x + tol1
        else:
            u = x - tol1
        fu = f(u)
        if fu <= fx:
            if u < x:
                b = x
            else:
                a = x
            v, fv = w, fw
            w, fw = x, fx
            x, fx = u, fu
        else:
            if u < x:
                a = u
            else:
                b = u
            if fu <= fw or w == x:
                v, fv = w, fw
                w, fw = u, fu
            elif fu <= fv or v == x or v == w:
                v, fv = u, fu
