"""Lesson data made on the spot: MNIST-style idx files and CSV files of synthetic digits.

Nothing is downloaded. The digits are *drawn* by the project: each image is one of OpenCV's
built-in Hershey vector fonts writing a digit 0-9, with a random font, stroke width, size,
rotation, shear and position, slightly blurred and with a little noise, on a 28 x 28 black
background -- close enough to MNIST for the lessons (an MLP reaches ~95 % in two epochs), and
the same bytes for the same ``seed`` on every machine with the same OpenCV.

* :func:`synthetic_digits` -- the images and labels as numpy arrays;
* :func:`make_mnist_idx` -- the four MNIST files (``train-images-idx3-ubyte`` ...) that
  ``mx.io.MNISTIter`` and MXNet's examples read;
* :func:`make_digits_csv` -- ``data.csv``/``label.csv`` for ``mx.io.CSVIter``;
* :func:`write_idx` / :func:`read_idx` -- the idx format itself.

See notebook 03.
"""
from __future__ import annotations

import os

import numpy as np

from .io.idx_file import read_idx, write_idx

__all__ = ["synthetic_digits", "make_mnist_idx", "make_digits_csv", "write_idx", "read_idx",
           "MNIST_FILES"]

MNIST_FILES = {"train_images": "train-images-idx3-ubyte",
               "train_labels": "train-labels-idx1-ubyte",
               "test_images": "t10k-images-idx3-ubyte",
               "test_labels": "t10k-labels-idx1-ubyte"}

def _cv2():
    import cv2   # a core dependency, imported when digits are drawn
    return cv2


def synthetic_digits(n, seed=0, size=28):
    """``n`` drawn digit images and their labels.

    Parameters
    ----------
    n : int
        Number of images.
    seed : int, optional
        Seed of the drawing choices; the same seed gives the same images.
    size : int, optional
        Side of the square images in pixels.

    Returns
    -------
    images : numpy.ndarray
        uint8, ``(n, size, size)``, white digits on black like MNIST.
    labels : numpy.ndarray
        uint8, ``(n,)``, the digit in each image.

    See notebook 03.
    """
    cv2 = _cv2()
    rng = np.random.default_rng(seed)
    fonts = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
             cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX]
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    images = np.empty((n, size, size), np.uint8)
    big = 4 * size                       # draw large, then shrink: smooth strokes
    for i, digit in enumerate(labels):
        canvas = np.zeros((big, big), np.uint8)
        font = fonts[rng.integers(len(fonts))]
        scale = rng.uniform(3.0, 3.6) * big / 112
        thick = int(rng.integers(8, 15) * big / 112)
        (w, h), _ = cv2.getTextSize(str(digit), font, scale, thick)
        cv2.putText(canvas, str(digit), ((big - w) // 2, (big + h) // 2), font, scale, 255,
                    thick, cv2.LINE_AA)
        angle, shear = rng.uniform(-10, 10), rng.uniform(-0.2, 0.2)
        m = cv2.getRotationMatrix2D((big / 2, big / 2), angle, rng.uniform(0.85, 1.05))
        m[0, 1] += shear
        m[:, 2] += rng.uniform(-0.04, 0.04, size=2) * big
        canvas = cv2.warpAffine(canvas, m, (big, big))
        small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
        noise = rng.normal(0, 4, size=small.shape)
        images[i] = np.clip(small + noise, 0, 255).astype(np.uint8)
    return images, labels


def make_mnist_idx(directory, n_train=6000, n_test=1000, seed=0, overwrite=False):
    """Write the four MNIST idx files of synthetic digits into ``directory``.

    Existing files are kept unless ``overwrite`` (MXNet's examples also skip the download
    when the files are there). Train and test images come from different seeds.

    Returns
    -------
    dict
        ``{'train_images': path, 'train_labels': path, 'test_images': ..., 'test_labels': ...}``

    See notebook 03.
    """
    os.makedirs(directory, exist_ok=True)
    paths = {key: os.path.join(directory, name) for key, name in MNIST_FILES.items()}
    if not overwrite and all(os.path.exists(p) for p in paths.values()):
        return paths
    for part, count, part_seed in (("train", n_train, seed), ("test", n_test, seed + 1)):
        images, labels = synthetic_digits(count, seed=part_seed)
        write_idx(paths[part + "_images"], images)
        write_idx(paths[part + "_labels"], labels)
    return paths


def make_digits_csv(directory, n=1000, seed=0, size=8, overwrite=False):
    """Write ``data.csv`` (one ``size*size`` row of pixel values 0-255 per image) and
    ``label.csv`` (one digit per line) of synthetic digits into ``directory``.

    ``size`` defaults to 8 (64 columns: small files, quick lessons). Returns
    ``{'data': path, 'label': path}``. See notebook 03.
    """
    cv2 = _cv2()
    os.makedirs(directory, exist_ok=True)
    paths = {"data": os.path.join(directory, "data.csv"),
             "label": os.path.join(directory, "label.csv")}
    if not overwrite and all(os.path.exists(p) for p in paths.values()):
        return paths
    images, labels = synthetic_digits(n, seed=seed)
    small = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA)
                      for im in images]) if size != images.shape[1] else images
    np.savetxt(paths["data"], small.reshape(n, -1), fmt="%d", delimiter=",")
    np.savetxt(paths["label"], labels, fmt="%d")
    return paths


def main(argv=None):
    """``python -m mxteach.datasets DIR``: write the MNIST idx files and the digits CSV files
    (``DIR/digits_csv/``) for the lessons; existing files are kept."""
    import argparse
    parser = argparse.ArgumentParser(prog="python -m mxteach.datasets", description=main.__doc__)
    parser.add_argument("directory")
    parser.add_argument("--train", type=int, default=60000, help="training images (60000)")
    parser.add_argument("--test", type=int, default=10000, help="test images (10000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    paths = make_mnist_idx(args.directory, args.train, args.test, args.seed)
    paths.update(make_digits_csv(os.path.join(args.directory, "digits_csv"), seed=args.seed))
    for key, path in paths.items():
        print(f"{key:13s} {path}")
    return paths


if __name__ == "__main__":
    main()
