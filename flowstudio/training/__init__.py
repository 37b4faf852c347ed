"""Qt-free training engine: devices, runs, checkpoints and progress events."""
