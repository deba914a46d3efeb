"""Compiled programs kept on disk, so that a second run of the same model skips compiling.

JAX can store every XLA executable it compiles in a folder and load it, instead of compiling, when
a later process (or the same one, after ``jax.clear_caches()``) asks for the same program on the
same kind of device with the same JAX version. For a sampler, compiling is most of a short run's
wall time; with the cache a second run costs the sampling alone.

:func:`bayeskit.mcmc.sample` turns the cache on (``compilation_cache=True``), as does the
``bayeskit`` command. A folder the user already gave JAX (``jax_compilation_cache_dir``) is used
as it is; ``BAYESKIT_COMPILATION_CACHE=off`` (or ``0``, ``false``, ``no``) in the environment turns
bayeskit's default off, ``on`` (``1``, ``true``, ``yes``) keeps the default folder, and any other
value names the folder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_cache_dir", "use_compilation_cache"]

_OFF = {"0", "off", "false", "no", ""}
_ON = {"1", "on", "true", "yes"}  # the default folder, not a folder named "on" in the working directory
# Programs that compile faster than this are not worth a disk round trip.
_MIN_COMPILE_SECONDS = 0.1


def default_cache_dir() -> Path | None:
    """``$BAYESKIT_COMPILATION_CACHE``, else ``$XDG_CACHE_HOME/bayeskit/jax`` (``~/.cache/...``); None if off."""
    env = os.environ.get("BAYESKIT_COMPILATION_CACHE")
    if env is not None and env.strip().lower() not in _ON:
        return None if env.strip().lower() in _OFF else Path(env).expanduser()
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "bayeskit" / "jax"


def use_compilation_cache(directory: str | Path | None = None) -> Path | None:
    """Keep JAX's compiled programs on disk from now on in this process; return the folder used.

    Args:
        directory: where to keep them; default :func:`default_cache_dir`. A folder already set in
            JAX's ``jax_compilation_cache_dir`` wins over both (the user's choice stands).

    Returns:
        The folder in use, or ``None`` when the cache is off (``BAYESKIT_COMPILATION_CACHE=off``
        and no ``directory``).

    Example:
        >>> import bayeskit
        >>> bayeskit.use_compilation_cache()  # doctest: +SKIP
        PosixPath('/home/me/.cache/bayeskit/jax')
    """
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    folder = Path(directory).expanduser() if directory is not None else default_cache_dir()
    if folder is None:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    if jax.config.jax_persistent_cache_min_compile_time_secs > _MIN_COMPILE_SECONDS:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", _MIN_COMPILE_SECONDS)
    # JAX decides once per process, at its first compilation, whether a cache is in use: start
    # that decision over so that the folder set now counts even after earlier compilations.
    compilation_cache.reset_cache()
    return folder
