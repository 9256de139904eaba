"""The run config: every setting of ``stylekg run``, from flags or a TOML file, recorded in the run dir."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import tomli_w

from ..errors import ConfigError
from ..paths import read_utf8, sha256_text
from ..requests import Propagation, RequestKind


RUN_MODES = (RequestKind.ERASE, RequestKind.REPLACE, RequestKind.INSERT)  # ``relation`` needs a template: edit only
DTYPES = ("float32", "bfloat16", "float16")
# keys added after run ids existed: left out of to_dict() (and so of every settings hash) at their default
ADDED_DEFAULTS: dict[str, Any] = {"dtype": "float32"}
EDIT_DATA = ("requests", "occurrences")


@dataclass(frozen=True)
class RunConfig:
    """What ``stylekg run`` does. Devices, stores and endpoints live here, not in method hparams."""

    style: str = ""  # a library style name, or anything an LLM can decompose
    graph_file: str = ""  # a graph file or style records (docs/style-graphs.md) merged into the library first
    auto: str = ""  # a wide subject to expand into several styles instead of ``style``
    mode: str = RequestKind.ERASE.value
    node: str = ""  # the node to edit (default: the style's first abstract parent when propagating)
    propagate: str = Propagation.EXPLICIT.value
    method: str = "memit"
    hparams: str = ""  # the method's hyper-parameters: a TOML file or a shipped <method>/<name>; "" = <method>/<model>
    model: str = "smollm2-135m"
    device: str = "cpu"
    dtype: str = "float32"  # the model's weights: float32 | bfloat16 | float16 (editing arithmetic stays float32)
    store: str | None = None  # None: the embedded LadybugDB in $STYLEKG_HOME
    provider: str = "library"  # library | openai | local
    llm_model: str = ""
    seed: int = 0
    presence_threshold: float = 1.0  # nats over a neutral subject for an edge to count as held
    install_if_absent: bool = True  # insert the markers first when the model lacks the style
    max_markers: int = 4
    trace_samples: int = 5
    trace_facts: int = 2
    generations: int = 3
    runs_dir: str = "runs"
    # --- judging the style in generated text (docs/evaluation.md) ---
    prompts: str = ""  # a prompt set (built-in name or JSON file): measure the style in answers on its held-out split
    max_new_tokens: int = 96  # length of each answer
    samples: int = 1  # answers per held-out prompt (k); more than 1 needs a temperature > 0
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    judge_model: str = ""  # a model at the OpenAI-compatible endpoint (OPENAI_BASE_URL) that rates style and fluency
    edit_data: str = "requests"  # requests: persona/graph prompts | occurrences: where the model writes the markers
    occurrence_subject: str = "assistant"  # the subject slot inside a chat context (subject-keyed editors)
    fluency_guard: float = 0.2  # an edit may raise the answers' perplexity under the unedited model by this share
    repetition_guard: float = 0.1  # ... and the share of looping answers by this much
    guard_prompts: int = 16  # train prompts the guard answers (never held-out ones)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, hint in get_type_hints(type(self)).items():
            object.__setattr__(self, name, _checked(name, hint, getattr(self, name)))
        if not self.style and not self.auto:
            raise ConfigError("a run needs a style (or --auto 'a wide subject')", hint="e.g. stylekg run 'Donald Trump' --erase")
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype {self.dtype!r} is not one of {', '.join(DTYPES)}")
        if self.mode not in RUN_MODES:
            raise ConfigError(f"mode {self.mode!r} is not one of {', '.join(m.value for m in RUN_MODES)}")
        if self.propagate not in tuple(Propagation):
            raise ConfigError(f"propagate {self.propagate!r} is not one of {', '.join(p.value for p in Propagation)}")
        object.__setattr__(self, "mode", RequestKind(self.mode).value)  # plain strings in TOML and hashes
        object.__setattr__(self, "propagate", Propagation(self.propagate).value)
        if self.edit_data not in EDIT_DATA:
            raise ConfigError(f"edit_data {self.edit_data!r} is not one of {', '.join(EDIT_DATA)}")
        if self.edit_data == "occurrences" and not self.prompts:
            raise ConfigError("edit_data = 'occurrences' needs a prompt set to find them in",
                              hint="set prompts = 'assistant-instructions' (or a JSON file)")
        if self.max_new_tokens < 1 or self.guard_prompts < 1 or self.fluency_guard < 0 or self.repetition_guard < 0:
            raise ConfigError("max_new_tokens and guard_prompts must be >= 1, the guards >= 0")
        if self.presence_threshold < 0:
            raise ConfigError("presence_threshold must be >= 0")
        if self.prompts:
            self.sampling()  # k, temperature and top-p make sense together (one line when they do not)
        elif self.judge_model:
            raise ConfigError("judge_model rates generated answers: it needs a prompt set",
                              hint="set prompts = 'assistant-instructions' (or a JSON file)")

    def sampling(self):
        """How held-out answers are drawn (:class:`stylekg.evaluation.generated_style.SamplingSettings`)."""
        from ..errors import EvaluationError
        from ..evaluation.generated_style import SamplingSettings

        try:
            return SamplingSettings(k=self.samples, temperature=self.temperature, top_p=self.top_p,
                                    max_new_tokens=self.max_new_tokens, seed=self.seed)
        except EvaluationError as exc:
            raise ConfigError(f"run config: {exc.args[0]}", hint=exc.hint) from None

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> "RunConfig":
        """Read a run config (a ``[run]`` table, or the same keys at top level); ``overrides`` that are not
        ``None`` (the flags a user gave) replace the file's values."""
        path = Path(path)
        text = read_utf8(path, "run config")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        data = data.get("run", data)
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: 'run' must be a table ([run]), got {data!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown key(s) in {path}: {', '.join(unknown)}", hint=f"known: {', '.join(sorted(known))}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc.args[0]}", hint=exc.hint) from None

    def to_dict(self) -> dict[str, Any]:
        """Every setting, except those added later that hold their default (:data:`ADDED_DEFAULTS`): the settings
        hash (run id, stage caches) of a config written before them stays the same."""
        data = dataclasses.asdict(self)
        for name, default in ADDED_DEFAULTS.items():
            if data.get(name) == default:
                del data[name]
        return data

    def to_toml(self) -> str:
        """The config as TOML (``tomli-w``) that :meth:`from_toml` reads back equal (``None`` values are left out:
        TOML has no null, and absent means the default)."""
        run = {k: v for k, v in self.to_dict().items() if v is not None}
        run["extra"] = {k: v for k, v in self.extra.items() if v is not None}
        return tomli_w.dumps({"run": run})

    @property
    def key(self) -> str:
        """A content hash of the settings: the run id's suffix and the stage cache key."""
        return sha256_text(json.dumps(self.to_dict(), sort_keys=True, default=str))[:12]


def _checked(name: str, hint: Any, value: Any) -> Any:
    """``value`` if it has the field's type (an int where a float is expected becomes a float); else ConfigError."""
    if hint is bool:
        ok, kind = isinstance(value, bool), "true or false"
    elif hint is int:
        ok, kind = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif hint is float:
        ok, kind = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
        value = float(value) if ok else value
    elif hint is str:
        ok, kind = isinstance(value, str), "a string"
    elif hint == (str | None):
        ok, kind = value is None or isinstance(value, str), "a string"
    elif getattr(hint, "__origin__", None) is dict:
        ok, kind = isinstance(value, dict) and all(isinstance(k, str) for k in value), "a table"
    else:  # a field type this check does not know yet: accept, as before
        ok, kind = True, ""
    if not ok:
        raise ConfigError(f"{name} must be {kind}, got {value!r}")
    return value
