"""A variational autoencoder: MLP encoder and decoder, Gaussian latent, closed-form KL."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bayeskit import dist
from bayeskit._key import check_key
from bayeskit.nn._standardize import Scaling
from bayeskit.nn.mlp import MLP, check_size, check_widths

__all__ = ["ELBOTerms", "VAE"]

LIKELIHOODS = ("bernoulli", "gaussian")
# Added to the softplus of the encoder's scale output, so log q(z|x) never sees a zero scale.
_MIN_LATENT_SCALE = 1e-6
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class ELBOTerms(NamedTuple):
    """The evidence lower bound of each example and its two terms: ``elbo = reconstruction - kl``.

    Attributes:
        elbo: the bound on log p(x), shape ``x.shape[:-1]``.
        reconstruction: the Monte Carlo estimate of E_q[log p(x | z)].
        kl: KL(q(z | x) || N(0, I)), in closed form.
    """

    elbo: jax.Array
    reconstruction: jax.Array
    kl: jax.Array


class VAE(eqx.Module):
    r"""A variational autoencoder (Kingma & Welling 2014) with a Gaussian latent and an MLP each way.

    Generative model and encoder (the approximate posterior):

    .. math::
        z \sim \mathcal N(0, I_k), \quad x \mid z \sim p_\theta(x \mid z), \qquad
        q_\phi(z \mid x) = \mathcal N\big(\mu_\phi(x), \operatorname{diag}\sigma_\phi(x)^2\big)

    with :math:`(\mu, \operatorname{softplus}^{-1}\sigma)` the encoder's output. Training maximises
    the evidence lower bound, a reparameterised sample :math:`z = \mu + \sigma \odot \epsilon`
    for the first term and the closed form for the second:

    .. math::
        \log p(x) \ge \mathbb E_q[\log p_\theta(x \mid z)]
        - \tfrac12 \sum_j \big(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\big).

    Decoders (``likelihood``):

    - ``"bernoulli"``: independent Bernoulli pixels with the decoder's output as logits,
      :math:`\log p(x|z) = \sum_i x_i l_i - \operatorname{softplus}(l_i)`. Inputs must lie in
      [0, 1]; grey levels are used as they are (the usual practice for MNIST-like data), so the
      "likelihood" is the cross-entropy and not a normalised density of continuous x (the
      continuous Bernoulli would normalise it; it is not used here).
    - ``"gaussian"``: :math:`x_i \mid z \sim \mathcal N(m_i(z), s_i^2)` with the decoder's output
      as the mean and a learned per-feature scale :math:`s_i = \text{min\_scale} + e^{\text{log\_scale}_i}`
      shared by all examples (the floor stops the density diverging on constant features, such
      as the always-blank corner pixels of the digits). By default :meth:`fit` standardises
      each feature on the training rows first (``scaling``): the networks then see and predict
      values of order one whatever the data's units, ``min_scale`` is in standard deviations of
      the feature, and every method takes and returns the data's own units (log densities
      include the change of units, so ELBOs compare across scalings).

    The decoder mirrors the encoder: hidden widths ``hidden`` in reverse order.

    Args:
        key: a ``jax.random`` key for the initial weights.
        num_features: length of one input vector (64 for 8x8 images).
        latent_dim: dimension of z.
        hidden: the encoder's hidden widths (the decoder uses them reversed).
        likelihood: ``"bernoulli"`` or ``"gaussian"``.
        activation: the nonlinearity of both MLPs.
        min_scale: the Gaussian decoder's smallest scale, in standard deviations of the feature
            once :meth:`fit` has standardised it (ignored for Bernoulli).
        dtype: the parameters' floating dtype (default: JAX's default float).

    Example:
        >>> X = bayeskit.datasets.load_digits().X            # (1797, 64) in [0, 1]
        >>> vae = VAE(jax.random.key(0), 64, latent_dim=2)
        >>> vae, history = vae.fit(jax.random.key(1), X[:1500], num_epochs=50)
        >>> vae.elbo(jax.random.key(2), X[1500:]).elbo.mean()  # doctest: +SKIP
    """

    encoder: MLP
    decoder: MLP
    log_scale: jax.Array | None
    scaling: Scaling | None
    num_features: int = eqx.field(static=True)
    latent_dim: int = eqx.field(static=True)
    likelihood: str = eqx.field(static=True)
    min_scale: float = eqx.field(static=True)

    def __init__(
        self,
        key: jax.Array,
        num_features: int,
        latent_dim: int = 2,
        hidden: Sequence[int] = (256, 128),
        likelihood: str = "bernoulli",
        activation: Callable = jax.nn.relu,
        min_scale: float = 1e-2,
        dtype=None,
    ):
        num_features = check_size("VAE", "num_features", num_features)
        latent_dim = check_size("VAE", "latent_dim", latent_dim)
        hidden = check_widths("VAE", "hidden", hidden)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"VAE: `likelihood` must be one of {LIKELIHOODS}, got {likelihood!r}.")
        if not (isinstance(min_scale, (int, float)) and min_scale > 0):
            raise ValueError(f"VAE: `min_scale` must be a positive number, got {min_scale!r}.")
        k_enc, k_dec = jax.random.split(key)
        self.encoder = MLP(k_enc, num_features, 2 * latent_dim, hidden, activation, dtype)
        self.decoder = MLP(k_dec, latent_dim, num_features, hidden[::-1], activation, dtype)
        if likelihood == "gaussian":
            self.log_scale = jnp.zeros(num_features, self.decoder.dtype)
        else:
            self.log_scale = None
        self.scaling = None
        self.num_features = num_features
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.min_scale = float(min_scale)

    # -- the model ------------------------------------------------------------------------------
    @property
    def dtype(self):
        """The parameters' floating dtype; inputs are cast to it."""
        return self.decoder.dtype

    @property
    def decoder_scale(self) -> jax.Array | None:
        """The Gaussian decoder's per-feature scale in the data's units (``None`` for Bernoulli)."""
        if self.log_scale is None:
            return None
        scale = self.min_scale + jnp.exp(self.log_scale)
        return scale if self.scaling is None else scale * self.scaling.x_scale

    def encode(self, x) -> dist.Independent:
        """Return the approximate posterior q(z | x) as a ``Normal(loc, scale).to_event(1)``.

        ``x`` has shape ``(..., num_features)``; the result has batch shape ``x.shape[:-1]`` and
        event shape ``(latent_dim,)``. Its ``mean`` is the usual point embedding.
        """
        x = self._check_x("VAE.encode", "x", x)
        loc, scale = _posterior_jit(self, x)
        return dist.Normal(loc, scale).to_event(1)

    def decode(self, z) -> jax.Array:
        """Return the mean of p(x | z): pixel probabilities (Bernoulli) or means (Gaussian).

        ``z`` has shape ``(..., latent_dim)``; the result ``(..., num_features)``.
        """
        z = jnp.asarray(z, self.dtype)
        if z.ndim < 1 or z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"VAE.decode: `z` must have shape (..., {self.latent_dim}) (latent_dim), got {tuple(z.shape)}."
            )
        return _decode_mean_jit(self, z)

    def elbo(self, key: jax.Array, x, num_samples: int = 1) -> ELBOTerms:
        """Return the ELBO of each example with its decomposition (reconstruction, KL).

        The reconstruction term averages ``num_samples`` reparameterised draws from q(z | x);
        the KL term is exact. Shapes: ``x.shape[:-1]``.

        Example:
            >>> terms = vae.elbo(jax.random.key(0), X_test)  # doctest: +SKIP
            >>> terms.elbo.mean(), terms.reconstruction.mean(), terms.kl.mean()  # doctest: +SKIP
        """
        x = self._check_x("VAE.elbo", "x", x)
        num_samples = check_size("VAE.elbo", "num_samples", num_samples)
        key = check_key(key, "VAE.elbo")
        return _elbo_terms_jit(self, key, x, num_samples)

    def reconstruct(self, key: jax.Array, x) -> jax.Array:
        """Encode ``x``, draw one z from q(z | x), and return the decoder's mean at it.

        For the deterministic version use ``vae.decode(vae.encode(x).mean)``.
        """
        x = self._check_x("VAE.reconstruct", "x", x)
        key = check_key(key, "VAE.reconstruct")
        return _reconstruct(self, key, x)

    def sample(self, key: jax.Array, num_samples: int) -> jax.Array:
        """Draw ``num_samples`` z from the prior N(0, I) and return the decoder's mean images.

        The mean (pixel probabilities for the Bernoulli decoder) is what one looks at; draw
        pixels from it with ``jax.random.bernoulli`` if binary images are wanted.
        Shape: ``(num_samples, num_features)``.
        """
        num_samples = check_size("VAE.sample", "num_samples", num_samples)
        key = check_key(key, "VAE.sample")
        return _sample(self, key, num_samples)

    def iwae_log_likelihood(self, key: jax.Array, x, num_importance: int = 100, chunk_size: int = 25):
        r"""Estimate log p(x) per example by importance sampling with q(z | x) as the proposal.

        .. math::
            \log p(x) \approx \log \frac1K \sum_{k=1}^K
            \frac{p_\theta(x \mid z_k)\, p(z_k)}{q_\phi(z_k \mid x)}, \qquad z_k \sim q_\phi(z \mid x)

        computed with log-sum-exp. It is the bound of Burda, Grosse & Salakhutdinov (2016,
        "Importance weighted autoencoders"): a lower bound in expectation that rises with K
        towards log p(x), and equals the ELBO in expectation at K = 1. The K samples are
        processed ``chunk_size`` at a time (a compiled scan), so memory grows with
        ``x.shape[0] * chunk_size``, not with K; the draws do not depend on ``chunk_size``.
        Shape: ``x.shape[:-1]``.
        """
        x = self._check_x("VAE.iwae_log_likelihood", "x", x)
        num_importance = check_size("VAE.iwae_log_likelihood", "num_importance", num_importance)
        chunk_size = check_size("VAE.iwae_log_likelihood", "chunk_size", chunk_size)
        key = check_key(key, "VAE.iwae_log_likelihood")
        return _iwae(self, key, x, num_importance, min(chunk_size, num_importance))

    def fit(
        self,
        key: jax.Array,
        X_train,
        *,
        num_epochs: int,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        optimizer=None,
        X_valid=None,
        progress_bar: bool = True,
        standardize: bool | None = None,
    ):
        """Train by maximising the mean ELBO over minibatches; return ``(fitted VAE, history)``.

        Each epoch shuffles the rows, cuts ``n // batch_size`` full minibatches (the remaining
        ``n % batch_size`` rows, a different few each epoch, sit that epoch out, so every step has
        the same shape) and takes one optimiser step per minibatch on the negative mean ELBO
        (one reparameterised draw per example). An epoch is one compiled ``lax.scan``; the
        host updates the progress bar between epochs. Ctrl-C stops after the current epoch and
        keeps what was trained. This VAE is unchanged.

        Args:
            key: a ``jax.random`` key (epoch ``e`` uses ``fold_in(key, e)``).
            X_train: training data ``(n, num_features)``.
            num_epochs: passes over the data.
            batch_size: rows per minibatch, 1 to n.
            learning_rate: Adam's step size (used only when ``optimizer`` is ``None``).
            optimizer: an ``optax.GradientTransformation`` (default ``optax.adam(learning_rate)``).
            X_valid: optional held-out rows; their mean ELBO is recorded after every epoch.
            progress_bar: show epochs, the ELBO and time left.
            standardize: fit the Gaussian decoder on features standardised with the training
                rows' means and standard deviations (constant features: 1); default ``True``
                for ``likelihood="gaussian"``. The scaling is stored in the returned VAE
                (``scaling``) and applied by every method; a VAE that already has one (a second
                ``fit``, continuing training) keeps it. Not available for the Bernoulli decoder,
                whose data must stay in [0, 1].

        Returns:
            ``(vae, history)``: the trained VAE and a :class:`bayeskit.nn.VAEHistory` of per-epoch
            mean ELBO, reconstruction and KL on the training minibatches (and the validation ELBO).

        Raises:
            ValueError: on non-finite data, values outside [0, 1] for the Bernoulli decoder, the
                wrong number of features, or ``batch_size``/``num_epochs`` out of range.
        """
        from bayeskit.nn._vae_training import fit_vae

        return fit_vae(
            self,
            key,
            X_train,
            num_epochs=num_epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            optimizer=optimizer,
            X_valid=X_valid,
            progress_bar=progress_bar,
            standardize=standardize,
        )

    # -- input checks ---------------------------------------------------------------------------
    def _check_x(self, owner: str, name: str, x) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim < 1 or x.shape[-1] != self.num_features:
            raise ValueError(
                f"{owner}: `{name}` must have shape (..., {self.num_features}) (num_features), "
                f"got {tuple(x.shape)}."
            )
        if x.size == 0:
            raise ValueError(f"{owner}: `{name}` has no rows.")
        x = x.astype(self.dtype)
        if isinstance(x, jax.core.Tracer):  # traced values cannot be checked
            return x
        a = np.asarray(x)
        bad = ~np.isfinite(a)
        if bad.any():
            raise ValueError(
                f"{owner}: `{name}` contains {int(bad.sum())} NaN or infinite value(s) (first at index "
                f"{np.argwhere(bad)[0].tolist()}); remove or impute them."
            )
        if self.likelihood == "bernoulli" and (a.min() < 0 or a.max() > 1):
            raise ValueError(
                f"{owner}: `{name}` has values in [{a.min():g}, {a.max():g}], but the Bernoulli decoder "
                "needs data in [0, 1]; rescale it (e.g. divide 8x8 digits by 16) or use "
                "likelihood='gaussian'."
            )
        return x


# -- pure functions of a VAE (shared by the methods and the training loop) -----------------------
def _apply(net: MLP, x: jax.Array) -> jax.Array:
    """Apply ``net`` to the last axis of ``x`` with any leading batch shape."""
    flat = x.reshape(-1, x.shape[-1])
    return jax.vmap(net)(flat).reshape(*x.shape[:-1], -1)


def _posterior(vae: VAE, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    if vae.scaling is not None:
        x = vae.scaling.x(x)
    out = _apply(vae.encoder, x)
    loc, raw = out[..., : vae.latent_dim], out[..., vae.latent_dim :]
    return loc, jax.nn.softplus(raw) + _MIN_LATENT_SCALE


def _decode_mean(vae: VAE, z: jax.Array) -> jax.Array:
    return _decoder_output(vae, _apply(vae.decoder, z))


def _decoder_output(vae: VAE, out: jax.Array) -> jax.Array:
    """The mean of p(x | z) in the data's units from the decoder network's output."""
    if vae.likelihood == "bernoulli":
        return jax.nn.sigmoid(out)
    if vae.scaling is None:
        return out
    return vae.scaling.x_loc + vae.scaling.x_scale * out


def _log_likelihood(vae: VAE, x: jax.Array, z: jax.Array) -> jax.Array:
    """log p(x | z) summed over features; ``z`` may carry extra leading (sample) axes."""
    out = _apply(vae.decoder, z)
    if vae.likelihood == "bernoulli":
        return jnp.sum(x * out - jax.nn.softplus(out), axis=-1)
    scale = vae.decoder_scale
    r = (x - _decoder_output(vae, out)) / scale
    return jnp.sum(-0.5 * r**2 - jnp.log(scale) - _HALF_LOG_2PI, axis=-1)


def _kl_standard_normal(loc: jax.Array, scale: jax.Array) -> jax.Array:
    return 0.5 * jnp.sum(loc**2 + scale**2 - 1.0 - 2.0 * jnp.log(scale), axis=-1)


def _elbo_terms(vae: VAE, key: jax.Array, x: jax.Array, num_samples: int) -> ELBOTerms:
    loc, scale = _posterior(vae, x)
    eps = jax.random.normal(key, (num_samples, *loc.shape), loc.dtype)
    reconstruction = jnp.mean(_log_likelihood(vae, x, loc + scale * eps), axis=0)
    kl = _kl_standard_normal(loc, scale)
    return ELBOTerms(reconstruction - kl, reconstruction, kl)


_elbo_terms_jit = eqx.filter_jit(_elbo_terms)
_posterior_jit = eqx.filter_jit(_posterior)
_decode_mean_jit = eqx.filter_jit(_decode_mean)


@eqx.filter_jit
def _reconstruct(vae: VAE, key: jax.Array, x: jax.Array) -> jax.Array:
    loc, scale = _posterior(vae, x)
    return _decode_mean(vae, loc + scale * jax.random.normal(key, loc.shape, loc.dtype))


@eqx.filter_jit
def _sample(vae: VAE, key: jax.Array, num_samples: int) -> jax.Array:
    return _decode_mean(vae, jax.random.normal(key, (num_samples, vae.latent_dim), vae.dtype))


@eqx.filter_jit
def _iwae(vae: VAE, key: jax.Array, x: jax.Array, num_importance: int, chunk_size: int) -> jax.Array:
    loc, scale = _posterior(vae, x)
    # All K standard-normal draws up front (K x n x latent_dim is small); the decoder, whose
    # activations are the large part, sees one chunk at a time.
    eps = jax.random.normal(key, (num_importance, *loc.shape), loc.dtype)
    num_chunks = -(-num_importance // chunk_size)
    pad = num_chunks * chunk_size - num_importance
    eps = jnp.concatenate([eps, jnp.zeros((pad, *loc.shape), loc.dtype)])
    eps = eps.reshape(num_chunks, chunk_size, *loc.shape)
    is_real = (jnp.arange(num_chunks * chunk_size) < num_importance).reshape(num_chunks, chunk_size)

    def chunk(acc, inputs):
        e, keep = inputs
        z = loc + scale * e
        # log p(z) - log q(z|x): the 2*pi constants cancel, and (z - loc) / scale = e.
        log_prior_ratio = jnp.sum(-0.5 * z**2 + 0.5 * e**2 + jnp.log(scale), axis=-1)
        log_w = _log_likelihood(vae, x, z) + log_prior_ratio
        log_w = jnp.where(keep.reshape(-1, *([1] * (log_w.ndim - 1))), log_w, -jnp.inf)
        return jnp.logaddexp(acc, jax.nn.logsumexp(log_w, axis=0)), None

    start = jnp.full(loc.shape[:-1], -jnp.inf, loc.dtype)
    total, _ = jax.lax.scan(chunk, start, (eps, is_real))
    return total - jnp.log(num_importance)
