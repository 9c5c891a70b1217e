"""Encoders: scaled windows in, features per forecast step out (plain ``nn.Module``s).

* :class:`MQCNN` — causal dilated convolutions + forking-sequences MLP decoder;
* :class:`MQRNN` — a causal LSTM (or GRU) + the same decoder;
* :class:`DeepAR` — an autoregressive LSTM with teacher forcing and ancestral sampling.

Every encoder takes :class:`InputDims` and JSON-able keyword hyperparameters
(``type(m)(m.dims, **m.hparams)`` rebuilds it) and declares ``name``, ``kind`` and
``out_features``. :data:`ENCODERS` is derived from the classes; :func:`get_encoder` builds one
from a name, a class or a config dict.
"""

from .base import EncoderInput, InputDims
from .decoder import ForkingMLPDecoder, MultiHorizonEncoder
from .mqcnn import MQCNN, CausalConv1d
from .registry import ENCODERS, Encoder, get_encoder
from .rnn import MQRNN, DeepAR

__all__ = [
    "ENCODERS",
    "MQCNN",
    "MQRNN",
    "CausalConv1d",
    "DeepAR",
    "Encoder",
    "EncoderInput",
    "ForkingMLPDecoder",
    "InputDims",
    "MultiHorizonEncoder",
    "get_encoder",
]
