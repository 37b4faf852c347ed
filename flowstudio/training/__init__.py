"""Qt-free training engine: devices, runs, checkpoints and progress events.

``train(task, run_dir, options, control)`` is a generator of :mod:`events`; see
:mod:`flowstudio.training.engine` for its error policy and :mod:`.runs` for the RUN
folder layout.
"""

from flowstudio.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from flowstudio.training.control import Control
from flowstudio.training.device import describe_device, device_choices, select_device
from flowstudio.training.engine import train
from flowstudio.training.events import (
    Checkpointed,
    Event,
    Finished,
    Message,
    Progress,
    Recovered,
    Samples,
)
from flowstudio.training.options import TrainOptions
from flowstudio.training.protocol import Param, Task
from flowstudio.training.restore import RestoredTask, restore_task
from flowstudio.training.rng import seed_everything
from flowstudio.training.runs import Run, read_config, read_metrics

__all__ = [
    "Checkpoint",
    "Checkpointed",
    "Control",
    "Event",
    "Finished",
    "Message",
    "Param",
    "Progress",
    "Recovered",
    "RestoredTask",
    "Run",
    "Samples",
    "Task",
    "TrainOptions",
    "describe_device",
    "device_choices",
    "load_checkpoint",
    "read_config",
    "read_metrics",
    "restore_task",
    "save_checkpoint",
    "seed_everything",
    "select_device",
    "train",
]
