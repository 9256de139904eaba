"""Graph-guarded editing: what the preserved set does to MEMIT's and AlphaEdit's two halves.

A locate-then-edit method writes one vector per request at the subject's last token (the *value* z_i, eq. 16
of MEMIT) and then solves for a weight change that maps each request's *key* k_i onto it (eq. 14). The
preserved set (:class:`stylekg.requests.Preserved`: prompts with their own answers that must not move) enters
both halves, split by one exact rule, token identity of the key:

* **Value side** — a preserved prompt whose tokens up to the subject's last token equal an edited request's
  (same subject, same words before it: e.g. "France's official language is" while "France is a country in" is
  edited) has *the same key* at every layer, so no weight change can treat the two apart. Requests and
  preserved prompts that share a key therefore share one value optimisation (MEMIT-Merge, Shi et al. 2025:
  same-subject edits merged into one z): the unit's z minimises the mean over its edits' NLL of the new
  object plus ``value_weight`` times the mean NLL of each preserved prompt's own answer (neighbour-assisted
  value optimisation). Edits that share a key also share one z instead of competing for one key.
* **Key side** — every other preserved prompt with a subject has its own key k_p (read like a request's:
  the same context prefixes, averaged the same way), and the solve must leave W k_p unchanged: MEMIT gets
  the weighted term ``key_weight * K_p K_p^T`` in eq. 14 (:func:`guarded_memit_update`), AlphaEdit the exact
  projection onto the null space of K_p inside its corpus null space (:func:`exclude_keys`).

Preserved prompts without a subject (a model's plain answers to chat prompts) have no key here; the methods
that use them are the fine-tuning ones. An empty preserved set gives exactly the plain method.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ...requests import EditRequest, Preserved
from .prompts import prompt_ids


@dataclass(frozen=True)
class Unit:
    """Requests whose keys are identical, with the preserved prompts that share that key: one value each."""

    edits: tuple[int, ...]  # indices into the edit requests
    retain: tuple[EditRequest, ...] = ()  # preserved prompts as requests whose target_new is the answer to keep

    @property
    def first(self) -> int:
        return self.edits[0]


@dataclass(frozen=True)
class GuardPlan:
    """How a batch of requests is guarded: value units and the preserved prompts whose keys enter the solve."""

    units: tuple[Unit, ...]
    key_side: tuple[EditRequest, ...] = ()
    unused: int = 0  # preserved prompts without a subject (no key: not used by this method)
    info: dict[str, int] = field(default_factory=dict)

    @property
    def representatives(self) -> list[int]:
        """One request index per unit (its key and current output stand for the unit)."""
        return [u.first for u in self.units]

    @property
    def active(self) -> bool:
        return bool(self.key_side) or any(u.retain or len(u.edits) > 1 for u in self.units)


def _key_tokens(tokenizer, request: EditRequest) -> tuple[int, ...]:
    """The tokens up to the subject's last token: equal tuples mean equal keys at every layer."""
    ids, lookup = prompt_ids(tokenizer, request)
    return tuple(ids[: lookup + 1])


def plan_guard(tokenizer, requests: list[EditRequest], preserved: tuple[Preserved, ...] | list[Preserved],
               *, share_values: bool = True) -> GuardPlan:
    """Split the preserved set into value-side retain prompts and key-side prompts (see module doc).

    With no preserved set every request is its own unit, exactly the plain method. ``share_values``: requests
    with one key share one value (off: each keeps its own, as the reference, and only the key side guards).
    """
    # an erase that lowers the true object (unlikelihood) has another objective: it never shares a value
    keys = [(_key_tokens(tokenizer, r), r.target_new is None) for r in requests]
    by_key: dict[tuple[tuple[int, ...], bool], list[int]] = {}
    for i, key in enumerate(keys):
        by_key.setdefault(key, []).append(i)
    if not preserved:
        return GuardPlan(tuple(Unit((i,)) for i in range(len(requests))))
    edited_prompts = {(r.text.strip(), (r.target_new or "").strip()) for r in requests} | {
        (r.text.strip(), (r.target_true or "").strip()) for r in requests}
    retain: dict[tuple[tuple[int, ...], bool], list[EditRequest]] = {}
    key_side: list[EditRequest] = []
    unused = conflicts = 0
    for item in preserved:
        request = item.as_request()
        if request is None:
            unused += 1
            continue
        if any(request.text.strip() == r.text.strip() for r in requests) or \
                (request.text.strip(), item.target.strip()) in edited_prompts:
            continue  # an edited prompt is never preserved
        keep = request.with_(target_new=item.target, target_true=None)
        tokens = _key_tokens(tokenizer, keep)
        if (tokens, False) in by_key:
            retain.setdefault((tokens, False), []).append(keep)
        elif (tokens, True) in by_key:
            conflicts += 1  # the key of an unlikelihood erase: no value can both lower and keep it
        else:
            key_side.append(keep)
    units: list[Unit] = []
    seen: set[tuple[tuple[int, ...], bool]] = set()
    for i, key in enumerate(keys):
        if key in seen and share_values:
            continue
        seen.add(key)
        members = tuple(by_key[key]) if share_values else (i,)
        # without shared values, a key's preserved prompts join its first request's unit
        first = by_key[key][0] == i
        units.append(Unit(members, tuple(retain.get(key, ())) if first else ()))
    info = {"preserved": len(preserved), "value_side": sum(len(u.retain) for u in units),
            "key_side": len(key_side), "no_key": unused, "conflicts": conflicts,
            "shared_units": sum(1 for u in units if len(u.edits) > 1)}
    return GuardPlan(tuple(units), tuple(key_side), unused, info)


def guarded_memit_update(keys: torch.Tensor, resid: torch.Tensor, cov: torch.Tensor, lam: float,
                         preserved_keys: torch.Tensor | None, key_weight: float) -> torch.Tensor:
    """Delta = R K^T (lambda C + K K^T + w K_p K_p^T)^-1, solved in float64.

    The minimiser of ||Delta K - R||^2 + w ||Delta K_p||^2 + lambda tr(Delta C Delta^T): MEMIT's eq. 14 with
    the preserved keys as extra keys whose residual is zero (their outputs must not move), each weighted
    ``key_weight`` times an edit. ``keys`` (n, d_in), ``preserved_keys`` (m, d_in), ``resid`` (d, n).
    """
    keys = keys.double()
    a = lam * cov.to(keys.device) + keys.T @ keys  # C comes from the CPU statistics cache
    if preserved_keys is not None and preserved_keys.shape[0] and key_weight > 0:
        kp = preserved_keys.double().to(a.device)
        a = a + key_weight * (kp.T @ kp)
    x = torch.linalg.solve(a, keys.T)
    return resid.double() @ x.T


def exclude_keys(projection: torch.Tensor, preserved_keys: torch.Tensor, rtol: float = 1e-6,
                 max_rank: int | None = None) -> torch.Tensor:
    """The projection onto range(P) ∩ null(K_p^T): P - Q Q^T with Q an orthonormal basis of P K_p.

    For s in range(P), <s, k> = <s, P k>, so the vectors of range(P) orthogonal to every preserved key are those
    orthogonal to span(P K_p); an update whose rows lie in the result leaves W k_p exactly unchanged. With
    ``max_rank``, only the leading ``max_rank`` singular directions of P K_p are removed (exact for the keys when
    their rank is at most that).
    """
    p = projection.double()
    pk = p @ preserved_keys.double().to(p.device).T  # (d, m)
    if pk.shape[1] == 0:
        return p
    u, s, _ = torch.linalg.svd(pk, full_matrices=False)
    rank = int((s > rtol * max(float(s.max()), 1e-300)).sum())
    if max_rank is not None:
        rank = min(rank, max_rank)
    q = u[:, :rank]
    return p - q @ q.T
