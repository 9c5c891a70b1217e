"""Cross-check oracle: GluonTS's torch ISQF (CRPS, quantiles, CDF) in float64.

Peer-venv only (see requirements.txt beside this file); no dependency on qfcast.

    python gluonts_isqf.py IN.npz OUT.npz
    python gluonts_isqf.py --selfcheck

IN.npz (float64): spline_knots, spline_heights (B, K-1, L) raw pre-softmax args; beta_l, beta_r
(B,) positive; qk_y (B, K) non-decreasing; qk_x (K,); z (B,); alpha (M,); tol (optional, 1e-4).
OUT.npz: crps (B,), quantile (M, B), cdf (B,), gluonts_version (str).
"""

import sys
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore", message="Using `json`-module")
torch.set_default_dtype(torch.float64)


def evaluate(d):
    import gluonts
    from gluonts.torch.distributions import ISQF

    t = {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in d.items()}
    batch = t["beta_l"].shape[0]
    # ISQF needs qk_x batched like qk_y, (B, K); a bare (K,) fails inside its torch.cat.
    qk_x = t["qk_x"].expand(batch, -1).contiguous()
    tol = float(d["tol"]) if "tol" in d else 1e-4
    distr = ISQF(
        t["spline_knots"], t["spline_heights"], t["beta_l"], t["beta_r"], t["qk_y"], qk_x, tol
    )
    z = t["z"]
    # quantile() evaluates along a leading sample axis: alpha must be (M, B).
    alpha = t["alpha"][:, None].expand(-1, batch).contiguous()
    return {
        "crps": distr.crps(z).numpy(),
        "quantile": distr.quantile(alpha).numpy(),
        "cdf": distr.cdf(z).numpy(),
        "gluonts_version": np.array(gluonts.__version__),
    }


def _case(k, n_pieces, beta, z, alpha):
    ones, b = np.ones((1, k - 1, n_pieces)), np.array([beta])
    qk_y, qk_x = np.arange(k, dtype=np.float64)[None], np.linspace(0.1, 0.9, k)
    names = ["spline_knots", "spline_heights", "beta_l", "beta_r", "qk_y", "qk_x", "z", "alpha"]
    return dict(
        zip(names, [ones, ones, b, b, qk_y, qk_x, np.array([z]), np.array(alpha)], strict=True)
    )


def selfcheck():
    """Golden values (crps, cdf, quantiles) from GluonTS's own ISQF tests."""
    q_a = [0.5 * np.log(0.5), 0.25, 0.75, 1 + 0.5 * np.log(10)]
    q_b = [np.log(0.1), 0.875, 1.625, 2 + np.log(2)]
    cases = [
        (_case(2, 1, 2.0, 0.5, [0.05, 0.3, 0.7, 0.99]), 0.0075 + 0.0075 + 7 / 75, 0.5, q_a),
        (_case(3, 2, 1.0, 2.0, [0.01, 0.45, 0.75, 0.95]), 0.025 + 0.005 + 44 / 75, 0.9, q_b),
    ]
    for d, crps, cdf, quantiles in cases:
        out = evaluate(d)
        np.testing.assert_allclose(out["crps"], [crps], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(out["quantile"][:, 0], quantiles, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(out["cdf"], [cdf], rtol=1e-10)
    print(f"OK (gluonts {out['gluonts_version']})")


def main(argv):
    if argv == ["--selfcheck"]:
        return selfcheck()
    if len(argv) != 2:
        sys.exit(__doc__)
    with np.load(argv[0]) as f:
        d = {k: f[k] for k in f.files}
    np.savez(argv[1], **evaluate(d))


if __name__ == "__main__":
    main(sys.argv[1:])
