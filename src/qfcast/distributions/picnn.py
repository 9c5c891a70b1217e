"""Partially input-convex network φ(x; c) with a hand-written gradient map and Hessian.

MQF² (Kan, Aubet, Januschowski, Park, Benidis, Ruthotto & Gasthaus, AISTATS 2022) models the
joint quantile function of H steps as x ↦ ∇ₓφ(x; c), x ~ N(0, I): the gradient of a function
convex in x is a monotone map (Brenier). φ is the partially input-convex network of Amos, Xu &
Kolter (ICML 2017), in the form of CP-Flow (Huang, Chen, Tsirigotis & Courville, ICLR 2021).
The layers, with z the data path, x the input, c₀ = ELU(W c + b) the context embedding:

* first layer: u₀ = s₀ ⊙ (A₀ x) + b₀, z₀ = g(u₀) − u₀/2 (the "symmetric" activation);
* layer j = 1..L: p_j = V_j (z_{j−1} ⊙ cz_j) + X_j (x ⊙ cx_j) with V_j = softplus(W_j)/fan_in ≥ 0;
  u_j = s_j ⊙ p_j + b_j + B_j c₀ and z_j = g(u_j) for j < L; φ = s_L · p_L (a scalar);
* context gates cz_j = softplus(G_j c₀ + g_j) > 0 and cx_j = 1 + K_j c₀ + k_j (any sign);
* a context shift: φ gets ⟨x, M c₀ + m⟩, affine in x, so ∇φ moves by M c₀ + m — a direct
  route from the context to the location of the forecast (zero at initialisation). Without
  it, a location can only come from the output layer's x-weights times their gate, a product
  of two small factors that learns slowly;
* g(u) = u Φ(u) + ϕ(u), the "Gaussian softplus": convex and non-decreasing, g′ = Φ, g″ = ϕ.

φ is convex in x for every c: z₀ is convex (g″ ≥ 0 and the −u/2 term is affine); each later
layer is a non-negative combination of convex functions plus an affine function of x, passed
through the convex non-decreasing g; the scales s_j = exp(·) are positive. With
``quadratic=True``, φ gets α‖x‖²/2 with α = softplus(w₀) (initially 1): strictly convex, so the
map is invertible (needed by the likelihood in :class:`~qfcast.distributions.MQF2`).

**Normalisation.** s_j and b_j play the role of CP-Flow's ActNorm, but they are ordinary
parameters calibrated once, in the constructor, so that every pre-activation has mean 0 and
variance 1 and the gradient map has mean 0 and unit variance per coordinate (on average over
the coordinates; the output layer's x-weights absorb the mean), for the known input law
x ~ N(0, I) (a fixed-seed probe of 4,096 points; all context weights start at zero, so the
network does not depend on c at initialisation). This is data-independent: nothing is
re-initialised on the first training batch, the forward pass never mutates state, every rank of
a data-parallel run starts from the same values, and a ``state_dict`` round trip restores the
exact function (CP-Flow's ActNorm keeps its "initialised" flag in a Python attribute, so a
reloaded GluonTS MQF² re-initialises itself on the prediction batch).

**Gradient map.** :meth:`PICNN.gradient` computes ∇ₓφ by an explicit backward pass written as
tensor operations over the forward activations (g′ = Φ), so training through the map needs only
first-order autograd. :meth:`PICNN.gradient_autograd` is the slow reference
(``autograd.grad(create_graph=True)``, a double backward when trained). When many points share
one context (the samples of a forecast), :meth:`PICNN.gradient_grouped` folds the context gates
and the positive scales into per-context weight matrices — u = x Wₓ(c) + b(c) for every layer's
x-path at once, z_{j−1} ↦ z_{j−1} V_j(c) for the data path — so each point costs batched matrix
products and one fused activation per layer (g and Φ from one evaluation of ϕ), and the map of
the output layer, which is affine in x, is a per-context constant. Side by side at the MQF²
training shapes (``benchmarks/mqf2.py``, ``components``) it is 1.5–1.6× faster than the per-point
pass, forward and backward; the
two are tested against each other and against autograd. :meth:`PICNN.hessian`
is the exact Hessian ∑_j J_jᵀ diag(∂φ/∂z_j ⊙ ϕ(u_j)) J_j (+ αI), with J_j = ∂u_j/∂x from a
forward-mode pass: the weights are ≥ 0, so it is positive semi-definite by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["PICNN"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2 * math.pi)
_SOFTPLUS_INV_1 = math.log(math.e - 1)  # softplus(log(e − 1)) = 1
_PROBE_SIZE = 4096
_PROBE_SEED = 0
_GROUP_MIN = 4  # points per context from which gradient() takes the grouped path


def _pdf(u: Tensor) -> Tensor:
    return torch.exp(-0.5 * u.square()) * _INV_SQRT_2PI


def gaussian_softplus(u: Tensor) -> Tensor:
    """g(u) = u Φ(u) + ϕ(u) = E[max(u + Z, 0)], Z ~ N(0, 1): convex, increasing, g′ = Φ."""
    return u * torch.special.ndtr(u) + _pdf(u)


class _SoftplusSlope(torch.autograd.Function):
    """(g(u) − shift·u, Φ(u) − shift) from one evaluation of Φ and ϕ: the activation and its
    slope, d/du = (Φ − shift, ϕ). Twice differentiable: when a graph is being built (double
    backward), the backward recomputes Φ and ϕ from u with differentiable operations."""

    @staticmethod
    def forward(ctx, u: Tensor, shift: float) -> tuple[Tensor, Tensor]:
        # In place where possible: on a CPU, fresh large buffers (page faults) cost more
        # than the arithmetic.
        pdf = u.square().mul_(-0.5).exp_().mul_(_INV_SQRT_2PI)
        slope = torch.special.ndtr(u)
        if shift:
            slope.sub_(shift)
        ctx.set_materialize_grads(False)
        ctx.shift = shift
        ctx.save_for_backward(u, slope, pdf)
        return torch.addcmul(pdf, u, slope), slope

    @staticmethod
    def backward(ctx, grad_z: Tensor | None, grad_slope: Tensor | None):
        u, slope, pdf = ctx.saved_tensors
        if torch.is_grad_enabled():
            slope, pdf = torch.special.ndtr(u) - ctx.shift, _pdf(u)
        grad = None
        if grad_z is not None:
            grad = grad_z * slope
        if grad_slope is not None:
            grad = grad_slope * pdf if grad is None else torch.addcmul(grad, grad_slope, pdf)
        return grad, None


def _broadcast_or_raise(a: torch.Size, b: torch.Size, what: str) -> torch.Size:
    """``torch.broadcast_shapes`` with a ``ValueError`` naming the arguments."""
    try:
        return torch.broadcast_shapes(a, b)
    except RuntimeError as err:
        raise ValueError(f"{what}: shapes {tuple(a)} and {tuple(b)} do not broadcast") from err


@dataclass
class _Pass:
    """Forward activations of one evaluation, reused by the gradient and the Hessian."""

    pre: list[Tensor]  # p_j before the normalising affine map (read by the calibration)
    u: list[Tensor]  # pre-activations u_0 .. u_{L-1}
    z: list[Tensor]  # activations z_0 .. z_{L-1}
    cz: list[Tensor]  # positive data-path gates of layers 1..L
    cx: list[Tensor]  # input gates of layers 1..L
    shift: Tensor  # M c₀ + m, the context shift of the map
    out: Tensor  # s_L · p_L + ⟨x, shift⟩, shape (..., 1), without the quadratic term


class PICNN(nn.Module):
    """φ(x; c), convex in ``x`` ∈ R^dim for every context ``c`` ∈ R^context_dim.

    Parameters
    ----------
    dim : int
        Input dimension (the horizon H of MQF²).
    context_dim : int
        Size of the conditioning vector (e.g. an RNN state).
    hidden : int
        Width of the data path and of the context embedding.
    layers : int
        Number of hidden layers L ≥ 1 (GluonTS's ``icnn_num_layers``, default 2).
    quadratic : bool
        Add α‖x‖²/2, α = softplus(w₀): φ becomes α-strongly convex (likelihood mode).

    ``x`` has shape ``(..., dim)`` and ``c`` shape ``(..., context_dim)``; their leading shapes
    broadcast, so a context of shape ``(B, C)`` serves samples of shape ``(S, B, dim)`` while the
    gates are computed only B times.

    Examples
    --------
    The gradient map is monotone, ⟨∇φ(x) − ∇φ(y), x − y⟩ ≥ 0:

    >>> _ = torch.manual_seed(0)
    >>> net = PICNN(dim=3, context_dim=2)
    >>> c = torch.randn(2)
    >>> x, y = torch.randn(100, 3), torch.randn(100, 3)
    >>> gap = ((net.gradient(x, c) - net.gradient(y, c)) * (x - y)).sum(-1)
    >>> bool((gap >= 0).all())
    True
    """

    def __init__(
        self,
        dim: int,
        context_dim: int,
        hidden: int = 20,
        layers: int = 2,
        quadratic: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("context_dim", context_dim), ("hidden", hidden)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        if int(layers) != layers or layers < 1:
            raise ValueError(f"layers must be a positive integer, got {layers}")
        self.dim, self.context_dim = int(dim), int(context_dim)
        self.hidden, self.layers, self.quadratic = int(hidden), int(layers), bool(quadratic)
        outs = [hidden] * (layers - 1) + [1]  # widths of layers 1..L

        self.context_net = nn.Linear(context_dim, hidden)
        self.first = nn.Parameter(torch.empty(hidden, dim))
        nn.init.kaiming_uniform_(self.first, a=math.sqrt(5))  # nn.Linear's default
        self.z_weights = nn.ParameterList([nn.Parameter(torch.randn(out, hidden)) for out in outs])
        self.x_weights = nn.ParameterList()
        for out in outs:
            w = nn.Parameter(torch.empty(out, dim))
            nn.init.kaiming_uniform_(w, a=math.sqrt(5))
            self.x_weights.append(w)
        self.gate_z = nn.ModuleList([nn.Linear(hidden, hidden) for _ in outs])
        self.gate_x = nn.ModuleList([nn.Linear(hidden, dim) for _ in outs])
        self.context_shift = nn.Linear(hidden, dim)
        self.context_bias = nn.ModuleList(
            [nn.Linear(hidden, hidden, bias=False) for _ in range(layers - 1)]
        )
        self.log_scale = nn.ParameterList(
            [nn.Parameter(torch.zeros(out)) for out in [hidden, *outs]]
        )
        self.bias = nn.ParameterList([nn.Parameter(torch.zeros(hidden)) for _ in range(layers)])
        if self.quadratic:
            self.quad = nn.Parameter(torch.tensor(_SOFTPLUS_INV_1))
        with torch.no_grad():
            for lin in [*self.gate_z, *self.gate_x, *self.context_bias, self.context_shift]:
                lin.weight.zero_()
            self.context_shift.bias.zero_()
            for lin in self.gate_z:
                lin.bias.fill_(_SOFTPLUS_INV_1)  # cz = 1 at initialisation
            for lin in self.gate_x:
                lin.bias.zero_()  # cx = 1 at initialisation
            self._calibrate()

    # -- construction ----------------------------------------------------------------------
    def _calibrate(self) -> None:
        """Set s_j, b_j so that u_j ~ (0, 1), and s_L and the output x-weights so that the map
        has mean 0 and unit variance per coordinate, for x ~ N(0, I) from a fixed seed
        (context-free: the context weights are zero here)."""
        ref = self.first
        gen = torch.Generator(device=ref.device).manual_seed(_PROBE_SEED)
        x = torch.randn(_PROBE_SIZE, self.dim, generator=gen, device=ref.device).to(ref.dtype)
        c = torch.zeros(self.context_dim, dtype=ref.dtype, device=ref.device)
        for j in range(self.layers):
            pre = self._pass(x, c).pre[j].double()
            std = pre.std(0).clamp(min=1e-6)
            self.log_scale[j].copy_(-std.log())
            self.bias[j].copy_(-pre.mean(0) / std)
        grad = (self._backward(self._pass(x, c), x)[0] - self._quadratic_grad(x)).double()
        self.log_scale[self.layers].fill_(-0.5 * float(grad.var(0).mean().log()))
        # The output layer's x-weights add a constant to the map: use them to centre it.
        scaled_mean = grad.mean(0) / grad.var(0).mean().sqrt()
        scale = self.log_scale[self.layers].exp().double()
        self.x_weights[-1].sub_((scaled_mean / scale).to(ref.dtype))

    # -- shared machinery ------------------------------------------------------------------
    def _check(self, x: Tensor, c: Tensor) -> None:
        if x.dim() == 0 or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (..., {self.dim}), got {tuple(x.shape)}")
        if c.dim() == 0 or c.shape[-1] != self.context_dim:
            raise ValueError(
                f"context must have shape (..., {self.context_dim}), got {tuple(c.shape)}"
            )
        _broadcast_or_raise(x.shape[:-1], c.shape[:-1], "x and context")

    def _pass(self, x: Tensor, c: Tensor) -> _Pass:
        c0 = F.elu(self.context_net(c))
        cz = [F.softplus(gate(c0)) for gate in self.gate_z]
        cx = [1 + gate(c0) for gate in self.gate_x]
        pre = [x @ self.first.T]
        u = [self.log_scale[0].exp() * pre[0] + self.bias[0]]
        z = [gaussian_softplus(u[0]) - 0.5 * u[0]]
        width = self.hidden
        for j in range(1, self.layers + 1):
            v = F.softplus(self.z_weights[j - 1]) / width
            pre.append((z[-1] * cz[j - 1]) @ v.T + (x * cx[j - 1]) @ self.x_weights[j - 1].T)
            if j < self.layers:
                uj = self.log_scale[j].exp() * pre[j] + self.bias[j]
                u.append(uj + self.context_bias[j - 1](c0))
                z.append(gaussian_softplus(u[-1]))
        shift = self.context_shift(c0)
        out = self.log_scale[self.layers].exp() * pre[-1] + (x * shift).sum(-1, keepdim=True)
        return _Pass(pre=pre, u=u, z=z, cz=cz, cx=cx, shift=shift, out=out)

    def _alpha(self) -> Tensor:
        return F.softplus(self.quad)

    def _quadratic_grad(self, x: Tensor) -> Tensor | float:
        return self._alpha() * x if self.quadratic else 0.0

    def _backward(self, fw: _Pass, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """∇ₓφ by reverse accumulation over the stored activations, and ∂φ/∂z_j (all ≥ 0)."""
        width = self.hidden
        mu = self.log_scale[self.layers].exp()  # ∂φ/∂p_L, shape (1,)
        grad = torch.zeros((), dtype=x.dtype, device=x.device)
        dz: list[Tensor] = [x] * self.layers  # placeholders, all overwritten
        for j in range(self.layers, 0, -1):
            v = F.softplus(self.z_weights[j - 1]) / width
            gx = (mu @ self.x_weights[j - 1]) * fw.cx[j - 1]
            grad = grad + gx
            dz[j - 1] = (mu @ v) * fw.cz[j - 1]  # ∂φ/∂z_{j−1}
            slope = torch.special.ndtr(fw.u[j - 1])
            if j == 1:
                slope = slope - 0.5  # derivative of the symmetric first activation
            mu = dz[j - 1] * slope * self.log_scale[j - 1].exp()  # ∂φ/∂p_{j−1}
        grad = grad + mu @ self.first + fw.shift + self._quadratic_grad(x)
        shape = torch.broadcast_shapes(grad.shape, x.shape)
        return grad.expand(shape), dz

    # -- public API ------------------------------------------------------------------------
    def potential(self, x: Tensor, c: Tensor) -> Tensor:
        """φ(x; c), shape ``broadcast(x.shape[:-1], c.shape[:-1])``."""
        self._check(x, c)
        out = self._pass(x, c).out.squeeze(-1)
        if self.quadratic:
            out = out + 0.5 * self._alpha() * x.square().sum(-1)
        return out.expand(torch.broadcast_shapes(x.shape[:-1], c.shape[:-1]))

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        """The potential φ(x; c) (see :meth:`potential`)."""
        return self.potential(x, c)

    def gradient(self, x: Tensor, c: Tensor) -> Tensor:
        """∇ₓφ(x; c) by the explicit backward pass, shape ``broadcast(...) + (dim,)``.

        Differentiable (first-order autograd) in ``x``, ``c`` and the parameters; its own
        derivatives are second derivatives of φ, so double backward also works. When ``x`` has
        leading sample dimensions over a context batch (``x`` of shape ``(*s, *b, dim)``,
        ``c`` of shape ``(*b, context_dim)``, at least :data:`_GROUP_MIN` points per context),
        this is :meth:`gradient_grouped` after moving the samples next to the event dimension.
        """
        self._check(x, c)
        xb, cb = x.shape[:-1], c.shape[:-1]
        lead = len(xb) - len(cb)
        if lead > 0 and xb[lead:] == cb and math.prod(xb[:lead]) >= _GROUP_MIN:
            flat = x.reshape(-1, *cb, self.dim).movedim(0, -2)  # (*b, S, dim)
            return self.gradient_grouped(flat, c).movedim(-2, 0).reshape(x.shape)
        return self._backward(self._pass(x, c), x)[0]

    def gradient_grouped(self, x: Tensor, c: Tensor) -> Tensor:
        """∇ₓφ for groups of points sharing a context: ``x`` ``(*b, S, dim)``, ``c``
        ``(*b, context_dim)``, result ``(*b, S, dim)``.

        The context gates and the positive scales are folded into per-context weights, so
        the S points of a group go through batched matrix products; the same function as
        :meth:`gradient` (tested to rounding, with its parameter and context gradients, and
        twice differentiable).
        """
        if (
            x.dim() < 2
            or x.shape[-1] != self.dim
            or c.shape[-1:] != (self.context_dim,)
            or (x.shape[:-2] != c.shape[:-1])
        ):
            raise ValueError(
                f"gradient_grouped needs x of shape (*b, S, {self.dim}) and c of shape "
                f"(*b, {self.context_dim}); got {tuple(x.shape)} and {tuple(c.shape)}"
            )
        batch, points = c.shape[:-1], x.shape[-2]
        x3 = x.reshape(-1, points, self.dim)
        c2 = c.reshape(-1, self.context_dim)
        width, layers = self.hidden, self.layers
        scale = [s.exp() for s in self.log_scale]
        c0 = F.elu(self.context_net(c2))
        cz = [F.softplus(gate(c0)) for gate in self.gate_z]
        cx = [1 + gate(c0) for gate in self.gate_x]
        # Every hidden layer's x-path at once: u_j gets x · (s_j ⊙ X_j ⊙ cx_j)ᵀ, (n, dim, L·w).
        first = (scale[0][:, None] * self.first).T.expand(c2.shape[0], -1, -1)
        w_x = torch.cat(
            [first]
            + [
                cx[j - 1].unsqueeze(-1) * (scale[j][:, None] * self.x_weights[j - 1]).T
                for j in range(1, layers)
            ],
            dim=-1,
        )
        bias = torch.cat(
            [self.bias[0].expand(c2.shape[0], -1)]
            + [self.bias[j] + self.context_bias[j - 1](c0) for j in range(1, layers)],
            dim=-1,
        )
        u_x = torch.baddbmm(bias.unsqueeze(-2), x3, w_x).split(width, dim=-1)
        # Data path z_{j−1} ↦ z_{j−1} · (s_j ⊙ V_j ⊙ cz_j)ᵀ, (n, w, w), V_j ≥ 0.
        w_z = [
            cz[j - 1].unsqueeze(-1)
            * (scale[j][:, None] * F.softplus(self.z_weights[j - 1])).T
            / width
            for j in range(1, layers)
        ]
        z, slope = _SoftplusSlope.apply(u_x[0], 0.5)
        slopes = [slope]
        for j in range(1, layers):
            z, slope = _SoftplusSlope.apply(torch.baddbmm(u_x[j], z, w_z[j - 1]), 0.0)
            slopes.append(slope)
        # Reverse pass. The output layer is affine in x and in z_{L−1}: ∂φ/∂z_{L−1} and its
        # x-term are per-context constants.
        v_out = scale[layers] * F.softplus(self.z_weights[layers - 1]) / width  # (1, w)
        dz = (v_out * cz[layers - 1]).unsqueeze(-2)  # (n, 1, w)
        const = scale[layers] * self.x_weights[layers - 1] * cx[layers - 1]
        const = (const + self.context_shift(c0)).unsqueeze(-2)
        mu: list[Tensor] = [x3] * layers  # ∂φ/∂u_j, placeholders all overwritten
        for j in range(layers - 1, -1, -1):
            mu[j] = dz * slopes[j]
            if j > 0:
                dz = torch.bmm(mu[j], w_z[j - 1].transpose(-1, -2))
        grad = torch.baddbmm(const, torch.cat(mu, dim=-1), w_x.transpose(-1, -2))
        grad = grad.reshape(*batch, points, self.dim)
        if self.quadratic:
            grad = grad + self._alpha() * x
        return grad

    def gradient_autograd(self, x: Tensor, c: Tensor) -> Tensor:
        """∇ₓφ by ``torch.autograd.grad(create_graph=True)``: the slow reference."""
        self._check(x, c)
        shape = (*torch.broadcast_shapes(x.shape[:-1], c.shape[:-1]), self.dim)
        with torch.enable_grad():
            xe = x.expand(shape)
            if not xe.requires_grad:
                xe = xe.detach().requires_grad_(True)
            phi = self.potential(xe, c)
            (grad,) = torch.autograd.grad(phi.sum(), xe, create_graph=True)
        return grad

    def hessian(self, x: Tensor, c: Tensor) -> Tensor:
        """∇²ₓφ(x; c), shape ``broadcast(...) + (dim, dim)``, exact and differentiable.

        ∑_j J_jᵀ diag(∂φ/∂z_j ⊙ ϕ(u_j)) J_j + αI with J_j = ∂u_j/∂x propagated forward; cost
        O(L·hidden²·dim) per point plus the products O(L·hidden·dim²).
        """
        self._check(x, c)
        return self._derivatives(x, c)[2]

    def _derivatives(self, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """φ, ∇φ and ∇²φ from one forward pass (no argument checks)."""
        fw = self._pass(x, c)
        grad, dz = self._backward(fw, x)
        jac = self.log_scale[0].exp()[:, None] * self.first  # ∂u₀/∂x, (hidden, dim)
        hess = torch.zeros((), dtype=x.dtype, device=x.device)
        for j in range(self.layers):
            if j > 0:
                slope = torch.special.ndtr(fw.u[j - 1]) - (0.5 if j == 1 else 0.0)
                dzdx = (slope * fw.cz[j - 1]).unsqueeze(-1) * jac
                v = F.softplus(self.z_weights[j - 1]) / self.hidden
                lin = v @ dzdx + self.x_weights[j - 1] * fw.cx[j - 1].unsqueeze(-2)
                jac = self.log_scale[j].exp()[:, None] * lin
            weight = dz[j] * _pdf(fw.u[j])  # ≥ 0
            hess = hess + (jac * weight.unsqueeze(-1)).transpose(-1, -2) @ jac
        phi = fw.out.squeeze(-1)
        if self.quadratic:
            alpha = self._alpha()
            phi = phi + 0.5 * alpha * x.square().sum(-1)
            hess = hess + alpha * torch.eye(self.dim, dtype=x.dtype, device=x.device)
        shape = grad.shape[:-1]
        return phi.expand(shape), grad, hess.expand((*shape, self.dim, self.dim))
