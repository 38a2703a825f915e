"""Lightning runners for short training trials.

``fit_detection`` and ``fit_classification`` train a model they are given (an ultralytics ``DetectionModel`` or a
torchvision ResNet) with ultralytics' data pipeline, loss, optimizer, schedule and EMA under Lightning's Trainer, call
``on_epoch(epoch, metrics)`` after each validation (True stops), and return a ``TrialResult``. ``TrainConfig`` holds the
settings (Hydra group ``trainer``); ``prepare_digits`` generates the embedded default dataset (group ``data``).
"""

from runners.classify import fit_classification
from runners.config import TrainConfig
from runners.data import DatasetError, prepare_digits
from runners.detect import fit_detection
from runners.result import TrialResult

__all__ = ["DatasetError", "TrainConfig", "TrialResult", "fit_classification", "fit_detection", "prepare_digits"]
