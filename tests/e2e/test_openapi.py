"""The admin API's OpenAPI document stays true.

gateway/assets/openapi.json is embedded in the binary and served at /admin/openapi.json. These tests check that
it is a valid OpenAPI 3.1 document, that it lists exactly the routes gateway/src/admin.rs answers (a new route
line without its entry fails here, naming the route), that methods it does not list answer 404, and that every
answer of a documented route, GET and write alike, validates against the documented schema (jsonschema,
draft 2020-12, which OpenAPI 3.1 schemas are).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import quote

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi

import strata_e2e as e2e

ROOT = Path(__file__).resolve().parents[2]
DOC_FILE = ROOT / "gateway" / "assets" / "openapi.json"
ADMIN_RS = ROOT / "gateway" / "src" / "admin.rs"
METHODS = ("get", "put", "post", "delete", "patch")
OBJECT_PATH = "/admin/objects/{bucket}/{key}"
# Routes that admin.rs matches by something other than a literal `(&Method::X, "/path")` arm.
USER_PATH = "/admin/users/{access_key}"
NON_LITERAL_ROUTES = {("get", "/"), ("get", OBJECT_PATH), ("delete", USER_PATH)}


@pytest.fixture(autouse=True)
def _needs_admin(gateway):
    gateway.require_admin()


@pytest.fixture(scope="module")
def doc(gateway):
    r = gateway.admin("GET", "/admin/openapi.json")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    served = r.json()
    assert served == json.loads(DOC_FILE.read_text()), (
        "the gateway serves another openapi.json than gateway/assets/openapi.json: rebuild the binary")
    return served


@pytest.fixture(scope="module")
def data(gateway):
    """A bucket with objects (one read, one under a key with '/' and a space) and a usage snapshot."""
    s3 = gateway.client()
    bucket = e2e.unique_bucket("oapi")
    s3.create_bucket(Bucket=bucket)
    keys = ["a", "dir/b c.txt", "z"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"openapi " * 100)
    s3.get_object(Bucket=bucket, Key="a")["Body"].read()
    deadline = time.monotonic() + 10  # access recording is batched
    while gateway.object_info(bucket, "a").json()["reads"] < 1:
        assert time.monotonic() < deadline, "the read of 'a' was not recorded within 10 s"
        time.sleep(0.1)
    assert gateway.admin("GET", "/admin/backends?refresh=true").status_code == 200
    yield {"bucket": bucket, "keys": keys}
    e2e.empty_bucket(s3, bucket)


def documented(doc) -> set[tuple[str, str]]:
    return {(m, p) for p, item in doc["paths"].items() for m in item if m in METHODS}


def check(doc, method: str, path: str, resp, templated: str | None = None):
    """Asserts that the answer's status, content type and body are documented for this route."""
    op = doc["paths"][templated or path.split("?")[0]][method]
    responses = op["responses"]
    status = str(resp.status_code)
    assert status in responses, (
        f"{method.upper()} {path} answered {status}, documented: {sorted(responses)}: {resp.text[:500]}")
    response = responses[status]
    if "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    ctype = resp.headers.get("content-type", "").split(";")[0].strip()
    assert ctype in response["content"], f"{method.upper()} {path}: content type {ctype!r} not documented"
    schema = dict(response["content"][ctype]["schema"], components=doc["components"])
    body = resp.json() if ctype == "application/json" else resp.text
    try:
        jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
    except jsonschema.ValidationError as e:
        pytest.fail(f"{method.upper()} {path} ({status}) does not match its schema: {e.message} at "
                    f"{'/'.join(map(str, e.absolute_path))}\n{json.dumps(body)[:1500]}", pytrace=False)


def test_document_is_valid_openapi(doc):
    validate_openapi(doc)
    assert doc["openapi"].startswith("3.1")
    # Every operation says what an unauthenticated call gets, except the open dashboard page.
    for method, path in documented(doc):
        op = doc["paths"][path][method]
        if op.get("security") == []:
            assert path == "/", f"{method} {path} is documented as open"
        else:
            assert "401" in op["responses"], f"{method.upper()} {path} does not document 401"


def test_every_route_of_the_router_is_documented(doc):
    source = ADMIN_RS.read_text()
    routed = {(m.lower(), p) for m, p in re.findall(r'\(&Method::([A-Z]+),\s*"(/[^"]*)"\)', source)}
    assert len(routed) >= 20, f"route pattern no longer matches admin.rs: found {sorted(routed)}"
    assert 'p.starts_with("/admin/objects/")' in source
    missing = sorted(routed - documented(doc))
    assert not missing, (
        "routes answered by gateway/src/admin.rs but not in gateway/assets/openapi.json "
        f"(add one entry under \"paths\" for each): {missing}")
    stale = sorted(documented(doc) - routed - NON_LITERAL_ROUTES)
    assert not stale, f"documented routes that admin.rs does not answer: {stale}"


def test_undocumented_methods_and_paths_answer_404(gateway, doc, data):
    obj = f"/admin/objects/{data['bucket']}/a"
    for path, item in doc["paths"].items():
        concrete = obj if path == OBJECT_PATH else path
        for method in METHODS:
            if method in item:
                continue
            r = gateway.admin(method.upper(), concrete, data=b"{}")
            assert r.status_code == 404, f"undocumented {method.upper()} {concrete} answered {r.status_code}"
            assert r.json()["error"] == "NotFound", r.text
    for path in ("/admin/nope", "/admin/objects-x", "/admin/plan/nope", "/admin"):
        r = gateway.admin("GET", path)
        assert r.status_code == 404, f"GET {path} answered {r.status_code}"
        assert set(r.json()) == {"error", "message"}


def test_every_get_matches_its_schema(gateway, doc, data):
    bucket, key = data["bucket"], "dir/b c.txt"
    concrete = {
        "/admin/objects": [f"/admin/objects?bucket={bucket}", f"/admin/objects?bucket={bucket}&limit=1",
                           f"/admin/objects?bucket={bucket}&backend=hot&min_heat=0.5",
                           f"/admin/objects?bucket={bucket}&max_heat=0.5&prefix=dir/"],
        OBJECT_PATH: [f"/admin/objects/{bucket}/{quote(key, safe='/')}"],
        "/admin/health": ["/admin/health", "/admin/health?deep=true"],
        "/admin/backends": ["/admin/backends", "/admin/backends?refresh=true"],
        "/admin/moves": ["/admin/moves", "/admin/moves?active=true&limit=5"],
    }
    called = 0
    for path, item in doc["paths"].items():
        if "get" not in item:
            continue
        for url in concrete.get(path, [path]):
            assert "{" not in url, f"no concrete URL for {path}"
            r = gateway.admin("GET", url)
            assert r.status_code == 200, f"GET {url}: {r.status_code} {r.text[:300]}"
            check(doc, "get", url, r, templated=path)
            called += 1
    assert called >= 22
    # Unauthenticated and missing-object answers match the error schema too.
    check(doc, "get", "/admin/heat", gateway.admin("GET", "/admin/heat", token="wrong"))
    check(doc, "get", OBJECT_PATH, gateway.admin("GET", f"/admin/objects/{bucket}/nope"), templated=OBJECT_PATH)
    check(doc, "get", "/admin/objects", gateway.admin("GET", "/admin/objects?bucket=" + bucket + "&backend=nope"))


def test_filters_of_the_object_list(gateway, data):
    bucket = data["bucket"]
    r = gateway.admin("GET", f"/admin/objects?bucket={bucket}&min_heat=0.5").json()
    assert [o["key"] for o in r["objects"]] == ["a"], r  # the only object read
    r = gateway.admin("GET", f"/admin/objects?bucket={bucket}&max_heat=0.5").json()
    assert [o["key"] for o in r["objects"]] == ["dir/b c.txt", "z"], r
    r = gateway.admin("GET", f"/admin/objects?bucket={bucket}&backend=cold").json()
    assert r["objects"] == [] and r["is_truncated"] is False, r
    # A filtered page of one continues after the key it stopped at.
    page1 = gateway.admin("GET", f"/admin/objects?bucket={bucket}&backend=hot&limit=1").json()
    assert [o["key"] for o in page1["objects"]] == ["a"] and page1["is_truncated"], page1
    page2 = gateway.admin(
        "GET", f"/admin/objects?bucket={bucket}&backend=hot&limit=5&after={quote(page1['next_after'])}").json()
    assert [o["key"] for o in page2["objects"]] == ["dir/b c.txt", "z"] and not page2["is_truncated"], page2
    for bad in ("min_heat=-1", "max_heat=x", "backend=nope"):
        assert gateway.admin("GET", f"/admin/objects?bucket={bucket}&{bad}").status_code == 400, bad


def test_the_object_list_filters_by_tag(gateway, doc):
    s3 = gateway.client()
    bucket = e2e.unique_bucket("tagf")
    s3.create_bucket(Bucket=bucket)
    try:
        s3.put_object(Bucket=bucket, Key="a", Body=b"x", Tagging="team=blue&tier=gold")
        s3.put_object(Bucket=bucket, Key="b", Body=b"x", Tagging="team=red")
        s3.put_object(Bucket=bucket, Key="c", Body=b"x")
        s3.put_object_tagging(Bucket=bucket, Key="c", Tagging={"TagSet": [{"Key": "team", "Value": "blue"}]})

        def keys(q: str) -> list[str]:
            r = gateway.admin("GET", f"/admin/objects?bucket={bucket}&{q}")
            check(doc, "get", "/admin/objects", r)
            return [o["key"] for o in r.json()["objects"]]

        assert keys("tag=team") == ["a", "b", "c"]
        assert keys("tag=team%3Dblue") == ["a", "c"]  # KEY=VALUE, the '=' percent-encoded or not
        assert keys("tag=team=red") == ["b"]
        assert keys("tag=tier") == ["a"]
        assert keys("tag=team%3Dgreen") == [] and keys("tag=nope") == []
        # Tags are answered with the object, and a removed tag set no longer matches.
        assert gateway.admin("GET", f"/admin/objects/{bucket}/a").json()["tags"] == {"team": "blue", "tier": "gold"}
        s3.delete_object_tagging(Bucket=bucket, Key="c")
        assert keys("tag=team%3Dblue") == ["a"]
        assert gateway.admin("GET", f"/admin/objects/{bucket}/c").json()["tags"] == {}
        for bad in ("tag=", "tag=%3Dblue"):
            r = gateway.admin("GET", f"/admin/objects?bucket={bucket}&{bad}")
            assert r.status_code == 400 and r.json()["error"] == "BadRequest", (bad, r.text)
    finally:
        e2e.empty_bucket(s3, bucket)


def test_write_routes_match_their_schemas(gateway, doc, data):
    bucket = data["bucket"]
    calls = [
        ("put", "/admin/chaos", {"rules": [{"backend": "cold", "ops": ["get"], "fault": {"type": "error", "status": 503},
                                            "probability": 0.0}]}, 200),
        ("delete", "/admin/chaos", None, 200),
        ("post", "/admin/moves", {"bucket": bucket, "key": "z", "to": ["warm"]}, 202),
        ("post", "/admin/plan/apply", None, 202),
        ("post", "/admin/scrub", None, 200),
        ("post", "/admin/lifecycle/run", None, 200),
        ("post", "/admin/keys/rotate", {"backend": "cold"}, 200),
        ("post", "/admin/moves", {"bucket": bucket, "key": "z", "to": ["nope"]}, 400),
        ("put", "/admin/chaos", {"rules": [{"fault": {"type": "nonsense"}}]}, 400),
        ("post", "/admin/keys/rotate", {"backend": "nope"}, 404),
    ]
    for method, path, body, status in calls:
        r = gateway.admin(method.upper(), path, json=body) if body is not None else gateway.admin(method.upper(), path)
        assert r.status_code == status, f"{method.upper()} {path}: {r.status_code} {r.text[:300]}"
        check(doc, method, path, r)
    moves = gateway.admin("GET", "/admin/moves").json()["moves"]
    assert any(m["key"] == "z" and m["to"] == ["warm"] for m in moves), moves
    check(doc, "get", "/admin/moves", gateway.admin("GET", "/admin/moves"))


def test_user_routes_match_their_schemas(gateway, doc):
    gateway.require_managed("creates users on the suite's gateway")
    r = gateway.admin("POST", "/admin/users", json={"access_key": "openapi-user", "access": "read-only"})
    assert r.status_code == 201, r.text
    check(doc, "post", "/admin/users", r)
    assert len(r.json()["secret_key"]) >= 32
    for body, status in (({"access_key": "openapi-user"}, 409), ({"access_key": "x"}, 400),
                         ({"access_key": "ok-key", "unknown": 1}, 400)):
        r = gateway.admin("POST", "/admin/users", json=body)
        assert r.status_code == status, r.text
        check(doc, "post", "/admin/users", r)
    listed = {u["access_key"]: u for u in gateway.admin("GET", "/admin/users").json()["users"]}
    assert listed["openapi-user"]["managed"] is True and "secret_key" not in listed["openapi-user"]
    r = gateway.admin("DELETE", "/admin/users/openapi-user")
    assert r.status_code == 204 and r.content == b""
    r = gateway.admin("DELETE", "/admin/users/openapi-user")
    assert r.status_code == 404
    check(doc, "delete", "/admin/users/openapi-user", r, templated=USER_PATH)
    r = gateway.admin("DELETE", f"/admin/users/{gateway.access_key}")
    assert r.status_code == 409
    check(doc, "delete", "/admin/users/x", r, templated=USER_PATH)
