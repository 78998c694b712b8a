"""Run a published-style model under an old SpikingJelly and save a float64 CPU reference of every neuron's spikes.

Usage (one old SpikingJelly per process; it cannot share a venv with SpikingJelly 2.x)::

    pip install --no-deps --target /tmp/sjold/0.0.0.0.12 spikingjelly==0.0.0.0.12
    PYTHONPATH= .venv/bin/python tests/published/run_reference.py --model tests/published/spikformer_sj12.py \
        --sj-path /tmp/sjold/0.0.0.0.12 --out /tmp/ref/spikformer_sj12.npz --seed 0 --batch 2

What it does, in order:

1. puts ``--sj-path`` at ``sys.path[0]`` (and checks that ``import spikingjelly`` resolves there, not to the venv's
   2.x copy); any import of torchvision is refused;
2. relaxes the old SpikingJelly's CuPy check for the duration of ``build()`` only, so neurons written as published
   (``backend='cupy'``) can be constructed on a machine without CuPy (0.0.0.0.12:
   ``clock_driven.neuron.check_backend``, an assert; 0.0.0.0.14: ``activation_based.base.check_backend_library``,
   an ImportError raised by the ``backend`` property setter);
3. sets ``backend = 'torch'`` on every neuron whose backend is something else (0.0.0.0.12: plain attribute;
   0.0.0.0.14: property on ``base.MemoryModule``, stored in ``_backend``), and ``cupy_fp32_inference = False`` on
   0.0.0.0.12 single-step neurons;
4. casts the model to float64;
5. calibrates every BatchNorm: all weights 1.0, biases 0.5, running statistics recomputed from one random batch in
   train mode with ``momentum=None``, then a coordinate search over each BN's (scalar) weight and bias, recomputing
   all statistics after every trial, until every neuron layer fires within [--calib-lo, --calib-hi] on that batch;
6. ``eval()``, ``functional.reset_net``, forward on ``torch.rand(T, B, *INPUT_SHAPE, dtype=float64,
   generator=torch.Generator().manual_seed(seed))`` with forward hooks on every neuron;
7. writes OUT.npz (``input``, ``output``, ``spikes/<qualified name>`` -- ``#k`` appended for the k-th extra call of a
   module -- and ``meta``, a JSON string) and the state_dict to OUT with ``.npz`` replaced by ``.state_dict.pt``;
8. prints one JSON line (per-neuron firing rates and the rest of ``meta``); exit status 3 when a rate lies outside
   [--min-rate, --max-rate].
"""

import argparse
import importlib.abc
import importlib.util
import json
import math
import os
import sys
import time


class _RefuseImports(importlib.abc.MetaPathFinder):
    """Refuse imports of the named top-level packages (torchvision has no CPU build here) and note each attempt."""

    def __init__(self, names):
        self.names = set(names)
        self.attempts = []

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split('.')[0] in self.names:
            self.attempts.append(fullname)
            raise ImportError(f'run_reference.py refuses to import {fullname}')
        return None


def _log(*args):
    print(*args, file=sys.stderr, flush=True)


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', required=True, help='model file exposing build(), T and INPUT_SHAPE')
    p.add_argument('--sj-path', required=True, help='folder holding the old spikingjelly package')
    p.add_argument('--out', required=True, help='OUT.npz')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--build-kwargs', default='{}', help='JSON object passed to build(), e.g. \'{"leak": false}\'')
    p.add_argument('--calib-batch', type=int, default=4)
    p.add_argument('--calib-lo', type=float, default=0.03)
    p.add_argument('--calib-hi', type=float, default=0.35)
    p.add_argument('--calib-sweeps', type=int, default=6)
    p.add_argument('--min-rate', type=float, default=0.01)
    p.add_argument('--max-rate', type=float, default=0.60)
    p.add_argument('--threads', type=int, default=1)
    return p.parse_args(argv)


def _sj_version(sj_path):
    for entry in sorted(os.listdir(sj_path)):
        if entry.startswith('spikingjelly-') and entry.endswith('.dist-info'):
            return entry[len('spikingjelly-'): -len('.dist-info')]
    return 'unknown'


def _load_apis():
    """Import the old SpikingJelly APIs that exist in this copy; return {api: (neuron, functional, base)}."""
    apis = {}
    try:
        from spikingjelly.clock_driven import base as cd_base
        from spikingjelly.clock_driven import functional as cd_functional
        from spikingjelly.clock_driven import neuron as cd_neuron

        apis['clock_driven'] = (cd_neuron, cd_functional, cd_base)
    except ImportError as e:
        _log(f'no spikingjelly.clock_driven: {e}')
    try:
        from spikingjelly.activation_based import base as ab_base
        from spikingjelly.activation_based import functional as ab_functional
        from spikingjelly.activation_based import neuron as ab_neuron

        apis['activation_based'] = (ab_neuron, ab_functional, ab_base)
    except ImportError as e:
        _log(f'no spikingjelly.activation_based: {e}')
    return apis


class _AllowCupyWhileBuilding:
    """Let neurons record backend='cupy' at construction although CuPy is missing; restore the checks on exit."""

    def __init__(self, apis):
        self.apis = apis
        self.saved = []

    def __enter__(self):
        if 'clock_driven' in self.apis:
            neuron_mod = self.apis['clock_driven'][0]
            orig = neuron_mod.check_backend

            def check_backend(backend, _orig=orig):
                if backend == 'cupy':
                    return None
                return _orig(backend)

            self.saved.append((neuron_mod, 'check_backend', orig))
            neuron_mod.check_backend = check_backend
        if 'activation_based' in self.apis:
            base_mod = self.apis['activation_based'][2]
            orig = base_mod.check_backend_library

            def check_backend_library(backend, _orig=orig):
                if backend == 'cupy':
                    return None
                return _orig(backend)

            self.saved.append((base_mod, 'check_backend_library', orig))
            base_mod.check_backend_library = check_backend_library
        return self

    def __exit__(self, *exc):
        for mod, name, orig in reversed(self.saved):
            setattr(mod, name, orig)
        return False


def _load_model_module(path):
    name = 'published_model_' + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _neuron_info(m):
    info = {'class': f'{type(m).__module__}.{type(m).__qualname__}'}
    for key in ('tau', 'v_threshold', 'v_reset', 'decay_input', 'detach_reset', 'backend', 'step_mode'):
        if hasattr(m, key):
            info[key] = getattr(m, key)
    if hasattr(m, 'w') and hasattr(m.w, 'sigmoid'):
        info['sigmoid_w'] = float(m.w.detach().sigmoid())
    return info


def main(argv=None):
    args = _parse(argv)
    sj_path = os.path.abspath(args.sj_path)
    sys.path.insert(0, sj_path)
    refuse = _RefuseImports(['torchvision'])
    sys.meta_path.insert(0, refuse)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    import spikingjelly

    sj_file = os.path.abspath(spikingjelly.__file__)
    if not sj_file.startswith(sj_path + os.sep):
        raise SystemExit(f'spikingjelly resolved to {sj_file}, not under {sj_path}')
    sj_version = _sj_version(sj_path)
    _log(f'spikingjelly {sj_version} from {sj_file}; torch {torch.__version__}')

    apis = _load_apis()
    if not apis:
        raise SystemExit(f'no usable SpikingJelly API under {sj_path}')
    base_node_classes = tuple(api[0].BaseNode for api in apis.values())

    build_kwargs = json.loads(args.build_kwargs)
    torch.manual_seed(args.seed)
    with _AllowCupyWhileBuilding(apis):
        mod = _load_model_module(os.path.abspath(args.model))
        model = mod.build(**build_kwargs)
    T, input_shape = int(mod.T), tuple(mod.INPUT_SHAPE)

    neurons = [(n, m) for n, m in model.named_modules() if isinstance(m, base_node_classes)]
    if not neurons:
        raise SystemExit('the model holds no neuron of this SpikingJelly')
    used_apis = sorted({api for api, (neuron_mod, _, _) in apis.items() for _, m in neurons
                        if isinstance(m, neuron_mod.BaseNode)})
    reset_net = apis[used_apis[0]][1].reset_net

    switched = {}
    for name, m in neurons:
        backend = getattr(m, 'backend', None)
        if backend is not None and backend != 'torch':
            m.backend = 'torch'
            switched[name] = backend
        if getattr(m, 'cupy_fp32_inference', False):
            m.cupy_fp32_inference = False
            switched[name] = 'cupy_fp32_inference'
    model = model.double()

    # ---- hooks -------------------------------------------------------------------------------------------------
    state = {'record': None, 'sums': {}, 'order': []}

    def make_hook(name):
        def hook(module, inputs, output):
            s = state['sums'].setdefault(name, [0.0, 0])
            s[0] += float(output.detach().sum())
            s[1] += output.numel()
            if state['record'] is not None:
                state['record'].append((name, output.detach().cpu().numpy().copy()))

        return hook

    handles = [m.register_forward_hook(make_hook(n)) for n, m in neurons]
    bns = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    order_handles = [m.register_forward_pre_hook(lambda mod, inp, n=n: state['order'].append(n)) for n, m in bns]

    calib_x = torch.rand(T, args.calib_batch, *input_shape, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(args.seed + 1))

    def recompute_stats():
        for _, bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
        model.train()
        reset_net(model)
        with torch.no_grad():
            model(calib_x)
        model.eval()
        reset_net(model)

    def measure(x):
        state['sums'] = {}
        model.eval()
        reset_net(model)
        with torch.no_grad():
            y = model(x)
        reset_net(model)
        return {n: state['sums'][n][0] / state['sums'][n][1] for n, _ in neurons if n in state['sums']}, y

    # ---- BN calibration ----------------------------------------------------------------------------------------
    lo, hi = args.calib_lo, args.calib_hi
    params = {n: [1.0, 0.5] for n, _ in bns}

    def apply_params():
        with torch.no_grad():
            for n, bn in bns:
                if bn.affine:
                    bn.weight.fill_(params[n][0])
                    bn.bias.fill_(params[n][1])

    def loss(rates):
        main_l, tie = 0.0, 0.0
        for n, _ in neurons:
            r = max(rates.get(n, 0.0), 1e-5)
            main_l += max(0.0, math.log(lo / r)) + max(0.0, math.log(r / hi))
            tie += abs(math.log(r / math.sqrt(lo * hi)))
        return main_l, main_l + 1e-3 * tie

    def evaluate():
        apply_params()
        recompute_stats()
        rates, _ = measure(calib_x)
        return rates, loss(rates)

    t0 = time.time()
    n_eval = 1
    rates, (main_l, total) = evaluate()
    first_call = {}
    for i, n in enumerate(state['order']):
        first_call.setdefault(n, i)
    bn_order = sorted((n for n, _ in bns), key=lambda n: first_call.get(n, len(first_call)))
    _log(f'calibration start: loss {main_l:.3f}, rates ' + json.dumps({k: round(v, 3) for k, v in rates.items()}))
    sweep = 0
    while main_l > 0 and sweep < args.calib_sweeps:
        sweep += 1
        before = total
        for n in bn_order:
            if main_l == 0:
                break
            for idx, moves in ((1, (-1.0, -0.5, -0.25, 0.25, 0.5, 1.0)), (0, (0.5, 0.7, 1.4, 2.0))):
                best = (total, params[n][idx], rates, main_l)
                start = params[n][idx]
                for mv in moves:
                    params[n][idx] = start + mv if idx == 1 else start * mv
                    r, (ml, tl) = evaluate()
                    n_eval += 1
                    if tl < best[0] - 1e-12:
                        best = (tl, params[n][idx], r, ml)
                params[n][idx] = best[1]
                total, rates, main_l = best[0], best[2], best[3]
        _log(f'calibration sweep {sweep}: loss {main_l:.3f} after {n_eval} evaluations')
        if total >= before - 1e-9:
            break  # no move helped: the band cannot be met with scalar BN weights and biases
    rates, (main_l, total) = evaluate()  # leave the model at the chosen parameters and their statistics
    calib_info = {'loss': main_l, 'sweeps': sweep, 'evaluations': n_eval + 1, 'seconds': round(time.time() - t0, 2),
                  'band': [lo, hi], 'bn_weight_bias': params,
                  'calib_rates': {k: round(v, 4) for k, v in rates.items()}}
    for h in order_handles:
        h.remove()

    # ---- reference run -----------------------------------------------------------------------------------------
    model.float()
    model.double()  # parameters rounded to float32, so the float32 state_dict saved below holds exactly these values
    x = torch.rand(T, args.batch, *input_shape, dtype=torch.float64,
                   generator=torch.Generator().manual_seed(args.seed))
    state['record'] = []
    rates, y = measure(x)
    records = state['record']
    state['record'] = None
    for h in handles:
        h.remove()

    arrays = {'input': x.numpy(), 'output': y.detach().numpy()}
    calls = {}
    for name, arr in records:
        k = calls.get(name, 0)
        calls[name] = k + 1
        arrays[f'spikes/{name}' if k == 0 else f'spikes/{name}#{k}'] = arr
    out = os.path.abspath(args.out)
    if not out.endswith('.npz'):
        out += '.npz'
    sd_path = out[: -len('.npz')] + '.state_dict.pt'
    os.makedirs(os.path.dirname(out), exist_ok=True)
    torch.save({k: v.float() if v.is_floating_point() else v for k, v in model.state_dict().items()}, sd_path)

    meta = {
        'model': os.path.abspath(args.model),
        'build_kwargs': build_kwargs,
        'sj_version': sj_version,
        'sj_file': sj_file,
        'sj_api': used_apis,
        'torch': torch.__version__,
        'seed': args.seed,
        'batch': args.batch,
        'T': T,
        'input_shape': list(input_shape),
        'input': f'torch.rand({T}, {args.batch}, *{input_shape}, dtype=torch.float64, '
                 f'generator=torch.Generator().manual_seed({args.seed}))',
        'dtype': 'float64',
        'out': out,
        'state_dict': sd_path,
        'backend_switched_to_torch': switched,
        'torchvision_import_attempts': refuse.attempts,
        'neurons': {n: _neuron_info(m) for n, m in neurons},
        'calls': calls,
        'calibration': calib_info,
        'rates': {n: round(rates[n], 6) for n, _ in neurons if n in rates},
        'never_called': [n for n, _ in neurons if n not in rates],
    }
    meta['min_rate'] = min(meta['rates'].values())
    meta['max_rate'] = max(meta['rates'].values())
    bad = {n: r for n, r in meta['rates'].items() if not args.min_rate < r < args.max_rate}
    meta['out_of_range'] = bad
    arrays['meta'] = np.array(json.dumps(meta))
    np.savez_compressed(out, **arrays)
    print(json.dumps(meta), flush=True)
    return 3 if bad or meta['never_called'] else 0


if __name__ == '__main__':
    sys.exit(main())
