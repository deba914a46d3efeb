"""Compile a lowered program on a thread of its own while the caller gets on with other work.

XLA compiles without holding Python's lock, so on a machine with two or more cores a program
whose shapes are known early (a sampler's chunk loop, a GP's final conditioning) can compile
while the caller traces, compiles or runs something else, instead of after it.
"""

from __future__ import annotations

import threading
import time


class BackgroundCompile:
    """``lowered.compile(**options)`` started on a thread of its own; :meth:`result` waits for it.

    ``seconds`` counts from ``started`` (default: now), so a caller that lowered first can
    include the lowering. An error in compiling is raised again, in the caller's thread, by
    :meth:`result`.
    """

    def __init__(self, lowered, started: float | None = None, **options):
        self._outcome: dict = {}
        t0 = time.perf_counter() if started is None else started

        def work():
            try:
                self._outcome["compiled"] = lowered.compile(**options)
            except BaseException as error:  # raised again by result()
                self._outcome["error"] = error
            self._outcome["seconds"] = time.perf_counter() - t0

        # Not a daemon: a daemon thread still inside XLA when the interpreter exits (say, after an
        # error raised while it compiled) is killed there, and the process aborts ("terminate
        # called ..."). The interpreter waits for this one instead: at most one compilation.
        self._thread = threading.Thread(target=work, name="bayeskit-compile", daemon=False)
        self._thread.start()

    def result(self):
        """``(compiled, seconds)``, once the compilation has finished."""
        self._thread.join()
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["compiled"], self._outcome["seconds"]
