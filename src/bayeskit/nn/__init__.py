"""Neural networks for probabilistic modelling: MLP building blocks and the variational autoencoder."""

from bayeskit.nn._vae_training import VAEHistory
from bayeskit.nn.mlp import MLP
from bayeskit.nn.vae import VAE, ELBOTerms

__all__ = [
    "ELBOTerms",
    "MLP",
    "VAE",
    "VAEHistory",
]
