"""``python -m mxteach.tools.im2rec``: MXNet's im2rec for a folder of images.

Two modes, with MXNet 1.9.1's options and file formats:

* ``--list``: write ``PREFIX.lst`` (``index<TAB>label(s)<TAB>relative path`` per line; with
  ``--recursive`` each sub-folder is a class, numbered in sorted order). ``--no-shuffle``
  keeps the sorted order, otherwise the list is shuffled with ``random.seed(100)`` as MXNet
  does (the same folder gives the same list). ``--train-ratio``/``--test-ratio`` split it into
  ``_train``/``_val``/``_test`` lists, ``--chunks`` into ``_0``, ``_1`` ...
* pack (the default): for every ``PREFIX*.lst`` beside PREFIX, read the listed images under
  ROOT, optionally centre-crop to a square and resize the shorter side (``--resize``),
  re-encode (``--encoding``, ``--quality``) or copy the file bytes (``--pass-through``), and
  write ``.rec`` + ``.idx`` through ``mxteach.recordio``. ``--num-thread`` threads encode.

Example::

    python -m mxteach.tools.im2rec data/digits data/digits_png --list --recursive
    python -m mxteach.tools.im2rec data/digits data/digits_png --resize 32

See notebook 03.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
from concurrent.futures import ThreadPoolExecutor

__all__ = ["list_images", "make_list", "read_list", "encode_image", "pack_list", "main"]


def list_images(root, recursive, exts):
    """``(index, relative path, label)`` for the images under ``root`` in sorted order;
    with ``recursive`` the label is the number of the image's folder."""
    exts = {e.lower() for e in exts}
    items = []
    if recursive:
        folders = {}
        for path, dirs, files in os.walk(root, followlinks=True):
            dirs.sort()
            for fname in sorted(files):
                full = os.path.join(path, fname)
                if os.path.isfile(full) and os.path.splitext(fname)[1].lower() in exts:
                    label = folders.setdefault(path, len(folders))
                    items.append((len(items), os.path.relpath(full, root), label))
        for path, label in folders.items():
            print(os.path.relpath(path, root), label)
    else:
        for fname in sorted(os.listdir(root)):
            full = os.path.join(root, fname)
            if os.path.isfile(full) and os.path.splitext(fname)[1].lower() in exts:
                items.append((len(items), os.path.relpath(full, root), 0))
    return items


def write_list(path, items):
    """Write ``items`` in the ``.lst`` format (labels as ``%f``)."""
    with open(path, "w") as fout:
        for item in items:
            labels = "".join(f"{float(v):f}\t" for v in item[2:])
            fout.write(f"{item[0]}\t{labels}{item[1]}\n")


def make_list(args):
    """List mode: the ``.lst`` file(s) for ``args.root``."""
    items = list_images(args.root, args.recursive, args.exts)
    if args.shuffle:
        random.seed(100)          # MXNet's fixed seed: the same folder, the same list
        random.shuffle(items)
    chunk = (len(items) + args.chunks - 1) // args.chunks
    for c in range(args.chunks):
        part = items[c * chunk:(c + 1) * chunk]
        stem = args.prefix + (f"_{c}" if args.chunks > 1 else "")
        n_train, n_test = int(chunk * args.train_ratio), int(chunk * args.test_ratio)
        if args.train_ratio == 1.0:
            write_list(stem + ".lst", part)
            continue
        if args.test_ratio:
            write_list(stem + "_test.lst", part[:n_test])
        if args.train_ratio + args.test_ratio < 1.0:
            write_list(stem + "_val.lst", part[n_test + n_train:])
        write_list(stem + "_train.lst", part[n_test:n_test + n_train])


def read_list(path):
    """``[index, relative path, label, ...]`` per valid line of an ``.lst`` file; bad lines
    are reported and skipped, as MXNet's im2rec does."""
    items = []
    with open(path) as fin:
        for lineno, line in enumerate(fin, 1):
            fields = [f.strip() for f in line.strip().split("\t")]
            if len(fields) < 3:
                print(f"{path} line {lineno}: expected index, label(s) and path separated by "
                      f"tabs, got {len(fields)} field(s); skipped")
                continue
            try:
                items.append([int(fields[0]), fields[-1]] + [float(v) for v in fields[1:-1]])
            except ValueError as err:
                print(f"{path} line {lineno}: {err}; skipped")
    return items


def encode_image(args, item):
    """The packed record of one list item, or None when the image cannot be read."""
    import cv2
    from mxteach import recordio
    label = item[2:] if len(item) > 3 and args.pack_label else item[2]
    header = recordio.IRHeader(0, label, item[0], 0)
    path = os.path.join(args.root, item[1])
    if args.pass_through:
        try:
            with open(path, "rb") as fin:
                return recordio.pack(header, fin.read())
        except OSError as err:
            print(f"pass-through: cannot read {path}: {err}")
            return None
    img = cv2.imread(path, args.color)
    if img is None:
        print(f"imread: cannot read an image from {path}; skipped")
        return None
    if args.center_crop:
        h, w = img.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        img = img[top:top + side, left:left + side]
    if args.resize:
        h, w = img.shape[:2]
        size = (args.resize, h * args.resize // w) if h > w else (w * args.resize // h,
                                                                  args.resize)
        img = cv2.resize(img, size)
    flag = [cv2.IMWRITE_JPEG_QUALITY if args.encoding == ".jpg" else
            cv2.IMWRITE_PNG_COMPRESSION, args.quality]
    ok, buf = cv2.imencode(args.encoding, img, flag)
    if not ok:
        print(f"imencode failed for {path}; skipped")
        return None
    return recordio.pack(header, buf.tobytes())


def pack_list(args, lst_path):
    """Pack mode for one ``.lst``: write its ``.rec`` and ``.idx`` beside it."""
    from mxteach import recordio
    stem = os.path.splitext(lst_path)[0]
    items = read_list(lst_path)
    print("Creating .rec file from", lst_path)
    writer = recordio.MXIndexedRecordIO(stem + ".idx", stem + ".rec", "w")
    count = 0
    try:
        with ThreadPoolExecutor(max(1, args.num_thread)) as pool:
            for item, record in zip(items, pool.map(lambda it: encode_image(args, it), items)):
                if record is not None:
                    writer.write_idx(item[0], record)
                    count += 1
    finally:
        writer.close()
    print(f"wrote {count} records to {stem}.rec")
    return count


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Make an image list (--list) or pack listed images into a RecordIO file.")
    parser.add_argument("prefix", help="prefix of the .lst/.rec/.idx files")
    parser.add_argument("root", help="folder that holds the images")
    lists = parser.add_argument_group("list mode")
    lists.add_argument("--list", action="store_true", help="write the .lst file(s)")
    lists.add_argument("--exts", nargs="+", default=[".jpeg", ".jpg", ".png"])
    lists.add_argument("--chunks", type=int, default=1)
    lists.add_argument("--train-ratio", type=float, default=1.0)
    lists.add_argument("--test-ratio", type=float, default=0)
    lists.add_argument("--recursive", action="store_true",
                       help="one label per sub-folder")
    lists.add_argument("--no-shuffle", dest="shuffle", action="store_false")
    pack = parser.add_argument_group("pack mode")
    pack.add_argument("--pass-through", action="store_true",
                      help="store the file bytes unchanged")
    pack.add_argument("--resize", type=int, default=0, help="shorter side in pixels")
    pack.add_argument("--center-crop", action="store_true", help="crop to a central square")
    pack.add_argument("--quality", type=int, default=95)
    pack.add_argument("--num-thread", type=int, default=1)
    pack.add_argument("--color", type=int, default=1, choices=[-1, 0, 1])
    pack.add_argument("--encoding", type=str, default=".jpg", choices=[".jpg", ".png"])
    pack.add_argument("--pack-label", action="store_true",
                      help="store every label of multi-label lines")
    args = parser.parse_args(argv)
    args.prefix = os.path.abspath(args.prefix)
    args.root = os.path.abspath(args.root)
    return args


def main(argv=None):
    """Run im2rec; returns the process exit code. See notebook 03."""
    args = parse_args(argv)
    if args.list:
        make_list(args)
        return 0
    folder = args.prefix if os.path.isdir(args.prefix) else os.path.dirname(args.prefix)
    lists = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                   if f.endswith(".lst") and os.path.join(folder, f).startswith(args.prefix))
    for path in lists:
        pack_list(args, path)
    if not lists:
        print(f"Did not find any list file with prefix {args.prefix}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
