"""Neural networks for probabilistic modelling: MLP building blocks and the variational autoencoder.

Bayesian deep learning (scikit-learn style, key first: ``fit(key, X, y)`` returns a fitted copy,
``predict(X)`` a predictive object): ``MCDropoutRegressor``/``MCDropoutClassifier``,
``BayesByBackpropRegressor``, ``DeepEnsembleRegressor``/``DeepEnsembleClassifier``,
``NUTSBNNRegressor``; predictions as ``RegressionPredictive`` (mean, total, epistemic and
aleatoric variance, samples) or ``ClassificationPredictive`` (predictive entropy, expected entropy,
mutual information); the training loop ``train`` and the building blocks in ``networks`` and
``gaussian_head``.
"""

from bayeskit.nn._vae_training import VAEHistory
from bayeskit.nn.bayes_by_backprop import BayesByBackpropRegressor, gaussian_kl
from bayeskit.nn.deep_ensemble import DeepEnsembleClassifier, DeepEnsembleRegressor
from bayeskit.nn.gaussian_head import gaussian_head
from bayeskit.nn.mc_dropout import MCDropoutClassifier, MCDropoutRegressor
from bayeskit.nn.mlp import MLP
from bayeskit.nn.nuts_bnn import NUTSBNNRegressor, bnn_model
from bayeskit.nn.predictive import ClassificationPredictive, RegressionPredictive
from bayeskit.nn.training import TrainHistory, train
from bayeskit.nn.vae import VAE, ELBOTerms

__all__ = [
    "BayesByBackpropRegressor",
    "ClassificationPredictive",
    "DeepEnsembleClassifier",
    "DeepEnsembleRegressor",
    "ELBOTerms",
    "MCDropoutClassifier",
    "MCDropoutRegressor",
    "MLP",
    "NUTSBNNRegressor",
    "RegressionPredictive",
    "TrainHistory",
    "VAE",
    "VAEHistory",
    "bnn_model",
    "gaussian_head",
    "gaussian_kl",
    "train",
]
