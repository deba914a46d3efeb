r"""What the Bayesian deep learning estimators predict: a mixture over models, split into its parts.

A regression predictive holds ``S`` Gaussian components per point: from ``S`` dropout masks,
``S`` weight draws, ``S`` posterior draws or the ``M`` members of an ensemble. Component ``s``
predicts :math:`y \mid x \sim \mathcal N(\mu_s(x), \sigma_s^2(x))`; the predictive is their uniform
mixture, whose variance splits exactly by the law of total variance,

.. math::
    \underbrace{\operatorname{Var}[y]}_{\text{total}}
    = \underbrace{\mathbb E_s[\sigma_s^2]}_{\text{aleatoric}}
    + \underbrace{\operatorname{Var}_s[\mu_s]}_{\text{epistemic}},

(both moments over ``s`` with weight ``1/S``, so the identity holds to rounding). Aleatoric is the
noise the models agree is there; epistemic is their disagreement, which more data would remove.
A classification predictive holds ``S`` class-probability vectors per point and splits the
entropy the same way (:mod:`bayeskit.metrics.information`): predictive entropy = expected entropy
(aleatoric) + mutual information (epistemic).

Reference: Kendall & Gal (2017), "What uncertainties do we need in Bayesian deep learning for
computer vision?"; Depeweg et al. (2018) for the entropy split.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.special import ndtri

from bayeskit import metrics

__all__ = ["ClassificationPredictive", "RegressionPredictive"]


def as_targets(owner: str, y, n: int) -> jax.Array:
    """Targets as ``(n,)``: a column ``(n, 1)`` is flattened, as ``fit`` does; other shapes are named."""
    y = jnp.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (n,):
        raise ValueError(
            f"{owner}: `y` must hold one target per predicted point, shape ({n},); got {y.shape}."
        )
    return y


class RegressionPredictive(eqx.Module):
    r"""A uniform mixture of Gaussians per point, with its variance split into its two sources.

    Attributes:
        loc_samples: component means :math:`\mu_s(x_i)`, shape ``(S, n)``.
        scale_samples: component noise standard deviations :math:`\sigma_s(x_i)`, broadcastable
            to ``(S, n)`` (a homoscedastic model gives ``(S, 1)`` or a scalar).

    Example:
        >>> pred = RegressionPredictive(jnp.array([[0.0], [2.0]]), jnp.array([[1.0], [1.0]]))
        >>> float(pred.mean[0]), float(pred.epistemic_var[0]), float(pred.aleatoric_var[0])
        (1.0, 1.0, 1.0)
        >>> float(pred.total_var[0])
        2.0
    """

    loc_samples: jax.Array
    scale_samples: jax.Array

    def __check_init__(self):
        if self.loc_samples.ndim != 2:
            raise ValueError(
                f"RegressionPredictive: `loc_samples` must have shape (S, n), got {self.loc_samples.shape}."
            )

    @property
    def num_samples(self) -> int:
        return self.loc_samples.shape[0]

    @property
    def mean(self) -> jax.Array:
        """The predictive mean :math:`\\mathbb E_s[\\mu_s]`, shape ``(n,)``."""
        return jnp.mean(self.loc_samples, axis=0)

    @property
    def epistemic_var(self) -> jax.Array:
        """:math:`\\operatorname{Var}_s[\\mu_s]` (divisor S): how much the models disagree."""
        return jnp.mean((self.loc_samples - self.mean) ** 2, axis=0)

    @property
    def aleatoric_var(self) -> jax.Array:
        """:math:`\\mathbb E_s[\\sigma_s^2]`: the noise the models predict."""
        var = jnp.broadcast_to(jnp.square(self.scale_samples), self.loc_samples.shape)
        return jnp.mean(var, axis=0)

    @property
    def total_var(self) -> jax.Array:
        """The mixture's variance, aleatoric + epistemic (law of total variance)."""
        return self.aleatoric_var + self.epistemic_var

    @property
    def total_sd(self) -> jax.Array:
        return jnp.sqrt(self.total_var)

    @property
    def samples(self) -> jax.Array:
        """The ``(S, n)`` samples of the mean function (one per mask, draw or member)."""
        return self.loc_samples

    def interval(self, level: float = 0.95, kind: str = "total") -> tuple[jax.Array, jax.Array]:
        """A central Gaussian interval ``mean ± z sd`` from the total, epistemic or aleatoric variance.

        Args:
            level: coverage probability in (0, 1).
            kind: ``"total"`` (new observations), ``"epistemic"`` or ``"aleatoric"``.
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"RegressionPredictive.interval: `level` must be in (0, 1), got {level!r}.")
        variances = {"total": "total_var", "epistemic": "epistemic_var", "aleatoric": "aleatoric_var"}
        if kind not in variances:
            raise ValueError(
                f"RegressionPredictive.interval: `kind` must be one of {sorted(variances)}, got {kind!r}."
            )
        sd = jnp.sqrt(getattr(self, variances[kind]))
        z = ndtri(0.5 + level / 2.0)
        return self.mean - z * sd, self.mean + z * sd

    def nll(self, y) -> jax.Array:
        """Mean negative log-likelihood of ``y`` under the mixture (:func:`bayeskit.metrics.mixture_nll`)."""
        scale = jnp.broadcast_to(self.scale_samples, self.loc_samples.shape)
        return metrics.mixture_nll(
            as_targets("RegressionPredictive.nll", y, self.loc_samples.shape[1]), self.loc_samples, scale
        )

    def sample(self, key: jax.Array, num_samples: int = 1) -> jax.Array:
        """Draw ``num_samples`` new observations per point from the mixture, shape ``(num_samples, n)``."""
        k_pick, k_noise = jax.random.split(key)
        n = self.loc_samples.shape[1]
        pick = jax.random.randint(k_pick, (num_samples, n), 0, self.num_samples)
        scale = jnp.broadcast_to(self.scale_samples, self.loc_samples.shape)
        cols = jnp.arange(n)
        loc, sd = self.loc_samples[pick, cols], scale[pick, cols]
        return loc + sd * jax.random.normal(k_noise, loc.shape, loc.dtype)


class ClassificationPredictive(eqx.Module):
    r"""``S`` class-probability vectors per point and the entropy split of their average.

    Attributes:
        prob_samples: shape ``(S, n, K)``, each row on the simplex.

    Example:
        >>> p = jnp.array([[[0.9, 0.1]], [[0.1, 0.9]]])  # two confident models that disagree
        >>> pred = ClassificationPredictive(p)
        >>> bool(pred.mutual_information[0] > 0.3)
        True
    """

    prob_samples: jax.Array

    def __check_init__(self):
        if self.prob_samples.ndim != 3:
            raise ValueError(
                f"ClassificationPredictive: `prob_samples` must have shape (S, n, K), got {self.prob_samples.shape}."
            )

    @property
    def probs(self) -> jax.Array:
        """The predictive class probabilities, the average over samples, shape ``(n, K)``."""
        return jnp.mean(self.prob_samples, axis=0)

    @property
    def label(self) -> jax.Array:
        """The most probable class per point."""
        return jnp.argmax(self.probs, axis=-1)

    @property
    def predictive_entropy(self) -> jax.Array:
        """:math:`H[\\bar p]`: the total uncertainty, in nats."""
        return metrics.predictive_entropy(self.prob_samples)

    @property
    def expected_entropy(self) -> jax.Array:
        """:math:`\\mathbb E_s H[p_s]`: the aleatoric part."""
        return metrics.expected_entropy(self.prob_samples)

    @property
    def mutual_information(self) -> jax.Array:
        """:math:`H[\\bar p] - \\mathbb E_s H[p_s] \\ge 0`: the epistemic part (BALD)."""
        return metrics.mutual_information(self.prob_samples)
