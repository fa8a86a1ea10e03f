//! Walking every object of the catalog in key order, one page (one read transaction) at a time: the one scan
//! that scrub, re-seal and usage share.
//!
//! Pages are read with [`catalog::Catalog::scan_objects`] after the last key of the previous page, so a walk
//! sees every object that exists for its whole duration exactly once, and never holds a read transaction across
//! pages (objects written or deleted meanwhile may or may not be seen).

use catalog::{Catalog, ObjectRecord};

use crate::core::Core;

/// One object as a scan returns it: bucket, key and record.
pub type ScannedObject = (String, String, ObjectRecord);

/// A cursor over the catalog's objects.
#[derive(Debug, Clone)]
pub struct ObjectPages {
    page_size: usize,
    after: Option<(String, String)>,
    done: bool,
}

impl ObjectPages {
    /// A walk from the first object, `page_size` objects per page (at least 1).
    pub fn new(page_size: usize) -> ObjectPages {
        ObjectPages {
            page_size: page_size.max(1),
            after: None,
            done: false,
        }
    }

    fn advance(&mut self, page: &[ScannedObject]) {
        self.done = page.len() < self.page_size;
        if let Some((bucket, key, _)) = page.last() {
            self.after = Some((bucket.clone(), key.clone()));
        }
    }

    /// The next page (blocking: call it from a blocking task), or `None` once the walk is complete.
    pub fn next_page(
        &mut self,
        catalog: &dyn Catalog,
    ) -> catalog::Result<Option<Vec<ScannedObject>>> {
        if self.done {
            return Ok(None);
        }
        let after = self.after.as_ref().map(|(b, k)| (b.as_str(), k.as_str()));
        let page = catalog.scan_objects(after, self.page_size)?;
        self.advance(&page);
        Ok((!page.is_empty()).then_some(page))
    }

    /// [`ObjectPages::next_page`] off the async workers.
    pub async fn next_page_async(
        &mut self,
        core: &Core,
    ) -> catalog::Result<Option<Vec<ScannedObject>>> {
        if self.done {
            return Ok(None);
        }
        let mut cursor = self.clone();
        let (cursor, page) = core
            .with_catalog(move |c| {
                let page = cursor.next_page(c)?;
                Ok((cursor, page))
            })
            .await?;
        *self = cursor;
        Ok(page)
    }
}

/// Calls `f` on every object (blocking: call it from a blocking task).
pub fn for_each_object(
    catalog: &dyn Catalog,
    page_size: usize,
    mut f: impl FnMut(&str, &str, &ObjectRecord) -> catalog::Result<()>,
) -> catalog::Result<()> {
    let mut pages = ObjectPages::new(page_size);
    while let Some(page) = pages.next_page(catalog)? {
        for (bucket, key, rec) in &page {
            f(bucket, key, rec)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use catalog::{CatalogConfig, NewObject, ObjectMeta};

    fn catalog_with(n: usize) -> (tempfile::TempDir, catalog::RedbCatalog) {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = catalog::RedbCatalog::open(&dir.path().join("c.redb"), CatalogConfig::default())
            .expect("open");
        for b in ["a", "b"] {
            c.create_bucket(b, 0).expect("bucket");
            for i in 0..n {
                c.put_object(
                    b,
                    &format!("k{i:03}"),
                    NewObject {
                        size: i as u64,
                        etag: "0".repeat(32),
                        last_modified_ms: 0,
                        parts: Vec::new(),
                        replicas: vec!["hot".into()],
                        meta: ObjectMeta::default(),
                    },
                )
                .expect("put");
            }
        }
        (dir, c)
    }

    #[test]
    fn every_object_once_in_key_order_whatever_the_page_size() {
        let (_dir, c) = catalog_with(10);
        for page_size in [1, 3, 10, 20, 1000] {
            let mut seen = Vec::new();
            for_each_object(&c, page_size, |b, k, _| {
                seen.push(format!("{b}/{k}"));
                Ok(())
            })
            .expect("walk");
            assert_eq!(seen.len(), 20, "page size {page_size}");
            let mut sorted = seen.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(seen, sorted, "page size {page_size}");
        }
    }

    #[test]
    fn an_empty_catalog_has_no_page() {
        let (_dir, c) = catalog_with(0);
        assert!(ObjectPages::new(5).next_page(&c).expect("scan").is_none());
    }
}
