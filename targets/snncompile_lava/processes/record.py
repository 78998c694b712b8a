"""``Recorder``: writes what its InPort receives at every step into a ``.npy`` file, row ``time_step - 1``.

Lava's own sinks keep their buffer in a Var, and reading a Var back (``Var.get``) moves it one element per message
(about 17 us each here: 3.5 s for 256 neurons x 800 steps). The recorder's model runs in its own process (Lava forks
one per process) and writes into a memory-mapped file that the caller created with the right shape and dtype
(``numpy.lib.format.open_memmap``) and reads after the run; Linux shares the mapped pages, so nothing is copied
through Lava's channels. This module imports only lava and numpy: Lava's compiler executes it again on its own
when it searches for process models.
"""

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol


class Recorder(AbstractProcess):
    """Records ``shape``-shaped integers into ``path``, an ``.npy`` file of shape ``(steps, *shape)``, int32."""

    def __init__(self, *, shape: tuple[int, ...], path: str, name: str | None = None) -> None:
        super().__init__(shape=shape, path=path, name=name)
        self.a_in = InPort(shape=shape)


@implements(proc=Recorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyRecorderFixed(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)

    def run_spk(self) -> None:
        if not hasattr(self, "file"):
            self.file = np.lib.format.open_memmap(self.proc_params["path"], mode="r+")
        self.file[self.time_step - 1] = self.a_in.recv()
