//! [`StorageClassStore`]: adds fixed attributes (the storage class / access
//! tier) to every write of the wrapped store.
//!
//! object_store maps [`object_store::Attribute::StorageClass`] to
//! `x-amz-storage-class` (S3), `x-ms-access-tier` (Azure) and
//! `x-goog-storage-class` (GCS), on single puts and on multipart uploads.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    Attributes, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// Delegates every call to `inner`; writes (`put_opts`,
/// `put_multipart_opts`) get `attributes` added unless the caller already
/// set the same attribute. Reads, lists, deletes, copies and renames pass
/// through untouched (the inner store's own futures are returned as is).
#[derive(Debug, Clone)]
pub(crate) struct StorageClassStore {
    inner: Arc<dyn ObjectStore>,
    attributes: Attributes,
}

impl StorageClassStore {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, attributes: Attributes) -> StorageClassStore {
        StorageClassStore { inner, attributes }
    }

    fn raw(&self) -> &dyn ObjectStore {
        &*self.inner
    }

    fn add_to(&self, target: &mut Attributes) {
        for (key, value) in &self.attributes {
            if target.get(key).is_none() {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

impl fmt::Display for StorageClassStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let classes: Vec<&str> = self.attributes.iter().map(|(_, v)| v.as_ref()).collect();
        write!(f, "StorageClass({}, {})", classes.join(","), self.inner)
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl ObjectStore for StorageClassStore {
    fn put_opts<'s, 'l, 'f>(
        &'s self,
        location: &'l Path,
        payload: PutPayload,
        mut opts: PutOptions,
    ) -> BoxFuture<'f, Result<PutResult>>
    where
        's: 'f,
        'l: 'f,
        Self: 'f,
    {
        self.add_to(&mut opts.attributes);
        self.raw().put_opts(location, payload, opts)
    }

    fn put_multipart_opts<'s, 'l, 'f>(
        &'s self,
        location: &'l Path,
        mut opts: PutMultipartOptions,
    ) -> BoxFuture<'f, Result<Box<dyn MultipartUpload>>>
    where
        's: 'f,
        'l: 'f,
        Self: 'f,
    {
        self.add_to(&mut opts.attributes);
        self.raw().put_multipart_opts(location, opts)
    }

    fn get_opts<'s, 'l, 'f>(
        &'s self,
        location: &'l Path,
        options: GetOptions,
    ) -> BoxFuture<'f, Result<GetResult>>
    where
        's: 'f,
        'l: 'f,
        Self: 'f,
    {
        self.raw().get_opts(location, options)
    }

    fn get_ranges<'s, 'l, 'r, 'f>(
        &'s self,
        location: &'l Path,
        ranges: &'r [Range<u64>],
    ) -> BoxFuture<'f, Result<Vec<Bytes>>>
    where
        's: 'f,
        'l: 'f,
        'r: 'f,
        Self: 'f,
    {
        self.raw().get_ranges(location, ranges)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.raw().delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.raw().list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.raw().list_with_offset(prefix, offset)
    }

    fn list_with_delimiter<'s, 'p, 'f>(
        &'s self,
        prefix: Option<&'p Path>,
    ) -> BoxFuture<'f, Result<ListResult>>
    where
        's: 'f,
        'p: 'f,
        Self: 'f,
    {
        self.raw().list_with_delimiter(prefix)
    }

    fn copy_opts<'s, 'a, 'b, 'f>(
        &'s self,
        from: &'a Path,
        to: &'b Path,
        options: CopyOptions,
    ) -> BoxFuture<'f, Result<()>>
    where
        's: 'f,
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        self.raw().copy_opts(from, to, options)
    }

    fn rename_opts<'s, 'a, 'b, 'f>(
        &'s self,
        from: &'a Path,
        to: &'b Path,
        options: RenameOptions,
    ) -> BoxFuture<'f, Result<()>>
    where
        's: 'f,
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        self.raw().rename_opts(from, to, options)
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;
    use object_store::{Attribute, AttributeValue, ObjectStoreExt};

    use super::*;

    #[tokio::test]
    async fn writes_carry_the_class_unless_the_caller_set_one() {
        let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let mut attrs = Attributes::new();
        attrs.insert(Attribute::StorageClass, AttributeValue::from("COLD"));
        let store = StorageClassStore::new(Arc::clone(&inner), attrs);
        assert!(store.to_string().starts_with("StorageClass(COLD, "));

        let a = Path::from("a");
        store
            .put(&a, Bytes::from_static(b"x").into())
            .await
            .expect("put");
        let got = inner.get(&a).await.expect("get");
        assert_eq!(
            got.attributes
                .get(&Attribute::StorageClass)
                .map(|v| v.as_ref()),
            Some("COLD")
        );

        let b = Path::from("b");
        let mut opts = PutOptions::default();
        opts.attributes
            .insert(Attribute::StorageClass, AttributeValue::from("HOT"));
        store
            .put_opts(&b, Bytes::from_static(b"y").into(), opts)
            .await
            .expect("put_opts");
        let got = inner.get(&b).await.expect("get");
        assert_eq!(
            got.attributes
                .get(&Attribute::StorageClass)
                .map(|v| v.as_ref()),
            Some("HOT")
        );

        let c = Path::from("c");
        let mut upload = store.put_multipart(&c).await.expect("multipart");
        upload
            .put_part(Bytes::from_static(b"z").into())
            .await
            .expect("part");
        upload.complete().await.expect("complete");
        let got = inner.get(&c).await.expect("get");
        assert_eq!(
            got.attributes
                .get(&Attribute::StorageClass)
                .map(|v| v.as_ref()),
            Some("COLD")
        );
    }
}
