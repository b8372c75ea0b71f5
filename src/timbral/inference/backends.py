"""Run the model on a batch of log-mels: PyTorch, or the same graph in ONNX Runtime.

Both return sigmoid probabilities (B, C) as float32 numpy. ONNX Runtime runs this small CNN
several times faster than eager PyTorch on CPU (see benchmarks/predict.py); the graph is
exported in memory from the artifact's weights, and a test checks both agree.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import torch

from timbral.artifact import ModelArtifact
from timbral.errors import ConfigError, ModelError, TimbralError

log = logging.getLogger(__name__)
BACKENDS = ("auto", "onnxruntime", "torch")


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class TorchRunner:
    name = "torch"

    def __init__(self, artifact: ModelArtifact, threads: int) -> None:
        torch.set_num_threads(threads)
        self.model = artifact.build_model()

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return torch.sigmoid(self.model(x)).numpy()


class OrtRunner:
    name = "onnxruntime"

    def __init__(self, artifact: ModelArtifact, threads: int) -> None:
        import onnxruntime as ort

        from timbral.inference.onnx_export import logmel_graph

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # Without this, ORT's threads spin after each call, taking the cores that the torch
        # front end needs next.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            logmel_graph(artifact), opts, providers=["CPUExecutionProvider"]
        )

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        feed = {"logmel": np.ascontiguousarray(x.numpy(), dtype=np.float32)}
        return self.session.run(None, feed)[0]


def make_runner(artifact: ModelArtifact, backend: str = "auto", threads: int | None = None):
    """A runner for `backend`; "auto" is ONNX Runtime when the model exports, else PyTorch."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend: unknown value {backend!r} ({', '.join(BACKENDS)})")
    threads = threads or cpu_count()
    torch.set_num_threads(threads)
    if backend in {"auto", "onnxruntime"}:
        try:
            return OrtRunner(artifact, threads)
        except TimbralError:
            raise  # the artifact itself is unusable: no backend can help
        except Exception as exc:  # noqa: BLE001 - export/runtime failure: fall back or report
            if backend == "onnxruntime":
                raise ModelError(
                    f"{artifact.model_name}: cannot run in ONNX Runtime ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0] if str(exc) else ''})"
                ) from None
            log.info("ONNX Runtime unavailable for %s (%s); using PyTorch", artifact.model_name, exc)
    return TorchRunner(artifact, threads)
