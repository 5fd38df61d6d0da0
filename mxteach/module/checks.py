"""What Module checks before it binds or re-binds: input names, input descriptions, the dtypes
parameters would get, and whether a batch of new shape may re-bind without new weights.
See notebook 02."""
from __future__ import annotations

import warnings

import numpy as np

from ..base import DTypeError, MXNetError, MXNetKeyError, MXNetValueError, ShapeError, \
    did_you_mean
from ..io import DataDesc, check_bind_shapes

__all__ = ["check_names", "parse_descs", "check_param_dtypes", "check_reshape"]


def check_names(symbol, names, kind, throw):
    """Every name in ``names`` must be an argument of ``symbol`` (warn instead unless
    ``throw``: MXNet only warns for label names)."""
    args = symbol.list_arguments()
    for name in names:
        if name in args:
            continue
        msg = (f"Module was created with {kind}_names containing '{name}', which is not an "
               f"argument of the symbol (arguments: {args}).{did_you_mean(name, args)}")
        if throw:
            raise MXNetValueError(msg)
        warnings.warn(msg, stacklevel=4)


def parse_descs(names, shapes, kind):
    """DataDescs from ``shapes`` (descs or (name, shape) pairs), named as ``names``."""
    if shapes is None:
        return None
    descs = [d if isinstance(d, DataDesc) else DataDesc(*d) for d in shapes]
    check_bind_shapes(descs, kind)
    got = [d.name for d in descs]
    if sorted(got) != sorted(names):
        # MXNet: ValueError for data names; KeyError for label names (its label check only warns)
        error = MXNetValueError if kind == "data" else MXNetKeyError
        raise error(f"{kind}_shapes name {got}, but the module's {kind}_names are "
                    f"{list(names)}; they must match")
    return descs


def check_param_dtypes(symbol, param_names, descs):
    """Integer inputs must not make the parameters integers (they would train as zeros).
    MXNet fails later, inside the initializer; mxteach says which input did it."""
    args = symbol.list_arguments()
    given = {d.name: d.dtype for d in descs if d.name in args}
    arg_types, _, _ = symbol.infer_type_partial(**given)
    for name, dtype in zip(args, arg_types):
        if name in param_names and dtype is not None and \
                not np.issubdtype(np.dtype(dtype), np.floating):
            inputs = {n: np.dtype(t).name for n, t in given.items()}
            raise DTypeError(f"bind: parameter '{name}' would be {np.dtype(dtype).name} "
                             f"because the inputs are {inputs}; bind the data as float32 "
                             "(e.g. DataDesc('data', shape, dtype='float32')) — batches of "
                             "integers are then cast to it at forward")


def check_reshape(symbol, bound, new, param_names, executor):
    """A batch whose non-batch dimensions differ from ``bound`` may re-bind only if every
    parameter (argument or auxiliary state in ``param_names``) keeps the shape it has in
    ``executor`` — never silently new weights; otherwise ShapeError names the input, the bound
    shape and the given shape."""
    changed = []
    for old, desc in zip(bound, new):
        axis = DataDesc.get_batch_axis(old.layout)
        keep = [i for i in range(len(old.shape)) if i != axis]
        if len(old.shape) != len(desc.shape) or any(old.shape[i] != desc.shape[i]
                                                     for i in keep):
            changed.append((old, desc))
    if not changed:
        return
    old, desc = changed[0]
    what = (f"forward: input '{old.name}' has shape {desc.shape}, but the module was bound "
            f"with {old.shape}; only the batch axis may change automatically")
    try:
        arg_shapes, _, aux_shapes = symbol.infer_shape_partial(**{d.name: d.shape for d in new})
    except MXNetError as err:
        raise ShapeError(f"{what} ({err})") from None
    arrays = {**executor.arg_dict, **executor.aux_dict}
    names = symbol.list_arguments() + symbol.list_auxiliary_states()
    for name, shape in zip(names, arg_shapes + aux_shapes):
        if name in param_names and tuple(shape) != arrays[name].shape:
            raise ShapeError(f"{what}: parameter '{name}' would change shape from "
                             f"{arrays[name].shape} to {tuple(shape)}. Call mod.reshape() or "
                             "re-bind for a new input shape, or fix the data")
