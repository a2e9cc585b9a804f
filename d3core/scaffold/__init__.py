"""``d3 plugins new``: render a pip-installable plugin package from the templates in ``scaffold/templates``.

::

    from d3core.scaffold import scaffold
    result = scaffold("dataset", "my-enhancers", out="plugins")   # -> plugins/d3-my-enhancers/

Templates are plain files ending in ``.tmpl``; ``{{key}}`` is replaced by the value of ``key`` (see
:func:`template_values`) and ``__module__`` in a path by the package's module name. ``templates/common`` goes into every
package, ``templates/<kind>`` into packages of that kind. A dataset package also gets a tiny example HDF5 file
(:func:`write_example_data`) as package data, which its dataset uses when no ``--data`` is given.

Nothing heavy is imported here: numpy and h5py only when the example data is written.
"""
from __future__ import annotations

import keyword
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from d3core.errors import D3UserError

TEMPLATES = Path(__file__).with_name("templates")

#: ``d3 plugins new`` kinds -> registry kind, distribution prefix, template folder
KINDS = {
    "datasets": ("dataset", "d3-", "dataset"),
    "architectures": ("architecture", "d3-arch-", "architecture"),
    "checkpoint_formats": ("checkpoint-format", "d3-ckpt-", "checkpoint_format"),
}

DEFAULT_LENGTH = 200
DEFAULT_LABELS = ("activity",)
EXAMPLE_ROWS = 64
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")

#: motifs planted into the example data of a new dataset (and its ``d3 data synth``): name, IUPAC consensus, effect
#: on label ``i % C``, Poisson rate
EXAMPLE_MOTIFS = (
    ("AP-1", "TGASTCA", 1.0, 0.6),
    ("CREB", "TGACGTCA", 0.8, 0.5),
    ("ETS", "CCGGAAGT", 0.6, 0.5),
    ("GATA", "WGATAR", 0.5, 0.6),
)


@dataclass
class ScaffoldResult:
    """What :func:`scaffold` wrote."""

    kind: str  # registry kind: datasets, architectures, checkpoint_formats
    name: str  # the component's registered name
    distribution: str
    module: str
    path: Path  # the package folder
    files: list[Path] = field(default_factory=list)  # relative to ``path``

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind][0]


def canonical_kind(kind: str) -> str:
    """``dataset``/``datasets``/``architecture``/``arch``/``checkpoint-format``/... -> a key of :data:`KINDS`."""
    from d3core.registry import normalize_kind

    try:
        canonical = normalize_kind(kind)
    except D3UserError:
        canonical = None
    if canonical not in KINDS:
        raise D3UserError(f"no plugin template for {kind!r}; choose one of: "
                          + ", ".join(label for label, _, _ in KINDS.values()))
    return canonical


def _words(name: str) -> list[str]:
    parts = [p for p in re.split(r"[-_]+", name) if p]
    words: list[str] = []
    for part in parts:  # split CamelCase too: MyNet -> My, Net
        words += re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+|[A-Z]", part) or [part]
    return words


def names_for(kind: str, name: str) -> dict[str, str]:
    """Registered name, distribution, module and class name of a new plugin of ``kind`` called ``name``."""
    kind = canonical_kind(kind)
    label, prefix, _ = KINDS[kind]
    bare = name.strip()
    for strip in (prefix, prefix.replace("-", "_"), "d3-", "d3_"):
        if bare.lower().startswith(strip) and len(bare) > len(strip):
            bare = bare[len(strip):]
            break
    if not _NAME.match(bare):
        raise D3UserError(f"plugin name {name!r} is not usable: start with a letter and use only letters, digits, "
                          "'-' and '_' (e.g. my-enhancers)")
    slug = re.sub(r"[-_]+", "-", bare.lower())
    distribution = prefix + slug
    module = distribution.replace("-", "_")
    if keyword.iskeyword(module) or not module.isidentifier():
        raise D3UserError(f"plugin name {name!r} gives the module name {module!r}, not a Python identifier")
    camel = "".join(w[:1].upper() + w[1:] for w in _words(bare))
    suffix = {"datasets": "Dataset", "architectures": "Architecture", "checkpoint_formats": "Format"}[kind]
    return {"name": bare, "dist": distribution, "module": module, "class_name": camel + suffix,
            "net_class": camel + "Net", "slug": slug, "kind_label": label}


def _label_names(labels: Sequence[str] | str | None) -> list[str]:
    if labels is None:
        return list(DEFAULT_LABELS)
    if isinstance(labels, str):
        labels = labels.split(",")
    names = [label.strip() for label in labels if label.strip()]
    if not names:
        raise D3UserError("--labels needs at least one label name, e.g. --labels activity or --labels dev,hk")
    bad = [n for n in names if not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*$", n)]
    if bad:
        raise D3UserError(f"--labels: {bad[0]!r} is not a usable label name (letters, digits, '_', '-', '.')")
    if len(set(names)) != len(names):
        raise D3UserError(f"--labels: duplicate label names in {','.join(names)}")
    return names


def template_values(kind: str, name: str, *, length: int | None = None,
                    labels: Sequence[str] | str | None = None) -> dict[str, str]:
    """Every ``{{key}}`` a template may use."""
    import d3core

    values = names_for(kind, name)
    kind = canonical_kind(kind)
    version = d3core.__version__.split("+")[0]
    values.update(d3core_min=version, d3core_version=version)
    titles = {"datasets": f"The {values['name']} dataset for d3",
              "architectures": f"The {values['name']} score-network architecture for d3",
              "checkpoint_formats": f"The {values['name']} checkpoint format for d3"}
    values["description"] = titles[kind]
    values["package_data"] = ""
    if kind == "datasets":
        length = DEFAULT_LENGTH if length is None else int(length)
        if length < 16:
            raise D3UserError(f"--length {length}: sequences must be at least 16 bp long")
        names = _label_names(labels)
        motifs = example_motifs(names)
        values.update(
            length=str(length), n_labels=str(len(names)), label_list=", ".join(names),
            label_names_list=repr(names), label_names_tuple=repr(tuple(names)), filename=f"{values['slug']}.h5",
            column_aliases="{" + ", ".join(f"{n!r}: ({n!r},)" for n in names) + "}",
            synth_baseline="{" + ", ".join(f"{n!r}: 0.0" for n in names) + "}",
            motifs="\n".join(f"        Motif({m['name']!r}, {m['consensus']!r}, {m['effects']!r}, rate={m['rate']}),"
                             for m in motifs),
            example_rows=str(EXAMPLE_ROWS),
            package_data=f'\n[tool.setuptools.package-data]\n{values["module"]} = ["data/*.h5"]\n',
        )
    elif length is not None or labels is not None:
        raise D3UserError("--length and --labels apply to 'd3 plugins new dataset' only")
    return values


def example_motifs(label_names: Sequence[str]) -> list[dict[str, Any]]:
    """:data:`EXAMPLE_MOTIFS` with motif ``i`` driving label ``i % C``."""
    return [{"name": name, "consensus": consensus, "effects": {label_names[i % len(label_names)]: effect},
             "rate": rate} for i, (name, consensus, effect, rate) in enumerate(EXAMPLE_MOTIFS)]


def render_text(text: str, values: dict[str, str], *, source: str = "template") -> str:
    """Replace every ``{{key}}``; an unknown key is a bug in the template (``KeyError`` naming it)."""
    def replace(match: re.Match) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"{source}: unknown placeholder {{{{{key}}}}}")
        return str(values[key])

    return _PLACEHOLDER.sub(replace, text)


def _templates(folder: str) -> list[Path]:
    files = []
    for base in (TEMPLATES / "common", TEMPLATES / folder):
        files += sorted(p for p in base.rglob("*.tmpl") if p.is_file() and "__pycache__" not in p.parts)
    return files


def _target_name(template: Path, values: dict[str, str]) -> Path:
    """``templates/<folder>/__module__/x.py.tmpl`` -> ``<module>/x.py`` (``gitignore`` -> ``.gitignore``)."""
    parts = [part.replace("__module__", values["module"]) for part in template.relative_to(TEMPLATES).parts[1:]]
    parts[-1] = parts[-1][: -len(".tmpl")]
    if parts[-1] == "gitignore":
        parts[-1] = ".gitignore"
    return Path(*parts)


def write_example_data(path: Path, *, dataset: str, length: int, label_names: Sequence[str],
                       n: int = EXAMPLE_ROWS, seed: int = 0) -> Path:
    """The example HDF5 of a new dataset plugin: ``n`` synthetic training rows in the DeepSTARR layout."""
    from d3core.data.layout import H5Layout
    from d3core.data.synth import Motif, synthesize_file

    motifs = [Motif(m["name"], m["consensus"], m["effects"], rate=m["rate"]) for m in example_motifs(label_names)]
    return synthesize_file(path, dataset=dataset, layout=H5Layout("X_{split}", "Y_{split}", True, length),
                           label_names=list(label_names), motifs=motifs,
                           baseline={label: 0.0 for label in label_names}, noise=0.3, gc=0.45, n_train=n,
                           seed=seed, overwrite=True)


def scaffold(kind: str, name: str, out: str | Path | None = None, *, length: int | None = None,
             labels: Sequence[str] | str | None = None, force: bool = False) -> ScaffoldResult:
    """Write a new plugin package ``<out>/<distribution>/`` (``out`` defaults to the current directory).

    Refuses (:class:`D3UserError`) to write into an existing non-empty folder unless ``force``.
    """
    kind = canonical_kind(kind)
    values = template_values(kind, name, length=length, labels=labels)
    target = Path(out or ".") / values["dist"]
    if target.exists() and not target.is_dir():
        raise D3UserError(f"{target} exists and is not a folder; choose another --out")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise D3UserError(f"{target} already exists and is not empty; choose another --out or NAME "
                          "(or pass --force to write over it)")
    rendered: list[tuple[Path, str]] = []
    for template in _templates(KINDS[kind][2]):
        rendered.append((_target_name(template, values),
                         render_text(template.read_text(encoding="utf-8"), values, source=str(template))))
    target.mkdir(parents=True, exist_ok=True)
    files = []
    try:
        for relative, text in rendered:
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(text, encoding="utf-8")
            files.append(relative)
        if kind == "datasets":
            relative = Path(values["module"]) / "data" / "example.h5"
            write_example_data(target / relative, dataset=values["name"], length=int(values["length"]),
                               label_names=values["label_list"].split(", "))
            files.append(relative)
    except BaseException:
        if not force:
            shutil.rmtree(target, ignore_errors=True)
        raise
    return ScaffoldResult(kind=kind, name=values["name"], distribution=values["dist"], module=values["module"],
                          path=target, files=sorted(files))
