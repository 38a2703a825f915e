"""Nothing downloads at run time: a digits generation and a detection fit with the network blocked."""

from __future__ import annotations

import math
import socket
from pathlib import Path
from typing import Any

import pytest
from ultralytics.nn.tasks import DetectionModel

from runners import TrainConfig, fit_detection, prepare_digits


def test_generation_and_fit_make_no_network_attempt(
    tmp_path: Path, tiny: TrainConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        attempts.append(args)
        raise OSError("network blocked by the test")

    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.delenv("YOLO_OFFLINE", raising=False)  # not relying on ultralytics' offline switch

    data = prepare_digits(tmp_path, n_train=16, n_val=8, imgsz=64)
    result = fit_detection(DetectionModel("yolov8n.yaml", nc=10, verbose=False), data, tiny)
    assert math.isfinite(result.primary)
    assert attempts == []
