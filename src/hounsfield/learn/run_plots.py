"""Figures of a training run: loss and PSNR curves, and an example slice."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..report.plots import save_figure

#: Display window of the example slices, HU (lung to soft tissue).
EXAMPLE_WINDOW_HU = (-1000.0, 400.0)


def plot_curves(log: list[dict], path) -> Path:
    """Training and validation loss (log scale) and validation PSNR against the step, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [row["step"] for row in log]
    figure, (losses, psnr) = plt.subplots(1, 2, figsize=(10, 3.6))
    losses.plot(steps, [row["train_loss"] for row in log], label="training")
    losses.plot(steps, [row["validation_loss"] for row in log], label="validation")
    losses.set_yscale("log")
    losses.set_xlabel("step")
    losses.set_ylabel("loss")
    losses.legend()
    psnr.plot(steps, [row["validation_psnr_db"] for row in log], color="tab:green")
    psnr.set_xlabel("step")
    psnr.set_ylabel("validation PSNR (dB)")
    return save_figure(figure, path)


def plot_examples(images_hu: list[np.ndarray], path,
                  titles=("degraded", "network", "reference")) -> Path:
    """Slices side by side in the window :data:`EXAMPLE_WINDOW_HU`, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(images_hu), figsize=(4 * len(images_hu), 4.2))
    for axis, image, title in zip(np.atleast_1d(axes), images_hu, titles, strict=True):
        axis.imshow(image, cmap="gray", vmin=EXAMPLE_WINDOW_HU[0], vmax=EXAMPLE_WINDOW_HU[1])
        axis.set_title(title)
        axis.axis("off")
    return save_figure(figure, path)
