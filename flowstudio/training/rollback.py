"""NaN rollback: a non-finite loss or gradient is not an error, it is rolled back.

Every ``GOOD_STATE_EVERY`` steps the trainer keeps a device-side copy of the model and the
optimizer (no host transfer). A step whose loss or gradients are not finite is not applied
(:meth:`flowstudio.training.engine._Trainer._optimization_step`); the trainer returns to the
last good state, lowers the learning rate by ``lr_decay_on_nan`` and goes on, at most
``max_recoveries`` times, after which the run ends with the good weights saved.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from flowstudio.training.events import Recovered
from flowstudio.training.schedule import scale_base_lr

GOOD_STATE_EVERY = 10
"""Steps between in-memory copies of the last good state; a rollback loses at most this many."""


class RollbackMixin:
    """The trainer's part of NaN rollback (mixed into the trainer of :mod:`.engine`)."""

    def _remember_good_state(self: Any) -> None:
        """Keep a device-side copy of model and optimizer (no host transfer)."""
        self.good_step = self.step
        self.good_model = {k: v.detach().clone() for k, v in self.task.model.state_dict().items()}
        self.good_optimizer = copy.deepcopy(self.optimizer.state_dict())

    def _recover(self: Any) -> Recovered | None:
        """Roll back to the last good state and lower the learning rate; ``None`` once more
        than ``max_recoveries`` rollbacks were needed (the run gives up, weights good)."""
        bad_step, reason = self.step, self.bad_reason
        # The rates of the failed step, lowered by any earlier rollback since the good state.
        rates = [(group["lr"], group["base_lr"]) for group in self.optimizer.param_groups]
        self.task.model.load_state_dict(self.good_model)
        # load_state_dict may alias the tensors it is given: hand it a copy, keep ours intact.
        self.optimizer.load_state_dict(copy.deepcopy(self.good_optimizer))
        self.step, self.window, self.nfe = self.good_step, [], []
        self.recoveries += 1
        if self.recoveries > self.options.max_recoveries:
            return None
        for group, (lr, base_lr) in zip(self.optimizer.param_groups, rates, strict=True):
            group["lr"], group["base_lr"] = lr, base_lr
        scale_base_lr(self.optimizer, self.options.lr_decay_on_nan)
        new_lr = float(self.optimizer.param_groups[0]["lr"])
        self.run_folder.append_metrics({
            "step": bad_step, "time": time.time(), "event": "recovered", "reason": reason,
            "rolled_back_to": self.step, "lr": new_lr,
        })
        return Recovered(step=bad_step, reason=f"{reason}; rolled back to step {self.step}", new_lr=new_lr)
