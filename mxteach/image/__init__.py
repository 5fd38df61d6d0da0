"""``mx.image``: decode, resize, crop and augment images as MXNet 1.9.1 does (OpenCV inside).

``import mxteach as mx; mx.image.imdecode(open('cat.jpg', 'rb').read())``. The functions
work on HWC NDArrays in RGB order; :func:`CreateAugmenter` builds MXNet's augmenter list and
:class:`ImageIter` batches images from a ``.rec`` file or an image list.

See notebook 03.
"""
from .image import (imread, imdecode, imresize, scale_down, copyMakeBorder, resize_short,
                    fixed_crop, random_crop, center_crop, color_normalize, random_size_crop)
from .augmenters import (Augmenter, SequentialAug, ResizeAug, ForceResizeAug, RandomCropAug,
                         RandomSizedCropAug, CenterCropAug, RandomOrderAug,
                         BrightnessJitterAug, ContrastJitterAug, SaturationJitterAug,
                         HueJitterAug, ColorJitterAug, LightingAug, ColorNormalizeAug,
                         RandomGrayAug, HorizontalFlipAug, CastAug, CreateAugmenter)
from .image_iter import ImageIter

__all__ = ["imread", "imdecode", "imresize", "scale_down", "copyMakeBorder", "resize_short",
           "fixed_crop", "random_crop", "center_crop", "color_normalize", "random_size_crop",
           "Augmenter", "SequentialAug", "ResizeAug", "ForceResizeAug", "RandomCropAug",
           "RandomSizedCropAug", "CenterCropAug", "RandomOrderAug", "BrightnessJitterAug",
           "ContrastJitterAug", "SaturationJitterAug", "HueJitterAug", "ColorJitterAug",
           "LightingAug", "ColorNormalizeAug", "RandomGrayAug", "HorizontalFlipAug", "CastAug",
           "CreateAugmenter", "ImageIter"]
