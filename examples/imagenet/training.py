"""One epoch of training and one evaluation, under autocast when asked (bfloat16 or float16)."""
import itertools
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from tqdm import tqdm

from data import topk_correct

AMP_DTYPES = {"none": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _autocast(device: torch.device, amp: str):
    dtype = AMP_DTYPES[amp]
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def _batches(loader, steps: Optional[int], label: str, runtime):
    total = len(loader) if steps is None else min(steps, len(loader))
    return tqdm(itertools.islice(loader, total), total=total, desc=label, leave=False, disable=not runtime.main)


def train_epoch(net, loader, optimizer, scaler, amp: str, steps: Optional[int], label: str, runtime) -> float:
    """Trains net (the model, or its DDP wrapper) on up to `steps` batches; the mean loss over all ranks."""
    net.train()
    total, count = 0.0, 0
    for images, labels in _batches(loader, steps, label, runtime):
        images, labels = images.to(runtime.device), labels.to(runtime.device)
        optimizer.zero_grad(set_to_none=True)
        with _autocast(runtime.device, amp):
            loss = F.cross_entropy(net(images), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)  # masked layers re-zero their pruned weights after every optimizer step
        scaler.update()
        total += loss.item() * len(labels)
        count += len(labels)
    total, count = runtime.sum([total, count])
    return total / max(count, 1)


@torch.no_grad()
def evaluate(model, loader, amp: str, steps: Optional[int], runtime) -> Tuple[float, float]:
    """(top-1, top-5) accuracy over every rank's share of the validation images."""
    model.eval()
    top1 = top5 = count = 0
    for images, labels in _batches(loader, steps, "evaluate", runtime):
        images, labels = images.to(runtime.device), labels.to(runtime.device)
        with _autocast(runtime.device, amp):
            logits = model(images)
        hits1, hits5 = topk_correct(logits.float(), labels)
        top1, top5, count = top1 + hits1, top5 + hits5, count + len(labels)
    top1, top5, count = runtime.sum([top1, top5, count])
    return top1 / max(count, 1), top5 / max(count, 1)
