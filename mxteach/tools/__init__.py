"""Command-line tools, as MXNet ships them: ``python -m mxteach.tools.im2rec``."""
