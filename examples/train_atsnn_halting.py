"""Fine-tune the AT-SNN digits checkpoint so that it halts tokens early: the ponder weight is warmed up linearly
from ``--ponder-start`` to ``--ponder-end`` over the epochs (A-ViT's warm-up; a large weight from scratch halts
every token before the classifier has learned anything, see docs/models/atsnn.md).

Starts from ``--init`` (the 98 % checkpoint trained with ponder weight 0.1 by examples/train_digits.py); Adam with a
cosine schedule, batch 64, T = 4, cross-entropy + ``auxiliary_loss()``; BN statistics recomputed at the end. Saves
the checkpoint of the last epoch (same config name and state_dict keys):

    python examples/train_atsnn_halting.py --epochs 8 --ponder-start 0.3 --ponder-end 0.3 --lr 5e-4 [--out PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch
from torch import nn

from snncompile.nn.atsnn import CONFIGS
from snncompile.nn.calibrate import recompute_batchnorm_stats
from snncompile.nn.data import load_digits_split
from snncompile.nn.layers import repeat_in_time

T = 4
BATCH = 64
HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", type=Path, default=HERE / "atsnn_digits.pt")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--ponder-start", type=float, default=0.2)
    parser.add_argument("--ponder-end", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=HERE / "atsnn_digits.pt")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    checkpoint = torch.load(args.init, map_location="cpu", weights_only=True)
    model = CONFIGS[checkpoint["config"]]()
    model.load_state_dict(checkpoint["state_dict"])
    x_train, y_train, x_test, y_test = load_digits_split()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    torch.set_flush_denormal(True)
    for epoch in range(args.epochs):
        share = epoch / max(args.epochs - 1, 1)
        weight = args.ponder_start + share * (args.ponder_end - args.ponder_start)
        model.halting = dataclasses.replace(model.halting, ponder_weight=weight)
        model.train()
        total = 0.0
        for idx in torch.randperm(len(x_train)).split(BATCH):
            loss = loss_fn(model(repeat_in_time(x_train[idx], T)), y_train[idx]) + model.auxiliary_loss()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        with torch.no_grad():
            model.eval()
            acc = (model(repeat_in_time(x_test, T)).argmax(1) == y_test).float().mean().item()
            stats = model.halting_statistics()
        always = [[int((1 - stats.live[0, block].mean(0) >= p).sum()) for p in (0.5, 0.8, 0.95)]
                  for block in range(stats.live.shape[1])]
        print(f"epoch {epoch + 1} ponder {weight:.3f} loss {total / len(x_train):.4f} test {acc:.4f} "
              f"live/step/block {stats.live_per_step_block.round(2).tolist()} tokens halted at every step in "
              f">= 50/80/95 % of the samples, per block {always} ({time.perf_counter() - start:.0f} s)", flush=True)
    recompute_batchnorm_stats(model, repeat_in_time(x_train, T))
    torch.set_flush_denormal(False)
    with torch.no_grad():
        acc = (model.eval()(repeat_in_time(x_test, T)).argmax(1) == y_test).float().mean().item()
    print(f"final test accuracy {acc:.4f}")
    torch.save({"config": checkpoint["config"], "T": T, "state_dict": model.state_dict(), "test_accuracy": acc},
               args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
