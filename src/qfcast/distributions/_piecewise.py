"""Closed forms for a piecewise-linear quantile function with optional exponential tails.

ISQF, IQF, SQF and the quantile grid are all the same object underneath: a quantile function
``q`` that is linear between knots ``(x_j, y_j)``, ``j = 0..N`` (``x`` increasing in [0, 1]),
and — for the tailed families — exponential below ``x_0`` and above ``x_N``:

    q(a) = y_0 + log(a / x_0) / beta_l                      for a < x_0,
    q(a) = y_N - log((1 - a) / (1 - x_N)) / beta_r          for a > x_N.

Every function here works on *rows*: knot tensors of shape ``(B, N + 1)``, tail rates of shape
``(B,)`` and queries of shape ``(B, S)`` (S levels or observations per row). The distribution
classes flatten their batch into rows (``PiecewiseQuantileDistribution._rows``) and call
these through :func:`chunked`.

CRPS (MATH.md A.4, rewritten for speed). With ``t = F(z)``,
``CRPS(z) = ∫ 2 ρ_a(z - q(a)) da = z (2t - 1) + 2 ∫_t^1 q(a) da - 2 ∫_0^1 a q(a) da``.
The last integral (``M1``) and the prefix integrals of ``q`` are per-row constants, so a query
costs one binary search and a gather instead of a pass over all pieces. In the tails the
partial integrals simplify (``a·log`` terms cancel against ``t``), which leaves
    left  (z < y_0):  CRPS = -z + 2μ + 2 t / beta_l - 2 M1,
    right (z ≥ y_N):  CRPS =  z + 2 (1 - t) / beta_r - 2 M1,
    piece j:          CRPS = z (2t - 1) + 2μ - 2 P_j - d (y_j + z) - 2 M1,  d = t - x_j,
with ``μ`` the mean and ``P_j = ∫_0^{x_j} q``. Values are centred on a knot before these
sums (CRPS is translation-equivariant), so large levels such as 1e9 do not cancel away.
``tests/test_isqf.py`` checks these against quadrature of ``2ρ`` and GluonTS's formulas.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class Spline(NamedTuple):
    """Knots of a piecewise-linear quantile function, one row per distribution.

    ``x``, ``y``: (B, N + 1) knot levels and values; ``w``, ``h``: (B, N) piece widths and
    rises (kept separately from ``diff(x)`` so their positivity floors are exact);
    ``beta_l``, ``beta_r``: (B,) tail rates, or ``None`` for a tail-free function on [0, 1].
    """

    x: Tensor
    y: Tensor
    w: Tensor
    h: Tensor
    beta_l: Tensor | None
    beta_r: Tensor | None

    @property
    def tailed(self) -> bool:
        return self.beta_l is not None


def isqf_spline(
    levels: Tensor, values: Tensor, widths: Tensor, heights: Tensor, beta_l: Tensor, beta_r: Tensor
) -> Spline:
    """Flatten ISQF domain parameters (rows) into knots.

    ``levels`` (K,), ``values`` (B, K), ``widths``/``heights`` (B, K-1, L) with rows summing
    to one; piece ``s`` of interval ``k`` spans ``widths[k, s]`` of the level gap and
    ``heights[k, s]`` of the value rise.
    """
    d_level = (levels[1:] - levels[:-1])[:, None]  # (K-1, 1)
    d_value = (values[:, 1:] - values[:, :-1]).unsqueeze(-1)  # (B, K-1, 1)
    w = widths * d_level
    h = heights * d_value
    x_start = levels[:-1, None] + (widths.cumsum(-1) - widths) * d_level
    y_start = values[:, :-1, None] + (heights.cumsum(-1) - heights) * d_value
    b = values.shape[0]
    x = torch.cat([x_start.reshape(b, -1), levels[-1:].expand(b, 1)], dim=-1)
    y = torch.cat([y_start.reshape(b, -1), values[:, -1:]], dim=-1)
    return Spline(x, y, w.reshape(b, -1), h.reshape(b, -1), beta_l, beta_r)


def _inverse_slopes(s: Spline) -> Tensor:
    """dα/dq on each piece; 0 on flat pieces (their level range is an atom of the cdf)."""
    flat = s.h <= 0
    return torch.where(flat, 0.0, s.w / torch.where(flat, 1.0, s.h))


def _piece(starts: Tensor, query: Tensor) -> Tensor:
    """Index of the piece whose start is the last one <= query, clamped to the pieces."""
    idx = torch.searchsorted(starts.contiguous(), query.contiguous(), right=True) - 1
    return idx.clamp_(0, starts.shape[-1] - 1)


def icdf(s: Spline, alpha: Tensor) -> Tensor:
    """Quantile function at levels ``alpha`` (B, S)."""
    j = _piece(s.x[:, :-1], alpha)
    xj = s.x.gather(1, j)
    yj = s.y.gather(1, j)
    slope = (s.h / s.w).gather(1, j)
    q = yj + (alpha - xj) * slope
    if not s.tailed:
        return q
    x0, xn = s.x[:, :1], s.x[:, -1:]
    left, right = alpha < x0, alpha > xn
    a_l = torch.where(left, alpha, x0)  # safe arguments: no NaN gradients from masked branches
    a_r = torch.where(right, alpha, xn)
    q_left = s.y[:, :1] + torch.log(a_l / x0) / s.beta_l[:, None]
    q_right = s.y[:, -1:] - (torch.log1p(-a_r) - torch.log1p(-xn)) / s.beta_r[:, None]
    return torch.where(left, q_left, torch.where(right, q_right, q))


class _Located(NamedTuple):
    left: Tensor  # z below the first knot value
    right: Tensor  # z at or above the last knot value
    j: Tensor  # piece index (clamped)
    yj: Tensor  # start value of piece j
    z_mid: Tensor  # z clamped into piece j
    d: Tensor  # level offset of z_mid inside piece j
    t: Tensor  # F(z)


def _locate(s: Spline, z: Tensor) -> _Located:
    y0, yn = s.y[:, :1], s.y[:, -1:]
    left, right = z < y0, z >= yn
    j = _piece(s.y[:, :-1], z)
    yj = s.y.gather(1, j)
    z_mid = torch.clamp(z, yj, s.y.gather(1, j + 1))
    d = (z_mid - yj) * _inverse_slopes(s).gather(1, j)
    t_mid = s.x.gather(1, j) + d
    if s.tailed:
        x0, xn = s.x[:, :1], s.x[:, -1:]
        t_left = x0 * torch.exp(torch.clamp(z - y0, max=0.0) * s.beta_l[:, None])
        t_right = 1 - (1 - xn) * torch.exp(-torch.clamp(z - yn, min=0.0) * s.beta_r[:, None])
    else:
        t_left, t_right = torch.zeros_like(t_mid), torch.ones_like(t_mid)
    t = torch.where(left, t_left, torch.where(right, t_right, t_mid))
    return _Located(left, right, j, yj, z_mid, d, t)


def cdf(s: Spline, z: Tensor) -> Tensor:
    """F(z) for values ``z`` (B, S), in closed form (no root finding)."""
    return _locate(s, z).t


def log_prob(s: Spline, z: Tensor) -> Tensor:
    """Log density: piecewise constant inside, exponential in the tails, -inf off support."""
    loc = _locate(s, z)
    log_inv = torch.log(s.w) - torch.log(s.h)  # +inf on flat pieces: an atom, no density
    lp = log_inv.gather(1, loc.j)
    if s.tailed:
        bl, br = s.beta_l[:, None], s.beta_r[:, None]
        lp_left = torch.log(bl) + torch.log(s.x[:, :1]) + bl * torch.clamp(z - s.y[:, :1], max=0)
        lp_right = (
            torch.log(br) + torch.log1p(-s.x[:, -1:]) - br * torch.clamp(z - s.y[:, -1:], min=0)
        )
    else:
        lp_left = lp_right = torch.full_like(lp, -torch.inf)
    # the last knot value itself belongs to the last piece when there is no tail
    at_top = z == s.y[:, -1:]
    right = loc.right if s.tailed else loc.right & ~at_top
    return torch.where(loc.left, lp_left, torch.where(right, lp_right, lp))


class _Moments(NamedTuple):
    centre: Tensor  # (B, 1) the knot value everything below is measured from
    mean: Tensor  # (B, 1) ∫ q − centre
    m1: Tensor  # (B, 1) ∫ a (q − centre) da
    prefix: Tensor  # (B, N) ∫_0^{x_j} (q − centre)


def _moments(s: Spline) -> _Moments:
    centre = s.y[:, s.y.shape[1] // 2 :][:, :1].detach()
    y = s.y - centre
    xs, ys = s.x[:, :-1], y[:, :-1]
    mid_y = ys + 0.5 * s.h
    piece_int = s.w * mid_y
    piece_m1 = s.w * (xs + 0.5 * s.w) * mid_y + s.h * s.w.square() / 12
    cum = piece_int.cumsum(-1)
    if s.tailed:
        x0, xn = s.x[:, :1], s.x[:, -1:]
        a_l, a_r = 1 / s.beta_l[:, None], 1 / s.beta_r[:, None]
        c = 1 - xn
        left_int = x0 * (y[:, :1] - a_l)
        right_int = c * (y[:, -1:] + a_r)
        m1 = (
            x0.square() * (0.5 * y[:, :1] - 0.25 * a_l)
            + piece_m1.sum(-1, keepdim=True)
            + y[:, -1:] * (c - 0.5 * c.square())
            + a_r * (c - 0.25 * c.square())
        )
    else:
        left_int = right_int = torch.zeros_like(centre)
        m1 = piece_m1.sum(-1, keepdim=True)
    prefix = left_int + cum - piece_int
    mean = left_int + cum[:, -1:] + right_int
    return _Moments(centre, mean, m1, prefix)


def mean(s: Spline) -> Tensor:
    """∫_0^1 q(a) da in closed form, shape (B,)."""
    mom = _moments(s)
    return (mom.mean + mom.centre).squeeze(-1)


def crps(s: Spline, z: Tensor) -> Tensor:
    """Continuous ranked probability score of observations ``z`` (B, S), closed form."""
    mom = _moments(s)
    zc = z - mom.centre
    shifted = s._replace(y=s.y - mom.centre)
    loc = _locate(shifted, zc)
    two_mean = 2 * mom.mean
    mid = loc.z_mid * (2 * loc.t - 1) + two_mean - 2 * mom.prefix.gather(1, loc.j)
    mid = mid - loc.d * (loc.yj + loc.z_mid)
    if s.tailed:
        left = two_mean - zc + 2 * loc.t / s.beta_l[:, None]
        right = zc + 2 * (1 - loc.t) / s.beta_r[:, None]
    else:
        left, right = two_mean - zc, zc
    return torch.where(loc.left, left, torch.where(loc.right, right, mid)) - 2 * mom.m1


def isqf_crps(
    levels: Tensor,
    values: Tensor,
    widths: Tensor,
    heights: Tensor,
    beta_l: Tensor,
    beta_r: Tensor,
    z: Tensor,
) -> Tensor:
    """ISQF CRPS straight from domain parameters (rows), the fast path behind ``ISQF.crps``.

    Same closed form as :func:`crps`, but without flattening the spline: the z-independent
    integrals reduce, per knot interval, to two aggregates of the piece shares,
    ``A = Σ Δx_s Ȳ_s`` and ``C = Σ Δx_s X̄_s Ȳ_s + Δy_s Δx_s²/12`` (``X̄``, ``Ȳ`` the share
    midpoints), and each observation only touches the ``L`` pieces of its own interval.
    That halves the work over all ``(K-1)·L`` pieces, which dominates at large batch sizes.
    ``tests/test_isqf.py`` checks it against :func:`crps` and quadrature, values and gradients.
    """
    centre = values[:, values.shape[1] // 2 :][:, :1].detach()
    q = values - centre
    zc = z - centre
    d_level = levels.diff()  # (K-1,)
    d_value = q.diff(dim=-1)  # (B, K-1)
    x_bar = widths.cumsum(-1) - 0.5 * widths
    y_cum = heights.cumsum(-1)
    y_bar = y_cum - 0.5 * heights
    p = widths * y_bar
    agg_a = p.sum(-1)
    agg_c = (p * x_bar).sum(-1) + (widths.square() * heights).sum(-1) / 12
    lo_level, lo_value = levels[:-1], q[:, :-1]
    interval_int = d_level * (lo_value + d_value * agg_a)
    interval_m1 = d_level * (
        lo_level * (lo_value + d_value * agg_a) + d_level * (0.5 * lo_value + d_value * agg_c)
    )
    x0, xn = levels[0], levels[-1]
    c = 1 - xn
    a_l, a_r = 1 / beta_l[:, None], 1 / beta_r[:, None]
    q0, qn = q[:, :1], q[:, -1:]
    left_int = x0 * (q0 - a_l)
    cum = interval_int.cumsum(-1)
    mean = left_int + cum[:, -1:] + c * (qn + a_r)
    m1 = (
        x0 * x0 * (0.5 * q0 - 0.25 * a_l)
        + interval_m1.sum(-1, keepdim=True)
        + qn * (c - 0.5 * c * c)
        + a_r * (c - 0.25 * c * c)
    )
    prefix = left_int + cum - interval_int  # (B, K-1): ∫ q up to each knot

    # locate each observation: its interval k (K-sized search), then its piece s (L pieces)
    k = _piece(q[:, :-1], zc)  # (B, S)
    num = widths.shape[-1]
    idx = k[..., None].expand(*k.shape, num)
    sw, sh = widths.gather(1, idx), heights.gather(1, idx)  # (B, S, L)
    s_ycum, s_p = y_cum.gather(1, idx), p.gather(1, idx)
    s_xcum = x_bar.gather(1, idx) + 0.5 * sw
    qk, dq = lo_value.gather(1, k), d_value.gather(1, k)
    ak, da = lo_level[k], d_level[k]
    y_start = qk[..., None] + dq[..., None] * (s_ycum - sh)
    s = ((y_start <= zc[..., None]).sum(-1, keepdim=True) - 1).clamp_(0, num - 1)

    def at(t: Tensor) -> Tensor:
        return t.gather(-1, s).squeeze(-1)

    yj = at(y_start)
    xs_share = at(s_xcum - sw)
    wj, hj = da * at(sw), dq * at(sh)
    xj = ak + da * xs_share
    z_mid = torch.clamp(zc, yj, yj + hj)
    flat = hj <= 0
    d = torch.where(flat, 0.0, (z_mid - yj) * wj / torch.where(flat, 1.0, hj))
    t = xj + d
    pj = prefix.gather(1, k) + da * (qk * xs_share + dq * at(s_p.cumsum(-1) - s_p))
    mid = z_mid * (2 * t - 1) + 2 * mean - 2 * pj - d * (yj + z_mid)
    left = 2 * mean - zc + 2 * x0 * torch.exp(torch.clamp(zc - q0, max=0) / a_l) * a_l
    right = zc + 2 * c * torch.exp(-torch.clamp(zc - qn, min=0) / a_r) * a_r
    out = torch.where(zc < q0, left, torch.where(zc >= qn, right, mid))
    return out - 2 * m1


#: elements per row chunk (rows × max(pieces, queries)): about 4 MB of float32 per temporary
CHUNK_ELEMENTS = 2**20
#: never fewer rows per chunk than this (Python overhead per chunk)
MIN_CHUNK_ROWS = 256
#: up to this many elements (rows × width) a differentiable call runs whole: its temporaries
#: still fit comfortably in memory, and skipping the chunked recompute is faster
DIRECT_ELEMENTS = 2**22


def _in_chunks(fn, shared: tuple, rows: tuple, chunk: int) -> Tensor:
    n = rows[0].shape[0]
    return torch.cat([fn(*shared, *(r[i : i + chunk] for r in rows)) for i in range(0, n, chunk)])


class _Chunked(torch.autograd.Function):
    """Evaluate a row-wise function in cache-sized chunks, recomputing each in the backward.

    Large CPU tensors are allocated by mmap and page-faulted on every touch; a row function
    over 10^6 × 20 pieces spends most of its time there. Running it over chunks of rows keeps
    every temporary small and reused, and recomputing a chunk in the backward (gradient
    checkpointing) stores nothing but the inputs. Values and gradients equal the direct call.
    """

    @staticmethod
    def forward(ctx, fn, chunk, shared, *rows):  # type: ignore[override]
        ctx.fn, ctx.chunk, ctx.shared = fn, chunk, shared
        ctx.save_for_backward(*rows)
        return _in_chunks(fn, shared, rows, chunk)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):  # type: ignore[override]
        rows = ctx.saved_tensors
        need = ctx.needs_input_grad[3:]
        grads = [torch.empty_like(r) if nd else None for r, nd in zip(rows, need, strict=True)]
        n, chunk = rows[0].shape[0], ctx.chunk
        for i in range(0, n, chunk):
            part = [
                r[i : i + chunk].detach().requires_grad_(nd)
                for r, nd in zip(rows, need, strict=True)
            ]
            with torch.enable_grad():
                out = ctx.fn(*ctx.shared, *part)
            wanted = [p for p in part if p.requires_grad]
            got = iter(torch.autograd.grad(out, wanted, grad[i : i + chunk], allow_unused=True))
            for g in grads:
                if g is not None:
                    gp = next(got)
                    g[i : i + chunk] = 0 if gp is None else gp
        return (None, None, None, *grads)


def chunked(fn, shared: tuple, rows: tuple, width: int) -> Tensor:
    """``fn(*shared, *rows)`` over chunks of rows (see :class:`_Chunked`).

    ``width`` is the number of elements a row's largest temporary holds (pieces or queries);
    a chunk has ``CHUNK_ELEMENTS // width`` rows, at least ``MIN_CHUNK_ROWS``.
    """
    chunk = max(MIN_CHUNK_ROWS, CHUNK_ELEMENTS // max(width, 1))
    n = rows[0].shape[0]
    if n <= chunk or (n * max(width, 1) <= DIRECT_ELEMENTS and torch.is_grad_enabled()):
        return fn(*shared, *rows)
    if torch.is_grad_enabled() and any(r.requires_grad for r in rows):
        return _Chunked.apply(fn, chunk, shared, *rows)
    return _in_chunks(fn, shared, rows, chunk)
