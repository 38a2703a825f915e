"""What the model families share: a site, a model's catalogue of sites and named placements, the placement error."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from torch import nn

Index = int | str  # a YOLO layer index or a ResNet dotted module name
Spec = tuple[str, dict[str, Any]]  # (block key, hyperparameters)


class PlacementError(ValueError):
    """A placement, site or model that does not exist; the one-line message names the value and the valid ones."""


@dataclass(frozen=True)
class Site:
    """A place where an attention block can go: after a layer, or inside a residual block before the addition.

    Attributes:
        index: the YOLO layer index, or the ResNet dotted module name.
        section: ``backbone`` or ``neck`` (YOLO), ``stage`` or ``block`` (ResNet).
        channels: channels of the feature map the block sees (at the model's scale).
        stride: its stride with respect to the input image.
        module: type name of the layer the block follows.
        feeds: the strides of the detection head's inputs its output reaches (YOLO); empty for a classifier, whose
            one output every site feeds.
    """

    index: Index
    section: str
    channels: int
    stride: int
    module: str
    feeds: tuple[int, ...] = ()


@dataclass(frozen=True)
class Catalog:
    """Every site of one model and its named placements.

    Attributes:
        model: the model's canonical name.
        sites: all sites, in forward order.
        named: placement name -> (what it means, the indices of its sites); an empty tuple means the model lacks it.
    """

    model: str
    sites: tuple[Site, ...]
    named: Mapping[str, tuple[str, tuple[Index, ...]]]

    def select(self, where: str | Sequence[Index]) -> list[Site]:
        """The sites of a named placement or of an explicit list of indices, in forward order."""
        if isinstance(where, str):
            if where not in self.named:
                raise PlacementError(
                    f"unknown placement {where!r} for {self.model}; valid: {', '.join(self.named)} or a list of sites"
                )
            meaning, wanted = self.named[where]
            if not wanted:
                present = ", ".join(name for name, (_, ids) in self.named.items() if ids)
                raise PlacementError(
                    f"placement {where!r} ({meaning}) does not exist in {self.model}; valid: {present}"
                )
        else:
            wanted = tuple(where)
            known = {site.index for site in self.sites}
            for index in wanted:
                if index not in known or isinstance(index, bool):
                    raise PlacementError(
                        f"{index!r} is not an insertion site of {self.model}; valid: {_compact(self.sites)}"
                    )
        return [site for site in self.sites if site.index in set(wanted)]


class Built(NamedTuple):
    """A family's modified model: the module, its YAML (YOLO only), how baseline tensor names map into it, and nc."""

    model: nn.Module
    yaml: dict[str, Any] | None
    rename: Callable[[str], str]
    nc: int


def _compact(sites: Sequence[Site]) -> str:
    """Site indices as text, consecutive layer indices folded into ranges (``1-9, 12, 15``)."""
    indices = [site.index for site in sites]
    if not all(isinstance(i, int) for i in indices):
        return ", ".join(map(str, indices))
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)
