"""Hyper-parameters shared by the closed-form editors (ROME, MEMIT, AlphaEdit): the value optimisation
(ROME eq. 4 / MEMIT eq. 16) and the key statistics C = E[k k^T]. Each method's dataclass extends these.

Defaults are the reference's (kmeng01/rome ``hparams/ROME/gpt2-xl.json``, kmeng01/memit
``hparams/MEMIT/gpt2-xl.json``): 20 evaluations of the value objective, lr 0.5, weight decay 0.5 on
||delta|| / ||v||^2, KL factor 0.0625, stop below a loss of 0.05, 100k key samples in float32.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .values import ValueSettings


@dataclass(frozen=True)
class ValueHparams:
    v_num_grad_steps: int = 20  # evaluations of the objective; at most one update fewer (as the reference)
    v_lr: float = 0.5
    v_weight_decay: float = 0.5  # times ||delta|| / ||v||^2 (the reference's form)
    clamp_norm_factor: float = 4.0  # ||delta|| <= factor * ||v|| (ROME 4.0; MEMIT/AlphaEdit 0.75)
    kl_factor: float = 0.0625
    stop_loss: float = 0.05  # a request whose whole loss is below this is finished (frozen)
    essence_template: str = "{} is a"  # KL prompt; the KL is read at the subject's last token
    # (length in tokens including the seed word, count) per context type; "" is always type 0.
    # ROME: [[5, 10], [10, 10]] (21 prompts); MEMIT/AlphaEdit: [[10, 5]] (6 prompts).
    context_templates: tuple[tuple[int, int], ...] = ((5, 10), (10, 10))
    keys_by_context_type: bool = False  # average keys within each context type, then across (MEMIT)
    stats_samples: int = 100_000  # token vectors for C = E[k k^T]
    stats_dtype: str = "float32"

    def value_settings(self) -> ValueSettings:
        return ValueSettings(
            steps=self.v_num_grad_steps,
            lr=self.v_lr,
            weight_decay=self.v_weight_decay,
            clamp_norm_factor=self.clamp_norm_factor,
            kl_factor=self.kl_factor,
            stop_loss=self.stop_loss,
            essence_template=self.essence_template,
        )


@dataclass(frozen=True)
class BatchedValueHparams(ValueHparams):
    """For editors that optimise many requests' values together (MEMIT, AlphaEdit)."""

    clamp_norm_factor: float = 0.75
    context_templates: tuple[tuple[int, int], ...] = ((10, 5),)
    keys_by_context_type: bool = True
    batch_requests: int = 64  # requests whose values are optimised together
    # Graph guard (used only when the edit context carries a preserved set; none = the reference method):
    # MEMIT: weight of each preserved key in eq. 14 (AlphaEdit projects exactly). Measured on SmolLM2, tuning facts
    # 50-69 in one batch (benchmarks/bench_guard.py --protocol tune --edits 20; efficacy / paraphrase / neighbours
    # kept): plain 1.00 / 0.90 / 0.90; weight 0.2: 1.00 / 0.88 / 0.95; weight 1: 0.75 / 0.68 / 0.98; weight 10:
    # 0.40 / 0.40 / 0.97. 0.2: the largest tried that keeps efficacy at 1.00.
    guard_key_weight: float = 0.2
    guard_value_weight: float = 1.0  # weight of a unit's preserved prompts' NLL beside its edits' NLL
    guard_share_values: bool = True  # requests sharing a key share one value (MEMIT-Merge)

    def value_settings(self) -> ValueSettings:
        return replace(super().value_settings(), batch_requests=self.batch_requests)
