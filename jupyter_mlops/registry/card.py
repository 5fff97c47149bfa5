"""A registered version's lineage as text for the terminal, and its model card: Markdown
generated from the lineage and the gate report (``Client.model_lineage``), with the two fields
only a person can write, intended use and limitations, taken from the registered model.

Everything here but :func:`model_card_markdown` is pure (a lineage dict in, text out), so the
CLI, the server and a notebook print the same card. Text the user typed as prose (the model's
description, intended use, limitations) is Markdown and kept as written; every other recorded
string (names, params, paths, reasons) is escaped, so a run called ``**x**`` or a reason with a
``|`` cannot reshape the card. :func:`model_card_html` escapes raw HTML and drops harmful links.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from typing import TYPE_CHECKING, Any

from ..exceptions import MlopsError
from ..views import fmt_duration, fmt_time, fmt_value

if TYPE_CHECKING:
    from ..client import Client

# How a card asks for the fields only a person can write (client.update_registered_model
# sets them from Python, with the same check and audit entry).
SET_CARD_FIELD = 'jupyter-mlops models update {name} --{option} "..."'
# How the card and the text ask for a gate report (the command the registry's blockers name).
VALIDATE_COMMAND = "jupyter-mlops models validate {ref}"

# What can start markup in the middle of a line (line starts are never recorded text here,
# so > and list markers are harmless; with [ and ] escaped, ( ) and ! cannot make a link or
# an image; with < and & escaped, no HTML tag or entity).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<#|~&])")


# -- shared pieces ---------------------------------------------------------------------------


def _ref(lineage: dict[str, Any]) -> str:
    version = lineage["version"]
    return f"{version['name']}/{version['version']}"


def _utc(ms: int | None) -> str:
    """A time as a card prints it: UTC, to the minute, so readers anywhere agree."""
    if ms is None:
        return ""
    when = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _shape(d: dict[str, Any]) -> str:
    return "×".join(map(str, d.get("shape") or [])) or str(d.get("kind") or "")


def _move_text(move: dict[str, Any]) -> str:
    """A stage or alias move in words: ``stage None → Staging``, ``alias champion set``."""
    if move["action"] == "stage":
        return f"stage {move['from']} → {move['to']}"
    alias = move["alias"]
    if move["action"] == "delete_alias":
        return f"alias {alias} removed (was on {move['from']})"
    if move["from"] is None:
        return f"alias {alias} set on {move['to']}"
    return f"alias {alias} moved {move['from']} → {move['to']}"


def _check_value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(fmt_value(v) for v in value)
    return fmt_value(value)


def _verdict(passed: Any) -> str:
    """A gate's or a check's verdict, spelled as the gate report's own table spells it."""
    return "pass" if passed else "FAIL"


def _overall(passed: Any) -> str:
    return "PASSED" if passed else "FAILED"


def _holdout(holdout: dict[str, Any]) -> str:
    """What the gates judged on: a dataset version, or a DataFrame handed to validate()."""
    rows = holdout.get("rows")
    ref = holdout.get("ref")
    return f"{ref} ({rows} rows)" if ref else f"a DataFrame of {rows} rows"


# -- terminal text ---------------------------------------------------------------------------


def lineage_text(lineage: dict[str, Any]) -> str:
    """A version's lineage (``Client.model_lineage``) in lines, as ``jupyter-mlops models
    lineage`` prints it: version → run → notebook cell → commit → data → params and metrics →
    environment → who trained, approved and promoted → gate report → serving → the source."""
    version, model = lineage["version"], lineage["model"]
    logged, run = lineage["logged_model"], lineage["run"]
    aliases = " ".join(f"@{a}" for a in version["aliases"])
    lines = [f"{version['uri']}   {version['stage']}{'   ' + aliases if aliases else ''}"]
    if model["description"]:
        lines.append(f"  {model['description'].splitlines()[0]}")
    lines.append(
        f"registered  {fmt_time(version['created_at'])} by {version['created_by']}"
        f"   sha256 {version['sha256'][:12]}"
    )
    if logged is not None:
        lines.append(
            f"model       {logged['model_class']} ({logged['flavor']})   logged as "
            f"{logged['name']} {logged['id'][:8]}"
        )
    if run is None:
        lines.append(f"run         {version['run_id']} (deleted: nothing more is known of it)")
    else:
        lines += [
            f"run         {run['id']}   {run['experiment']} / {run['name']}   {run['status']}",
            f"trained by  {run['user']}@{lineage['environment'].get('host') or '?'}   "
            f"{fmt_time(run['start_time'])}   duration {fmt_duration(run['duration_ms']) or '-'}",
        ]
        if run["parent_run_id"]:
            lines.append(f"pipeline    step of run {run['parent_run_id']}")
        nb, git = lineage["notebook"], lineage["git"]
        lines += [
            f"notebook    {nb['path'] or '-'}   cell {nb['cell_id'] or '-'}   "
            f"[{nb['execution_count'] or '-'}]",
            f"git         {git['commit'] or '-'}"
            + (" (dirty: uncommitted changes)" if git["dirty"] else ""),
        ]
        env = lineage["environment"]
        packages = env.get("packages") or {}
        lines.append(
            f"environment python {env.get('python') or '?'}   {env.get('platform') or ''}   "
            f"{len(packages)} packages imported".rstrip()
        )

    def dataset(d: dict[str, Any]) -> str:
        return f"{d['name']} v{d['version']} {_shape(d)} {d['fingerprint']}   from {d['source']}"

    sections: list[tuple[str, list[str]]] = [
        ("inputs", [dataset(d) for d in lineage["inputs"]]),
        ("outputs", [dataset(d) for d in lineage["outputs"]]),
        ("params", [f"{k} = {v}" for k, v in lineage["params"].items()]),
        ("metrics", [f"{k} = {fmt_value(v)}" for k, v in lineage["metrics"].items()]),
    ]
    packages = (lineage["environment"].get("packages") or {}).items()
    if packages:
        joined = ", ".join(f"{k}=={v}" for k, v in packages)
        sections.append(("packages", textwrap.wrap(joined, 96, break_on_hyphens=False)))
    required = model["required_approvals"]
    approvals = [
        f"{fmt_time(a['at'])}  {a['actor']}" + (f"  {a['reason']}" if a["reason"] else "")
        for a in lineage["approvals"]
    ]
    if required or approvals:
        needed = f"{required} required for Production" if required else "none required"
        sections.append((f"approvals ({needed})", approvals or ["none yet"]))
    sections.append(("promotions", [_promotion_line(m) for m in lineage["promotions"]]))
    sections.append(("gate report", _report_lines(lineage)))
    served = [_served_text(s) for s in lineage["served"]] or ["not served"]
    sections.append(("served", served))
    for title, items in sections:
        if items:
            lines.append(f"\n{title}:")
            lines += [f"  {item}" for item in items]
    source = (lineage["notebook"] or {}).get("source")
    if source:
        lines += ["\nsource:"] + ["  " + line for line in source.splitlines()]
    return "\n".join(lines)


def _promotion_line(move: dict[str, Any]) -> str:
    line = f"{fmt_time(move['at'])}  {move['actor']}  {_move_text(move)}"
    if move["reason"]:
        line += f"  ({move['reason']})"
    if move["forced"] is not None:
        line += f"  FORCED past its blockers: {move['forced']}"
    if move["report_sha256"]:
        line += f"  report {move['report_sha256'][:12]}"
    return line


def _report_lines(lineage: dict[str, Any]) -> list[str]:
    report = lineage["gate_report"]
    if report is None:
        return [f"none: validate it with {VALIDATE_COMMAND.format(ref=_ref(lineage))}"]
    lines = [
        f"{report['sha256'][:12]}  {_overall(report['passed'])}  {fmt_time(report['created_at'])} "
        f"by {report['created_by']}"
        + ("" if report["current"] else "  (stale: made for another gate configuration)")
    ]
    holdout = report.get("holdout")
    if holdout:
        lines.append(f"holdout {_holdout(holdout)} {holdout.get('fingerprint') or ''}".rstrip())
    for gate in report["gates"]:
        lines.append(f"{_verdict(gate['passed']):4}  {gate['gate']:10}  {gate['summary']}")
    return lines


def _served_text(item: Any) -> str:
    """Where a version is or was served: ``http://… (models:/churn@champion, server
    1a2b3c4d by ana) since 2026-11-28 15:20, serving now`` (or ``until …``)."""
    if not isinstance(item, dict) or "url" not in item:
        return fmt_value(item)
    head = (
        f"{item['url']} ({item.get('ref', '')}, server {str(item.get('server_id', ''))[:8]} "
        f"by {item.get('started_by', '?')}) since {fmt_time(item.get('since'))}"
    )
    if item.get("serving_now"):
        return f"{head}, serving now"
    return f"{head}, until {fmt_time(item.get('until'))} (server {item.get('status')})"


# -- the model card (Markdown) ---------------------------------------------------------------


def md_text(value: Any) -> str:
    """Recorded text made literal in Markdown: its special characters escaped, on one line."""
    text = " ".join(fmt_value(value).split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code(value: Any) -> str:
    """Recorded text as inline code, whatever backticks it holds."""
    text = " ".join(fmt_value(value).split())
    if not text:
        return ""
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return out


def _prose(text: str, fallback: str) -> list[str]:
    """A field the user writes, as they wrote it; when empty, a visible request to write it."""
    return text.strip().splitlines() if text and text.strip() else [fallback]


def model_card_markdown(client: Client, name: str, version: int | str) -> str:
    """The model card of version ``version`` of ``name``, as Markdown: generated from its
    lineage and gate report, with the intended use and limitations the user wrote."""
    return card_markdown(client.model_lineage(name, version))


def card_markdown(lineage: dict[str, Any]) -> str:
    """The model card of a lineage (``Client.model_lineage``): title, model details, intended
    use, limitations, training data, training procedure, evaluation, approvals and
    promotions, serving."""
    version, model = lineage["version"], lineage["model"]
    name = version["name"]
    out = [f"# Model card: {md_text(name)} version {version['version']}", ""]
    out += [
        f"_Generated from the registry's records of {md_code(version['uri'])}: its run, "
        "audit and gate report. Only intended use and limitations are written by hand._",
        "",
    ]
    out += _details(lineage)
    for title, field in (("Intended use", "intended_use"), ("Limitations", "limitations")):
        hint = SET_CARD_FIELD.format(name=name, option=field.replace("_", "-"))
        out += [
            f"## {title}",
            "",
            *_prose(model[field], f"_Not written yet: set it with {md_code(hint)}._"),
            "",
        ]
    out += _training_data(lineage)
    out += _procedure(lineage)
    out += _evaluation(lineage)
    out += _decisions(lineage)
    out += ["## Serving", ""]
    served = lineage["served"]
    if served:
        out += [f"- {md_text(_served_text(item))}" for item in served]
    else:
        out += ["Not served."]
    return "\n".join(out).rstrip() + "\n"


def _details(lineage: dict[str, Any]) -> list[str]:
    version, model = lineage["version"], lineage["model"]
    logged, run = lineage["logged_model"], lineage["run"]
    out = ["## Model details", ""]
    if model["description"]:
        out += [*model["description"].strip().splitlines(), ""]
    rows = [
        ["Name", md_text(version["name"])],
        ["Version", str(version["version"])],
        ["Stage", md_text(version["stage"])],
        ["Aliases", ", ".join(md_code(a) for a in version["aliases"]) or "none"],
        ["sha256", md_code(version["sha256"])],
    ]
    if version["description"]:
        rows.append(["Version description", md_text(version["description"])])
    if logged is not None:
        rows += [["Class", md_code(logged["model_class"])], ["Flavor", md_text(logged["flavor"])]]
    if run is not None:
        rows += [
            ["Trained by", md_text(run["user"])],
            ["Trained", f"{_utc(run['start_time'])} ({fmt_duration(run['duration_ms']) or '-'})"],
            [
                "Run",
                f"{md_code(run['id'])} ({md_text(run['experiment'])} / {md_text(run['name'])})",
            ],
        ]
    else:
        rows.append(["Run", f"{md_code(version['run_id'])} (deleted)"])
    rows += [
        ["Registered by", md_text(version["created_by"])],
        ["Registered", _utc(version["created_at"])],
    ]
    if model["tags"]:
        rows.append(["Tags", ", ".join(md_code(f"{k}={v}") for k, v in model["tags"].items())])
    out += _table(["Field", "Value"], rows)
    signature = (logged or {}).get("signature") or {}
    columns = (signature.get("inputs") or {}).get("columns") or []
    if columns:
        out += ["", "Inputs the model expects:", ""]
        out += [
            f"- {md_code(c.get('name'))}"
            + (f": {md_text(c['dtype'])}" if c.get("dtype") not in (None, "", "unknown") else "")
            for c in columns
        ]
    classes = signature.get("classes")
    if classes:
        out += ["", f"Classes it predicts: {', '.join(md_code(c) for c in classes)}."]
    return [*out, ""]


def _training_data(lineage: dict[str, Any]) -> list[str]:
    out = ["## Training data", ""]
    rows = [
        [
            role,
            md_text(d["name"]),
            str(d["version"]),
            md_text(_shape(d)),
            md_code(d["source"]),
            md_code(d["fingerprint"]),
        ]
        for role, items in (("input", lineage["inputs"]), ("output", lineage["outputs"]))
        for d in items
    ]
    if not rows:
        return [*out, "The training run recorded no dataset.", ""]
    out += ["The data the training cell read (input) and wrote (output), by fingerprint:", ""]
    return [
        *out,
        *_table(["Role", "Dataset", "Version", "Shape", "Source", "Fingerprint"], rows),
        "",
    ]


def _procedure(lineage: dict[str, Any]) -> list[str]:
    out = ["## Training procedure", ""]
    nb, git, env = lineage["notebook"], lineage["git"], lineage["environment"]
    if nb is None or git is None:
        return [*out, "The training run was deleted: its procedure is no longer known.", ""]
    dirty = " (with uncommitted changes)" if git["dirty"] else ""
    packages = env.get("packages") or {}
    out += [
        f"- Notebook: {md_code(nb['path']) or 'not recorded'}, cell {md_code(nb['cell_id']) or '-'}"
        f" (execution {nb['execution_count'] or '-'})",
        f"- Code: git commit {md_code(git['commit']) or 'not recorded'}{dirty}",
        f"- Environment: Python {md_text(env.get('python') or '?')} on "
        f"{md_text(env.get('platform') or '?')}; "
        + (", ".join(md_code(f"{k}=={v}") for k, v in packages.items()) or "no package recorded"),
        "",
    ]
    params = lineage["params"]
    if params:
        out += ["Parameters:", ""]
        out += _table(["Parameter", "Value"], [[md_code(k), md_code(v)] for k, v in params.items()])
        out.append("")
    source = nb["source"]
    if source:
        fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", source)), default=0) + 1)
        out += ["The training cell:", "", f"{fence}python", source.rstrip("\n"), fence, ""]
    return out


def _evaluation(lineage: dict[str, Any]) -> list[str]:
    out = ["## Evaluation", ""]
    metrics = lineage["metrics"]
    if metrics:
        out += ["Metrics the training run recorded:", ""]
        out += _table(["Metric", "Value"], [[md_code(k), fmt_value(v)] for k, v in metrics.items()])
        out.append("")
    report = lineage["gate_report"]
    if report is None:
        command = VALIDATE_COMMAND.format(ref=_ref(lineage))
        return [*out, f"_No gate report yet: validate it with {md_code(command)}._", ""]
    stale = "" if report["current"] else " It was made for another gate configuration than now."
    out += [
        f"Gate report {md_code(report['sha256'][:12])}: **{_overall(report['passed'])}**, "
        f"made {_utc(report['created_at'])} by {md_text(report['created_by'])}.{stale}",
        "",
    ]
    holdout = report.get("holdout")
    if holdout:
        fingerprint = md_code(holdout.get("fingerprint"))
        out += [
            f"Judged on {md_text(_holdout(holdout))}"
            + (f", fingerprint {fingerprint}" if fingerprint else "")
            + ".",
            "",
        ]
    rows: list[list[str]] = []
    for gate in report["gates"]:
        rows.append(
            [
                f"**{md_text(gate['gate'])}**",
                "",
                "",
                "",
                _verdict(gate["passed"]),
                md_text(gate["summary"]),
            ]
        )
        for check in gate["checks"]:
            rows.append(
                [
                    "",
                    md_text(check.get("name")),
                    md_text(_check_value(check.get("value"))),
                    md_text(_check_value(check.get("threshold"))),
                    _verdict(check.get("passed")),
                    md_text(check.get("note", "")),
                ]
            )
    out += _table(["Gate", "Check", "Value", "Threshold", "Verdict", "Summary / note"], rows)
    return [*out, ""]


def _decisions(lineage: dict[str, Any]) -> list[str]:
    model = lineage["model"]
    out = ["## Approvals and promotions", ""]
    approvals = lineage["approvals"]
    required = model["required_approvals"]
    out.append(
        f"Production needs {required} approval(s) by someone other than who registered it."
        if required
        else "Production needs no approval."
    )
    out.append("")
    if approvals:
        out += _table(
            ["Approved by", "When", "Reason"],
            [[md_text(a["actor"]), _utc(a["at"]), md_text(a["reason"] or "")] for a in approvals],
        )
        out.append("")
    moves = lineage["promotions"]
    if not moves:
        return [*out, "Never promoted: it is where it was registered.", ""]
    rows = []
    for move in moves:
        reason = move["reason"] or ""
        if move["forced"] is not None:
            reason = f"FORCED past its blockers: {move['forced']}" + (
                f"; {reason}" if reason else ""
            )
        rows.append(
            [
                _utc(move["at"]),
                md_text(move["actor"]),
                md_text(_move_text(move)),
                md_text(reason),
                md_code((move["report_sha256"] or "")[:12]),
            ]
        )
    return [*out, *_table(["When", "Who", "Move", "Reason", "Gate report"], rows), ""]


# -- HTML for the panel ----------------------------------------------------------------------


def model_card_html(markdown: str) -> str:
    """A card's Markdown as an HTML fragment, for the panel: raw HTML in it (a user's intended
    use, say) is escaped, not rendered, and javascript:/data: links are neutralised. Uses
    mistune, which Jupyter Server brings (through nbconvert)."""
    try:
        import mistune
    except ImportError:  # a notebook-only install, without Jupyter Server
        raise MlopsError(
            "Rendering a model card as HTML needs mistune (installed with jupyter_server); "
            "use the Markdown card instead."
        ) from None
    render = mistune.create_markdown(escape=True, plugins=["table"])
    return str(render(markdown))
