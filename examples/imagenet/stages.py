"""The paper's stages as a resumable run: prune + retrain, quantize + fine-tune centroids, done.

The checkpoint names the next thing to do, (stage, epoch), and holds everything that thing depends
on: model (weights, masks, indices, codebooks), optimizer, LR scheduler, gradient scaler, pruning
schedule and every rank's random generators. Written at the end of each epoch and after
quantization, so a resumed run repeats at most one epoch and draws the same random numbers.
"""
import os
import torch

import deepcomp
import checkpoint
from networks import layer_densities
from training import evaluate, train_epoch

PRUNE, FINETUNE, DONE = "prune", "finetune", "done"


class Run:
    def __init__(self, args, runtime, model, names, train_loader, val_loader):
        self.args, self.runtime, self.model, self.names = args, runtime, model, names
        self.train_loader, self.val_loader = train_loader, val_loader
        self.path = os.path.join(args.out, "checkpoint.pt")
        self.criterion, self.targets = prune_targets(args, names)
        self.bits = {layer: args.conv_bits if isinstance(module, torch.nn.Conv2d) else args.fc_bits
                     for layer in names.values() for module in [model.get_submodule(layer)]}
        self.schedule = deepcomp.PruningSchedule(model, **{self.criterion: self.targets}, steps=args.rounds,
                                                 every=args.retrain_epochs)
        self.scaler = torch.amp.GradScaler(runtime.device.type, enabled=args.amp == "float16")
        self.history = []  # per epoch: stage, epoch, loss, top-1, top-5, kept fraction per layer
        self.stage, self.epoch = PRUNE, 0
        self._start_stage(PRUNE)

    @property
    def stage_epochs(self) -> int:
        return self.args.rounds * self.args.retrain_epochs if self.stage == PRUNE else self.args.finetune_epochs

    def _start_stage(self, stage: str) -> None:
        """SGD with momentum to retrain the weights; Adam for the centroids (a centroid's gradient sums
        those of all its weights, and Adam's step does not grow with that sum). Cosine LR per stage."""
        self.stage, self.epoch = stage, 0
        params = self.model.parameters()
        if stage == PRUNE:
            self.optimizer = torch.optim.SGD(params, lr=self.args.lr, momentum=0.9,
                                             weight_decay=self.args.weight_decay)
        else:
            self.optimizer = torch.optim.Adam(params, lr=self.args.finetune_lr)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=max(1, self.stage_epochs))
        self.net = None  # drop the old DDP wrapper (and its gradient hooks) before wrapping again
        self.net = self.runtime.wrap(self.model)

    def _agree(self, what: str) -> None:
        """Rank 0's decision everywhere, then proof by hashing that every rank holds the same tensors."""
        deepcomp.distributed.broadcast_compression_state(self.model, src=0)
        digests = deepcomp.distributed.check_identical(self.model)
        self.runtime.log(f"{what}: state identical on {self.runtime.world} rank(s) ({len(digests)} tensors hashed)")

    # -- checkpoints ---------------------------------------------------------------------------------

    def save_checkpoint(self) -> None:
        rng = self.runtime.gather(checkpoint.rng_state())
        if self.runtime.main:
            checkpoint.save_atomically({
                "arch": self.args.arch, "classes": self.args.classes, "world": self.runtime.world,
                "stage": self.stage, "epoch": self.epoch, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(), "schedule": self.schedule.state_dict(),
                "history": self.history, "rng": rng}, self.path)
        self.runtime.barrier()  # no rank runs ahead of a checkpoint that may yet fail

    def resume(self) -> bool:
        """Restores the run from its checkpoint, if there is one; False if there is none."""
        if not os.path.exists(self.path):
            self.runtime.log(f"--resume: no checkpoint at {self.path}; starting from the beginning")
            return False
        state = checkpoint.load(self.path)
        for key, mine in (("arch", self.args.arch), ("classes", self.args.classes)):
            if state.get(key) != mine:
                raise SystemExit(f"error: {self.path} is a checkpoint of another run ({key}: {state.get(key)!r}, "
                                 f"this run: {mine!r}); use another --out, or drop --resume")
        # The layers take the types the checkpoint was written with, then its tensors; their Parameters
        # are new, so the optimizer and the DDP wrapper are built again over them.
        deepcomp.match_layers(self.model, state["model"]).load_state_dict(state["model"])
        self._start_stage(state["stage"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.schedule.load_state_dict(state["schedule"])
        self.stage, self.epoch, self.history = state["stage"], state["epoch"], state["history"]
        if state["world"] == self.runtime.world:
            checkpoint.set_rng_state(state["rng"][self.runtime.rank])
        else:  # still a correct run, just not the same random numbers as an uninterrupted one
            self.runtime.log(f"--resume: checkpoint written by {state['world']} ranks, now {self.runtime.world}: "
                             "random streams start afresh")
        self._agree(f"resumed at {self.stage} epoch {self.epoch}")
        return True

    # -- stages -------------------------------------------------------------------------------------

    def run(self, progress) -> None:
        """Runs from the current (stage, epoch) to DONE; progress: a tqdm bar over all epochs."""
        while self.stage != DONE:
            progress.n = self._epochs_before()
            progress.refresh()
            if self.epoch < self.stage_epochs:
                self._epoch()
                progress.update(1)
            elif self.stage == PRUNE:
                self._quantize()
            else:  # the last epoch's checkpoint already marks the end: a resume comes straight here
                self.stage, self.epoch = DONE, 0

    def _epochs_before(self) -> int:
        return {PRUNE: 0, FINETUNE: self.args.rounds * self.args.retrain_epochs}[self.stage] + self.epoch

    def _epoch(self) -> None:
        if self.stage == PRUNE:
            self._prune_if_due()
        label = f"{self.stage} {self.epoch + 1}/{self.stage_epochs}"
        self.train_loader.sampler.set_epoch(self._epochs_before())  # another shuffle every epoch, of either stage
        loss = train_epoch(self.net, self.train_loader, self.optimizer, self.scaler, self.args.amp,
                           self.args.steps_per_epoch, label, self.runtime)
        self.scheduler.step()
        top1, top5 = evaluate(self.model, self.val_loader, self.args.amp, self.args.val_steps, self.runtime)
        kept = layer_densities(self.model, self.names)
        self.history.append({"stage": self.stage, "epoch": self.epoch + 1, "loss": loss, "top1": top1,
                             "top5": top5, "kept": kept})
        self.runtime.log(f"{label}: loss {loss:.4f}  top-1 {100 * top1:.2f}%  top-5 {100 * top5:.2f}%  kept "
                         + " ".join(f"{name} {100 * value:.1f}%" for name, value in kept.items()))
        self.epoch += 1
        self.save_checkpoint()

    def _prune_if_due(self) -> None:
        """Rank 0 steps the pruning schedule and decides the masks; the other ranks only give the
        layers their masked types (pruning nothing) and receive rank 0's masks and weights."""
        report = self.schedule.step() if self.runtime.main else None
        if not self.runtime.gather(report is not None)[0]:
            return
        if not self.runtime.main:
            deepcomp.prune(self.model, sparsity={layer: 0.0 for layer in self.targets})
        else:
            self.runtime.log(f"pruning round {self.schedule.rounds_done}/{self.args.rounds}: "
                             f"{100 * report.kept_fraction:.2f}% of the weights kept")
        self._agree("pruned")

    def _quantize(self) -> None:
        deepcomp.quantize(self.model, bits=self.bits)
        self._agree(f"quantized ({self.args.conv_bits} bits conv, {self.args.fc_bits} bits fc)")
        self._start_stage(FINETUNE)
        self.save_checkpoint()


def prune_targets(args, names):
    """(criterion, {qualified layer: value}): the paper's densities as sparsities (--density overrides
    some), or --sensitivity's thresholds (then only the layers it names are pruned)."""
    if args.sensitivity:
        criterion, given, values = "sensitivity", args.sensitivity, args.sensitivity
        valid, rule = (lambda value: value >= 0), "a sensitivity must be >= 0"
    else:
        given = args.density or {}
        criterion, values = "sparsity", {name: 1.0 - d for name, d in {**args.densities, **given}.items()}
        valid, rule = (lambda value: 0 <= value < 1), "a density must be in (0, 1]"
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise SystemExit(f"error: unknown layer(s) {', '.join(unknown)} for {args.arch}; its layers: "
                         f"{', '.join(names)}")
    out_of_range = [name for name, value in values.items() if not valid(value)]
    if out_of_range:
        raise SystemExit(f"error: {', '.join(out_of_range)}: {rule}")
    return criterion, {names[name]: value for name, value in values.items()}
