"""Small data sets: embedded classics, generators with known truth, scikit-learn's offline sets."""

from bayeskit.datasets.classic import Dataset, eight_schools, load_diabetes, load_digits
from bayeskit.datasets.synthetic import make_classification, make_regression

__all__ = [
    "Dataset",
    "eight_schools",
    "load_diabetes",
    "load_digits",
    "make_classification",
    "make_regression",
]
