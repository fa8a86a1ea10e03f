//! Where requests come from: a workload profile or a trace file.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::DriverError;
use crate::trace::{Op, ParseStats, Record, TraceReader};
use crate::workload::{Generator, GeneratorOptions, Profile};

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReqKind {
    /// Write `size` bytes (PUT, or multipart upload above the threshold).
    Put,
    /// Read the object or a range.
    Get,
    /// Read metadata.
    Head,
    /// Delete.
    Delete,
    /// List one page under a prefix.
    List,
}

/// One request to issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// What to do.
    pub kind: ReqKind,
    /// Object key (for [`ReqKind::List`], the prefix), key prefix included.
    pub key: String,
    /// Object size as the source knows it (writes: bytes to write).
    pub size: Option<u64>,
    /// Inclusive byte range of a ranged GET.
    pub range: Option<(u64, u64)>,
}

/// An object created before the timed phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupObject {
    /// Its key, prefix included.
    pub key: String,
    /// Its size.
    pub size: u64,
}

/// A stream of requests plus the objects it expects to exist beforehand.
pub enum Source {
    /// A synthetic workload (initial objects go to setup).
    Workload {
        /// The profile's name.
        name: String,
        /// The stream.
        generator: Box<Generator>,
        /// Prefix for every key.
        prefix: String,
    },
    /// A trace file.
    Trace {
        /// The file.
        path: PathBuf,
        /// Its reader.
        reader: Box<TraceReader<BufReader<File>>>,
        /// Prefix for every key.
        prefix: String,
    },
}

/// The driver's request for a trace record, keys prefixed with `prefix`.
pub fn to_request(rec: &Record<'_>, prefix: &str) -> Request {
    let kind = match rec.op {
        Op::Put | Op::Copy => ReqKind::Put,
        Op::Get => ReqKind::Get,
        Op::Head => ReqKind::Head,
        Op::Delete => ReqKind::Delete,
        Op::List => ReqKind::List,
    };
    Request {
        kind,
        key: format!("{prefix}{}", rec.id),
        size: rec.size,
        range: rec.range,
    }
}

fn open_trace(path: &Path) -> Result<TraceReader<BufReader<File>>, DriverError> {
    let f = File::open(path).map_err(|source| DriverError::Io {
        what: format!("opening trace {}", path.display()),
        source,
    })?;
    Ok(TraceReader::new(BufReader::with_capacity(1 << 20, f)))
}

impl Source {
    /// A workload source; the initial population is returned as setup.
    pub fn workload(profile: &Profile, prefix: &str) -> (Source, Vec<SetupObject>) {
        let generator = Generator::new(
            profile,
            GeneratorOptions {
                emit_initial: false,
            },
        );
        let setup = generator
            .initial_objects()
            .map(|o| SetupObject {
                key: format!("{prefix}{}", o.id),
                size: o.size,
            })
            .collect();
        let src = Source::Workload {
            name: profile.name.clone(),
            generator: Box::new(generator),
            prefix: prefix.to_string(),
        };
        (src, setup)
    }

    /// A trace source. A first pass over the first `limit` records finds
    /// the objects read before the trace writes them (they pre-existed the
    /// trace): up to `max_setup` of them are returned as setup, sized by
    /// the trace (or by the end of the largest range read). Returns the
    /// number of such objects left out past `max_setup`.
    pub fn trace(
        path: &Path,
        prefix: &str,
        limit: Option<u64>,
        max_setup: usize,
    ) -> Result<(Source, Vec<SetupObject>, u64), DriverError> {
        let mut scan = open_trace(path)?;
        // id -> Some(size) for pre-existing objects, None once written/deleted first.
        let mut first: HashMap<String, Option<u64>> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut n = 0u64;
        while let Some(rec) = scan.next_record().map_err(|source| DriverError::Io {
            what: format!("reading trace {}", path.display()),
            source,
        })? {
            if limit.is_some_and(|l| n >= l) {
                break;
            }
            n += 1;
            if rec.op == Op::List {
                continue;
            }
            let needed = rec
                .size
                .unwrap_or(0)
                .max(rec.range.map_or(0, |(_, e)| e.saturating_add(1)));
            match first.get_mut(rec.id) {
                Some(Some(size)) => *size = (*size).max(needed),
                Some(None) => {}
                None => {
                    let pre = matches!(rec.op, Op::Get | Op::Head);
                    first.insert(rec.id.to_string(), pre.then_some(needed));
                    if pre {
                        order.push(rec.id.to_string());
                    }
                }
            }
        }
        let total = order.len();
        let setup: Vec<SetupObject> = order
            .into_iter()
            .take(max_setup)
            .map(|id| {
                let size = first.get(&id).copied().flatten().unwrap_or(0);
                SetupObject {
                    key: format!("{prefix}{id}"),
                    size,
                }
            })
            .collect();
        let left_out = (total - setup.len()) as u64;
        let src = Source::Trace {
            path: path.to_path_buf(),
            reader: Box::new(open_trace(path)?),
            prefix: prefix.to_string(),
        };
        Ok((src, setup, left_out))
    }

    /// A label for reports: `workload:NAME` or `trace:PATH`.
    pub fn label(&self) -> String {
        match self {
            Source::Workload { name, .. } => format!("workload:{name}"),
            Source::Trace { path, .. } => format!("trace:{}", path.display()),
        }
    }

    /// The next request, `None` at the end.
    pub fn next_request(&mut self) -> Result<Option<Request>, DriverError> {
        match self {
            Source::Workload {
                generator, prefix, ..
            } => Ok(generator.next().map(|ev| to_request(&ev.record(), prefix))),
            Source::Trace {
                path,
                reader,
                prefix,
            } => {
                let rec = reader.next_record().map_err(|source| DriverError::Io {
                    what: format!("reading trace {}", path.display()),
                    source,
                })?;
                Ok(rec.map(|r| to_request(&r, prefix)))
            }
        }
    }

    /// The trace parser's counters (None for workloads).
    pub fn parse_stats(&self) -> Option<&ParseStats> {
        match self {
            Source::Workload { .. } => None,
            Source::Trace { reader, .. } => Some(reader.stats()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn trace_setup_finds_preexisting_objects() {
        let mut f = tempfile::NamedTempFile::new().expect("tempfile");
        writeln!(
            f,
            "0 REST.GET.OBJECT a 100\n1 REST.PUT.OBJECT b 5\n2 REST.GET.OBJECT b 5\n\
             3 REST.HEAD.OBJECT c\n4 REST.GET.OBJECT c 0 10 19\n5 REST.GET.BUCKET x\n\
             6 REST.DELETE.OBJECT d\n7 REST.GET.OBJECT d 9\nbad line\n8 REST.GET.OBJECT e 1"
        )
        .expect("write");
        let (mut src, setup, left) = Source::trace(f.path(), "p/", None, 2).expect("trace");
        assert_eq!(
            setup,
            vec![
                SetupObject {
                    key: "p/a".into(),
                    size: 100
                },
                SetupObject {
                    key: "p/c".into(),
                    size: 20
                },
            ]
        );
        assert_eq!(left, 1, "e is left out past max_setup");
        let first = src.next_request().expect("read").expect("request");
        assert_eq!(first.kind, ReqKind::Get);
        assert_eq!(first.key, "p/a");
        let mut n = 1;
        while src.next_request().expect("read").is_some() {
            n += 1;
        }
        assert_eq!(n, 9);
        assert_eq!(src.parse_stats().map(|s| s.bad()), Some(1));
        let (_, setup, _) = Source::trace(f.path(), "", Some(1), 10).expect("trace");
        assert_eq!(setup.len(), 1);
    }
}
