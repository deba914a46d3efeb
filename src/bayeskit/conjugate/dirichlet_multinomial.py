"""Dirichlet prior on the category probabilities of categorical or multinomial observations."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from bayeskit.conjugate._data import check_counts, observations
from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import as_float, check_parameter, is_concrete
from bayeskit.dist.categorical import Categorical
from bayeskit.dist.dirichlet import Dirichlet
from bayeskit.dist.dirichletmultinomial import DirichletMultinomial as DirichletMultinomialDistribution

__all__ = ["DirichletMultinomial"]


class DirichletMultinomial(eqx.Module):
    r"""Dirichlet-multinomial model: exact updating of category probabilities.

    .. math::
        \theta \sim \mathrm{Dirichlet}(\alpha), \qquad
        c_r \mid \theta \sim \mathrm{Multinomial}(n_r, \theta)
        \;\;\text{or}\;\; z_i \mid \theta \sim \mathrm{Categorical}(\theta).

    The posterior is :math:`\mathrm{Dirichlet}(\alpha + C)`, where :math:`C_k` is the total
    count of category :math:`k` over all observations.

    Data come in one of two forms, chosen by keyword:

    * ``counts`` — category counts, shape ``(K,)`` for one multinomial observation or
      ``(n, K)`` for ``n`` of them (each row may have its own total);
    * ``labels`` — integer category labels in ``0 .. K-1``, shape ``(n,)``, one categorical
      draw each.

    They give the same posterior; their evidence differs by the multinomial coefficients,
    because a table of counts forgets the order in which the labels came.

    This is the conjugate *model*; the distribution of the same name, which :meth:`predictive`
    returns for several new draws, is
    :class:`bayeskit.dist.dirichletmultinomial.DirichletMultinomial`.

    Args:
        concentration: the Dirichlet parameter :math:`\alpha`, a vector of ``K >= 2`` positive
            numbers (prior pseudo-counts). Batches of models: use ``jax.vmap``.

    Example:
        >>> model = DirichletMultinomial([1.0, 1.0, 1.0]).update(labels=[0, 2, 2, 1, 2])
        >>> model.concentration.tolist()
        [2.0, 2.0, 4.0]
        >>> model.predictive_probs.tolist()  # probabilities of the next label
        [0.25, 0.25, 0.5]
    """

    concentration: jax.Array

    def __init__(self, concentration):
        concentration = as_float(concentration)
        if concentration.ndim != 1 or concentration.shape[0] < 2:
            raise ValueError(
                "DirichletMultinomial: `concentration` must be a vector with one positive entry per "
                f"category (at least 2), but got shape {concentration.shape}. For a batch of models, "
                "use jax.vmap."
            )
        self.concentration = concentration

    def __check_init__(self):
        check_parameter(
            "DirichletMultinomial",
            "concentration",
            self.concentration,
            C.positive,
            "Entries are prior pseudo-counts: pass positive numbers (all ones is uniform on the simplex).",
        )

    @property
    def num_categories(self) -> int:
        """The number of categories ``K``."""
        return self.concentration.shape[-1]

    def _tally(self, owner: str, counts, labels):
        """Return (total count per category, sum of the log multinomial coefficients)."""
        k = self.num_categories
        if (counts is None) == (labels is None):
            raise ValueError(
                f"{owner}: pass exactly one of `counts` (category counts, shape (K,) or (n, K)) or "
                f"`labels` (integer categories in 0..{k - 1}, shape (n,))."
            )
        if labels is not None:
            z = observations(owner, "labels", labels)
            if z.ndim != 1:
                raise ValueError(f"{owner}: `labels` must have shape (n,), but got shape {z.shape}.")
            check_counts(owner, "labels", z, f"Labels are category indices 0..{k - 1}.")
            if is_concrete(z) and z.size and float(np.max(np.asarray(z))) >= k:
                raise ValueError(
                    f"{owner}: `labels` must be category indices in 0..{k - 1}, but the largest is "
                    f"{int(np.max(np.asarray(z)))}; the model has {k} categories "
                    "(the length of `concentration`)."
                )
            totals = jnp.sum(jax.nn.one_hot(z.astype(jnp.int32), k, dtype=z.dtype), axis=0)
            return totals, jnp.zeros((), dtype=z.dtype)
        c = observations(owner, "counts", counts)
        if c.ndim not in (1, 2) or c.shape[-1] != k:
            raise ValueError(
                f"{owner}: `counts` must have shape ({k},) or (n, {k}) — one column per category — "
                f"but got shape {c.shape}."
            )
        c = c.reshape(-1, k)
        check_counts(owner, "counts", c)
        log_coef = jnp.sum(gammaln(jnp.sum(c, axis=-1) + 1) - jnp.sum(gammaln(c + 1), axis=-1))
        return jnp.sum(c, axis=0), log_coef

    def update(self, counts=None, *, labels=None) -> DirichletMultinomial:
        """Condition on observations and return the updated model.

        Args:
            counts: category counts, shape ``(K,)`` or ``(n, K)``.
            labels: integer category labels in ``0 .. K-1``, shape ``(n,)`` (instead of ``counts``).

        Returns:
            A new ``DirichletMultinomial`` with ``concentration + total counts``.

        Raises:
            ValueError: for negative, fractional or NaN counts, labels out of range, a wrong
                number of categories, or both or neither argument given.
        """
        totals, _ = self._tally("DirichletMultinomial.update", counts, labels)
        return DirichletMultinomial(self.concentration + totals)

    @property
    def posterior(self) -> Dirichlet:
        """The current belief about the category probabilities, ``Dirichlet(concentration)``."""
        return Dirichlet(self.concentration)

    @property
    def predictive_probs(self) -> jax.Array:
        r"""Probabilities of the next label, :math:`\alpha_k / \sum_j \alpha_j` (the posterior mean)."""
        return self.concentration / jnp.sum(self.concentration)

    def predictive(self, total_count=None) -> Categorical | DirichletMultinomialDistribution:
        """The posterior predictive of the next label, or of the counts in ``total_count`` new draws.

        Args:
            total_count: ``None`` (default) for the next label; a non-negative whole number for
                the category counts of that many new draws.

        Returns:
            ``Categorical(probs=predictive_probs)`` when ``total_count`` is ``None``; otherwise
            ``bayeskit.dist.dirichletmultinomial.DirichletMultinomial(concentration, total_count)``.
        """
        if total_count is None:
            return Categorical(logits=jnp.log(self.concentration))
        return DirichletMultinomialDistribution(self.concentration, total_count)

    def log_marginal_likelihood(self, counts=None, *, labels=None) -> jax.Array:
        r"""Log evidence of the data under the current belief, with the probabilities integrated out.

        .. math::
            \log p(D) = \log\Gamma(A) - \log\Gamma(A + N) + \sum_k \big[\log\Gamma(\alpha_k + C_k)
            - \log\Gamma(\alpha_k)\big] \;[+ \textstyle\sum_r \log\binom{n_r}{c_{r1} \dots c_{rK}}
            \text{ for counts}],

        with :math:`A = \sum_k \alpha_k` and :math:`N = \sum_k C_k`. For one row of counts this is
        the Dirichlet-multinomial log probability of that row.

        Args:
            counts: category counts, shape ``(K,)`` or ``(n, K)``.
            labels: integer category labels, shape ``(n,)`` (instead of ``counts``).

        Returns:
            The log evidence, a scalar.
        """
        totals, log_coef = self._tally("DirichletMultinomial.log_marginal_likelihood", counts, labels)
        alpha = self.concentration
        total_alpha = jnp.sum(alpha)
        return (
            gammaln(total_alpha)
            - gammaln(total_alpha + jnp.sum(totals))
            + jnp.sum(gammaln(alpha + totals) - gammaln(alpha))
            + log_coef
        )
