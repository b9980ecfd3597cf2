"""The knowledge editors' API in the real gateway app over a real Redis (no chat here).

What an editor notices: who may edit, what each write answers, that an invalid guide is refused
field by field and changes nothing, and that export and import round-trip. The chat side (the
answer changes within a second) is tested against the whole stack in tests/integration/test_editors.py.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.gateway.conftest import ADMIN, SEED_ID, login


@pytest.fixture
def client(kb_client: TestClient) -> TestClient:
    return kb_client


class Editor:
    def __init__(self, client: TestClient, token: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get("/api/kb" + path, headers=self.headers, **kw)

    def put(self, guide_id: str, body: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.client.put(f"/api/kb/guides/{guide_id}", json=body,
                               headers={**self.headers, **(headers or {})}, **kw)

    def delete(self, guide_id: str) -> Any:
        return self.client.delete(f"/api/kb/guides/{guide_id}", headers=self.headers)

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post("/api/kb" + path, headers=self.headers, **kw)


@pytest.fixture
def editor(client: TestClient) -> Editor:
    return Editor(client, login(client, *ADMIN))


@pytest.fixture
def seed(editor: Editor) -> dict[str, Any]:
    resp = editor.get(f"/guides/{SEED_ID}")
    assert resp.status_code == 200
    return resp.json()  # type: ignore[no-any-return]


def new_guide(seed: dict[str, Any], guide_id: str = "pet-license",
              title: str = "宠物登记证办理") -> dict[str, Any]:
    body = copy.deepcopy(seed)
    body.update(id=guide_id, title=title, aliases=[], sample_questions=[f"{title}怎么办"])
    return body


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/kb/guides"), ("GET", f"/api/kb/guides/{SEED_ID}"), ("PUT", f"/api/kb/guides/{SEED_ID}"),
    ("DELETE", f"/api/kb/guides/{SEED_ID}"), ("GET", "/api/kb/export"), ("POST", "/api/kb/import"),
])
def test_editing_needs_a_login_and_the_editor_role(client: TestClient, editor: Editor, method: str,
                                                   path: str) -> None:
    anonymous = client.request(method, path, json={})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
    resp = client.put("/api/auth/users/agent1", json={"password": "agent-pass-123", "roles": ["agent"]},
                      headers=editor.headers)
    assert resp.status_code == 200, resp.text
    agent = client.request(method, path, json={},
                           headers={"Authorization": f"Bearer {login(client, 'agent1', 'agent-pass-123')}"})
    assert agent.status_code == 403 and agent.json()["error"]["code"] == "forbidden"
    assert client.get(f"/api/kb/guides/{SEED_ID}", headers=editor.headers).status_code == 200


def test_the_list_shows_every_guide_and_where_it_comes_from(editor: Editor, seed: dict[str, Any]) -> None:
    assert editor.put("pet-license", new_guide(seed)).status_code == 201
    listing = editor.get("/guides").json()
    by_id = {g["id"]: g for g in listing["guides"]}
    assert listing["count"] == len(by_id) >= 61
    assert by_id[SEED_ID]["origin"] == "file" and by_id[SEED_ID]["updated_by"] is None
    pet = by_id["pet-license"]
    assert pet["origin"] == "edited" and pet["updated_by"] == ADMIN[0] and pet["updated_at"]
    assert set(pet) >= {"id", "title", "audience", "theme", "reviewed", "source", "updated_at", "origin"}


def test_create_replace_read_delete(editor: Editor, seed: dict[str, Any]) -> None:
    body = new_guide(seed)
    created = editor.put("pet-license", body)
    assert created.status_code == 201 and created.json()["op"] == "created"
    assert editor.get("/guides/pet-license").json() == body

    body["sections"]["fee"] = "免费办理。"
    replaced = editor.put("pet-license", body)
    assert replaced.status_code == 200 and replaced.json()["op"] == "replaced"
    assert replaced.json()["version"] > created.json()["version"]
    assert editor.get("/guides/pet-license").json()["sections"]["fee"] == "免费办理。"

    assert editor.delete("pet-license").json()["op"] == "deleted"
    gone = editor.get("/guides/pet-license")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "guide_not_found"


def test_a_file_guide_can_be_edited_deleted_and_reverted(editor: Editor, seed: dict[str, Any]) -> None:
    body = copy.deepcopy(seed)
    body["sections"]["contact"] = "咨询电话：12345"
    assert editor.put(SEED_ID, body).status_code == 200
    assert editor.get(f"/guides/{SEED_ID}").headers["x-guide-origin"] == "edited"
    assert editor.delete(SEED_ID).status_code == 200
    assert editor.get(f"/guides/{SEED_ID}").status_code == 404
    assert editor.post(f"/guides/{SEED_ID}/revert").json()["op"] == "reverted"
    assert editor.get(f"/guides/{SEED_ID}").json() == seed


def test_the_id_may_be_left_out_but_must_match_the_url(editor: Editor, seed: dict[str, Any]) -> None:
    body = new_guide(seed)
    del body["id"]
    assert editor.put("pet-license", body).status_code == 201
    body["id"] = "other-id"
    resp = editor.put("pet-license", body)
    assert resp.status_code == 422
    assert [f["field"] for f in resp.json()["error"]["fields"]] == ["id"]


def _break(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = body
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is _DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


_DELETE = object()


@pytest.mark.parametrize("changes", [
    {"sections.fee": _DELETE},
    {"sections.fee": "<script>alert(1)</script>", "title": "  "},
    {"sections.process": '<img src=x onerror="alert(1)">', "sections.overview": "x" * 4001},
    {"reviewed": "下个月", "audience": "martians", "colour": "blue"},
    {"aliases": ["老年津贴", "<iframe src=//evil>"], "source": _DELETE},
    {"situations": [{"name": "代办", "materials": "[点我](javascript:alert(1))"}]},
])
def test_an_invalid_guide_names_each_bad_field_and_changes_nothing(
    editor: Editor, seed: dict[str, Any], changes: dict[str, Any]
) -> None:
    before = editor.get(f"/guides/{SEED_ID}")
    body = copy.deepcopy(seed)
    for path, value in changes.items():
        _break(body, path, value)
    resp = editor.put(SEED_ID, body)
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "invalid_guide" and "nothing was changed" in error["message"]
    named = {f["field"] for f in error["fields"]}
    expected = {"situations.0.materials" if p == "situations" else p for p in changes}
    expected = {("aliases.1" if p == "aliases" else p) for p in expected}
    assert named == expected, error["fields"]
    assert all(f["message"] for f in error["fields"])
    after = editor.get(f"/guides/{SEED_ID}")
    assert after.json() == before.json() and after.headers["etag"] == before.headers["etag"]


@pytest.mark.parametrize(("content", "status", "code"), [
    (b"{not json", 400, "invalid_json"),
    (b"[1, 2]", 422, "invalid_guide"),
    (b'"just a string"', 422, "invalid_guide"),
])
def test_a_body_that_is_not_a_guide_object_is_refused(editor: Editor, content: bytes, status: int,
                                                      code: str) -> None:
    resp = editor.client.put("/api/kb/guides/pet-license", content=content,
                             headers={**editor.headers, "content-type": "application/json"})
    assert resp.status_code == status and resp.json()["error"]["code"] == code
    assert "/" in resp.json()["error"]["message"]  # Chinese / English
    assert editor.get("/guides/pet-license").status_code == 404


def test_an_oversized_body_is_refused(editor: Editor, client: TestClient) -> None:
    limit = client.app.state.xs.settings.kb_max_body_bytes  # type: ignore[attr-defined]
    resp = editor.client.put("/api/kb/guides/pet-license", content=b"x" * (limit + 1),
                             headers={**editor.headers, "content-type": "application/json"})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "body_too_large"


def test_deleting_an_unknown_guide_is_404(editor: Editor) -> None:
    resp = editor.delete("no-such-guide")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "guide_not_found"


def test_if_match_stops_overwriting_a_colleagues_change(editor: Editor, seed: dict[str, Any]) -> None:
    etag = editor.get(f"/guides/{SEED_ID}").headers["etag"]
    mine, theirs = copy.deepcopy(seed), copy.deepcopy(seed)
    theirs["sections"]["fee"] = "不收费（同事改的）"
    assert editor.put(SEED_ID, theirs, headers={"If-Match": etag}).status_code == 200
    mine["sections"]["fee"] = "不收费（我改的）"
    resp = editor.put(SEED_ID, mine, headers={"If-Match": etag})
    assert resp.status_code == 412 and resp.json()["error"]["code"] == "version_conflict"
    assert editor.get(f"/guides/{SEED_ID}").json()["sections"]["fee"] == "不收费（同事改的）"


def test_export_then_import_round_trips(editor: Editor, seed: dict[str, Any]) -> None:
    assert editor.put("pet-license", new_guide(seed)).status_code == 201
    exported = editor.get("/export").json()
    assert isinstance(exported, list) and "pet-license" in {g["id"] for g in exported}

    unchanged = editor.post("/import", json=exported).json()
    assert (unchanged["created"], unchanged["replaced"], unchanged["unchanged"]) == ([], [], len(exported))

    editor.delete("pet-license")
    changed = copy.deepcopy(exported)
    seed_entry = next(g for g in changed if g["id"] == SEED_ID)
    seed_entry["sections"]["fee"] = "免费（导入）"
    result = editor.post("/import", json=changed).json()
    assert result["created"] == ["pet-license"] and result["replaced"] == [SEED_ID]
    assert editor.get("/export").json() == changed


@pytest.mark.parametrize("fmt", ["yaml", "xlsx"])
def test_a_spreadsheet_or_yaml_export_imports_back_and_a_bad_row_is_named(
        editor: Editor, seed: dict[str, Any], fmt: str) -> None:
    exported = editor.get("/export", params={"format": fmt})
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].endswith(f'.{fmt}"')
    media = exported.headers["content-type"]
    same = editor.client.post("/api/kb/import", content=exported.content,
                              headers={**editor.headers, "Content-Type": media}).json()
    assert same["created"] == same["replaced"] == [] and same["unchanged"] == 60
    if fmt == "yaml":
        broken = exported.content.replace(b"reviewed: '", b"reviewed: 'x", 1)
        field = "[0].reviewed"
    else:
        import io

        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(exported.content))
        wb["指南"].cell(row=4, column=1, value="Bad Id!")
        out = io.BytesIO()
        wb.save(out)
        broken, field = out.getvalue(), "第 4 行.id"
    broken = broken.replace("免费".encode(), "免费（半途）".encode())  # other rows change too
    before = editor.get("/export").json()
    refused = editor.post("/import", content=broken, params={"format": fmt})
    assert refused.status_code == 422, refused.text
    assert field in {f["field"] for f in refused.json()["error"]["fields"]}
    assert editor.get("/export").json() == before  # nothing half-imported


def test_an_import_with_one_bad_guide_imports_nothing(editor: Editor, seed: dict[str, Any]) -> None:
    before = editor.get("/export").json()
    good, bad = new_guide(seed), new_guide(seed, "pet-two", "宠物二")
    bad["sections"]["fee"] = ""
    duplicate = new_guide(seed)
    resp = editor.post("/import", json=[good, bad, duplicate])
    assert resp.status_code == 422
    assert {f["field"] for f in resp.json()["error"]["fields"]} == {"[1].sections.fee", "[2].id"}
    assert editor.get("/export").json() == before


def test_import_replace_deletes_what_is_not_in_it(editor: Editor, seed: dict[str, Any]) -> None:
    everything = editor.get("/export").json()
    keep = [g for g in everything if g["id"] != SEED_ID]
    result = editor.post("/import", params={"mode": "replace"}, json=keep).json()
    assert result["deleted"] == [SEED_ID] and result["unchanged"] == len(keep)
    assert editor.get(f"/guides/{SEED_ID}").status_code == 404


def test_storage_down_is_a_clear_503(editor: Editor, client: TestClient, seed: dict[str, Any]) -> None:
    state = client.app.state.xs  # type: ignore[attr-defined]
    real = state.redis  # the login check keeps its own client; the guides' storage breaks
    state.redis = type(real).from_url("redis://127.0.0.1:9/0", socket_connect_timeout=1,
                                      decode_responses=True)
    try:
        resp = editor.put("pet-license", new_guide(seed))
        listing = editor.get("/guides")
    finally:
        state.redis = real
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "redis_unavailable"
    assert editor.get("/guides/pet-license").status_code == 404  # nothing was published
    # The guides of record are in the database: the list still reads, without the live version.
    assert listing.status_code == 200 and listing.json()["live_version"] is None
