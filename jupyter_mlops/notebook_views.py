"""``%mlops`` subcommands: interactive widget views for runs and compare, pandas tables for
the rest (HTML in notebooks, text elsewhere)."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

from . import views
from .client import Client

USAGE = """%mlops runs [-e EXPERIMENT] [-f FILTER] [-o ORDER] [-n LIMIT]
%mlops show RUN
%mlops compare RUN RUN [RUN ...]
%mlops experiments
%mlops data [NAME]
%mlops store
%mlops register NAME [SOURCE] [-m MODEL] [-d DESCRIPTION]
%mlops models
%mlops versions NAME
%mlops serve TARGET [--port N] [--token T] [--workers N] [--idle-timeout S] [--no-record]
%mlops servers [-a]
%mlops stop SERVER_ID
%mlops monitor NAME [--window 1h | --rows N] [--windows K] [--version V]"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would sys.exit(2) inside the kernel
        raise UsageError(f"{message}\nUsage:\n{USAGE}")


def _parser() -> _Parser:
    parser = _Parser(prog="%mlops", add_help=False)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    runs = sub.add_parser("runs", add_help=False)
    runs.add_argument("-e", "--experiment")
    runs.add_argument("-f", "--filter")
    runs.add_argument("-o", "--order-by", action="append")
    runs.add_argument("-n", "--limit", type=int, default=50)
    show = sub.add_parser("show", add_help=False)
    show.add_argument("run")
    compare = sub.add_parser("compare", add_help=False)
    compare.add_argument("runs", nargs="+")
    sub.add_parser("experiments", add_help=False)
    data = sub.add_parser("data", add_help=False)
    data.add_argument("name", nargs="?")
    sub.add_parser("store", add_help=False)
    register = sub.add_parser("register", add_help=False)
    register.add_argument("name")
    register.add_argument("source", nargs="?")
    register.add_argument("-m", "--model")
    register.add_argument("-d", "--description")
    sub.add_parser("models", add_help=False)
    versions = sub.add_parser("versions", add_help=False)
    versions.add_argument("name")
    serve = sub.add_parser("serve", add_help=False)
    serve.add_argument("target")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--token")
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--idle-timeout", type=float)
    serve.add_argument("--max-batch", type=int, default=1)
    serve.add_argument("--no-record", action="store_true")
    servers = sub.add_parser("servers", add_help=False)
    servers.add_argument("-a", "--all", action="store_true")
    stop = sub.add_parser("stop", add_help=False)
    stop.add_argument("server_id")
    watch = sub.add_parser("monitor", add_help=False)
    watch.add_argument("name")
    watch.add_argument("--window")
    watch.add_argument("--rows", type=int)
    watch.add_argument("--windows", type=int, default=24)
    watch.add_argument("--version", type=int)
    return parser


def _register(client: Client, args: argparse.Namespace, last_run: str | None) -> str:
    """Register SOURCE (runs:/…, a logged model id), else the model of the last tracked cell
    (``-m`` names which one when it fitted several)."""
    source = args.source
    if source is None:
        if last_run is None:
            raise UsageError(
                "No tracked cell has run in this kernel yet: give a SOURCE "
                "(runs:/<run id>/<model name> or a logged model id)."
            )
        models = [m.name for m in client.get_run(last_run).models]
        if args.model is None and len(models) != 1:
            found = ", ".join(models) or "none"
            raise UsageError(
                f"The last tracked cell logged {len(models)} models ({found}): name one with -m."
            )
        source = f"runs:/{last_run}/{args.model or models[0]}"
    version = client.register_model(source, args.name, args.description)
    return f"Registered models:/{version.name}/{version.version} (from {source})"


def dispatch(client: Client, argv: list[str], last_run: str | None = None) -> Any:
    if not argv:
        raise UsageError(f"Usage:\n{USAGE}")
    args = _parser().parse_args(argv)
    if args.command == "runs":
        from .widgets import RunsTable  # ipywidgets: imported when a table is asked for

        # A widget view; `.frame` is the page as a DataFrame. A bad experiment, filter or
        # order raises here (a UsageError from the magic); in the widget it shows inline.
        return RunsTable(
            client,
            experiment=args.experiment,
            filter=args.filter,
            order_by=args.order_by,
            limit=args.limit,
        )
    if args.command == "show":
        return views.frame(views.run_fields(client.get_run(args.run)), "field")
    if args.command == "compare":
        if len(args.runs) < 2:
            raise UsageError("compare needs at least two runs.")
        from .widgets.compare import CompareView  # plotly: imported when a chart is asked for

        # A widget view (params, metric charts, histories, source diff); `.frame` is the
        # params table. An unknown run raises here, a UsageError from the magic.
        return CompareView(client, args.runs)
    if args.command == "experiments":
        return views.frame(views.experiment_rows(client.list_experiments()), "id")
    if args.command == "data":
        return views.frame(views.dataset_rows(client.list_datasets(args.name)), "id")
    if args.command == "register":
        print(_register(client, args, last_run))
        return None
    if args.command == "models":
        rows = [
            views.registered_model_row(
                m, client.search_model_versions(m.name), client.get_model_aliases(m.name)
            )
            for m in client.list_registered_models()
        ]
        return views.frame(rows, "name")
    if args.command == "versions":
        by_version = views.aliases_by_version(client.get_model_aliases(args.name))
        rows = [
            views.version_row(v, by_version.get(v.version, []), raw=False)
            for v in client.search_model_versions(args.name)
        ]
        return views.frame(rows, "version")
    if args.command == "serve":
        from .serving import ServeOptions, start_server

        options = ServeOptions(
            host=args.host,
            port=args.port,
            token=args.token,
            workers=args.workers,
            idle_timeout=args.idle_timeout,
            max_batch=args.max_batch,
            record=not args.no_record,
        )
        return start_server(client, args.target, options)
    if args.command == "servers":
        servers = client.list_model_servers(active_only=not args.all)
        return views.frame([views.server_row(s) for s in servers], "id")
    if args.command == "stop":
        from .serving import stop_server

        record = stop_server(client, args.server_id)
        print(
            f"Server {record.id[:8]} ({record.name}{record.ref}): {record.status}, {record.reason}"
        )
        return None
    if args.command == "monitor":
        from .monitoring.monitor import monitor
        from .widgets.monitor import MonitorView  # plotly: imported when a chart is asked for

        report = monitor(
            client,
            args.name,
            window=args.window,
            rows=args.rows,
            windows=args.windows,
            version=args.version,
            progress=True,
        )
        return MonitorView(report)
    if args.command == "store":
        loc = client.location
        return views.frame(
            [
                {"setting": "database", "value": loc.db_url},
                {"setting": "artifacts", "value": loc.artifact_root},
                {"setting": "chosen by", "value": loc.source},
            ],
            "setting",
        )
    raise UsageError(f"Usage:\n{USAGE}")
