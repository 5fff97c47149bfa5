"""The model registry's REST routes through a real Jupyter server (pytest-jupyter).

Requests go as the lab sends them: one user (the login cookie the first request sets, as a
browser keeps it), names percent-encoded into one path segment. A second person is the
Client with ``actor="someone"``."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

from jupyter_mlops import capture
from jupyter_mlops.client import Client
from jupyter_mlops.client.gates import config_sha256

API = "mlops/api/v1"
SOMEONE = "someone"
GATES_YAML = """\
holdout: holdout@1
target: y
metrics:
  accuracy: {min: 0.6}
"""


@pytest.fixture
def jp_server_config(mlops_store: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MlopsApp": {"store": str(mlops_store), "run_scheduler": False},
    }


@pytest.fixture
def client(mlops_store: Path, open_client: Callable[..., Client]) -> Client:
    """A Client of the server's store, beside the server."""
    return open_client(mlops_store)


class Lab:
    """The lab's requests: the token on the first one, then the login cookie it set (so
    every request is the same Jupyter user), and the token again unless told not to."""

    def __init__(self, http: Any, base_url: str, auth: dict[str, str]) -> None:
        self.http, self.base_url, self.auth = http, base_url, auth
        self.cookies: dict[str, str] = {}

    def url(self, *parts: Any, **params: Any) -> str:
        path = "/".join(urllib.parse.quote(str(p), safe="") for p in parts)
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return f"{self.base_url}{API}/{path}{query}"

    async def fetch(
        self, method: str, url: str, body: Any = None, token: bool = True, **headers: str
    ) -> Any:
        if not self.cookies and url != f"{self.base_url}api/me":
            await self.fetch("GET", f"{self.base_url}api/me")
        sent = {**(self.auth if token else {}), **headers}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if method in ("POST", "PATCH", "PUT"):
            data = body if isinstance(body, bytes) else json.dumps({} if body is None else body)
        response = await self.http.fetch(
            url, method=method, body=data, headers=sent, raise_error=False, request_timeout=120
        )
        for line in response.headers.get_list("Set-Cookie"):
            self.cookies.update({k: m.value for k, m in SimpleCookie(line).items()})
        return response

    async def call(
        self, method: str, *parts: Any, body: Any = None, status: int = 200, **params: Any
    ) -> Any:
        """The JSON reply of a request that must answer ``status``."""
        response = await self.fetch(method, self.url(*parts, **params), body)
        text = response.body.decode()
        assert response.code == status, text[:1000]
        return json.loads(text) if text else None

    async def refused(
        self, method: str, *parts: Any, body: Any = None, status: int = 400, **params: Any
    ) -> dict[str, Any]:
        """A refusal as the API promises it: the status and ``{code, message}``."""
        reply: dict[str, Any] = await self.call(method, *parts, body=body, status=status, **params)
        assert {"code", "message"} <= set(reply) and "Traceback" not in reply["message"]
        return reply

    async def user(self) -> str:
        """Who the audit names for this lab: the tests log in with the shared token, which
        names nobody (an "Anonymous <moon>" identity), so the account the server runs as."""
        response = await self.fetch("GET", f"{self.base_url}api/me")
        identity = json.loads(response.body)["identity"]
        assert identity["name"].startswith("Anonymous "), identity
        return capture.user()


@pytest.fixture
def lab(
    http_server_client: Any, jp_base_url: str, jp_auth_header: dict[str, str], jp_serverapp: Any
) -> Lab:
    return Lab(http_server_client, jp_base_url, jp_auth_header)


@pytest.fixture
def trained(client: Client, tmp_path: Path) -> str:
    """Given a run that logged a small scikit-learn classifier ``clf`` and recorded the file
    of its holdout (``holdout@1``, labels ``y``): the run's id."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["y"] = (frame.a + frame.b + rng.normal(scale=0.7, size=200) > 0).astype(int)
    train, holdout = frame.iloc[:140], frame.iloc[140:]
    model = LogisticRegression().fit(train[["a", "b"]], train["y"])
    path = tmp_path / "holdout.csv"
    holdout.to_csv(path, index=False)
    run = client.create_run("registry-api", "train")
    client.log_model(run, model, name="clf", input_example=train[["a", "b"]].head(3))
    client.log_dataset(run, str(path), name="holdout")
    client.end_run(run)
    return run


def _register(client: Client, run: str, name: str = "churn", times: int = 1, **kw: Any) -> None:
    for _ in range(times):
        client.register_model(f"runs:/{run}/clf", name, **kw)


def _failed_report(client: Client, name: str, version: int) -> str:
    """A stored gate report of ``name``/``version`` whose metrics gate failed: its sha256."""
    found = client.get_model_version(name, version)
    gate = {"gate": "metrics", "passed": False, "summary": "accuracy 0.5 < 0.9", "checks": []}
    return client.save_gate_report(
        name,
        version,
        {"gates": [gate]},
        model_sha256=found.sha256,
        config_sha256=config_sha256(client.get_registered_model(name).gates),
        actor=SOMEONE,
    ).sha256


def _break_audit(client: Client, seq: int) -> None:
    """Drop the audit's guards and edit entry ``seq`` behind the registry's back."""
    engine: sa.Engine = client.store.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER registry_audit_no_update")
        conn.exec_driver_sql("DROP TRIGGER registry_audit_no_delete")
        conn.exec_driver_sql(f"UPDATE registry_audit SET reason = 'forged' WHERE seq = {seq}")


# -- register, list, get, patch ----------------------------------------------------------------


async def test_given_a_logged_model_when_registered_then_201_version_1_by_the_lab_user(
    lab: Lab, trained: str, client: Client
) -> None:
    body = {"source": f"runs:/{trained}/clf", "name": "churn", "description": "baseline"}

    version = await lab.call("POST", "models", body=body, status=201)

    assert (version["name"], version["version"], version["stage"]) == ("churn", 1, "None")
    assert version["run_id"] == trained and version["description"] == "baseline"
    assert version["created_by"] == await lab.user() != ""
    assert client.get_model_version("churn", 1).sha256 == version["sha256"]


async def test_given_registered_models_when_listed_then_each_has_counts_stages_and_aliases(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained, times=3)
    _register(client, trained, "fraud")
    client.transition_model_version_stage("churn", 1, "Staging")
    client.transition_model_version_stage("churn", 2, "Production")
    client.set_model_alias("churn", "champion", 2)

    models = (await lab.call("GET", "models"))["models"]

    churn, fraud = models
    assert churn["name"] == "churn" and churn["versions"] == 3
    assert churn["stages"] == {"Staging": 1, "Production": 2}
    assert churn["aliases"] == {"champion": 2}
    assert fraud["versions"] == 1 and fraud["stages"] == {"Staging": None, "Production": None}
    assert {"description", "tags", "required_approvals", "gates"} <= set(churn)


async def test_given_an_approval_made_elsewhere_then_the_models_row_changes(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)
    before = (await lab.call("GET", "models"))["models"][0]

    client.approve_model_version("churn", 1, "looks fine", actor="someone else")
    after = (await lab.call("GET", "models"))["models"][0]

    # Nothing else in the row moved: the audit's seq tells the panel to read the model again.
    assert {k: v for k, v in after.items() if k != "audit_seq"} == {
        k: v for k, v in before.items() if k != "audit_seq"
    }
    assert after["audit_seq"] == client.model_audit("churn")[-1].seq > before["audit_seq"]


async def test_given_a_model_when_fetched_then_versions_carry_aliases_approvals_and_report(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained, times=2)
    client.set_model_alias("churn", "champion", 1)
    client.approve_model_version("churn", 2, "checked", actor=SOMEONE)
    sha = _failed_report(client, "churn", 2)

    detail = await lab.call("GET", "models", "churn")

    assert detail["model"]["name"] == "churn"
    assert [a["alias"] for a in detail["aliases"]] == ["champion"]
    first, second = detail["versions"]
    assert (first["aliases"], first["approvals"], first["report"]) == (["champion"], [], None)
    assert [a["actor"] for a in second["approvals"]] == [SOMEONE]
    assert second["report"]["sha256"] == sha and second["report"]["failed"] == ["metrics"]
    assert second["report"]["passed"] is False


async def test_given_a_version_when_fetched_then_its_aliases_approvals_and_reports(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)
    client.set_model_alias("churn", "challenger", 1)
    client.approve_model_version("churn", 1, actor=SOMEONE)
    sha = _failed_report(client, "churn", 1)

    version = await lab.call("GET", "models", "churn", "versions", 1)

    assert (version["name"], version["version"], version["aliases"]) == ("churn", 1, ["challenger"])
    assert [a["actor"] for a in version["approvals"]] == [SOMEONE]
    assert [r["sha256"] for r in version["reports"]] == [sha]
    assert version["reports"][0]["report"]["gates"][0]["gate"] == "metrics"


async def test_given_an_unknown_model_when_fetched_then_404(lab: Lab) -> None:
    reply = await lab.refused("GET", "models", "nope", status=404)
    assert reply["code"] == "NOT_FOUND"


async def test_given_a_model_when_patched_then_its_fields_change_audited_for_the_lab_user(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)
    body = {
        "description": "predicts churn",
        "tags": {"team": "risk"},
        "required_approvals": 1,
        "intended_use": "monthly retention",
        "limitations": "EU customers only",
        "reason": "card",
    }

    model = await lab.call("PATCH", "models", "churn", body=body)

    assert {k: model[k] for k in body if k != "reason"} == {
        k: v for k, v in body.items() if k != "reason"
    }
    last = client.model_audit("churn")[-1]
    assert (last.action, last.actor, last.reason) == ("update_model", await lab.user(), "card")


# -- gates ---------------------------------------------------------------------------------------


async def test_given_gates_as_yaml_when_put_then_get_returns_the_canonical_config(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)

    model = await lab.call("PUT", "models", "churn", "gates", body={"yaml": GATES_YAML})

    config = (await lab.call("GET", "models", "churn", "gates"))["config"]
    assert config == model["gates"] == client.get_registered_model("churn").gates
    assert config["holdout"] == "holdout@1" and config["stages"] == ["Production"]
    assert config["metrics"]["accuracy"]["min"] == 0.6


async def test_given_gates_as_an_object_when_put_then_null_removes_them(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)
    config = {"stages": ["Staging"], "robustness": True}

    put = await lab.call("PUT", "models", "churn", "gates", body={"config": config})
    removed = await lab.call(
        "PUT", "models", "churn", "gates", body={"config": None, "reason": "off"}
    )

    assert put["gates"]["stages"] == ["Staging"] and "robustness" in put["gates"]
    assert removed["gates"] is None
    assert (await lab.call("GET", "models", "churn", "gates")) == {"config": None}
    assert [e.action for e in client.model_audit("churn")][-2:] == ["set_gates", "set_gates"]


@pytest.mark.parametrize(
    "body",
    [{}, {"config": {}, "yaml": ""}, {"yaml": {"metrics": {}}}, {"config": "stages: [Staging]"}],
)
async def test_given_gates_neither_as_one_object_nor_as_yaml_text_when_put_then_400(
    lab: Lab, trained: str, client: Client, body: dict[str, Any]
) -> None:
    _register(client, trained)
    await lab.refused("PUT", "models", "churn", "gates", body=body)
    assert client.get_registered_model("churn").gates is None


# -- stages and approvals ------------------------------------------------------------------------


async def test_given_a_version_when_moved_to_staging_then_its_stage_and_the_audit_say_so(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)

    moved = await lab.call(
        "POST", "models", "churn", "versions", 1, "stage", body={"stage": "staging", "reason": "qa"}
    )

    assert (moved["version"], moved["stage"]) == (1, "Staging")
    last = client.model_audit("churn")[-1]
    assert (last.action, last.to_value, last.actor, last.reason) == (
        "stage",
        "Staging",
        await lab.user(),
        "qa",
    )


async def test_given_required_approvals_missing_when_moved_to_production_then_409_blockers(
    lab: Lab, trained: str
) -> None:
    body = {"source": f"runs:/{trained}/clf", "name": "churn"}
    await lab.call("POST", "models", body=body, status=201)
    await lab.call("PATCH", "models", "churn", body={"required_approvals": 1})

    reply = await lab.refused(
        "POST", "models", "churn", "versions", 1, "stage", body={"stage": "Production"}, status=409
    )

    assert reply["code"] == "PROMOTION_BLOCKED" and reply["report"] is None
    assert len(reply["blockers"]) == 1 and "1 approval" in reply["blockers"][0]
    assert (await lab.call("GET", "models", "churn", "versions", 1))["stage"] == "None"


async def test_given_the_registrant_when_approving_then_409(lab: Lab, trained: str) -> None:
    body = {"source": f"runs:/{trained}/clf", "name": "churn"}
    await lab.call("POST", "models", body=body, status=201)

    reply = await lab.refused(
        "POST", "models", "churn", "versions", 1, "approve", body={"reason": "mine"}, status=409
    )

    assert reply["code"] == "CONFLICT"
    assert (await lab.call("GET", "models", "churn", "versions", 1))["approvals"] == []


async def test_given_a_version_registered_by_someone_when_the_lab_approves_then_201(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained, actor=SOMEONE)

    approval = await lab.call(
        "POST", "models", "churn", "versions", 1, "approve", body={"reason": "ok"}, status=201
    )

    assert (approval["name"], approval["version"], approval["reason"]) == ("churn", 1, "ok")
    assert approval["actor"] == await lab.user()


async def test_given_another_persons_approval_when_moved_to_production_then_it_moves(
    lab: Lab, trained: str, client: Client
) -> None:
    await lab.call(
        "POST", "models", body={"source": f"runs:/{trained}/clf", "name": "churn"}, status=201
    )
    await lab.call("PATCH", "models", "churn", body={"required_approvals": 1})
    client.approve_model_version("churn", 1, "reviewed", actor=SOMEONE)

    moved = await lab.call(
        "POST", "models", "churn", "versions", 1, "stage", body={"stage": "Production"}
    )

    assert moved["stage"] == "Production"


async def test_given_a_failed_gate_report_when_moved_then_409_with_blockers_and_the_report(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)
    client.set_model_gates("churn", {"stages": ["Staging"], "robustness": True})
    sha = _failed_report(client, "churn", 1)

    reply = await lab.refused(
        "POST", "models", "churn", "versions", 1, "stage", body={"stage": "Staging"}, status=409
    )

    assert reply["code"] == "PROMOTION_BLOCKED"
    assert reply["blockers"] == ["gate metrics failed: accuracy 0.5 < 0.9"]
    assert reply["report"]["sha256"] == sha and reply["report"]["passed"] is False


async def test_given_blockers_when_forced_with_a_reason_then_it_moves_and_the_audit_says_force(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)
    client.update_registered_model("churn", required_approvals=1)
    body = {"stage": "Production", "force": True, "reason": "incident 42"}

    moved = await lab.call("POST", "models", "churn", "versions", 1, "stage", body=body)

    assert moved["stage"] == "Production"
    assert "force" in [e.action for e in client.model_audit("churn")]


async def test_given_blockers_when_forced_without_a_reason_then_400(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)
    client.update_registered_model("churn", required_approvals=1)
    body = {"stage": "Production", "force": True}

    await lab.refused("POST", "models", "churn", "versions", 1, "stage", body=body)

    assert client.get_model_version("churn", 1).stage == "None"


@pytest.mark.parametrize(
    "body", [{"stage": "Live"}, {"stage": 3}, {"stage": "Staging", "force": "yes"}]
)
async def test_given_a_bad_stage_move_when_posted_then_400(
    lab: Lab, trained: str, client: Client, body: dict[str, Any]
) -> None:
    _register(client, trained)
    await lab.refused("POST", "models", "churn", "versions", 1, "stage", body=body)


# -- validation, reports, lineage, card ----------------------------------------------------------


async def test_given_no_gates_when_validated_then_400(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)
    reply = await lab.refused("POST", "models", "churn", "versions", 1, "validate", body={})
    assert "no validation gates" in reply["message"] or "no gates" in reply["message"]


async def test_given_gates_and_a_holdout_when_validated_then_the_report_is_stored(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)
    client.set_model_gates("churn", GATES_YAML)

    report = await lab.call("POST", "models", "churn", "versions", 1, "validate", body={})

    assert report["passed"] is True and report["created_by"] == await lab.user()
    assert [g["gate"] for g in report["report"]["gates"]] == ["metrics"]
    assert report["report"]["holdout"]["ref"] == "holdout@1"
    assert [r.sha256 for r in client.get_gate_reports("churn", 1)] == [report["sha256"]]


async def test_given_a_report_when_fetched_by_sha256_then_it_and_only_under_its_model(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)
    _register(client, trained, "fraud")
    sha = _failed_report(client, "churn", 1)

    report = await lab.call("GET", "models", "churn", "reports", sha)

    assert (report["sha256"], report["name"], report["version"]) == (sha, "churn", 1)
    await lab.refused("GET", "models", "fraud", "reports", sha, status=404)
    await lab.refused("GET", "models", "churn", "reports", "0" * 64, status=404)


async def test_given_a_version_when_its_lineage_is_asked_then_its_run_and_version(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)

    lineage = await lab.call("GET", "models", "churn", "versions", 1, "lineage")

    assert lineage["version"]["version"] == 1 and lineage["run"]["id"] == trained


async def test_given_a_version_when_its_card_is_asked_then_markdown(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)
    client.update_registered_model("churn", intended_use="monthly retention offers")

    card = await lab.call("GET", "models", "churn", "versions", 1, "card")

    assert card["markdown"].startswith("# Model card: churn version 1")
    assert "monthly retention offers" in card["markdown"]


# -- aliases -------------------------------------------------------------------------------------


async def test_given_an_alias_when_put_then_deleted_then_it_points_and_is_gone_audited(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained, times=2)

    alias = await lab.call(
        "PUT", "models", "churn", "aliases", "champion", body={"version": 2, "reason": "best"}
    )
    response = await lab.fetch(
        "DELETE", lab.url("models", "churn", "aliases", "champion", reason="retired")
    )

    assert (alias["alias"], alias["version"], alias["updated_by"]) == (
        "champion",
        2,
        await lab.user(),
    )
    assert response.code == 204 and not response.body
    assert client.get_model_aliases("churn") == []
    last = client.model_audit("churn")[-1]
    assert (last.action, last.alias, last.reason) == ("delete_alias", "champion", "retired")


async def test_given_a_version_when_deleted_then_204_hidden_audited_and_production_refused(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained, times=2)
    client.transition_model_version_stage("churn", 2, "Production")

    response = await lab.fetch("DELETE", lab.url("models", "churn", "versions", "1", reason="old"))
    refused = await lab.refused("DELETE", "models", "churn", "versions", "2", status=409)

    assert response.code == 204
    assert [v.version for v in client.search_model_versions("churn")] == [2]
    await lab.refused("GET", "models", "churn", "versions", "1", status=404)
    last = client.model_audit("churn")[-1]
    assert (last.action, last.version, last.reason, last.actor) == (
        "delete_version",
        1,
        "old",
        await lab.user(),
    )
    assert "archive it" in refused["message"]


@pytest.mark.parametrize("alias", ["production", "latest", "7"])
async def test_given_an_alias_that_reads_as_a_stage_or_version_when_put_then_400(
    lab: Lab, trained: str, client: Client, alias: str
) -> None:
    _register(client, trained)
    await lab.refused("PUT", "models", "churn", "aliases", alias, body={"version": 1})


# -- audit, history, verify ----------------------------------------------------------------------


async def test_given_two_models_when_audited_then_one_models_entries_and_the_whole_audit(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained)
    _register(client, trained, "fraud")
    client.set_model_alias("fraud", "champion", 1)

    churn = (await lab.call("GET", "models", "churn", "audit"))["entries"]
    whole = (await lab.call("GET", "registry", "audit"))["entries"]

    assert {e["name"] for e in churn} == {"churn"}
    assert [e["seq"] for e in whole] == list(range(1, len(whole) + 1))
    assert {e["name"] for e in whole} == {"churn", "fraud"} and whole[-1]["action"] == "set_alias"


async def test_given_moves_when_history_is_asked_then_the_moves_and_the_holders_at_a_time(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained, times=2)
    before = int(time.time() * 1000) - 1
    time.sleep(0.01)
    client.transition_model_version_stage("churn", 1, "Staging")
    client.set_model_alias("churn", "champion", 2)

    history = (await lab.call("GET", "models", "churn", "history"))["entries"]
    then = (await lab.call("GET", "models", "churn", "history", at=str(before)))["holders"]
    now = await lab.call("GET", "models", "churn", "history", at=datetime.now().isoformat())

    assert [e["action"] for e in history] == ["register", "register", "stage", "set_alias"]
    assert then["Staging"] is None and then["champion"] is None
    assert now["holders"]["Staging"] == 1 and now["holders"]["champion"] == 2


@pytest.mark.parametrize("at", ["yesterday", "-5", "0001-01-01", "9" * 30])
async def test_given_a_bad_time_when_history_is_asked_then_400(
    lab: Lab, trained: str, client: Client, at: str
) -> None:
    _register(client, trained)
    await lab.refused("GET", "models", "churn", "history", at=at)


async def test_given_an_intact_audit_when_verified_then_intact_until_a_row_is_edited(
    lab: Lab, trained: str, client: Client
) -> None:
    _register(client, trained, times=2)
    client.set_model_alias("churn", "champion", 1)
    count = len(client.model_audit())

    intact = await lab.call("GET", "registry", "verify")
    _break_audit(client, 2)
    broken = await lab.call("GET", "registry", "verify")

    assert intact == {"intact": True, "break": None, "entries": count}
    assert broken["intact"] is False and broken["entries"] == count
    assert broken["break"]["seq"] == 2 and broken["break"]["detail"] == "this entry was edited"
    assert broken["break"]["entry"]["reason"] == "forged"


# -- the boundary --------------------------------------------------------------------------------


async def test_given_a_cookie_only_write_without_the_xsrf_token_then_403_and_nothing_written(
    lab: Lab, trained: str, client: Client
) -> None:
    body = {"source": f"runs:/{trained}/clf", "name": "churn"}

    response = await lab.fetch("POST", lab.url("models"), body, token=False)

    assert response.code == 403, response.body[:300]
    assert "_xsrf" in json.loads(response.body)["message"]
    assert client.list_registered_models() == []


async def test_given_a_cookie_only_write_with_the_xsrf_token_then_it_is_accepted(
    lab: Lab, trained: str, client: Client
) -> None:
    body = {"source": f"runs:/{trained}/clf", "name": "churn"}
    await lab.user()  # logged in: the login cookie
    lab.cookies["_xsrf"] = "lab-xsrf-token"

    response = await lab.fetch(
        "POST", lab.url("models"), body, token=False, **{"X-XSRFToken": "lab-xsrf-token"}
    )

    assert response.code == 201, response.body[:300]
    assert [m.name for m in client.list_registered_models()] == ["churn"]


@pytest.mark.parametrize(
    ("method", "route", "body"),
    [
        ("POST", ("models",), {"source": "x", "name": "churn", "owner": "me"}),
        ("PATCH", ("models", "churn"), {"description": "d", "stage": "Production"}),
        ("PUT", ("models", "churn", "gates"), {"yaml": "", "extra": 1}),
        ("POST", ("models", "churn", "versions", 1, "stage"), {"stage": "Staging", "by": "me"}),
        ("POST", ("models", "churn", "versions", 1, "approve"), {"actor": "someone"}),
        ("POST", ("models", "churn", "versions", 1, "validate"), {"holdout": "holdout@1"}),
        ("PUT", ("models", "churn", "aliases", "champion"), {"version": 1, "actor": "x"}),
    ],
)
async def test_given_an_unknown_field_when_written_then_400_and_nothing_changes(
    lab: Lab, trained: str, client: Client, method: str, route: tuple[Any, ...], body: Any
) -> None:
    _register(client, trained)
    before = client.model_audit()

    reply = await lab.refused(method, *route, body=body)

    assert "unknown field" in reply["message"]
    assert client.model_audit() == before


@pytest.mark.parametrize(
    ("version", "status"), [("abc", 400), ("0", 400), ("-1", 400), ("1.5", 400), ("9" * 30, 400),
                            ("99", 404)],
)  # fmt: skip
async def test_given_a_bad_version_number_when_fetched_then_400_or_404(
    lab: Lab, trained: str, client: Client, version: str, status: int
) -> None:
    _register(client, trained)
    await lab.refused("GET", "models", "churn", "versions", version, status=status)
    await lab.refused("POST", "models", "churn", "versions", version, "approve", status=status)


async def test_given_a_name_with_a_slash_and_spaces_when_percent_encoded_then_every_route_finds_it(
    lab: Lab, trained: str, client: Client
) -> None:
    name = "team a/churn v2"
    await lab.call(
        "POST", "models", body={"source": f"runs:/{trained}/clf", "name": name}, status=201
    )

    detail = await lab.call("GET", "models", name)
    version = await lab.call("GET", "models", name, "versions", 1)
    alias = await lab.call("PUT", "models", name, "aliases", "champion", body={"version": 1})
    history = await lab.call("GET", "models", name, "history")

    assert detail["model"]["name"] == version["name"] == alias["name"] == name
    assert lab.url("models", name).endswith("/models/team%20a%2Fchurn%20v2")
    assert [e["action"] for e in history["entries"]] == ["register", "set_alias"]
