"""``DelayLine``: ``y[t] = x[t - delay]`` element-wise, ``y = 0`` for the first ``delay`` steps.

The delay that balances paths of different latency (docs/lava.md, "Latency"). Its model sends before it receives,
like Lava's Dense, so it may sit on a recurrent loop without deadlocking. Values are integers (binary or graded
spikes, or synaptic activations) passed through unchanged. This module imports only lava and numpy: Lava's compiler
executes it again on its own when it searches for process models.
"""

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol


class DelayLine(AbstractProcess):
    """Delays its input by ``delay >= 1`` steps; ``buffer[0]`` is what it sends next."""

    def __init__(self, *, shape: tuple[int, ...], delay: int, name: str | None = None) -> None:
        if delay < 1:
            raise ValueError(f"DelayLine needs delay >= 1, got {delay}")
        super().__init__(shape=shape, delay=delay, name=name)
        self.s_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.buffer = Var(shape=(delay, *shape), init=0)


@implements(proc=DelayLine, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyDelayLineFixed(PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    buffer: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def run_spk(self) -> None:
        self.s_out.send(self.buffer[0])
        self.buffer[:-1] = self.buffer[1:]
        self.buffer[-1] = self.s_in.recv()
