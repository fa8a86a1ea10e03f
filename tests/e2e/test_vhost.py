"""Virtual-hosted-style requests (bucket in the Host header) when a domain is configured."""

import strata_e2e as e2e


def test_virtual_hosted_style_with_a_configured_domain(make_gateway):
    gw = make_gateway('domains = ["s3.strata.test"]\n')
    s3 = gw.client()
    s3.create_bucket(Bucket="vhost-bucket")
    s3.put_object(Bucket="vhost-bucket", Key="dir/file.txt", Body=b"hello virtual host")
    host = f"vhost-bucket.s3.strata.test:{gw.s3_port}"
    url = f"http://{host}/dir/file.txt"
    headers, _ = e2e.sign_request(url, "GET", {"Host": host}, b"", gw.access_key, gw.secret_key)
    # Connect to loopback but send the virtual host name, as a client with DNS for the domain would.
    r = gw.http.get(f"{gw.endpoint}/dir/file.txt", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == b"hello virtual host"
    # Listing through the virtual host name.
    url = f"http://{host}/?list-type=2"
    headers, _ = e2e.sign_request(url, "GET", {"Host": host}, b"", gw.access_key, gw.secret_key)
    r = gw.http.get(f"{gw.endpoint}/?list-type=2", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    assert b"<Key>dir/file.txt</Key>" in r.content
    # Path style keeps working on the same gateway.
    assert s3.get_object(Bucket="vhost-bucket", Key="dir/file.txt")["Body"].read() == b"hello virtual host"
