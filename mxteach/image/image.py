"""Image functions of ``mx.image``: decode, resize and crop HWC images as MXNet 1.9.1 does.

MXNet decodes and resizes with OpenCV (built into libmxnet); so does this module, through
``opencv-python-headless``: the same libjpeg-turbo decoder and the same fixed-point bilinear
resize give the same pixels as MXNet (Pillow's resize filters with an antialiasing kernel and
differs by tens of grey levels on a downscale). ``cv2`` is imported on first use, so
``import mxteach`` stays light. Images are ``(height, width, channels)`` NDArrays in RGB
order; random crops draw from Python's ``random`` module, as MXNet's do, so ``random.seed``
gives the same crops in both.
"""
from __future__ import annotations

import random
from numbers import Number

import numpy as np

from ..base import MXNetError, MXNetValueError
from ..ndarray.ndarray import NDArray

__all__ = ["imread", "imdecode", "imresize", "scale_down", "copyMakeBorder", "resize_short",
           "fixed_crop", "random_crop", "center_crop", "color_normalize", "random_size_crop"]

INTERP_NAMES = {0: "nearest", 1: "bilinear", 2: "bicubic", 3: "area", 4: "lanczos"}


_CV2 = []


def cv2():
    """The OpenCV module, imported on first use (a core dependency of mxteach).

    OpenCV's own thread pool is switched off (``cv2.setNumThreads(0)``): the decoding
    threads of the iterators are the parallelism, and a second pool inside each small
    resize only competes with them for the cores (0.09 against 0.05 ms per 160 px image)."""
    if not _CV2:
        import cv2 as _cv2
        _cv2.setNumThreads(0)
        _CV2.append(_cv2)
    return _CV2[0]


def as_numpy(src):
    """The pixels of an NDArray or numpy array, without a copy."""
    return src._data if isinstance(src, NDArray) else np.asarray(src)


def _wrap(pixels, out=None):
    if out is not None:
        out[:] = pixels
        return out
    return NDArray(np.ascontiguousarray(pixels))


def decode_pixels(buf, flag=1, to_rgb=True, where="buffer"):
    """Decoded pixels as a numpy uint8 ``(h, w, c)`` array (``c`` 3, or 1 when ``flag`` is 0).

    ``where`` names the data in the error (a file name, a record index)."""
    data = np.frombuffer(buf, dtype=np.uint8) if isinstance(buf, (bytes, bytearray, memoryview)) \
        else np.asarray(as_numpy(buf), dtype=np.uint8).ravel()
    if data.size == 0:
        raise MXNetError(f"imdecode: {where} is empty (0 bytes); expected the bytes of an "
                         "encoded image (JPEG, PNG, ...)")
    img = cv2().imdecode(data, 1 if flag else 0)
    if img is None:
        head = bytes(data[:8]).hex(" ")
        raise MXNetError(f"imdecode: decoding failed for {where} ({data.size} bytes starting "
                         f"{head}): not an image file OpenCV can read (JPEG, PNG, BMP, ...)")
    if img.ndim == 2:
        return img[:, :, None]
    return img[:, :, ::-1] if to_rgb else img


def imdecode(buf, flag=1, to_rgb=1, out=None):
    """Decode an encoded image (bytes, or a uint8 NDArray/numpy array of them) to a uint8
    ``(h, w, 3)`` NDArray in RGB (``to_rgb=0``: BGR; ``flag=0``: ``(h, w, 1)`` grey).

    Raises :class:`MXNetError` for an empty buffer or bytes that are not an image.
    See notebook 03.
    """
    return _wrap(decode_pixels(buf, flag, to_rgb), out)


def imread(filename, flag=1, to_rgb=1, out=None):
    """Read and decode an image file (see :func:`imdecode`)."""
    try:
        with open(filename, "rb") as fin:
            buf = fin.read()
    except OSError as err:
        raise MXNetError(f"imread: '{filename}' couldn't open file: {err.strerror}") from None
    return _wrap(decode_pixels(buf, flag, to_rgb, where=f"file '{filename}'"), out)


def check_interp(interp):
    if interp not in INTERP_NAMES:
        raise MXNetValueError(f"Unknown interp method {interp}: expected 0 (nearest), "
                              "1 (bilinear), 2 (bicubic), 3 (area), 4 (lanczos), 9 (auto) or "
                              "10 (random)")
    return interp


def resize_pixels(pixels, w, h, interp=1):
    """OpenCV's resize of a numpy HWC image to width ``w`` and height ``h``."""
    for name, value in (("w", w), ("h", h)):
        if int(value) < 1:
            raise MXNetValueError(f"imresize: value {value} for parameter {name} should be "
                                  ">= 1 (the {'width' if name == 'w' else 'height'} of the "
                                  "resized image)")
    out = cv2().resize(pixels, (int(w), int(h)), interpolation=check_interp(interp))
    return out[:, :, None] if out.ndim == 2 else out


def imresize(src, w, h, interp=1, out=None):
    """Resize ``src`` (HWC) to width ``w`` and height ``h``; ``interp`` as OpenCV's codes
    (0 nearest, 1 bilinear, 2 bicubic, 3 area, 4 lanczos)."""
    return _wrap(resize_pixels(as_numpy(src), w, h, interp), out)


def scale_down(src_size, size):
    """Shrink the crop ``size`` = (w, h) until it fits into ``src_size`` = (w, h), keeping
    its aspect ratio."""
    w, h = size
    sw, sh = src_size
    if sh < h:
        w, h = float(w * sh) / h, sh
    if sw < w:
        w, h = sw, float(h * sw) / w
    return int(w), int(h)


def copyMakeBorder(src, top, bot, left, right, type=0, value=0.0, out=None):  # noqa: A002
    """Pad ``src`` with a border (OpenCV's border ``type``: 0 constant ``value``,
    1 replicate, 2 reflect, 4 reflect-101)."""
    pixels = cv2().copyMakeBorder(as_numpy(src), int(top), int(bot), int(left), int(right),
                                  int(type), value=value)
    return _wrap(pixels[:, :, None] if pixels.ndim == 2 else pixels, out)


def pick_interp(interp, sizes=()):
    """An OpenCV code for ``interp``: 9 picks by the resize direction (``sizes`` = old h, old w,
    new h, new w): bicubic to enlarge, area to shrink, bilinear otherwise; 10 draws one of
    0..4 at random."""
    if interp == 9:
        if sizes:
            if len(sizes) != 4:
                raise MXNetValueError(f"sizes must be (old h, old w, new h, new w), got {sizes}")
            oh, ow, nh, nw = sizes
            if nh > oh and nw > ow:
                return 2
            if nh < oh and nw < ow:
                return 3
            return 1
        return 2
    if interp == 10:
        return random.randint(0, 4)
    return check_interp(interp)


def resize_short(src, size, interp=2):
    """Resize so that the shorter side is ``size`` (integer arithmetic as MXNet).
   """
    h, w = as_numpy(src).shape[:2]
    if h > w:
        new_h, new_w = size * h // w, size
    else:
        new_h, new_w = size, size * w // h
    return imresize(src, new_w, new_h, interp=pick_interp(interp, (h, w, new_h, new_w)))


def fixed_crop(src, x0, y0, w, h, size=None, interp=2):
    """The ``w`` x ``h`` region at (``x0``, ``y0``), resized to ``size`` = (w, h) if given."""
    pixels = as_numpy(src)[y0:y0 + h, x0:x0 + w]
    if size is not None and (w, h) != tuple(size):
        return imresize(pixels, size[0], size[1], interp=pick_interp(interp, (h, w, size[1],
                                                                              size[0])))
    return NDArray(np.ascontiguousarray(pixels))


def random_crop(src, size, interp=2):
    """A crop of ``size`` = (w, h) (shrunk to fit) at a random place; returns
    ``(image, (x0, y0, w, h))``."""
    h, w = as_numpy(src).shape[:2]
    new_w, new_h = scale_down((w, h), size)
    x0 = random.randint(0, w - new_w)
    y0 = random.randint(0, h - new_h)
    return fixed_crop(src, x0, y0, new_w, new_h, size, interp), (x0, y0, new_w, new_h)


def center_crop(src, size, interp=2):
    """The central crop of ``size`` = (w, h) (shrunk to fit); returns
    ``(image, (x0, y0, w, h))``. See notebook 03."""
    h, w = as_numpy(src).shape[:2]
    new_w, new_h = scale_down((w, h), size)
    x0 = int((w - new_w) / 2)
    y0 = int((h - new_h) / 2)
    return fixed_crop(src, x0, y0, new_w, new_h, size, interp), (x0, y0, new_w, new_h)


def color_normalize(src, mean, std=None):
    """``(src - mean) / std`` per channel, in place on a float ``src`` (as MXNet)."""
    if mean is not None:
        src -= mean
    if std is not None:
        src /= std
    return src


def random_size_crop(src, size, area, ratio, interp=2, **kwargs):
    """A random crop covering a random share ``area`` (a float: (area, 1)) of the image with a
    random aspect ``ratio`` (log-uniform), resized to ``size``; the centre crop after 10
    failed draws. Returns ``(image, (x0, y0, w, h))``."""
    h, w = as_numpy(src).shape[:2]
    if "min_area" in kwargs:
        area = kwargs.pop("min_area")
    if kwargs:
        raise MXNetValueError(f"random_size_crop: unexpected keyword arguments {sorted(kwargs)}")
    if isinstance(area, Number):
        area = (area, 1.0)
    for _ in range(10):
        target_area = random.uniform(area[0], area[1]) * h * w
        new_ratio = np.exp(random.uniform(np.log(ratio[0]), np.log(ratio[1])))
        new_w = int(round(np.sqrt(target_area * new_ratio)))
        new_h = int(round(np.sqrt(target_area / new_ratio)))
        if new_w <= w and new_h <= h:
            x0 = random.randint(0, w - new_w)
            y0 = random.randint(0, h - new_h)
            return fixed_crop(src, x0, y0, new_w, new_h, size, interp), (x0, y0, new_w, new_h)
    return center_crop(src, size, interp)
