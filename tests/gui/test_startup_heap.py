"""Once the window is filled, the app moves what exists out of the garbage collector's sight
(a full collection walked about 400,000 objects: a 260-460 ms stall of the event loop);
objects made later are still collected."""

from __future__ import annotations

import gc
import weakref

from flowstudio.gui.app import freeze_startup_objects


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_startup_objects_are_frozen_and_later_garbage_is_still_collected() -> None:
    before = _Cycle()
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 0
        assert not any(o is before for o in gc.get_objects())  # out of the collector's sight
        later = _Cycle()
        assert any(o is later for o in gc.get_objects())
        gone = weakref.ref(later)
        del later
        gc.collect()
        assert gone() is None  # a cycle made after start-up is still collected
    finally:
        gc.unfreeze()  # the other tests' objects go back to the collector
