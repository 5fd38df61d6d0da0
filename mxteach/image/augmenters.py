"""The augmenter classes of ``mx.image`` and :func:`CreateAugmenter`, as MXNet 1.9.1 names
and parameterises them.

An augmenter is a callable from one HWC image (NDArray) to another. Random choices come from
Python's ``random`` module (crops, flips, jitter factors) and numpy's global generator (the
PCA lighting noise), exactly where MXNet draws them, so the same seeds give the same images.
"""
from __future__ import annotations

import json
import random

import numpy as np

from ..base import MXNetValueError
from ..ndarray.ndarray import NDArray
from .image import (as_numpy, center_crop, color_normalize, imresize, pick_interp,
                    random_crop, random_size_crop, resize_short)

__all__ = ["Augmenter", "SequentialAug", "ResizeAug", "ForceResizeAug", "RandomCropAug",
           "RandomSizedCropAug", "CenterCropAug", "RandomOrderAug", "BrightnessJitterAug",
           "ContrastJitterAug", "SaturationJitterAug", "HueJitterAug", "ColorJitterAug",
           "LightingAug", "ColorNormalizeAug", "RandomGrayAug", "HorizontalFlipAug", "CastAug",
           "CreateAugmenter"]

GRAY_COEF = np.array([0.299, 0.587, 0.114], dtype=np.float32)   # luma weights (ITU-R 601)


class Augmenter:
    """Base class: keeps its constructor arguments (arrays as lists) for :meth:`dumps`.

    Subclasses implement ``__call__(src) -> image``.
    """

    def __init__(self, **kwargs):
        self._kwargs = {k: (as_numpy(v).tolist() if isinstance(v, (NDArray, np.ndarray))
                            else v) for k, v in kwargs.items()}

    def dumps(self):
        """``'["classname", {arguments}]'`` as a JSON string."""
        return json.dumps([type(self).__name__.lower(), self._kwargs])

    def __call__(self, src):
        raise NotImplementedError("Augmenter subclasses implement __call__(src)")


class SequentialAug(Augmenter):
    """Apply the augmenters ``ts`` one after another."""

    def __init__(self, ts):
        super().__init__()
        self.ts = ts

    def dumps(self):
        return [type(self).__name__.lower(), [t.dumps() for t in self.ts]]

    def __call__(self, src):
        for aug in self.ts:
            src = aug(src)
        return src


class RandomOrderAug(SequentialAug):
    """Apply the augmenters ``ts`` in a new random order each call."""

    def __call__(self, src):
        random.shuffle(self.ts)
        return super().__call__(src)


class _SizedAug(Augmenter):
    """An augmenter with a target ``size`` and an interpolation code ``interp``."""

    def __init__(self, size, interp=2):
        super().__init__(size=size, interp=interp)
        self.size, self.interp = size, interp


class ResizeAug(_SizedAug):
    """Resize the shorter side to ``size`` (:func:`resize_short`)."""

    def __call__(self, src):
        return resize_short(src, self.size, self.interp)


class ForceResizeAug(_SizedAug):
    """Resize to ``size`` = (w, h), ignoring the aspect ratio."""

    def __call__(self, src):
        h, w = as_numpy(src).shape[:2]
        interp = pick_interp(self.interp, (h, w, self.size[1], self.size[0]))
        return imresize(src, self.size[0], self.size[1], interp=interp)


class RandomCropAug(_SizedAug):
    """A random crop of ``size`` = (w, h) (:func:`random_crop`)."""

    def __call__(self, src):
        return random_crop(src, self.size, self.interp)[0]


class RandomSizedCropAug(Augmenter):
    """A crop of random area share and aspect ratio, resized to ``size``
    (:func:`random_size_crop`)."""

    def __init__(self, size, area, ratio, interp=2, **kwargs):
        if "min_area" in kwargs:
            area = kwargs.pop("min_area")
        super().__init__(size=size, area=area, ratio=ratio, interp=interp)
        self.size, self.area, self.ratio, self.interp = size, area, ratio, interp
        self.kwargs = kwargs

    def __call__(self, src):
        return random_size_crop(src, self.size, self.area, self.ratio, self.interp,
                                **self.kwargs)[0]


class CenterCropAug(_SizedAug):
    """The central crop of ``size`` = (w, h) (:func:`center_crop`)."""

    def __call__(self, src):
        return center_crop(src, self.size, self.interp)[0]


def _float_pixels(src, augmenter):
    pixels = as_numpy(src)
    if pixels.dtype.kind != "f":
        raise MXNetValueError(f"{augmenter} works on float images, got {pixels.dtype}: put "
                              "CastAug() before it (CreateAugmenter does)")
    return pixels


class _JitterAug(Augmenter):
    """A colour jitter by a random factor ``1 + U(-amount, amount)``; the amount is kept
    under the subclass's ``name`` (``brightness``, ``contrast``, ``saturation``), as MXNet."""

    name = "amount"

    def __init__(self, amount=None, **kwargs):
        if self.name in kwargs:            # BrightnessJitterAug(brightness=0.2)
            amount = kwargs.pop(self.name)
        if amount is None or kwargs:
            raise MXNetValueError(f"{type(self).__name__} takes one argument, {self.name}; "
                                  f"got {amount!r} and {sorted(kwargs)}")
        super().__init__(**{self.name: amount})
        setattr(self, self.name, amount)

    def factor(self):
        amount = getattr(self, self.name)
        return 1.0 + random.uniform(-amount, amount)


class BrightnessJitterAug(_JitterAug):
    """Multiply by ``1 + U(-brightness, brightness)`` (float images, in place)."""

    name = "brightness"

    def __call__(self, src):
        alpha = self.factor()
        _float_pixels(src, "BrightnessJitterAug")[...] *= alpha
        return src


class ContrastJitterAug(_JitterAug):
    """Blend with the image's mean grey level: ``alpha * src + (1 - alpha) * mean gray``,
    ``alpha = 1 + U(-contrast, contrast)`` (float images, in place)."""

    name = "contrast"

    def __call__(self, src):
        alpha = self.factor()
        pixels = _float_pixels(src, "ContrastJitterAug")
        # MXNet averages the weighted pixels over all h*w*3 entries, then times 3
        gray = (3.0 * (1.0 - alpha) / pixels.size) * float((pixels * GRAY_COEF).sum())
        pixels *= alpha
        pixels += gray
        return src


class SaturationJitterAug(_JitterAug):
    """Blend each pixel with its own grey level (float images, in place)."""

    name = "saturation"

    def __call__(self, src):
        alpha = self.factor()
        pixels = _float_pixels(src, "SaturationJitterAug")
        gray = (pixels * GRAY_COEF).sum(axis=2, keepdims=True) * (1.0 - alpha)
        pixels *= alpha
        pixels += gray
        return src


class HueJitterAug(Augmenter):
    """Rotate the hue by ``U(-hue, hue) * 180`` degrees in YIQ space (a linear map)."""

    TYIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.321], [0.211, -0.523, 0.311]])
    ITYIQ = np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.107, 1.705]])

    def __init__(self, hue):
        super().__init__(hue=hue)
        self.hue = hue

    def __call__(self, src):
        alpha = random.uniform(-self.hue, self.hue)
        u, w = np.cos(alpha * np.pi), np.sin(alpha * np.pi)
        rotate = np.array([[1.0, 0.0, 0.0], [0.0, u, -w], [0.0, w, u]])
        t = (self.ITYIQ @ rotate @ self.TYIQ).T.astype(np.float32)
        pixels = _float_pixels(src, "HueJitterAug")
        return NDArray(pixels @ t)


class ColorJitterAug(RandomOrderAug):
    """Brightness, contrast and saturation jitter (those > 0) in a random order."""

    def __init__(self, brightness, contrast, saturation):
        ts = []
        if brightness > 0:
            ts.append(BrightnessJitterAug(brightness))
        if contrast > 0:
            ts.append(ContrastJitterAug(contrast))
        if saturation > 0:
            ts.append(SaturationJitterAug(saturation))
        super().__init__(ts)


class LightingAug(Augmenter):
    """AlexNet's PCA lighting noise: add ``eigvec @ (alpha * eigval)``, ``alpha ~
    N(0, alphastd)`` per component (numpy's global generator, as MXNet)."""

    def __init__(self, alphastd, eigval, eigvec):
        super().__init__(alphastd=alphastd, eigval=eigval, eigvec=eigvec)
        self.alphastd, self.eigval, self.eigvec = alphastd, eigval, eigvec

    def __call__(self, src):
        alpha = np.random.normal(0, self.alphastd, size=(3,))
        rgb = np.dot(np.asarray(self.eigvec) * alpha, np.asarray(self.eigval))
        _float_pixels(src, "LightingAug")[...] += rgb.astype(np.float32)
        return src


class ColorNormalizeAug(Augmenter):
    """``(src - mean) / std`` per channel (:func:`color_normalize`)."""

    def __init__(self, mean, std):
        super().__init__(mean=mean, std=std)
        self.mean = None if mean is None else np.asarray(as_numpy(mean), dtype=np.float32)
        self.std = None if std is None else np.asarray(as_numpy(std), dtype=np.float32)

    def __call__(self, src):
        color_normalize(_float_pixels(src, "ColorNormalizeAug"), self.mean, self.std)
        return src


class RandomGrayAug(Augmenter):
    """With probability ``p``, replace every channel by a grey level (3 channels kept)."""

    MAT = np.array([[0.21, 0.21, 0.21], [0.72, 0.72, 0.72], [0.07, 0.07, 0.07]],
                   dtype=np.float32)

    def __init__(self, p):
        super().__init__(p=p)
        self.p = p

    def __call__(self, src):
        if random.random() < self.p:
            return NDArray(as_numpy(src).astype(np.float32) @ self.MAT)
        return src


class HorizontalFlipAug(Augmenter):
    """With probability ``p``, mirror left-right."""

    def __init__(self, p):
        super().__init__(p=p)
        self.p = p

    def __call__(self, src):
        if random.random() < self.p:
            return NDArray(np.ascontiguousarray(as_numpy(src)[:, ::-1]))
        return src


class CastAug(Augmenter):
    """Cast to ``typ`` (float32 by default)."""

    def __init__(self, typ="float32"):
        super().__init__(type=typ)
        self.typ = typ

    def __call__(self, src):
        return NDArray(as_numpy(src).astype(self.typ))


IMAGENET_MEAN = (123.68, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
PCA_EIGVAL = np.array([55.46, 4.794, 1.148])
PCA_EIGVEC = np.array([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140],
                       [-0.5836, -0.6948, 0.4203]])


def _check_stat(name, value, default):
    if value is True:
        return np.array(default, dtype=np.float32)
    if value is None or value is False:
        return None
    arr = as_numpy(value) if isinstance(value, (NDArray, np.ndarray)) else None
    if arr is None or arr.shape[:1] not in ((1,), (3,)):
        got = getattr(arr, "shape", type(value).__name__)
        raise MXNetValueError(f"CreateAugmenter: {name} must be True, None or an array of 1 or "
                              f"3 values (r, g, b), got {got}")
    return arr


def CreateAugmenter(data_shape, resize=0, rand_crop=False, rand_resize=False,
                    rand_mirror=False, mean=None, std=None, brightness=0, contrast=0,
                    saturation=0, hue=0, pca_noise=0, rand_gray=0, inter_method=2):
    """The augmenter list MXNet builds for ``data_shape`` = (3, h, w): optional shorter-side
    resize, a crop (random-sized, random or centre), optional mirror, cast to float32, colour
    jitter, hue, PCA noise, random grey, then mean/std normalisation (``True`` takes the
    ImageNet statistics). See notebook 03.
    """
    auglist = []
    if resize > 0:
        auglist.append(ResizeAug(resize, inter_method))
    crop_size = (data_shape[2], data_shape[1])
    if rand_resize:
        if not rand_crop:
            raise MXNetValueError("CreateAugmenter: rand_resize=True needs rand_crop=True")
        auglist.append(RandomSizedCropAug(crop_size, 0.08, (3.0 / 4.0, 4.0 / 3.0),
                                          inter_method))
    elif rand_crop:
        auglist.append(RandomCropAug(crop_size, inter_method))
    else:
        auglist.append(CenterCropAug(crop_size, inter_method))
    if rand_mirror:
        auglist.append(HorizontalFlipAug(0.5))
    auglist.append(CastAug())
    if brightness or contrast or saturation:
        auglist.append(ColorJitterAug(brightness, contrast, saturation))
    if hue:
        auglist.append(HueJitterAug(hue))
    if pca_noise > 0:
        auglist.append(LightingAug(pca_noise, PCA_EIGVAL, PCA_EIGVEC))
    if rand_gray > 0:
        auglist.append(RandomGrayAug(rand_gray))
    mean = _check_stat("mean", mean, IMAGENET_MEAN)
    std = _check_stat("std", std, IMAGENET_STD)
    if mean is not None or std is not None:
        auglist.append(ColorNormalizeAug(mean, std))
    return auglist
