"""What a GP prediction returns: the latent and the predictive distribution, named apart."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.special import ndtri

from bayeskit._checks import check_int
from bayeskit._key import check_key
from bayeskit.gp._precise import matmul

__all__ = ["GPPrediction"]


class GPPrediction(eqx.Module):
    """Gaussian predictions at new inputs.

    Attributes:
        mean: predictive mean (the same for f and y), shape ``(m,)``.
        latent_var: variance of the latent function f(x*): the model's uncertainty about the
            function itself (shrinks to 0 with enough data).
        predictive_var: variance of a new observation y* = f(x*) + noise: ``latent_var + noise``
            (what to use for prediction intervals and test log-likelihoods).
        latent_cov: the full ``(m, m)`` covariance of f at the new inputs, or None unless asked
            for with ``full_cov=True``.
    """

    mean: jax.Array
    latent_var: jax.Array
    predictive_var: jax.Array
    latent_cov: jax.Array | None = None

    @classmethod
    def in_original_units(cls, mean, latent_var, latent_cov, noise, loc, scale) -> GPPrediction:
        """A prediction made on ``(y - loc) / scale``, mapped back to the units of ``y``."""
        s2 = scale**2
        return cls(
            mean=loc + scale * mean,
            latent_var=s2 * latent_var,
            predictive_var=s2 * (latent_var + noise),
            latent_cov=None if latent_cov is None else s2 * latent_cov,
        )

    def sample(self, key: jax.Array, num_samples: int = 1, noise_variance=None) -> jax.Array:
        """Joint draws of f at the predicted inputs, ``(num_samples, m)``; needs ``latent_cov``.

        With ``noise_variance`` (in the units of y) the draws are of new observations instead.
        """
        from bayeskit.gp.cholesky import jittered_cholesky

        key = check_key(key, "GPPrediction.sample")
        num_samples = check_int("GPPrediction.sample", "num_samples", num_samples)
        if self.latent_cov is None:
            raise ValueError("GPPrediction.sample: predict with `full_cov=True` to draw joint samples.")
        L, _ = jittered_cholesky(self.latent_cov)
        k_f, k_e = jax.random.split(key)
        z = jax.random.normal(k_f, (num_samples, self.mean.shape[0]), dtype=L.dtype)
        f = self.mean + matmul(z, L.T)
        if noise_variance is not None:
            f = f + jnp.sqrt(noise_variance) * jax.random.normal(k_e, f.shape, dtype=f.dtype)
        return f

    @property
    def latent_sd(self) -> jax.Array:
        return jnp.sqrt(self.latent_var)

    @property
    def predictive_sd(self) -> jax.Array:
        return jnp.sqrt(self.predictive_var)

    def interval(self, level: float = 0.95, kind: str = "predictive") -> tuple[jax.Array, jax.Array]:
        """Central interval ``(lower, upper)`` with probability ``level`` for y* or for f(x*).

        Args:
            level: coverage probability in (0, 1).
            kind: ``"predictive"`` (new observations, noise included) or ``"latent"`` (f only).
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"GPPrediction.interval: `level` must be in (0, 1), got {level!r}.")
        if kind not in ("predictive", "latent"):
            raise ValueError(f"GPPrediction.interval: `kind` must be 'predictive' or 'latent', got {kind!r}.")
        sd = self.predictive_sd if kind == "predictive" else self.latent_sd
        z = ndtri(0.5 + level / 2.0)
        return self.mean - z * sd, self.mean + z * sd

    def log_prob(self, y) -> jax.Array:
        """Log predictive density of observations ``y`` (one per point), noise included."""
        y = jnp.asarray(y)
        if y.shape != self.mean.shape:
            raise ValueError(
                f"GPPrediction.log_prob: `y` must hold one observation per predicted point, shape "
                f"{tuple(self.mean.shape)}; got shape {tuple(y.shape)}."
            )
        var = self.predictive_var
        return -0.5 * (jnp.log(2.0 * jnp.pi * var) + (y - self.mean) ** 2 / var)
