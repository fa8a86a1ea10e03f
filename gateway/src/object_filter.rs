//! The filters of `GET /admin/objects` (`strata objects ls --backend/--min-heat/--max-heat/--tag`) and the paging of a
//! filtered listing: a page scans the bucket from `after` until it holds `limit` matching objects, the bucket ends,
//! or [`ObjectFilter::MAX_SCAN`] objects were examined; `next_after` is the last key examined.

use catalog::ObjectRecord;

use engine::Core;

/// The filters of `GET /admin/objects` besides bucket and prefix: `backend` (a replica there), `min_heat` and
/// `max_heat` (heat now in `[min, max)`), `tag` (`KEY`: the object has a tag with this key; `KEY=VALUE`: with this
/// value).
pub struct ObjectFilter {
    backend: Option<String>,
    tag: Option<(String, Option<String>)>,
    min_heat: Option<f64>,
    max_heat: Option<f64>,
    now_ms: i64,
}

pub type ObjectPage = (
    Vec<(String, ObjectRecord, Option<catalog::AccessStats>)>,
    bool,
    Option<String>,
);

impl ObjectFilter {
    /// Most objects examined by one filtered request; a page may then hold fewer than `limit` objects and still be
    /// truncated (`next_after` continues the scan).
    const MAX_SCAN: usize = 10_000;

    /// The filters of the query; a bad one is `(error code, message)` for a 400.
    pub fn parse(
        q: &std::collections::HashMap<String, String>,
        strata: &Core,
    ) -> Result<Self, (&'static str, String)> {
        let heat = |name: &str| match q.get(name).map(|v| v.parse::<f64>()) {
            None => Ok(None),
            Some(Ok(h)) if h.is_finite() && h >= 0.0 => Ok(Some(h)),
            Some(_) => Err((
                "BadRequest",
                format!("{name} must be a non-negative number"),
            )),
        };
        let backend = q.get("backend").cloned();
        if let Some(b) = backend.as_deref().filter(|b| strata.backend(b).is_none()) {
            return Err(("UnknownBackend", format!("no backend {b:?}")));
        }
        let tag = match q.get("tag") {
            None => None,
            Some(t) => {
                let (k, v) = match t.split_once('=') {
                    Some((k, v)) => (k, Some(v.to_owned())),
                    None => (t.as_str(), None),
                };
                if k.is_empty() {
                    return Err((
                        "BadRequest",
                        "tag must be KEY or KEY=VALUE with a non-empty key".to_owned(),
                    ));
                }
                Some((k.to_owned(), v))
            }
        };
        Ok(ObjectFilter {
            backend,
            tag,
            min_heat: heat("min_heat")?,
            max_heat: heat("max_heat")?,
            now_ms: strata.clock.now_ms(),
        })
    }

    fn is_empty(&self) -> bool {
        self.backend.is_none()
            && self.tag.is_none()
            && self.min_heat.is_none()
            && self.max_heat.is_none()
    }

    fn keeps(
        &self,
        rec: &ObjectRecord,
        stats: Option<&catalog::AccessStats>,
        half_life: i64,
    ) -> bool {
        let heat = stats.map_or(0.0, |s| s.heat_at(self.now_ms, half_life));
        self.backend
            .as_ref()
            .is_none_or(|b| rec.replicas.contains(b))
            && self.tag.as_ref().is_none_or(|(k, v)| {
                rec.meta
                    .tags
                    .get(k)
                    .is_some_and(|have| v.as_ref().is_none_or(|want| want == have))
            })
            && self.min_heat.is_none_or(|m| heat >= m)
            && self.max_heat.is_none_or(|m| heat < m)
    }

    /// Up to `limit` matching objects after `after`; whether more may follow; the key to continue after.
    pub fn page(
        &self,
        c: &dyn catalog::Catalog,
        bucket: &str,
        prefix: &str,
        mut after: Option<String>,
        limit: usize,
    ) -> Result<ObjectPage, catalog::CatalogError> {
        let half_life = c.heat_half_life_ms();
        let page_size = if self.is_empty() { limit } else { 1000 };
        let mut out = Vec::new();
        let mut scanned = 0;
        loop {
            let page = c.list_objects(bucket, prefix, None, after.as_deref(), page_size)?;
            let n = page.objects.len();
            for (i, (k, r)) in page.objects.into_iter().enumerate() {
                scanned += 1;
                after = Some(k.clone());
                let st = c.stats(bucket, &k)?;
                if self.keeps(&r, st.as_ref(), half_life) {
                    out.push((k, r, st));
                }
                if out.len() == limit || scanned >= Self::MAX_SCAN {
                    return Ok((out, i + 1 < n || page.is_truncated, after));
                }
            }
            if !page.is_truncated {
                return Ok((out, false, after));
            }
        }
    }
}
