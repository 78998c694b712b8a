"""snncompile_lava.compat: with the fixes, Lava's own LIF and Dense run under Loihi2SimCfg(select_tag='fixed_pt')
through a flattened port and give the spikes of the documented equations (written out here in numpy); the fixes
install once; without them (in a subprocess) Python 3.11 refuses ByteEncoder's dataclass default, and with only that
fix the reshaped port fails inside Lava's runtime (numpy >= 2.4 has no ``newshape``)."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from snncompile_lava import compat

RUN = textwrap.dedent("""
    import numpy as np
    {prelude}
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF

    def run(x, w, du, dv, vth):
        src = Source(data=x)
        dense = Dense(weights=w)
        lif = LIF(shape=(w.shape[0],), du=du, dv=dv, vth=vth)
        sink = Sink(shape=(w.shape[0],), buffer=x.shape[-1])
        src.s_out.flatten().connect(dense.s_in)
        dense.a_out.connect(lif.a_in)
        lif.s_out.connect(sink.a_in)
        lif.run(condition=RunSteps(num_steps=x.shape[-1]), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        try:
            return sink.data.get()
        finally:
            lif.stop()
""")


def expected(x: np.ndarray, w: np.ndarray, du: int, dv: int, vth: int) -> np.ndarray:
    """TARGETS' bit-accurate CUBA LIF fed by a Dense that delivers one step late; x is ``(3, 4, T)``."""
    flat = x.reshape(12, -1)
    u = v = np.zeros(w.shape[0], np.int64)
    a = np.zeros(w.shape[0], np.int64)
    out = []
    for t in range(flat.shape[1]):
        du_ = u * (4096 - (du + 1))
        u = np.sign(du_) * (np.abs(du_) >> 12) + (a << 6)
        dv_ = v * (4096 - dv)
        v = np.sign(dv_) * (np.abs(dv_) >> 12) + u
        s = v > (vth << 6)
        v = np.where(s, 0, v)
        out.append(s)
        a = w[:, flat[:, t] > 0].sum(1)
    return np.array(out, np.int64).T


def test_lava_lif_and_dense_run_fixed_point_through_a_flattened_port():
    compat.install()
    namespace: dict = {}
    exec(RUN.format(prelude=""), namespace)
    rng = np.random.default_rng(0)
    x = (rng.random((3, 4, 20)) < 0.4).astype(np.int32)
    w = 2 * rng.integers(-20, 40, (5, 12))
    got = namespace["run"](x, w, du=1024, dv=512, vth=100)
    want = expected(x, w, du=1024, dv=512, vth=100)
    assert 0 < want.mean() < 1
    np.testing.assert_array_equal(got, want)


def test_install_is_idempotent_and_marks_what_it_patched():
    compat.install()
    compat.install()
    assert sum(isinstance(f, compat.LavaFixFinder) for f in sys.meta_path) == 1
    import lava.magma.compiler.var_model as var_model
    import lava.magma.core.process.ports.ports as ports

    assert getattr(var_model, compat.PATCHED_FLAG) and getattr(ports, compat.PATCHED_FLAG)
    a, b = var_model.CoreEncoder(), var_model.CoreEncoder()
    assert a.x == var_model.ByteEncoder() and a.x is not b.x  # default_factory: one encoder per instance


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_without_the_fixes_lava_does_not_import():
    done = _python("import lava.proc.lif.process")
    assert done.returncode != 0
    assert "mutable default <class 'lava.magma.compiler.var_model.ByteEncoder'> for field" in done.stderr


def test_without_the_reshape_fix_a_flattened_port_fails_in_the_runtime():
    prelude = ("from snncompile_lava import compat\n"
               "del compat.PATCHES['lava.magma.core.process.ports.ports']\n"
               "compat.install()")
    call = "\nrun(np.ones((3, 4, 5), np.int32), np.full((2, 12), 10), du=4095, dv=0, vth=10)\n"
    done = _python(RUN.replace("{prelude}", prelude) + call)
    assert done.returncode != 0 and "RuntimeError" in done.stderr, done.stderr[-2000:]
    fixed = _python(RUN.replace("{prelude}", "from snncompile_lava import compat\ncompat.install()")
                    + "\nprint(int(" + call.strip() + ".sum()))\n")
    assert fixed.returncode == 0 and fixed.stdout.split() == ["8"], fixed.stderr[-2000:]


def test_another_lava_release_fails_loudly():
    with pytest.raises(compat.LavaCompatError, match=r"m: expected 8 occurrence\(s\) of .*found 0; the compatibility"
                                                     r" fixes are written for lava-nc 0.10.0"):
        compat.patch_source("m", "no encoders here", compat.PATCHES["lava.magma.compiler.var_model"][1:])


def test_lava_imported_before_the_fixes_is_an_error():
    done = _python("import sys, types\n"
                   "sys.modules['lava.magma.core.process.ports.ports'] = types.ModuleType('ports')\n"
                   "from snncompile_lava import compat\n"
                   "try:\n    compat.install()\nexcept compat.LavaCompatError as err:\n    print(err)\n")
    assert done.stdout.strip() == ("lava.magma.core.process.ports.ports was imported before "
                                   "snncompile_lava.compat.install(); call install() before the first import of lava")
