"""Point clouds: I/O, data sets, PointFlow and other point densities, metrics, analyses."""

from flowstudio.task_types import register_task_kind

register_task_kind("points", "flowstudio.pointclouds.task:PointCloudTask")
