//! A store whose multipart part uploads fail after a set number of parts:
//! the writer must surface the error, refuse further writes, and publish
//! nothing.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use backends::{Backend, BackendError, Keyring, TierProfile, WRITE_CHUNK_SIZE};
use bytes::Bytes;
use futures::TryStreamExt;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};

/// Wraps an [`InMemory`] store; every multipart upload fails its part
/// number `fail_at` (0-based) and later ones.
#[derive(Debug)]
struct FailingParts {
    inner: InMemory,
    fail_at: usize,
    aborts: Arc<AtomicUsize>,
}

impl fmt::Display for FailingParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FailingParts({})", self.inner)
    }
}

#[derive(Debug)]
struct FailingUpload {
    inner: Box<dyn MultipartUpload>,
    parts: usize,
    fail_at: usize,
    aborts: Arc<AtomicUsize>,
}

#[async_trait]
impl MultipartUpload for FailingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.parts += 1;
        if self.parts > self.fail_at {
            return Box::pin(async {
                Err(object_store::Error::Generic {
                    store: "failing",
                    source: "injected part failure".into(),
                })
            });
        }
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.inner.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.aborts.fetch_add(1, Ordering::SeqCst);
        self.inner.abort().await
    }
}

#[async_trait]
impl ObjectStore for FailingParts {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(FailingUpload {
            inner,
            parts: 0,
            fail_at: self.fail_at,
            aborts: self.aborts.clone(),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[tokio::test]
async fn failed_part_poisons_writer_and_publishes_nothing() {
    let aborts = Arc::new(AtomicUsize::new(0));
    let store = Arc::new(FailingParts {
        inner: InMemory::new(),
        fail_at: 1,
        aborts: aborts.clone(),
    });
    let b = Backend::new(
        "f",
        TierProfile::s3_standard(),
        store,
        Keyring::generate(),
        None,
    );
    let mut w = b.writer("x").await.expect("writer");
    let chunk = Bytes::from(vec![7u8; 1 << 20]);
    // Part 0 succeeds, part 1 fails; the failure surfaces from a write (when
    // waiting for capacity) or at the latest from finish.
    let mut write_error = None;
    for _ in 0..((4 * WRITE_CHUNK_SIZE) >> 20) {
        if let Err(e) = w.write(chunk.clone()).await {
            write_error = Some(e);
            break;
        }
    }
    match write_error {
        Some(e) => {
            assert!(matches!(e, BackendError::Store { .. }), "{e:?}");
            let again = w.write(chunk.clone()).await.expect_err("poisoned");
            assert!(
                matches!(again, BackendError::WriterPoisoned { .. }),
                "{again:?}"
            );
            let fin = w.finish().await.expect_err("poisoned finish");
            assert!(
                matches!(fin, BackendError::WriterPoisoned { .. }),
                "{fin:?}"
            );
        }
        None => {
            let fin = w.finish().await.expect_err("finish must fail");
            assert!(matches!(fin, BackendError::Store { .. }), "{fin:?}");
        }
    }
    assert_eq!(aborts.load(Ordering::SeqCst), 1, "upload aborted once");
    assert!(!b.exists("x").await.expect("exists"));
    let listed: Vec<_> = b.list("").try_collect().await.expect("list");
    assert!(listed.is_empty());
}
