"""Custom Lava processes of the Lava target, each with a bit-accurate ``fixed_pt`` Python model.

They live in a package of their own because Lava's compiler looks for a process's models by importing every module
in the process's folder and in its parent package: here that is only these modules. Importing this package installs
the compatibility fixes (``snncompile_lava.compat``) before anything imports lava.
"""

from ..compat import install

install()
