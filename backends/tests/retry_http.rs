//! The two retry layers against a real object_store cloud client: an S3
//! store (built from a `StoreSpec`) talks to a scripted HTTP server on
//! 127.0.0.1 that answers 503, 404, hangs or succeeds. Shows that
//! object_store's own small retry budget handles a single 503, that
//! `RetryStore` recognises the status object_store reports after its budget
//! is spent (and retries it), that 404 is never retried, and that a hung
//! request is cut by the attempt timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backends::cloud::{CLOUD_HTTP_RETRIES, S3Spec, StoreSpec, build_store_with_env};
use backends::retry::{RetryPolicy, RetryStore, Transient, classify};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the server answers to request number `n` (0-based).
#[derive(Clone, Copy)]
enum Reply {
    Status(u16),
    Object,
    Hang,
}

/// Starts a server answering each request per `script(n)`; returns its
/// base URL and the request counter. The server task ends with the test's
/// runtime.
async fn serve(script: fn(usize) -> Reply) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                // Read the request head (gets and heads carry no body).
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let response = match script(n) {
                    Reply::Hang => {
                        // Keep the connection open, answer nothing.
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                    Reply::Status(status) => format!(
                        "HTTP/1.1 {status} Scripted\r\nContent-Type: application/xml\r\n\
                         Content-Length: 0\r\nConnection: close\r\n\r\n"
                    ),
                    Reply::Object => {
                        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                         Content-Length: 5\r\nETag: \"e1\"\r\n\
                         Last-Modified: Sun, 22 Nov 2026 03:00:00 GMT\r\n\
                         Connection: close\r\n\r\nhello"
                            .to_string()
                    }
                };
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), count)
}

fn s3_store(endpoint: &str) -> Arc<dyn ObjectStore> {
    let spec = StoreSpec::S3(S3Spec {
        endpoint: Some(endpoint.to_string()),
        bucket: "b".into(),
        region: "us-east-1".into(),
        access_key_env: "AK".into(),
        secret_key_env: "SK".into(),
        session_token_env: None,
        allow_http: true,
        storage_class: None,
    });
    let dir = std::env::temp_dir();
    build_store_with_env("scripted", &spec, &dir, &|var| match var {
        "AK" => Some("key".into()),
        "SK" => Some("secret".into()),
        _ => None,
    })
    .expect("s3 store")
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        base: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(20),
        attempt_timeout: Some(Duration::from_secs(20)),
    }
}

#[tokio::test]
async fn a_single_503_is_absorbed_by_the_client() {
    let (url, count) = serve(|n| {
        if n == 0 {
            Reply::Status(503)
        } else {
            Reply::Object
        }
    })
    .await;
    let store = RetryStore::new(s3_store(&url), "scripted", policy());
    let body = store
        .get(&Path::from("k"))
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    assert_eq!(&body[..], b"hello");
    assert_eq!(count.load(Ordering::SeqCst), 2, "object_store retried once");
    assert_eq!(store.stats().retries(), 0, "RetryStore saw only success");
}

#[tokio::test]
async fn persistent_503_is_recognised_and_retried_by_the_store_layer() {
    let (url, count) = serve(|_| Reply::Status(503)).await;
    let store = RetryStore::new(s3_store(&url), "scripted", policy());
    let err = store.get(&Path::from("k")).await.expect_err("503");
    assert_eq!(classify(&err), Some(Transient::Status(503)), "{err}");
    assert_eq!(
        count.load(Ordering::SeqCst),
        2 * (1 + CLOUD_HTTP_RETRIES),
        "2 store attempts x (1 + client retries)"
    );
    let stats = store.stats().snapshot();
    assert_eq!((stats.retries, stats.give_ups), (1, 1));
}

#[tokio::test]
async fn not_found_is_never_retried() {
    let (url, count) = serve(|_| Reply::Status(404)).await;
    let store = RetryStore::new(s3_store(&url), "scripted", policy());
    let err = store.get(&Path::from("k")).await.expect_err("404");
    assert!(
        matches!(err, object_store::Error::NotFound { .. }),
        "{err:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(store.stats().snapshot(), Default::default());
}

#[tokio::test]
async fn a_hung_request_is_cut_by_the_attempt_timeout() {
    let (url, count) = serve(|n| if n == 0 { Reply::Hang } else { Reply::Object }).await;
    let policy = RetryPolicy {
        attempt_timeout: Some(Duration::from_millis(300)),
        ..policy()
    };
    let store = RetryStore::new(s3_store(&url), "scripted", policy);
    let body = store
        .get(&Path::from("k"))
        .await
        .expect("second attempt")
        .bytes()
        .await
        .expect("body");
    assert_eq!(&body[..], b"hello");
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert_eq!(store.stats().retries(), 1);
}
