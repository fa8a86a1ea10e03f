//! Test harness: runs the real `strata` binary on free loopback ports with a temporary data dir.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "strata-test-ak";
pub const SECRET_KEY: &str = "strata-test-secret-key-0123456789";
pub const ADMIN_TOKEN: &str = "strata-test-admin-token";

pub struct Gateway {
    pub s3: SocketAddr,
    pub admin: SocketAddr,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    env: Vec<(String, String)>,
    config: Option<PathBuf>,
}

fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr")
}

impl Gateway {
    pub fn start() -> Gateway {
        Gateway::start_with(&[])
    }

    /// Starts the gateway with extra environment variables (test hooks, RUST_LOG).
    pub fn start_with(env: &[(&str, &str)]) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut g = Gateway {
            s3: free_port(),
            admin: free_port(),
            dir,
            child: None,
            env,
            config: None,
        };
        g.spawn_on_free_ports();
        g
    }

    /// Starts the gateway with a TOML config file and extra environment variables.
    pub fn start_with_config_env(toml: &str, env: &[(&str, &str)]) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("strata.toml");
        std::fs::write(&path, toml).expect("write config");
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut g = Gateway {
            s3: free_port(),
            admin: free_port(),
            dir,
            child: None,
            env,
            config: Some(path),
        };
        g.spawn_on_free_ports();
        g
    }

    /// Starts the gateway with a TOML config file (ports and data dir still come from flags).
    pub fn start_with_config(toml: &str) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("strata.toml");
        std::fs::write(&path, toml).expect("write config");
        let mut g = Gateway {
            s3: free_port(),
            admin: free_port(),
            dir,
            child: None,
            env: Vec::new(),
            config: Some(path),
        };
        g.spawn_on_free_ports();
        g
    }

    /// Kills the process with SIGKILL (no shutdown path runs) and waits for it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the gateway again on the same data dir and ports, with a new extra environment.
    pub fn restart_with(&mut self, env: &[(&str, &str)]) {
        self.kill9();
        self.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.spawn();
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts the process on this gateway's ports and waits until it answers its health check; `Err` with its log
    /// when it exits first.
    fn try_spawn(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("gateway.log"))
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_strata"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(["serve", "--data-dir"])
            .arg(self.data_dir())
            .args(
                self.config
                    .iter()
                    .flat_map(|c| [std::ffi::OsStr::new("--config"), c.as_os_str()]),
            )
            .args([
                "--s3-addr",
                &self.s3.to_string(),
                "--admin-addr",
                &self.admin.to_string(),
            ])
            .env("STRATA_ACCESS_KEY", ACCESS_KEY)
            .env("STRATA_SECRET_KEY", SECRET_KEY)
            .env("STRATA_ADMIN_TOKEN", ADMIN_TOKEN)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start strata");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some((200, _)) = self.admin_get("/admin/health") {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(_)) = c.try_wait()
            {
                self.child = None;
                return Err(self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("gateway did not become healthy; log:\n{}", self.log());
    }

    /// Starts the process again on the same ports (a restart).
    fn spawn(&mut self) {
        if let Err(log) = self.try_spawn() {
            panic!("gateway exited during start-up; log:\n{log}");
        }
    }

    /// The first start. Another process may take a port between `free_port` and the gateway's bind (tests and
    /// emulators run side by side), so a start that fails on a taken port is retried on fresh ports.
    fn spawn_on_free_ports(&mut self) {
        for _ in 0..5 {
            // Two lookups may hand out the same free port.
            while self.admin == self.s3 {
                self.admin = free_port();
            }
            match self.try_spawn() {
                Ok(()) => return,
                Err(log) if log.contains("Address already in use") => {
                    self.s3 = free_port();
                    self.admin = free_port();
                }
                Err(log) => panic!("gateway exited during start-up; log:\n{log}"),
            }
        }
        panic!(
            "gateway found its ports taken five times; log:\n{}",
            self.log()
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gateway.log")).unwrap_or_default()
    }

    /// A GET on the admin port: (status, body), or None if the port does not answer.
    pub fn admin_get(&self, path: &str) -> Option<(u16, String)> {
        self.admin_request("GET", path, "")
    }

    /// A request on the admin port with a JSON body: (status, body), or None if the port does not answer.
    pub fn admin_request(&self, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect_timeout(&self.admin, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.admin,
            body.len()
        )
        .ok()?;
        let mut buf = String::new();
        s.read_to_string(&mut buf).ok()?;
        let status = buf.split_whitespace().nth(1)?.parse().ok()?;
        let body = buf
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Some((status, body))
    }

    /// Waits until the access recorder has written every access it accepted to the catalog (its `flushed`
    /// counter in `/admin/health` catches up with `recorded`). A test that moves the test clock or reads the
    /// access log calls this first: checking one object's counter only proves that object's batch landed.
    pub fn wait_recorded(&self) {
        wait_for(10, "the access recorder to flush", || {
            let (status, b) = self.admin_get("/admin/health")?;
            let r = &json(&b)["recorder"];
            let (recorded, flushed) = (r["recorded"].as_u64()?, r["flushed"].as_u64()?);
            (status == 200 && flushed == recorded && r["pending"].as_u64()? == 0).then_some(())
        });
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.s3)
    }

    /// An AWS SDK client for this gateway with the given secret.
    pub fn client_with(&self, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
        let creds =
            aws_sdk_s3::config::Credentials::new(access_key, secret_key, None, None, "strata-test");
        let http = aws_smithy_http_client::Builder::new().build_http();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(creds)
            .http_client(http)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn client(&self) -> aws_sdk_s3::Client {
        self.client_with(ACCESS_KEY, SECRET_KEY)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Decodes the body of a chunked or plain HTTP/1.1 response enough to parse JSON: strips chunk framing if present.
pub fn json(body: &str) -> serde_json::Value {
    if let Ok(v) = serde_json::from_str(body) {
        return v;
    }
    // Chunked: size line, data, CRLF ... 0
    let mut out = String::new();
    let mut rest = body;
    while let Some((size_line, tail)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size_line.trim(), 16) else {
            break;
        };
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    serde_json::from_str(&out).unwrap_or(serde_json::Value::Null)
}

/// Polls `f` every 100 ms until it returns Some, or panics after `secs` with `what`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Regular files under the gateway's backends directory (sealed blobs, and any staging file).
pub fn blob_files(data_dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![data_dir.join("backends")];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
