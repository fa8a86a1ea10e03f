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
}

fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr")
}

impl Gateway {
    pub fn start() -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut g = Gateway {
            s3: free_port(),
            admin: free_port(),
            dir,
            child: None,
        };
        g.spawn();
        g
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("gateway.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["serve", "--data-dir"])
            .arg(self.data_dir())
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
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("gateway did not become healthy; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gateway.log")).unwrap_or_default()
    }

    /// A GET on the admin port: (status, body), or None if the port does not answer.
    pub fn admin_get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect_timeout(&self.admin, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nConnection: close\r\n\r\n",
            self.admin
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
