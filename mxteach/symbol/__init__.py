"""``mx.sym``: Symbol, Variable, Group, load/save and every registered operator."""
from .symbol import Symbol
from .frontend import Variable, var, Group, load, load_json, AttrScope
from . import frontend as _frontend

_frontend.install(globals())


