"""ImageRecordIter throughput: mxteach (OpenCV in Python worker threads) vs MXNet 1.9.1's C++
pipeline on the same ``.rec`` file, both with ``preprocess_threads`` decoding threads.

    .venv/bin/python benchmarks/bench_io.py [--images 512] [--side 160] [--threads 2]

The file holds ``--images`` JPEG records (quality 90) of about ``--side`` pixels, written once
by mxteach's recordio. Each framework runs in its own process (MXNet in the oracle venv),
rounds alternate the order, every run reads one warm-up epoch and then times ``--epochs``
epochs of ``resize`` + random crop to ``--crop`` + random mirror + mean/std normalisation,
batches of 64. The result is images per second (median over rounds) and the ratio
mxteach / MXNet; the goal is >= 0.8 on 2 threads.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import oracle_python  # noqa: E402

WORKER = """
import json, sys, time
cfg = json.loads(sys.argv[1])
if cfg['framework'] == 'mxnet':
    import mxnet as mx
else:
    import mxteach as mx
it = mx.io.ImageRecordIter(path_imgrec=cfg['rec'], data_shape=(3, cfg['crop'], cfg['crop']),
                           batch_size=64, resize=cfg['resize'], rand_crop=True,
                           rand_mirror=True, mean_r=123.7, mean_g=116.3, mean_b=103.5,
                           std_r=58.4, std_g=57.1, std_b=57.4,
                           preprocess_threads=cfg['threads'], prefetch_buffer=4)
def epoch():
    n = 0
    for b in it:
        b.data[0].asnumpy()
        n += b.data[0].shape[0] - b.pad
    it.reset()
    return n
epoch()
tic = time.perf_counter()
images = sum(epoch() for _ in range(cfg['epochs']))
print('@@IO@@' + json.dumps(images / (time.perf_counter() - tic)))
"""


def make_rec(path, images, side):
    import cv2
    import numpy as np
    from mxteach import recordio
    rng = np.random.RandomState(0)
    writer = recordio.MXRecordIO(str(path), "w")
    for i in range(images):
        h, w = side + rng.randint(-side // 8, side // 8 + 1), side + rng.randint(0, side // 4)
        small = rng.randint(0, 255, (h // 8 + 1, w // 8 + 1, 3)).astype(np.uint8)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)   # photo-like blobs
        buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        writer.write(recordio.pack(recordio.IRHeader(0, float(i % 10), i, 0), buf))
    writer.close()


def run(python, cfg):
    res = subprocess.run([python, "-c", WORKER, json.dumps(cfg)], capture_output=True,
                         text=True, timeout=900)
    if res.returncode != 0:
        raise RuntimeError(f"{cfg['framework']} worker failed:\n{res.stderr[-3000:]}")
    line = [x for x in res.stdout.splitlines() if x.startswith("@@IO@@")][-1]
    return float(json.loads(line[len("@@IO@@"):]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--side", type=int, default=160)
    ap.add_argument("--crop", type=int, default=112)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    oracle = oracle_python()
    if oracle is None:
        sys.exit("the MXNet 1.9.1 oracle venv is needed (make oracle)")
    with tempfile.TemporaryDirectory() as tmp:
        rec = Path(tmp) / "bench.rec"
        make_rec(rec, args.images, args.side)
        cfg = dict(rec=str(rec), crop=args.crop, resize=args.crop + args.crop // 7,
                   threads=args.threads, epochs=args.epochs)
        speeds = {"mxteach": [], "mxnet": []}
        for r in range(args.rounds):
            order = ("mxteach", "mxnet") if r % 2 == 0 else ("mxnet", "mxteach")
            for fw in order:
                python = oracle if fw == "mxnet" else sys.executable
                speeds[fw].append(run(python, dict(cfg, framework=fw)))
        size_mb = rec.stat().st_size / 1e6
    med = {fw: statistics.median(v) for fw, v in speeds.items()}
    ratio = med["mxteach"] / med["mxnet"]
    print(f"ImageRecordIter, {args.images} JPEGs (~{args.side}px, {size_mb:.1f} MB), "
          f"resize {cfg['resize']} + random crop {args.crop} + mirror + normalise, batch 64, "
          f"{args.threads} threads")
    for fw in ("mxteach", "mxnet"):
        runs = ", ".join(f"{v:.0f}" for v in speeds[fw])
        print(f"  {fw:8s} {med[fw]:8.0f} images/s  (rounds: {runs})")
    print(f"  ratio mxteach / MXNet = {ratio:.2f}  (goal >= 0.8)")
    return {"images_per_s": med, "ratio": ratio, "runs": speeds}


if __name__ == "__main__":
    main()
