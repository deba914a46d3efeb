"""Tour chapter: a variational autoencoder on the 8x8 digits — ELBO, IWAE, reconstructions, latent space."""

from __future__ import annotations

import jax
import numpy as np
from jax.scipy.special import ndtri
from rich.markup import escape
from rich.table import Table

from bayeskit.datasets import load_digits
from bayeskit.nn import VAE
from bayeskit.tour._figures import pyplot, save

TITLE = "A variational autoencoder on handwritten digits"

NUM_TRAIN = 1500  # first 1,500 of scikit-learn's 1,797 digits train, the last 297 test
LATENT_DIM = 2
HIDDEN = (128, 64)
# A short run so the chapter stays quick; `benchmarks/vae_digits.py` trains to convergence.
NUM_EPOCHS, BATCH_SIZE, LEARNING_RATE = 150, 128, 2e-3
NUM_IMPORTANCE = 100


def _montage(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Tile ``rows * cols`` 8x8 images into one picture with one-pixel white gaps."""
    canvas = np.ones((rows * 9 - 1, cols * 9 - 1))
    for i, img in enumerate(images[: rows * cols]):
        r, c = divmod(i, cols)
        canvas[r * 9 : r * 9 + 8, c * 9 : c * 9 + 8] = 1.0 - img.reshape(8, 8)  # dark ink on white
    return canvas


def run(key, console, out):
    k_init, k_fit, k_elbo, k_iwae, k_rec, k_sample = jax.random.split(key, 6)
    digits = load_digits()  # pixel intensities divided by 16, so in [0, 1]
    X_train, X_test = digits.X[:NUM_TRAIN], digits.X[NUM_TRAIN:]
    y_test = digits.y[NUM_TRAIN:]
    console.print(
        f"{X_train.shape[0]} training and {X_test.shape[0]} test images of 64 grey pixels. Encoder "
        f"64-{HIDDEN[0]}-{HIDDEN[1]}-({LATENT_DIM} means, {LATENT_DIM} scales), decoder the mirror image "
        "with Bernoulli logits per pixel (grey levels used as they are, as is usual for digits)."
    )
    untrained = VAE(k_init, 64, latent_dim=LATENT_DIM, hidden=HIDDEN)
    vae, history = untrained.fit(
        k_fit,
        X_train,
        num_epochs=NUM_EPOCHS,
        batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        X_valid=X_test,
        progress_bar=False,
    )
    console.print(
        f"Trained for {NUM_EPOCHS} epochs only (Adam, learning rate {LEARNING_RATE:g}, minibatches of "
        f"{BATCH_SIZE}) in {history.fit_time:.1f} s, to keep the tour short; the benchmark "
        "`benchmarks/vae_digits.py` trains to convergence."
    )

    table = Table(show_header=True, header_style="bold")
    table.add_column("model / split", no_wrap=True)
    for col in (
        "ELBO",
        escape("reconstruction E[log p(x|z)]"),
        "KL(q || prior)",
        f"IWAE log p(x), k={NUM_IMPORTANCE}",
    ):
        table.add_column(col, justify="right", no_wrap=True)
    # Training images are scored on as many as there are test images: the same shapes reuse the
    # compiled functions, and 297 images estimate the mean well enough for a table.
    X_train_eval = X_train[: X_test.shape[0]]
    rows = (
        ("untrained / test", untrained, X_test),
        (f"trained / train (first {X_test.shape[0]})", vae, X_train_eval),
        ("trained / test", vae, X_test),
    )
    results = {}
    for name, model, X in rows:
        terms = model.elbo(k_elbo, X, num_samples=10)
        iwae = model.iwae_log_likelihood(k_iwae, X, num_importance=NUM_IMPORTANCE)
        results[name] = (float(terms.elbo.mean()), float(iwae.mean()))
        table.add_row(
            name,
            f"{float(terms.elbo.mean()):.2f}",
            f"{float(terms.reconstruction.mean()):.2f}",
            f"{float(terms.kl.mean()):.2f}",
            f"{float(iwae.mean()):.2f}",
        )
    console.print(table)
    elbo, iwae = results["trained / test"]
    console.print(
        "Nats per image, averaged over the images (ELBO terms with 10 draws of z each). "
        f"The ELBO is a lower bound on log p(x); the importance-weighted bound (Burda et al. 2016) is "
        f"tighter, here by {iwae - elbo:.2f} nats: that gap is what q(z|x) misses of the true posterior. "
        f"The untrained decoder gives every pixel probability about 1/2, i.e. about -64 log 2 = "
        f"{-64 * np.log(2):.1f} nats. The KL term is the price, in nats, of the information the code "
        "carries about each image."
    )
    if out is None:
        return
    plt = pyplot()

    originals = X_test[:12]
    recon = np.asarray(vae.reconstruct(k_rec, originals))
    fig, ax = plt.subplots(figsize=(8, 1.8))
    ax.imshow(_montage(np.concatenate([originals, recon]), 2, 12), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title("Test digits (top) and their reconstructions: decoder mean at one z ~ q(z|x) (bottom)")
    save(fig, out, "vae_reconstructions", console)

    samples = np.asarray(vae.sample(k_sample, 64))
    grid = np.asarray(ndtri(np.linspace(0.05, 0.95, 10)))
    z_grid = np.array([[a, b] for b in grid[::-1] for a in grid])
    manifold = np.asarray(vae.decode(z_grid))
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    axes[0].imshow(_montage(samples, 8, 8), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("64 draws z ~ N(0, I), decoder mean")
    axes[1].imshow(_montage(manifold, 10, 10), cmap="gray", vmin=0, vmax=1)
    axes[1].set_title("decoder mean on a grid of prior quantiles (5%-95%)")
    for ax in axes:
        ax.set_axis_off()
    save(fig, out, "vae_samples", console)

    z_test = np.asarray(vae.encode(X_test).mean)
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [1.2, 1]})
    cmap = plt.get_cmap("tab10")
    for digit in range(10):
        sel = y_test == digit
        axes[0].scatter(z_test[sel, 0], z_test[sel, 1], s=12, color=cmap(digit), label=str(digit))
        if sel.any():
            cx, cy = np.median(z_test[sel], axis=0)
            axes[0].annotate(str(digit), (cx, cy), fontsize=14, weight="bold", color=cmap(digit))
    axes[0].set_xlabel("z[0] (posterior mean)")
    axes[0].set_ylabel("z[1]")
    axes[0].legend(title="digit", fontsize=7, markerscale=1.5, loc="best")
    axes[0].set_title("Test images in the 2-D latent space (encoder means)")
    epochs = np.arange(1, len(history.train_elbo) + 1)
    axes[1].plot(epochs, history.train_elbo, label="train (minibatch mean)")
    axes[1].plot(epochs, history.valid_elbo, label="test")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("ELBO (nats per image)")
    axes[1].legend()
    axes[1].set_title("Training curve")
    save(fig, out, "vae_latent_space", console)
