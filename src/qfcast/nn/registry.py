"""The encoder base class and the registry derived from it.

Every concrete encoder subclasses :class:`Encoder` and declares a ``name``; defining the class
registers it in :data:`ENCODERS`, so there is no hand-kept list to forget. :func:`get_encoder`
turns a name, a class, a config dict or a ready module into an encoder for given
:class:`~qfcast.nn.base.InputDims`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from torch import nn

from .._names import closest
from .base import InputDims

__all__ = ["ENCODERS", "Encoder", "get_encoder"]

_KINDS = ("multi_horizon", "autoregressive")
_REGISTRY: dict[str, type[Encoder]] = {}

ENCODERS: Mapping[str, type[Encoder]] = MappingProxyType(_REGISTRY)
"""Read-only view ``name → class`` of every encoder class defined so far."""


class Encoder(nn.Module):
    """Base class of the encoders: declares ``name``, ``kind``, ``out_features``, ``hparams``.

    A subclass that sets ``name`` in its own body is registered in :data:`ENCODERS`;
    intermediate base classes simply leave it out. ``kind`` is ``"multi_horizon"`` (features
    for the H steps after an origin) or ``"autoregressive"`` (next-step features along the
    window, plus ancestral sampling).

    Attributes
    ----------
    dims : InputDims
        The input sizes the encoder was built for.
    out_features : int
        Features per output step (what a head projects).
    hparams : dict
        The JSON-able keyword arguments of the constructor, so that
        ``type(m)(m.dims, **m.hparams)`` rebuilds the same architecture.
    """

    name: ClassVar[str]
    kind: ClassVar[Literal["multi_horizon", "autoregressive"]]
    out_features: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            return
        if getattr(cls, "kind", None) not in _KINDS:
            raise TypeError(f"{cls.__qualname__}.kind must be one of {_KINDS}")
        previous = _REGISTRY.get(cls.name)
        if previous is not None and _qualified(previous) != _qualified(cls):
            raise TypeError(
                f"encoder name {cls.name!r} is taken by {_qualified(previous)}; "
                f"choose another name for {_qualified(cls)}"
            )
        _REGISTRY[cls.name] = cls

    def __init__(self, dims: InputDims, hparams: Mapping[str, Any]) -> None:
        super().__init__()
        if not isinstance(dims, InputDims):
            raise TypeError(f"dims must be an InputDims, got {type(dims).__name__}")
        if dims.context < 1 or dims.horizon < 1:
            raise ValueError(f"context and horizon must be >= 1, got {dims}")
        self.dims = dims
        self._hparams = dict(hparams)

    @property
    def hparams(self) -> dict[str, Any]:
        """A fresh copy of the constructor's keyword arguments (JSON-able)."""
        return dict(self._hparams)

    def config(self) -> dict[str, Any]:
        """``{"name": ..., **hparams}``: what :func:`get_encoder` rebuilds the encoder from."""
        return {"name": self.name, **self._hparams}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._hparams.items())


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _lookup(name: str) -> type[Encoder]:
    if name in _REGISTRY:
        return _REGISTRY[name]
    close = closest(name, _REGISTRY)
    hint = f"; did you mean {close!r}?" if close else ""
    raise ValueError(f"unknown encoder {name!r}{hint} (known: {sorted(_REGISTRY)})")


def get_encoder(
    spec: str | type[nn.Module] | Mapping[str, Any] | nn.Module, dims: InputDims
) -> nn.Module:
    """Build an encoder for ``dims`` from a name, a class, a config dict or a module.

    Parameters
    ----------
    spec
        * a registered name (``"mqcnn"``, ``"mqrnn"``, ``"deepar"``): default hyperparameters;
        * an ``nn.Module`` subclass: called as ``spec(dims)``;
        * a dict ``{"name": ..., **hparams}`` (what :meth:`Encoder.config` returns); it is
          not modified;
        * an ``nn.Module`` instance: returned as is (its ``dims``, if any, must match).
    dims
        The input sizes.

    Returns
    -------
    nn.Module

    Raises
    ------
    ValueError
        For an unknown name (with the closest known one suggested) or mismatched dims.
    TypeError
        For any other kind of ``spec``.

    Examples
    --------
    >>> from qfcast.nn import InputDims
    >>> dims = InputDims(context=8, horizon=2, time=1, past=0, known=0, static_real=0)
    >>> get_encoder({"name": "mqrnn", "hidden_size": 8}, dims).hparams["hidden_size"]
    8
    >>> get_encoder("deeparr", dims)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown encoder 'deeparr'; did you mean 'deepar'? (known: ['deepar', ...])
    """
    if isinstance(spec, str):
        return _lookup(spec)(dims)
    if isinstance(spec, type):
        if not issubclass(spec, nn.Module):
            raise TypeError(f"an encoder class must subclass nn.Module, got {spec!r}")
        return spec(dims)
    if isinstance(spec, Mapping):
        if not isinstance(spec.get("name"), str):
            raise ValueError(f"an encoder config needs a string 'name', got {dict(spec)!r}")
        hparams = {k: v for k, v in spec.items() if k != "name"}
        return _lookup(spec["name"])(dims, **hparams)
    if isinstance(spec, nn.Module):
        own = getattr(spec, "dims", dims)
        if own != dims:
            raise ValueError(f"the encoder was built for {own}, not {dims}")
        return spec
    raise TypeError(
        f"spec must be a name, an nn.Module class or instance, or a dict; got {type(spec)!r}"
    )
