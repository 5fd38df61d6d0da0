"""MXNet's Reshape special codes (0, -1, -2, -3, -4), shared by the Reshape operator
(``ops/shape.py``) and ``NDArray.reshape``; it sits in the bottom layer so both can import it."""
from __future__ import annotations

import numpy as np

from .base import ShapeError


def infer_reshape(src, target, reverse=False):
    """Resolve ``target`` (which may hold special codes) against input shape ``src``.

    0 copies a dimension, -1 infers one, -2 copies all remaining, -3 merges two consecutive
    dimensions, -4 splits one into the next two values (one of them may be -1).
    """
    src = tuple(int(s) for s in src)
    target = tuple(int(t) for t in target)
    if reverse:  # MXNet reverses the code list as is, -4 groups included
        return infer_reshape(src[::-1], target[::-1], False)[::-1]
    out = []
    infer_at = None
    i = 0  # position in src
    j = 0
    while j < len(target):
        t = target[j]
        if t > 0:
            out.append(t)
            i += 1
        elif t == 0:
            if i >= len(src):
                raise ShapeError(f"Reshape: code 0 at position {j} has no input dimension "
                                 f"(input shape {src}, target {target})")
            out.append(src[i])
            i += 1
        elif t == -1:
            if infer_at is not None:
                raise ShapeError(f"Reshape: more than one -1 in target {target}")
            infer_at = len(out)
            out.append(-1)
            i += 1
        elif t == -2:
            out.extend(src[i:])
            i = len(src)
        elif t == -3:
            if i + 1 >= len(src):
                raise ShapeError(f"Reshape: -3 needs two input dimensions at {i} (input {src})")
            out.append(src[i] * src[i + 1])
            i += 2
        elif t == -4:
            if j + 2 >= len(target) or i >= len(src):
                raise ShapeError(f"Reshape: -4 needs two values after it (target {target})")
            d = src[i]
            a, b = target[j + 1], target[j + 2]
            if a == -1 and b == -1:
                raise ShapeError(f"Reshape: -4 split dims cannot both be -1 (target {target})")
            if a == -1:
                a = d // b
            if b == -1:
                b = d // a
            if a * b != d:
                raise ShapeError(f"Reshape: -4 split of {d} into ({a}, {b}) does not fit")
            out.extend([a, b])
            i += 1
            j += 2
        else:
            raise ShapeError(f"Reshape: invalid code {t} in target {target}")
        j += 1
    total = int(np.prod(src)) if src else 1
    if infer_at is not None:
        known = int(np.prod([d for k, d in enumerate(out) if k != infer_at])) if len(out) > 1 \
            else 1
        if known == 0 or total % known:
            raise ShapeError(f"Reshape: cannot infer -1 for input {src} into {target}")
        out[infer_at] = total // known
    if int(np.prod(out)) != total:
        raise ShapeError(f"Reshape: target shape {tuple(out)} (from {target}) has "
                         f"{int(np.prod(out))} elements, input {src} has {total}")
    return tuple(out)
