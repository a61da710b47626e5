"""Model-assisted label refinement: crowd answers plus item texts."""

from crowd_bridge.refine.refiner import RefineConfig, RefinedLabels, refine_labels

__all__ = ["RefineConfig", "RefinedLabels", "refine_labels"]
