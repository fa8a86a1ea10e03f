"""S3 users managed through the admin API (`POST /admin/users`, `DELETE /admin/users/{access_key}`).

A user created there signs S3 requests at once, with its access level and grants; it is listed (without its
secret) beside the config's users and root, survives a restart, and once removed its requests are refused as an
unknown access key. Config users and root cannot be replaced or removed through the API.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from strata_e2e import error_of


def create(gw, **body):
    r = gw.admin("POST", "/admin/users", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_created_user_signs_at_once_with_its_grants(fresh_gateway):
    gw = fresh_gateway
    gw.require_managed()
    root = gw.client()
    for b in ("team-a", "team-b"):
        root.create_bucket(Bucket=b)
        root.put_object(Bucket=b, Key="k", Body=f"in {b}".encode())
    u = create(gw, access_key="dana", grants=[{"bucket": "team-a", "allow": ["read", "write", "list"]}])
    assert u["access"] == "full" and len(u["secret_key"]) >= 32
    dana = gw.client_with("dana", u["secret_key"])
    assert dana.get_object(Bucket="team-a", Key="k")["Body"].read() == b"in team-a"
    dana.put_object(Bucket="team-a", Key="from-dana", Body=b"hi")
    with pytest.raises(ClientError) as e:
        dana.get_object(Bucket="team-b", Key="k")
    assert error_of(e.value) == (403, "AccessDenied")
    # A wrong secret is a signature mismatch, as for any user.
    with pytest.raises(ClientError) as e:
        gw.client_with("dana", "not-the-secret").list_objects_v2(Bucket="team-a")
    assert error_of(e.value) == (403, "SignatureDoesNotMatch")


def test_a_read_only_user_with_a_chosen_secret(fresh_gateway):
    gw = fresh_gateway
    gw.require_managed()
    gw.client().create_bucket(Bucket="ro-bucket")
    u = create(gw, access_key="reader.1", secret_key="reader-secret-123", access="read-only")
    assert u["secret_key"] == "reader-secret-123" and u["grants"] is None
    reader = gw.client_with("reader.1", "reader-secret-123")
    assert reader.list_objects_v2(Bucket="ro-bucket")["KeyCount"] == 0
    with pytest.raises(ClientError) as e:
        reader.put_object(Bucket="ro-bucket", Key="k", Body=b"x")
    assert error_of(e.value) == (403, "AccessDenied")


def test_listing_removal_and_restart(fresh_gateway):
    gw = fresh_gateway
    gw.require_managed()
    keep = create(gw, access_key="keeper")
    leaver = create(gw, access_key="leaver")
    gw.client_with("leaver", leaver["secret_key"]).list_buckets()
    users = {u["access_key"]: u for u in gw.admin("GET", "/admin/users").json()["users"]}
    assert users["keeper"]["managed"] and users["leaver"]["managed"]
    assert users[gw.access_key]["managed"] is False
    assert not any("secret" in k for u in users.values() for k in u)
    r = gw.admin("DELETE", "/admin/users/leaver")
    assert r.status_code == 204
    gw.restart()
    users = {u["access_key"] for u in gw.admin("GET", "/admin/users").json()["users"]}
    assert "keeper" in users and "leaver" not in users
    gw.client_with("keeper", keep["secret_key"]).list_buckets()
    with pytest.raises(ClientError) as e:
        gw.client_with("leaver", leaver["secret_key"]).list_buckets()
    assert error_of(e.value) == (403, "InvalidAccessKeyId")


def test_config_users_and_root_cannot_be_changed(fresh_gateway):
    gw = fresh_gateway
    gw.require_managed()
    for r in (gw.admin("POST", "/admin/users", json={"access_key": gw.access_key}),
              gw.admin("DELETE", f"/admin/users/{gw.access_key}")):
        assert r.status_code == 409 and r.json()["error"] == "UserFromConfig", r.text
    r = gw.admin("DELETE", "/admin/users/nobody")
    assert r.status_code == 404 and r.json()["error"] == "NoSuchUser"
    for body in ({"access_key": "ab"}, {"access_key": "has space"}, {"access_key": "ok-name", "secret_key": "short"},
                 {"access_key": "ok-name", "grants": [{"bucket": "", "allow": ["read"]}]},
                 {"access_key": "ok-name", "grants": [{"bucket": "b", "allow": []}]},
                 {"access_key": "ok-name", "access": "root"}):
        r = gw.admin("POST", "/admin/users", json=body)
        assert r.status_code == 400 and r.json()["error"] == "BadRequest", (body, r.text)
    # Without the admin token nothing changes.
    r = gw.admin("POST", "/admin/users", token=None, json={"access_key": "sneaky"})
    assert r.status_code == 401
    assert "sneaky" not in {u["access_key"] for u in gw.admin("GET", "/admin/users").json()["users"]}


def test_the_cli_adds_lists_and_removes_users(fresh_gateway):
    import json
    import subprocess

    gw = fresh_gateway
    gw.require_managed()

    def strata(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(gw.binary), "users", *args, "--admin", gw.admin_url, "--token", gw.token],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                              env={"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1,localhost"})

    p = strata("add", "cli-user", "--read-only", "--grant", "team-*=read,list", "--json")
    assert p.returncode == 0, p.stderr
    created = json.loads(p.stdout)
    assert created["grants"] == [{"bucket": "team-*", "allow": ["read", "list"]}]
    gw.client().create_bucket(Bucket="team-x")
    gw.client_with("cli-user", created["secret_key"]).list_objects_v2(Bucket="team-x")
    table = strata("ls")
    assert table.returncode == 0 and "cli-user" in table.stdout and "team-*=read,list" in table.stdout, table.stdout
    assert created["secret_key"] not in table.stdout
    bad = strata("add", "other-user", "--grant", "team-*=fly")
    assert bad.returncode != 0 and "fly" in bad.stderr, bad.stderr
    assert strata("rm", "cli-user").returncode == 0
    gone = strata("rm", "cli-user")
    assert gone.returncode != 0 and "NoSuchUser" in gone.stderr, gone.stderr
