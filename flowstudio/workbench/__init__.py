"""Qt-free session layer under the window (DESIGN.md §2): what the window shows and does,
without a widget.

- :mod:`.session`: a workspace's training runs as a state machine, with their run folders;
- :mod:`.event_text`: how the engine's events read (progress text, log lines, banners);
- :mod:`.kinds`, :mod:`.points`, :mod:`.molecules`: one adapter per data kind (samples,
  formats, reading, models and presets, tasks, checkpoints, the analyses its pages call);
- :mod:`.routing`: which workspace a file belongs to;
- :mod:`.engines`: the training engine's calls (options, the event generator, devices);
- :mod:`.data`: the plain data handed to the views.

The window (:mod:`flowstudio.gui`) imports only this package, Qt and the shared leaf
modules (:mod:`flowstudio.errors`, :mod:`flowstudio.params`); this package imports no Qt,
and loads PyTorch and RDKit only when first asked for something that needs them.
"""
