"""Every ``@cuda.jit`` kernel in ``mxteach/kernels/cuda/`` compiles for a real GPU.

The simulator (``NUMBA_ENABLE_CUDASIM=1``) runs kernels as Python, so it accepts what a GPU
never would: Python objects, unsupported calls, types NVVM rejects, a shared array whose shape
is not a constant. Here each kernel goes through Numba's CUDA typing and NVVM to PTX for sm_75
(``numba.cuda.compile_ptx``; no GPU needed, only the NVVM wheels of the ``[cuda]`` extra:
``pip install -e '.[cuda]'``), and the PTX is assembled by nvJitLink to read what ptxas reports
per kernel: registers, shared memory, spills. The table is printed (``pytest -s``) and saved to
``test-artifacts/cuda_ptx.json``.

Kernels are found automatically (every kernel dispatcher in every module of the package, also
inside dicts/tuples such as ``nn._KERNELS``). Each needs argument types: a module declares them
in ``PTX_SIGNATURES = {"kernel name": ["{t}[::1], int64, boolean", ...]}`` (``{t}`` becomes
float32 and float64); ``_FALLBACK`` below holds them for kernels of modules that do not
declare any yet. A kernel with neither fails the test, by name.
"""
import json
import os
import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]
ARTIFACT = ROOT / "test-artifacts" / "cuda_ptx.json"

# kernel key "module.name" -> argument types, for modules without PTX_SIGNATURES
_FALLBACK = {
    "nn._unary_forward_kernel": ["{t}[::1], {t}[::1], int64, float64"],
    "nn._unary_backward_kernel": ["{t}[::1], {t}[::1], {t}[::1], {t}[::1], int64, float64, "
                                  "boolean"],
    "nn.naive": ["{t}[:, ::1], {t}[:, ::1], {t}[:, ::1], boolean, boolean, boolean"],
    "nn.tiled": ["{t}[:, ::1], {t}[:, ::1], {t}[:, ::1], boolean, boolean, boolean"],
}

_SCRIPT = textwrap.dedent("""
    import importlib, json, pkgutil, re, sys
    import numba.types as T
    from numba import cuda
    import numba.cuda.dispatcher as dispatcher
    from numba.cuda.dispatcher import CUDADispatcher
    try:
        cuda.compile_ptx(lambda a: None, (T.float32[::1],), cc=(7, 5))
    except Exception as err:
        print(json.dumps({"no_nvvm": repr(err)})); sys.exit(0)

    class Device:      # device functions ask the current (absent) GPU for its capability
        compute_capability = (7, 5)
    dispatcher.get_current_device = lambda: Device()

    FALLBACK = json.loads(sys.argv[1])
    import mxteach.kernels.cuda as pkg

    def kernels_in(value, depth=0):
        if isinstance(value, CUDADispatcher):
            if not value.targetoptions.get("device"):
                yield value
        elif depth < 2 and isinstance(value, dict):
            for v in value.values():
                yield from kernels_in(v, depth + 1)
        elif depth < 2 and isinstance(value, (tuple, list)):
            for v in value:
                yield from kernels_in(v, depth + 1)

    def link_info(ptx, name):
        from cuda.bindings import nvjitlink as nj
        h = nj.create(2, ["-arch=sm_75", "-verbose"])
        try:
            data = ptx.encode()
            nj.add_data(h, nj.InputType.PTX, data, len(data), name)
            nj.complete(h)
            buf = bytearray(nj.get_info_log_size(h))
            nj.get_info_log(h, buf)
        finally:
            nj.destroy(h)
        log = buf.decode(errors="replace")
        info = {}
        for key, pat in (("registers", r"[Uu]sed (\\d+) registers"),
                         ("shared_bytes", r"(\\d+) bytes smem"),
                         ("spill_stores", r"(\\d+) bytes spill stores"),
                         ("spill_loads", r"(\\d+) bytes spill loads"),
                         ("stack_bytes", r"(\\d+) bytes stack frame")):
            m = re.search(pat, log)
            info[key] = int(m.group(1)) if m else None
        return info

    rows, missing, failed = [], [], []
    for mod in sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)):
        try:
            module = importlib.import_module(f"mxteach.kernels.cuda.{mod}")
        except Exception as err:
            failed.append(f"import {mod}: {type(err).__name__}: {err}"); continue
        declared = getattr(module, "PTX_SIGNATURES", {})
        seen = set()
        for attr, value in sorted(vars(module).items()):
            for k in kernels_in(value):
                if id(k) in seen:
                    continue
                seen.add(id(k))
                name = k.py_func.__name__
                key = f"{mod}.{name}"
                sigs = declared.get(name) or FALLBACK.get(key)
                if not sigs:
                    missing.append(key); continue
                for t in ("float32", "float64"):
                    for sig in sigs:
                        text = sig.replace("{t}", t)
                        try:
                            args = eval("(" + text + ",)", vars(T))
                            ptx, _ = cuda.compile_ptx(k.py_func, args, cc=(7, 5))
                            info = link_info(ptx, name)
                        except Exception as err:
                            failed.append(f"{key}({text}): {type(err).__name__}: "
                                          f"{str(err)[:600]}")
                            continue
                        rows.append({"kernel": key, "dtype": t, "signature": text, **info})
    print(json.dumps({"rows": rows, "missing": missing, "failed": failed}))
""")


def _compile_all():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(_FALLBACK)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_cuda_kernel_compiles_to_ptx_for_sm75():
    result = _compile_all()
    assert "no_nvvm" not in result, (
        "NVVM is missing, so CUDA kernels cannot be compiled for a real GPU: install the "
        f"[cuda] extra (pip install -e '.[cuda]'): {result.get('no_nvvm')}")
    rows = result["rows"]
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(rows, indent=1))
    print(f"\n{'kernel':42} {'args':8} {'regs':>5} {'smem B':>7} {'spill':>6}")
    for r in rows:
        print(f"{r['kernel']:42} {r['dtype']:8} {r['registers']!s:>5} {r['shared_bytes']!s:>7} "
              f"{r['spill_stores']!s:>6}")
    problems = result["failed"] + [
        f"{key}: no argument types (declare PTX_SIGNATURES in its module)"
        for key in result["missing"]]
    assert problems == [], "\n".join(problems)
    kernels = {r["kernel"] for r in rows}
    # the generic launchers and the tree reductions are among them, with real ptxas numbers
    for key in ("elemwise._map_kernel", "elemwise._grad_kernel", "reduce._reduce_kernel",
                "loss._softmax_forward_kernel", "shape._take_backward_kernel", "nn.tiled"):
        assert key in kernels
    smem = {r["kernel"]: r["shared_bytes"] for r in rows}
    assert smem["reduce._reduce_kernel"] == 2 * 256 * 8      # values and indices, float64
    assert all(r["registers"] for r in rows)
